"""ResNet-34 from timm's ``ResNet`` and ``BasicBlock``, with the attention slot.

``placement='paper'``: one module between stage 3 and stage 4 (256 channels, 14x14 at
224), appended to ``layer3`` so every other key matches timm's ``resnet34``; LA with 16
heads on 7x7 cells of 2x2, as in the release.
``placement='block'``: one module per BasicBlock in timm's ``attn_layer`` spot (after
the second conv's norm, before the residual sum), where SE-ResNet puts SE.

Initialisation as in the release: every convolution, the attention module's included
(the release builds it before its Kaiming loop), gets Kaiming-normal fan-out weights,
and batch norms start at weight 1, bias 0. timm's ``zero_init_last`` (the last batch
norm of each residual branch at 0) is not in the release, so it is off by default for
every variant, plain and attended alike.
"""
from __future__ import annotations

from typing import Any

from timm.models.resnet import BasicBlock, ResNet
from torch import nn

from ._builder import AttentionLayer, default_cfg, no_attention
from ._registry import register_arch
from ._spec import ArchSpec


def kaiming_convs(module: nn.Module) -> None:
    """Kaiming-normal (fan-out, ReLU) weights for every convolution in ``module``, as
    timm's ``ResNet.init_weights`` and the release's ResNet give the rest of the model."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')


class AttentionResNet(ResNet):
    """timm's ResNet with an attention slot at the paper's spot or in every block."""

    def __init__(self, *args: Any, attention_layer: AttentionLayer = no_attention,
                 placement: str = 'paper', **kwargs: Any) -> None:
        if placement == 'block':  # built inside the blocks, so timm's init reaches them
            kwargs['block_args'] = {**(kwargs.get('block_args') or {}),
                                    'attn_layer': attention_layer}
        super().__init__(*args, **kwargs)
        if placement == 'paper':
            stage3 = next(f for f in self.feature_info if f['module'] == 'layer3')
            slot = attention_layer(stage3['num_chs'])  # (B, 256, H/16, W/16)
            kaiming_convs(slot)
            self.layer3.append(slot)


register_arch(ArchSpec(
    'resnet34', AttentionResNet, dict(block=BasicBlock, layers=(3, 4, 6, 3), zero_init_last=False),
    default_cfg(first_conv='conv1', classifier='fc', pool_size=(7, 7),
                paper_name='Deep residual learning for image recognition'),
    spot='between stage 3 and stage 4 (256 channels, 14x14 at 224), 16 heads', family='cnn',
    cam_layer='layer3',  # the paper's stride-16 spot: ends with the attention
    narrow={'channels': (16, 32, 64, 128), 'layers': (1, 1, 1, 1)},
    placements=('paper', 'block'), paper_la=dict(heads=16), step_placement='block'))
