"""MLCA: mixed local channel attention, local (5x5) and global ECA-style channel gates.

Wan et al., "Mixed local channel attention for object detection", Engineering Applications
of Artificial Intelligence 2023 (seed 004).

The map is pooled to ``local_size x local_size`` cells and, from those, to one global
descriptor. A 1-D convolution across channels (ECA's kernel rule) turns each into a
gate; the local and global gates are blended ``local_weight : 1 - local_weight`` and
un-pooled back to (H, W) by adaptive average pooling. As in the reference code, the
local convolution runs over the position-major flattening of the (cells, C) grid, so
its first and last taps also see the neighbouring cell's end channels.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_attention


def mlca_kernel_size(channels: int, gamma: float = 2, b: float = 1) -> int:
    """Seed 004's rule: t = int(|log2(C) + b| / gamma), made odd by adding 1 if even."""
    t = int(abs(math.log2(channels) + b) / gamma)
    return t if t % 2 else t + 1


@register_attention('mlca', paper='Wan et al., Mixed local channel attention for object '
                                  'detection (MLCA), Eng. Appl. Artif. Intell. 2023',
                    params='2*(int((log2(C) + 1)/2) | 1); two 1-D kernels of odd size k(C)')
class MLCA(nn.Module):
    """Mixed local channel attention (Wan et al., 2023), (B, C, H, W) -> same.

    Args:
        channels: C, which sets the kernel size (``mlca_kernel_size``).
        local_size: cells per side of the local pooling (5 in the paper).
        gamma, b: the kernel size rule's constants (2 and 1).
        local_weight: share of the local gate in the blend (0.5).
    """

    def __init__(self, channels: int, local_size: int = 5, gamma: float = 2, b: float = 1,
                 local_weight: float = 0.5) -> None:
        super().__init__()
        k = mlca_kernel_size(channels, gamma, b)
        self.local_size = local_size
        self.local_weight = local_weight
        self.conv = nn.Conv1d(1, 1, k, padding=(k - 1) // 2, bias=False)
        self.conv_local = nn.Conv1d(1, 1, k, padding=(k - 1) // 2, bias=False)

    def extra_repr(self) -> str:
        return f'local_size={self.local_size}, local_weight={self.local_weight}'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        s = self.local_size
        local = F.adaptive_avg_pool2d(x, s)  # (B, C, s, s)
        glob = local.mean((2, 3))  # (B, C)
        cells = local.reshape(b, c, s * s).transpose(1, 2).reshape(b, 1, s * s * c)
        local_gate = self.conv_local(cells).reshape(b, s * s, c).transpose(1, 2)
        local_gate = local_gate.reshape(b, c, s, s).sigmoid()
        global_gate = self.conv(glob.unsqueeze(1)).reshape(b, c, 1, 1).sigmoid()
        gate = global_gate * (1 - self.local_weight) + local_gate * self.local_weight
        return x * F.adaptive_avg_pool2d(gate, (h, w))
