"""AlexNet as the LA paper trains it: half width (48-128-192-192-128), FC 2048.

The attention slot is one entry of the layer table, so ZFNet (``zfnet.py``) is the
same class with another table. LA sits after the last max-pool with 32 heads (128
channels in groups of 4) on 3x3 cells of 2x2, as in the release. Choices the paper's
code leaves open, made here: no local response normalisation (the half-width variant
the paper uses has none); ``AdaptiveAvgPool2d(pool_size)`` before the classifier, as
torchvision does, so any input of at least 63x63 works (at 224 the map is 6x6 already
and the pool is the identity). The release never calls its final ``fc``, so its
4-class logits are four of the 2048 ReLU outputs; here ``head`` is the classifier.
"""
# annotations stay types (no __future__ import): torch.fx writes the forward's into the
# code it generates, which TorchScript then compiles
from collections.abc import Sequence
from typing import Any

import torch
from timm.models import checkpoint
from torch import nn

from ._builder import AttentionLayer, LinearClassifier, default_cfg, no_attention
from ._registry import register_arch
from ._spec import ArchSpec

# ('conv', out, kernel, stride, padding) | ('pool',) = max-pool 3, stride 2 | ('attention',)
Layer = tuple[str | int, ...]
HALF_WIDTH = (
    ('conv', 48, 11, 4, 2), ('pool',),   # 224 -> 55 -> 27
    ('conv', 128, 5, 1, 2), ('pool',),   # 27 -> 13
    ('conv', 192, 3, 1, 1),
    ('conv', 192, 3, 1, 1),
    ('conv', 128, 3, 1, 1), ('pool',),   # 13 -> 6
    ('attention',),                      # (B, 128, 6, 6) at 224
)
# the narrow variant of CPU runs: the same plan at a quarter to a half of the width
NARROW = (('conv', 24, 11, 4, 2), ('pool',), ('conv', 64, 5, 1, 2), ('pool',),
          ('conv', 96, 3, 1, 1), ('conv', 96, 3, 1, 1), ('conv', 64, 3, 1, 1), ('pool',),
          ('attention',))


class AlexNet(LinearClassifier, nn.Module):
    """A plain conv stack (conv-ReLU, max-pools), an attention slot, and an FC-FC head.

    Args:
        layers: the layer table (see ``HALF_WIDTH``); exactly one ``('attention',)``.
        fc_dim: width of the two hidden FC layers.
        pool_size: side of the map the classifier reads (adaptive average pooling).
        attention_layer: factory ``(channels) -> module`` for the slot.
        placement: only 'paper' (the slot in the table).
    """

    def __init__(self, layers: Sequence[Layer] = HALF_WIDTH, num_classes: int = 1000,
                 in_chans: int = 3, fc_dim: int = 2048, pool_size: int = 6,
                 drop_rate: float = 0.5, global_pool: str = 'avg',
                 attention_layer: AttentionLayer = no_attention, placement: str = 'paper') -> None:
        super().__init__()
        self.num_classes, self.in_chans = num_classes, in_chans
        self.drop_rate = drop_rate
        self.global_pool = global_pool
        features: list[nn.Module] = []
        self.feature_info = []  # the map before each max-pool, the last
        channels, reduction = in_chans, 1
        for kind, *args in layers:
            if kind == 'conv':
                out, kernel, stride, padding = args
                features += [nn.Conv2d(channels, out, kernel, stride, padding),
                             nn.ReLU(inplace=True)]
                channels, reduction = out, reduction * stride
            elif kind == 'pool':
                self._add_feature(len(features) - 1, channels, reduction)
                features.append(nn.MaxPool2d(3, 2))
                reduction *= 2
            else:
                features.append(attention_layer(channels))
        if self.feature_info[-1]['module'] != f'features.{len(features) - 1}':
            self._add_feature(len(features) - 1, channels, reduction)
        self.features = nn.Sequential(*features)
        self.num_features = channels
        self.head_hidden_size = fc_dim
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.pre_logits = nn.Sequential(
            nn.Flatten(1), nn.Dropout(drop_rate), nn.Linear(channels * pool_size ** 2, fc_dim),
            nn.ReLU(inplace=True), nn.Dropout(drop_rate), nn.Linear(fc_dim, fc_dim),
            nn.ReLU(inplace=True))
        self.head = self._classifier(num_classes)
        self.grad_checkpointing = False
        self.conv_blocks = conv_blocks(self.features)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each conv block of ``features`` in backward instead of keeping its maps."""
        self.grad_checkpointing = enable

    def _add_feature(self, index: int, channels: int, reduction: int) -> None:
        self.feature_info.append({'module': f'features.{index}', 'num_chs': channels,
                                  'reduction': reduction})

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if self.grad_checkpointing and not torch.jit.is_scripting():
            for i, (start, stop) in enumerate(self.conv_blocks):
                block = self.features[start:stop]
                # the first (a stem) runs as usual: reentrant checkpoints need an input
                # that requires grad, and the image does not
                x = checkpoint(block, x) if i else block(x)
            return x
        return self.features(x)  # (B, C, H/32, W/32) roughly; 6x6 at 224

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if not self.global_pool:  # the map itself (timm: reset_classifier(0, ''))
            return x
        x = self.pre_logits(self.pool(x))  # (B, fc_dim)
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def conv_blocks(features: nn.Sequential) -> list[tuple[int, int]]:
    """(start, stop) in ``features`` of each conv and what follows it up to the next conv:
    the units gradient checkpointing recomputes (an in-place ReLU must be recomputed with
    the conv whose output it overwrites)."""
    starts = [0, *(i for i, m in enumerate(features) if i and isinstance(m, nn.Conv2d))]
    return list(zip(starts, [*starts[1:], len(features)], strict=True))


def last_relu(model: nn.Module) -> str:
    """The last conv's activation in the layer table (not one inside an attention module):
    the default CAM layer of the AlexNet family (13x13 at 224)."""
    return [f'features.{i}' for i, m in enumerate(model.features) if isinstance(m, nn.ReLU)][-1]


# features_only: the four maps of ``feature_info`` out of the flattened ``features``
CONV_FEATURES = {'flatten_sequential': True, 'out_indices': (0, 1, 2, 3)}


def conv_cfg(**overrides: Any) -> dict[str, Any]:
    """The ``pretrained_cfg`` of the AlexNet family."""
    return default_cfg(**{
        'first_conv': 'features.0', 'classifier': 'head', 'min_input_size': (3, 63, 63),
        'pool_size': (6, 6),
        'paper_name': 'ImageNet classification with deep convolutional neural networks',
        **overrides})


register_arch(ArchSpec(
    'alexnet', AlexNet, dict(layers=HALF_WIDTH, fc_dim=2048), conv_cfg(),
    spot='after the last max-pool (128 channels, 6x6 at 224), 32 heads', family='cnn',
    cam_layer=last_relu, narrow=dict(layers=NARROW, fc_dim=256), feature_cfg=CONV_FEATURES,
    paper_la=dict(heads=32)))
