"""LESA: locally enhanced self-attention, a convolutional unary term plus a self-attention
binary term with relative positions, coupled by a learned gate.

Yang et al., "Locally Enhanced Self-Attention: Combining Self-Attention and Convolution as
Local and Context Terms", arXiv 2107.05637 (2021) (seed 001).

Following the release (``LESA_classification``, pe_type 'classification'):
- unary: grouped 3x3 convolution (``heads`` groups), a 1x1 convolution, BatchNorm;
- binary: multi-head self-attention whose logits sum three BatchNormed terms, q.k,
  q.r and k.r with learned relative-position embeddings r, and whose output adds the
  attention-weighted value embeddings (BatchNormed, summed);
- dynamic fusion: ReLU, 1x1 conv 2C -> C + BN + ReLU, 1x1 conv C -> C + BN, sigmoid,
  giving ``out = unary + gate * binary`` (the same shape as x, no extra residual).

``lesa`` is the paper's form: the binary term attends over the **whole** map. The
release sizes its position table to one map; here the table covers offsets up to
``reach - 1`` along each axis (14: every offset of the 14x14 maps at the paper's spots)
and farther offsets share the table's edge entries (clipped relative positions), so
the module runs at any H, W and is exact wherever H, W <= reach. Its cost grows with
(H*W)**2. ``lesa_window`` attends within non-overlapping ``window x window`` windows
instead (a loosen variant, linear in H*W, for large maps); sides that are not multiples
of the window are zero-padded at the bottom and right, the padded keys masked out of
the softmax and the padded queries dropped.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from timm.layers import ConvNormAct
from torch import nn

from ..errors import LoosenError
from .checks import check_heads
from .registry import register_attention


def relative_index(wh: int, ww: int, reach: int, device: torch.device) -> torch.Tensor:
    """(L, L) index of the offset pos_i - pos_j in a (2*reach-1)**2 table, L = wh * ww;
    each axis' offset is clipped to +-(reach - 1)."""
    ys = torch.arange(wh, device=device).repeat_interleave(ww)
    xs = torch.arange(ww, device=device).repeat(wh)
    dy = (ys[:, None] - ys[None, :]).clamp(1 - reach, reach - 1) + reach - 1
    dx = (xs[:, None] - xs[None, :]).clamp(1 - reach, reach - 1) + reach - 1
    return dy * (2 * reach - 1) + dx


def to_windows(x: torch.Tensor, wh: int, ww: int) -> torch.Tensor:
    """(B, X, H, W) -> (B * windows, X, wh * ww), zero-padding H and W up to whole windows."""
    b, c, h, w = x.shape
    x = F.pad(x, (0, -w % ww, 0, -h % wh))
    nh, nw = x.shape[2] // wh, x.shape[3] // ww
    x = x.reshape(b, c, nh, wh, nw, ww).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b * nh * nw, c, wh * ww)


def from_windows(x: torch.Tensor, b: int, h: int, w: int, wh: int, ww: int) -> torch.Tensor:
    """Inverse of ``to_windows``: (B * windows, X, wh * ww) -> (B, X, H, W), padding cut."""
    nh, nw = -(-h // wh), -(-w // ww)
    c = x.shape[1]
    x = x.reshape(b, nh, nw, c, wh, ww).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, c, nh * wh, nw * ww)[:, :, :h, :w]


@register_attention('lesa', paper='Yang et al., Locally Enhanced Self-Attention: Combining '
                                  'Self-Attention and Convolution as Local and Context Terms, '
                                  'arXiv 2107.05637 (2021)',
                    params='6*C**2 + 9*C**2//8 + 14*C + 729*C//4 + 48; '
                           'at heads=8, reach=14, for C a multiple of 16')
