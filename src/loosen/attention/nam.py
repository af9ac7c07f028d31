"""NAM: normalisation-based attention, BatchNorm's scale factors as channel importance.

Liu et al., "NAM: Normalization-based Attention Module", NeurIPS 2021 workshop (ImageNet PPF).
"""
from __future__ import annotations

import torch
from torch import nn

from .registry import register_attention


@register_attention('nam', paper='Liu et al., NAM: Normalization-based Attention Module, '
                                 'arXiv 2111.12419 (2021)',
                    params='2*C; the BatchNorm scale and shift')
class NAM(nn.Module):
    """NAM's channel attention (Liu et al., 2021), (B, C, H, W) -> same.

    ``x * sigmoid(bn(x) * w)`` with ``w = |gamma| / sum(|gamma|)``, gamma the BatchNorm
    scale: channels the network scales up count for more. As in the paper's code, w is
    read without gradient; gamma still learns through the BatchNorm itself.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=True)

    def channel_weights(self) -> torch.Tensor:
        """|gamma| / sum |gamma|, shaped (C, 1, 1)."""
        scale = self.bn.weight.detach().abs()
        return (scale / scale.sum()).view(-1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.bn(x) * self.channel_weights())
