"""Frequency strip attention (FSA): strip averages split each map into low and high frequencies.

Cui et al., "Dual-domain strip attention for image restoration", Neural Networks 2024.

A ``kernel``-wide average along W gives the horizontal low-frequency part and its
residual the high-frequency part; each is reweighted per channel and summed. The
same is then done along H on that result. The output blends the input back in:
``beta * x + gamma * vert_out``. With ``gamma`` starting at 0 and ``beta`` at 1 the
module starts as the identity. Borders are reflected, as in the paper's code; unlike
``ReflectionPad2d``, the reflection here repeats as often as needed, so maps
narrower than the strip (down to 1x1) work too.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_attention


def reflect_pad(x: torch.Tensor, pad: int, dim: int) -> torch.Tensor:
    """Pad (B, C, H, W) by ``pad`` on both sides of ``dim`` (2 or 3) with reflection.

    Equals ``ReflectionPad`` where that works (pad < size) and keeps reflecting back and
    forth beyond it, one full reflection at a time; a length-1 axis repeats its value.
    """
    if x.shape[dim] == 1:
        size = list(x.shape)
        size[dim] = 1 + 2 * pad
        return x.expand(size)
    while pad > 0:
        step = min(pad, x.shape[dim] - 1)
        x = F.pad(x, (step, step, 0, 0) if dim == 3 else (0, 0, step, step), mode='reflect')
        pad -= step
    return x


def strip_mean(x: torch.Tensor, kernel: int, dim: int) -> torch.Tensor:
    """The ``kernel``-tap moving average of (B, C, H, W) along ``dim`` (2 or 3), reflected."""
    size = (kernel, 1) if dim == 2 else (1, kernel)
    return F.avg_pool2d(reflect_pad(x, kernel // 2, dim), size, stride=1)


@register_attention('fsa', paper='Cui et al., Dual-domain strip attention for image '
                                 'restoration (FSA), Neural Networks 2024',
                    params='6*C; low and high weights per axis, gamma and beta, per channel')
class FSA(nn.Module):
    """Frequency strip attention (Cui et al., Neural Networks 2024), (B, C, H, W) -> same.

    Args:
        channels: C, the number of per-channel weights.
        kernel: strip length of the moving averages (odd; 7 in the paper).
    """

    def __init__(self, channels: int, kernel: int = 7) -> None:
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f'FSA kernel must be a positive odd integer, got {kernel}')
        self.kernel = kernel
        self.hori_low = nn.Parameter(torch.zeros(channels, 1, 1))
        self.hori_high = nn.Parameter(torch.zeros(channels, 1, 1))
        self.vert_low = nn.Parameter(torch.zeros(channels, 1, 1))
        self.vert_high = nn.Parameter(torch.zeros(channels, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(channels, 1, 1))
        self.beta = nn.Parameter(torch.ones(channels, 1, 1))

    def extra_repr(self) -> str:
        return f'kernel={self.kernel}'

    def reweigh(self, x: torch.Tensor, dim: int, low_w: torch.Tensor,
                high_w: torch.Tensor) -> torch.Tensor:
        """Split along ``dim`` into low (strip mean) and high (the rest), reweight, sum."""
        low = strip_mean(x, self.kernel, dim)
        return low_w * low + (high_w + 1.0) * (x - low)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hori = self.reweigh(x, 3, self.hori_low, self.hori_high)
        vert = self.reweigh(hori, 2, self.vert_low, self.vert_high)
        return x * self.beta + vert * self.gamma
