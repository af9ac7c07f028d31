"""ZFNet (Zeiler and Fergus) as the LA paper's release builds it, attention after conv3.

The release's body: conv1 7x7 stride 2 pad 2 (96) and a max-pool; conv2 5x5 stride 1
(256) and a max-pool; conv3-5 3x3 (512-1024-512) all at 27x27 for a 224 input; one
max-pool after conv5; the classifier reads 512x13x13 into FC 4096-4096. LA sits after
conv3 with 16 heads on 9x9 cells of 3x3 (``window=3``). No local contrast
normalisation. The class is ``AlexNet`` with this layer table (see ``alexnet.py``).

The release's LA takes each cell's max with ``MaxPool2d(2)`` on the 3x3 cell, which
reads only its top-left 2x2; loosen's LA takes the max of the whole cell (see
docs/paper-fidelity.md).
"""
from __future__ import annotations

from ._registry import register_arch
from ._spec import ArchSpec
from .alexnet import CONV_FEATURES, AlexNet, conv_cfg, last_relu

ZFNET = (
    ('conv', 96, 7, 2, 2), ('pool',),    # 224 -> 111 -> 55
    ('conv', 256, 5, 1, 2), ('pool',),   # 55 -> 27
    ('conv', 512, 3, 1, 1),              # 27
    ('attention',),                      # (B, 512, 27, 27) at 224
    ('conv', 1024, 3, 1, 1),
    ('conv', 512, 3, 1, 1), ('pool',),   # 27 -> 13
)
# the narrow variant of CPU runs: a quarter of the width, stride 2 in conv2
NARROW = (('conv', 24, 7, 2, 1), ('pool',), ('conv', 64, 5, 2, 2), ('conv', 128, 3, 1, 1),
          ('attention',), ('pool',), ('conv', 128, 3, 1, 1), ('conv', 128, 3, 1, 1),
          ('pool',))

register_arch(ArchSpec(
    'zfnet', AlexNet, dict(layers=ZFNET, fc_dim=4096, pool_size=13),
    conv_cfg(min_input_size=(3, 31, 31), pool_size=(13, 13),
             paper_name='Visualizing and understanding convolutional networks'),
    spot='after conv3 (512 channels, 27x27 at 224), 16 heads on 9x9 cells of 3x3',
    family='cnn', cam_layer=last_relu, narrow=dict(layers=NARROW, fc_dim=256),
    feature_cfg=CONV_FEATURES, paper_la=dict(heads=16, window=3)))
