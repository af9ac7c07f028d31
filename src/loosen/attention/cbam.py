"""CBAM's channel and spatial branches, alone, in sequence (``cbam``) and in parallel (``psca``).

Woo et al., "CBAM: Convolutional Block Attention Module", ECCV 2018.
The channel branch is timm's ``ChannelAttn`` (the release's form: a bias-free
C -> C/16 -> C MLP shared by the average- and max-pooled vectors). The spatial branch
is written here as the release has it: a bias-free 7x7 convolution over the channel
mean and max, then a sigmoid, with **no** BatchNorm; timm's ``SpatialAttn`` puts a
BatchNorm after the convolution, which makes a different module in training.
"""
from __future__ import annotations

import torch
from timm.layers.cbam import ChannelAttn
from torch import nn

from .registry import register_attention

CBAM_PAPER = 'Woo et al., CBAM: Convolutional Block Attention Module, ECCV 2018'
CHANNEL_PARAMS = '2*C*max(1, (C + 8)//16)'  # two bias-free 1x1 convs, C -> C/16 -> C
SPATIAL_PARAMS = '2*7*7'  # a bias-free 7x7 conv from 2 maps to 1


class SpatialGate(nn.Module):
    """CBAM's spatial branch as released: ``sigmoid(conv7x7([mean_c(x), max_c(x)]))``.

    ``forward`` returns the gated input; ``gate`` the (B, 1, H, W) map alone.
    """

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'spatial attention kernel_size must be odd, got {kernel_size}')
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)  # (B, 2, H, W)
        return torch.sigmoid(self.conv(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


@register_attention('ca', paper=CBAM_PAPER, params=CHANNEL_PARAMS)
def ca(channels: int, **kwargs) -> ChannelAttn:
    """CBAM's channel branch (Woo et al., ECCV 2018): timm's ChannelAttn.

    x * sigmoid(mlp(avgpool(x)) + mlp(maxpool(x))), one MLP shared by both poolings.
    """
    return ChannelAttn(channels, **kwargs)


@register_attention('sa', paper=CBAM_PAPER, params=SPATIAL_PARAMS)
def sa(channels: int, kernel_size: int = 7) -> SpatialGate:
    """CBAM's spatial branch (Woo et al., ECCV 2018) as released, without BatchNorm.

    x * sigmoid(conv7x7([mean_c(x), max_c(x)])); independent of C.
    """
    del channels  # the branch pools the channels away; kept for the common signature
    return SpatialGate(kernel_size)


@register_attention('cbam', paper=CBAM_PAPER, params=f'{CHANNEL_PARAMS} + {SPATIAL_PARAMS}')
class CBAM(nn.Module):
    """CBAM (Woo et al., ECCV 2018): the channel branch, then the spatial branch on its output."""

    def __init__(self, channels: int, kernel_size: int = 7, **kwargs) -> None:
        super().__init__()
        self.channel = ChannelAttn(channels, **kwargs)
        self.spatial = SpatialGate(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))


@register_attention('psca', paper=f'parallel arrangement of {CBAM_PAPER}',
                    params=f'{CHANNEL_PARAMS} + {SPATIAL_PARAMS}')
class PSCA(CBAM):
    """Parallel spatial and channel attention, after CBAM (Woo et al., ECCV 2018).

    Both branches see the same input and each returns its gated x; the outputs are
    summed: ``psca(x) = ca(x) + sa(x) = x * Mc(x) + x * Ms(x)``, where Mc is the
    (B, C, 1, 1) channel gate and Ms the (B, 1, H, W) spatial gate.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.channel(x) + self.spatial(x)
