"""Grouped channel self-attention (GCSA): "transposed" attention across channels, per head.

Li et al., "Rethinking Transformer-Based Blind-Spot Network for Self-Supervised Image
Denoising" (TBSN), 2024.

Queries, keys and values come from a 1x1 convolution then a dilated (2) depthwise
3x3 convolution. Within each head the C/heads x C/heads attention map compares whole
channel maps: q and k are L2-normalised over the H*W positions, scaled by a learned
temperature per head and softmaxed over channels, so the cost is linear in H*W.
A 1x1 convolution projects the result; as in the paper, any residual is left to the
surrounding block.

The paper's release gives GCSA a different head count in each of its code bases
(``loosen.models.release.GCSA_HEADS``); the backbones use it at ``placement='paper'``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_heads
from .registry import register_attention


@register_attention('gcsa', paper='Li et al., Rethinking Transformer-Based Blind-Spot Network '
                                  'for Self-Supervised Image Denoising (GCSA), 2024',
                    params='4*C**2 + 34*C + 4; the last term is heads '
                           "(4 by default; the release's per backbone: "
                           'loosen.models.release.GCSA_HEADS)')
class GCSA(nn.Module):
    """Channel-wise multi-head self-attention (Li et al., TBSN 2024), (B, C, H, W) -> same.

    Args:
        channels: C; must be divisible by ``heads``.
        heads: channel groups attending among themselves (4 divides the usual widths).
        bias: biases in the three convolutions, as in the paper.
    """

    def __init__(self, channels: int, heads: int = 4, bias: bool = True) -> None:
        super().__init__()
        check_heads('GCSA', channels, heads)
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(channels, channels * 3, 1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(channels * 3, channels * 3, 3, padding=2, dilation=2,
                                    groups=channels * 3, bias=bias)
        self.project_out = nn.Conv2d(channels, channels, 1, bias=bias)

    def extra_repr(self) -> str:
        return f'heads={self.heads}'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv_dwconv(self.qkv(x)).reshape(b, 3, self.heads, c // self.heads, h * w)
        q, k, v = qkv.unbind(1)  # each (B, heads, C/heads, H*W)
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = (q @ k.transpose(-2, -1) * self.temperature).softmax(-1)  # (B, heads, c, c)
        return self.project_out((attn @ v).reshape(b, c, h, w))
