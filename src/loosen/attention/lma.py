"""LMA: lightweight mixed-domain attention, ECA-style channel convolutions per row and column.

Yu et al., "LMA: lightweight mixed-domain attention for efficient network design",
Applied Intelligence 53(11), 2023 (seed 002).

The map is averaged along W (one descriptor per row) and along H (one per column); a
1-D convolution across the channels of each row, and another for the columns, gives
two gates, and ``y = x * sigmoid(row gate) * sigmoid(column gate)``, as in the
release's ``LMALayer``.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .registry import register_attention


def lma_kernel_size(channels: int, lambd: float = 1.5, gamma: float = 1) -> int:
    """The release's rule: t = round(|log2(C) - gamma| / lambd), made odd by subtracting 1.

    The release would reach 0 or -1 for C = 2 or 3; the size is kept at least 1.
    """
    t = round(abs(math.log2(channels) - gamma) / lambd)
    return max(1, t if t % 2 else t - 1)


@register_attention('lma', paper='Yu et al., LMA: lightweight mixed-domain attention for '
                                 'efficient network design, Applied Intelligence 2023',
                    params='2*max(1, (round(abs(log2(C) - 1)/1.5) - 1) | 1); two odd kernels')
class LMA(nn.Module):
    """Lightweight mixed-domain attention (Yu et al., 2023), (B, C, H, W) -> same.

    Args:
        channels: C, which sets the kernel size (``lma_kernel_size``).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        k = lma_kernel_size(channels)
        # kernels of (1, k) slide over the channel axis of (B, 1, rows or cols, C)
        self.conv_h = nn.Conv2d(1, 1, (1, k), padding=(0, (k - 1) // 2), bias=False)
        self.conv_w = nn.Conv2d(1, 1, (1, k), padding=(0, (k - 1) // 2), bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.mean(3).transpose(1, 2).unsqueeze(1)  # (B, 1, H, C)
        cols = x.mean(2).transpose(1, 2).unsqueeze(1)  # (B, 1, W, C)
        gate_h = self.conv_h(rows).squeeze(1).transpose(1, 2).unsqueeze(3)  # (B, C, H, 1)
        gate_w = self.conv_w(cols).squeeze(1).transpose(1, 2).unsqueeze(2)  # (B, C, 1, W)
        return x * gate_w.sigmoid() * gate_h.sigmoid()
