"""ResNet-34 from timm's ``ResNet`` and ``BasicBlock``, with the attention slot.

``placement='paper'``: one module between stage 3 and stage 4 (256 channels, 14x14 at
224), appended to ``layer3`` so every other key matches timm's ``resnet34``.
``placement='block'``: one module per BasicBlock in timm's ``attn_layer`` spot (after
the second conv's norm, before the residual sum), where SE-ResNet puts SE.
"""
from __future__ import annotations

from typing import Any

from timm.models.resnet import BasicBlock, ResNet

from ._builder import ArchSpec, AttentionLayer, default_cfg, no_attention
from ._registry import register_arch


class AttentionResNet(ResNet):
    """timm's ResNet with an attention slot at the paper's spot or in every block."""

    def __init__(self, *args: Any, attention_layer: AttentionLayer = no_attention,
                 placement: str = 'paper', **kwargs: Any) -> None:
        if placement == 'block':
            kwargs['block_args'] = {**(kwargs.get('block_args') or {}),
                                    'attn_layer': attention_layer}
        super().__init__(*args, **kwargs)
        if placement == 'paper':
            stage3 = next(f for f in self.feature_info if f['module'] == 'layer3')
            self.layer3.append(attention_layer(stage3['num_chs']))  # (B, 256, H/16, W/16)


register_arch(ArchSpec(
    'resnet34', AttentionResNet, dict(block=BasicBlock, layers=(3, 4, 6, 3)),
    default_cfg(first_conv='conv1', classifier='fc', pool_size=(7, 7),
                paper_name='Deep residual learning for image recognition'),
    spot='between stage 3 and stage 4 (256 channels, 14x14 at 224)',
    placements=('paper', 'block')))
