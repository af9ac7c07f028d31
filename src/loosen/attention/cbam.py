"""CBAM's channel and spatial branches, alone, in sequence (``cbam``) and in parallel (``psca``).

Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018.
All four are timm's ``ChannelAttn``, ``SpatialAttn`` and ``CbamModule``; only the
parallel arrangement is ours. Channel MLP: C -> r -> C without biases,
r = max(1, round(C/16)); spatial conv: 7x7 over (mean, max) with BatchNorm.
"""
from __future__ import annotations

import torch
from timm.layers.cbam import CbamModule, ChannelAttn, SpatialAttn
from torch import nn

from .registry import register_attention

CBAM_PAPER = 'Woo et al., CBAM: Convolutional Block Attention Module, ECCV 2018'
CHANNEL_PARAMS = '2*C*max(1, (C + 8)//16)'  # two bias-free 1x1 convs, C -> C/16 -> C
SPATIAL_PARAMS = '2*7*7 + 2'  # a bias-free 7x7 conv from 2 maps to 1, then BatchNorm


@register_attention('ca', paper=CBAM_PAPER, params=CHANNEL_PARAMS)
def ca(channels: int, **kwargs) -> ChannelAttn:
    """CBAM's channel branch (Woo et al., ECCV 2018): timm's ChannelAttn.

    x * sigmoid(mlp(avgpool(x)) + mlp(maxpool(x))), one MLP shared by both poolings.
    """
    return ChannelAttn(channels, **kwargs)


@register_attention('sa', paper=CBAM_PAPER, params=SPATIAL_PARAMS)
def sa(channels: int, kernel_size: int = 7, **kwargs) -> SpatialAttn:
    """CBAM's spatial branch (Woo et al., ECCV 2018): timm's SpatialAttn.

    x * sigmoid(bn(conv7x7([mean_c(x), max_c(x)]))); independent of C.
    """
    del channels  # the branch pools the channels away; kept for the common signature
    return SpatialAttn(kernel_size, **kwargs)


@register_attention('cbam', paper=CBAM_PAPER, params=f'{CHANNEL_PARAMS} + {SPATIAL_PARAMS}')
def cbam(channels: int, **kwargs) -> CbamModule:
    """CBAM (Woo et al., ECCV 2018): timm's CbamModule, the channel then the spatial branch."""
    return CbamModule(channels, **kwargs)


@register_attention('psca', paper=f'parallel arrangement of {CBAM_PAPER}',
                    params=f'{CHANNEL_PARAMS} + {SPATIAL_PARAMS}')
class PSCA(nn.Module):
    """Parallel spatial and channel attention, after CBAM (Woo et al., ECCV 2018).

    Both branches see the same input and each returns its gated x; the outputs are
    summed: ``psca(x) = ca(x) + sa(x) = x * Mc(x) + x * Ms(x)``, where Mc is the
    (B, C, 1, 1) channel gate and Ms the (B, 1, H, W) spatial gate.
    """

    def __init__(self, channels: int, kernel_size: int = 7, **kwargs) -> None:
        super().__init__()
        self.channel = ChannelAttn(channels, **kwargs)
        self.spatial = SpatialAttn(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.channel(x) + self.spatial(x)
