"""ZFNet (Zeiler and Fergus) with the attention slot after conv3, as the LA paper places it.

The paper puts LA after conv3 with 512 channels at 27x27 for a 224 input. That fixes
the widths to the enlarged ZFNet (conv3-5: 512-1024-512, as in CS231n's summary of the
paper) and the order of the second max-pool: here it follows conv3 (and the attention),
not conv2, so conv3 still sees the 27x27 map. No local contrast normalisation; FC 4096.
The class is ``AlexNet`` with this layer table (see ``alexnet.py``).
"""
from __future__ import annotations

from ._builder import ArchSpec
from ._registry import register_arch
from .alexnet import AlexNet, conv_cfg

ZFNET = (
    ('conv', 96, 7, 2, 1), ('pool',),    # 224 -> 110 -> 54
    ('conv', 256, 5, 2, 2),              # 54 -> 27
    ('conv', 512, 3, 1, 1),              # 27
    ('attention',), ('pool',),           # (B, 512, 27, 27) at 224; then 27 -> 13
    ('conv', 1024, 3, 1, 1),
    ('conv', 512, 3, 1, 1), ('pool',),   # 13 -> 6
)

register_arch(ArchSpec(
    'zfnet', AlexNet, dict(layers=ZFNET, fc_dim=4096),
    conv_cfg(min_input_size=(3, 57, 57),
             paper_name='Visualizing and understanding convolutional networks'),
    spot='after conv3 (512 channels, 27x27 at 224)'))