class LESA(nn.Module):
    """Locally enhanced self-attention (Yang et al., 2021), (B, C, H, W) -> same.

    Args:
        channels: C; ``heads`` must divide it with at least 2 channels per head.
        heads: attention heads and unary convolution groups (8 in the paper).
        window: None (the paper): attend over the whole map; else the side of the
            attention windows (``lesa_window``: 7, so 28, 56 and 112 are multiples and
            14x14 maps split into four windows).
        reach: with ``window=None``, the largest offset + 1 with its own position
            embedding along each axis; farther offsets are clipped to it.
    """

    def __init__(self, channels: int, heads: int = 8, window: int | None = None,
                 reach: int = 14) -> None:
        super().__init__()
        check_heads('LESA', channels, heads)
        if channels // heads < 2:
            raise LoosenError(
                f'LESA needs at least 2 channels per head for its queries and keys: '
                f'C={channels} with heads={heads} gives {channels // heads}; '
                f'pass heads={max(1, channels // 2)} or fewer')
        if (window if window is not None else reach) < 1:
            raise ValueError(f'LESA window and reach must be positive integers, got '
                             f'window={window}, reach={reach}')
        self.heads = heads
        self.window = window
        self.reach = window if window is not None else reach
        self.qk_dim = channels // heads // 2
        self.v_dim = channels // heads
        embed_dim = 2 * self.qk_dim + self.v_dim
        # binary term: projections, relative positions, and the BatchNorms of the release
        self.qkv = nn.Conv2d(channels, heads * embed_dim, 1, bias=False)
        self.bn_qkv = nn.BatchNorm2d(heads * embed_dim)
        self.relative = nn.Parameter(torch.empty(embed_dim, (2 * self.reach - 1) ** 2))
        self.bn_similarity = nn.BatchNorm2d(3 * heads)
        self.bn_output = nn.BatchNorm1d(2 * heads * self.v_dim)
        # unary term: a grouped 3x3 convolution, mixed across groups by a 1x1
        unary = [nn.Conv2d(channels, channels, 3, padding=1, groups=heads, bias=False)]
        if heads > 1:
            unary.append(nn.Conv2d(channels, channels, 1, bias=False))
        self.unary = nn.Sequential(*unary, nn.BatchNorm2d(channels))
        # dynamic fusion: the gate on the binary term, from both terms
        self.fuse = nn.Sequential(
            nn.ReLU(),
            ConvNormAct(2 * channels, channels, 1),
            ConvNormAct(channels, channels, 1, apply_act=False),
        )
        nn.init.normal_(self.qkv.weight, 0.0, math.sqrt(1.0 / channels))
        nn.init.normal_(self.relative, 0.0, math.sqrt(1.0 / self.v_dim))

    def extra_repr(self) -> str:
        return f'heads={self.heads}, window={self.window}, reach={self.reach}'

    def binary(self, x: torch.Tensor) -> torch.Tensor:
        """Self-attention with relative positions over the map or within each window:
        (B, C, H, W) -> (B, C, H, W)."""
        b, _, h, w = x.shape
        wh, ww = (h, w) if self.window is None else (min(self.window, h), min(self.window, w))
        qkv = to_windows(self.bn_qkv(self.qkv(x)), wh, ww)  # (N, heads * embed_dim, L)
        n, length = qkv.shape[0], qkv.shape[2]
        split = [self.qk_dim, self.qk_dim, self.v_dim]
        q, k, v = qkv.reshape(n, self.heads, -1, length).split(split, dim=2)
        index = relative_index(wh, ww, self.reach, x.device)
        q_emb, k_emb, v_emb = self.relative[:, index].split(split, dim=0)  # (dim, L, L)
        logits = torch.cat([
            torch.einsum('nhci,nhcj->nhij', q, k),
            torch.einsum('nhci,cij->nhij', q, q_emb),  # query . r(pos_i - pos_j)
            torch.einsum('nhcj,cji->nhij', k, k_emb),  # key . r(pos_j - pos_i)
        ], dim=1)
        logits = self.bn_similarity(logits).reshape(n, 3, self.heads, length, length).sum(1)
        if h % wh or w % ww:  # mask the padded keys
            valid = to_windows(x.new_ones(1, 1, h, w), wh, ww) > 0  # (windows, 1, L)
            valid = valid.repeat(b, 1, 1).unsqueeze(1)  # (N, 1, 1, L)
            logits = logits.masked_fill(~valid, float('-inf'))
        attn = logits.softmax(-1)
        out = torch.stack([
            torch.einsum('nhij,nhcj->nhci', attn, v),
            torch.einsum('nhij,cij->nhci', attn, v_emb),
        ], dim=3)  # (N, heads, v_dim, 2, L): value and value-embedding outputs per channel
        out = self.bn_output(out.reshape(n, -1, length)).reshape(n, -1, 2, length).sum(2)
        return from_windows(out, b, h, w, wh, ww)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        unary = self.unary(x)
        binary = self.binary(x)
        gate = torch.sigmoid(self.fuse(torch.cat([unary, binary], dim=1)))
        return unary + gate * binary


@register_attention('lesa_window', paper='windowed variant of Yang et al., Locally Enhanced '
                                         'Self-Attention, arXiv 2107.05637 (2021)',
                    params='6*C**2 + 9*C**2//8 + 14*C + 169*C//4 + 48; '
                           'at heads=8, window=7, for C a multiple of 16')
def lesa_window(channels: int, heads: int = 8, window: int = 7) -> LESA:
    """LESA (Yang et al., 2021) within ``window x window`` windows: loosen's, for large maps."""
    return LESA(channels, heads, window=window)
