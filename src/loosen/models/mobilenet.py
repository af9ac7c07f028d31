"""MobileNet-v1 from timm's EfficientNet builder (as timm's ``mobilenetv1_100``).

Thirteen depthwise-separable blocks in five stages (64, 128x2, 256x2, 512x6, 1024x2),
ReLU as in the MobileNet paper and the LA release (timm's ``mobilenetv1_100`` uses ReLU6).
``placement='paper'``: one module after the 10th block, so one more 512 -> 512 block
follows it before the 1024 stage (512 channels, 14x14 at 224), as in the release. It is
the ``attention`` entry of that stage, so every other key matches timm's model.
``placement='block'``: one module per block in timm's ``se`` spot, between the
depthwise and the pointwise conv, where MobileNet-v3 and EfficientNet put SE.
"""
from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import Any

from timm.models._efficientnet_blocks import DepthwiseSeparableConv
from timm.models._efficientnet_builder import decode_arch_def, round_channels
from timm.models.efficientnet import EfficientNet
from torch import nn

from ._builder import AttentionLayer, default_cfg, no_attention
from ._registry import register_arch
from ._spec import ArchSpec

# timm's block strings: dsa = depthwise-separable, no skip, activation after the pointwise
ARCH_DEF = (
    ('dsa_r1_k3_s1_c64',),
    ('dsa_r2_k3_s2_c128',),
    ('dsa_r2_k3_s2_c256',),
    ('dsa_r6_k3_s2_c512',),
    ('dsa_r2_k3_s2_c1024',),
)
PAPER_STAGE = 3  # the 512-channel stage: blocks 6 to 11; the slot precedes its last block


def with_slot(stage: nn.Sequential, slot: nn.Module) -> nn.Sequential:
    """``stage`` with ``slot`` run before its last block (after its only block if it has
    one), named ``attention`` so the blocks keep their keys."""
    blocks = list(stage.named_children())
    cut = max(len(blocks) - 1, 1)
    return nn.Sequential(OrderedDict([*blocks[:cut], ('attention', slot), *blocks[cut:]]))


class MobileNetV1(EfficientNet):
    """MobileNet-v1 (ReLU, no head conv) with an attention slot.

    Args:
        channel_multiplier: width multiplier (rounded to multiples of 8, as timm does).
        depth_multiplier: block-count multiplier per stage.
        act_layer: the activation (ReLU, the release's).
        attention_layer: factory ``(channels) -> module`` for the slot(s).
        placement: 'paper' or 'block'.
    """

    def __init__(self, channel_multiplier: float = 1.0, depth_multiplier: float = 1.0,
                 act_layer: type[nn.Module] = nn.ReLU,
                 attention_layer: AttentionLayer = no_attention, placement: str = 'paper',
                 **kwargs: Any) -> None:
        super().__init__(
            block_args=decode_arch_def([list(s) for s in ARCH_DEF], depth_multiplier),
            num_features=0, stem_size=32,
            round_chs_fn=partial(round_channels, multiplier=channel_multiplier),
            act_layer=act_layer, **kwargs)
        if placement == 'block':
            for block in self.modules():
                if isinstance(block, DepthwiseSeparableConv):
                    block.se = attention_layer(block.conv_dw.out_channels)
        else:
            stage = self.blocks[PAPER_STAGE]
            slot = attention_layer(stage[-1].conv_pw.out_channels)  # (B, 512, H/16, W/16)
            self.blocks[PAPER_STAGE] = with_slot(stage, slot)
        self._init_classifier()

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        super().reset_classifier(num_classes, global_pool)
        self._init_classifier()

    def _init_classifier(self) -> None:
        """Scale the classifier by its fan-in, as ``nn.Linear`` does.

        timm's EfficientNet init scales it by 1/sqrt(num_classes): right for 1000
        classes, but with the aurora set's 4 the first logits have a spread of ~4 and
        training starts at a loss of ~4.9 instead of ln 4.
        """
        if isinstance(self.classifier, nn.Linear):
            self.classifier.reset_parameters()


def stride16_stage(model: nn.Module) -> str:
    """The last stage at stride 16 (LA's at the paper's placement): the default CAM layer."""
    return f'blocks.{len(model.blocks) - 2}'


register_arch(ArchSpec(
    'mobilenetv1', MobileNetV1, {},
    default_cfg(first_conv='conv_stem', classifier='classifier', pool_size=(7, 7),
                paper_name='MobileNets: efficient convolutional neural networks for mobile '
                           'vision applications'),
    spot='after the 10th depthwise-separable block (512 channels, 14x14 at 224), 32 heads; '
         'one more 512 block follows',
    family='cnn', cam_layer=stride16_stage, narrow={'channel_multiplier': 0.25},
    placements=('paper', 'block'), paper_la=dict(heads=32), step_placement='block',
    feature_cfg={'flatten_sequential': True},  # as timm's EfficientNet family: blocks.N
    aliases=('mobilenet',)))
