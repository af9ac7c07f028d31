"""Criss-cross attention (CCA): each position attends over its own row and column.

Huang et al., "CCNet: Criss-Cross Attention for Semantic Segmentation", ICCV 2019; the
paper's release uses it in its YOLOv5 code (``CrissCrossAttention``, reduction 8).

Queries and keys are 1x1 projections to C/8 channels, values a 1x1 projection to C
(all with bias). The position (i, j) scores every position of column j and of row i;
it sits in both, so the column's copy of itself is left out (its score is -inf) and
each of the H + W - 1 positions counts once. One softmax runs over the H + W scores,
the values are summed with those weights, and ``y = gamma * out + x`` with ``gamma`` a
learned scalar starting at 0, so the module starts as the identity.
"""
from __future__ import annotations

import torch
from torch import nn

from .registry import register_attention


@register_attention('cca', paper='Huang et al., CCNet: Criss-Cross Attention for Semantic '
                                 'Segmentation, ICCV 2019',
                    params='2*(C*(C//8) + C//8) + C**2 + C + 1; for C >= 8')
class CrissCrossAttention(nn.Module):
    """Criss-cross attention (Huang et al., ICCV 2019), (B, C, H, W) -> same.

    Args:
        channels: C.
        reduction: query and key width is ``max(1, C // reduction)`` (8, the release's).
    """

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        inner = max(1, channels // reduction)
        self.query = nn.Conv2d(channels, inner, 1)
        self.key = nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.shape[2]
        q, k, v = self.query(x), self.key(x), self.value(x)
        column = torch.einsum('bchw,bcgw->bhwg', q, k)  # (B, H, W, H): (i, j) with (g, j)
        self_in_column = torch.eye(h, dtype=torch.bool, device=x.device)[:, None, :]
        column = column.masked_fill(self_in_column, float('-inf'))
        row = torch.einsum('bchw,bchv->bhwv', q, k)  # (B, H, W, W): (i, j) with (i, v)
        attn = torch.cat([column, row], -1).softmax(-1)
        out = (torch.einsum('bhwg,bcgw->bchw', attn[..., :h], v)
               + torch.einsum('bhwv,bchv->bchw', attn[..., h:], v))
        return self.gamma * out + x
