"""Loosen Attention (LA): localized channel attention with a coarse spatial map.

Wang et al., "Loosen Attention: Integrating Localized Channel and Coarse Spatial
Attention for Enhanced Analysis of Complex Aurora Images".

The channels are split into ``heads`` groups and the plane into ``window x window``
cells; each group x cell is a *volume*. Every volume is summarised by its mean and
its max, a tiny MLP shared across locations mixes the heads, a 1x1 ``fuse`` blends
the two poolings, and the coarse map is upsampled back to (H, W) to gate the input.
The parameter count (``2*heads*hidden + hidden + heads + 3``) does not depend on C.

This is the vectorised form of the release's loops over heads and cells: two
channel reductions over the input, then work on tensors ``C/heads`` times smaller,
then one gating pass. Edge cells that do not fill a window are pooled over the
pixels they have (ceil division), never dropped. In training, a custom autograd
function keeps only the coarse statistics and recomputes the rest in backward.
"""


import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from .checks import check_heads
from .registry import register_attention

POOLS = ('avgmax', 'avg', 'max')
UPSAMPLES = ('bilinear', 'nearest', 'bicubic')


def tiles_exactly(h: int, w: int, window: int) -> bool:
    """True when eager code may skip padding: the cells tile (h, w) with no remainder.

    Traced, scripted, exported and compiled graphs always take the padded branch, so
    one graph stays correct for every H and W (the pad amounts are then shape ops).
    """
    if torch.jit.is_scripting():
        return False
    if torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export():
        return False
    return h % window == 0 and w % window == 0


def cell_reduce(t: torch.Tensor, window: int, use_max: bool, exact: bool) -> torch.Tensor:
    """Sum or max of (..., H, W) over window x window cells -> (..., ceil(H/w), ceil(W/w)).

    Edge cells are padded (0 for sums, -inf for max) so they keep what they have;
    ``exact`` (from ``tiles_exactly``) skips the padding where no cell is cut.
    Strided slices combined elementwise are an order of magnitude faster on the CPU
    than ``max_pool2d`` and ``avg_pool2d`` for the small windows LA uses.
    """
    h, w = t.shape[-2], t.shape[-1]
    if not exact:
        fill = float('-inf') if use_max else 0.0
        t = F.pad(t, (0, (window - w % window) % window, 0, (window - h % window) % window),
                  value=fill)
    rows = t[..., 0::window, :]
    for i in range(1, window):
        rows = torch.maximum(rows, t[..., i::window, :]) if use_max else rows + t[..., i::window, :]
    out = rows[..., 0::window]
    for j in range(1, window):
        out = torch.maximum(out, rows[..., j::window]) if use_max else out + rows[..., j::window]
    return out


def cell_expand(t: torch.Tensor, window: int, h: int, w: int) -> torch.Tensor:
    """Repeat each cell's value over its pixels: (..., Hc, Wc) -> (..., h, w)."""
    return t.repeat_interleave(window, -2).repeat_interleave(window, -1)[..., :h, :w]


def cell_sizes(h: int, w: int, window: int, like: torch.Tensor, exact: bool) -> torch.Tensor:
    """Pixels per cell, (1, 1, Hc, Wc): window**2 except in the cut edge cells."""
    if exact:
        return like.new_full((1, 1, 1, 1), float(window * window))
    return cell_reduce(like.new_ones(1, 1, h, w), window, False, exact)


@register_attention(
    'la', paper='Wang et al., Loosen Attention, for complex aurora images (2025)',
    params='2*heads*hidden + hidden + heads + 3 (52 at the defaults), independent of C')
class LA(nn.Module):
    """Loosen Attention over (B, C, H, W) feature maps; returns the same shape.

    Args:
        channels: optional channel count, only validated against ``heads`` early.
        heads: number of channel groups (volumes per cell); must divide C.
        window: cell size in pixels (cells at the right/bottom edge may be smaller).
        hidden: width of the MLP shared across heads.
        pool: 'avgmax' (paper), 'avg' or 'max' volume statistics.
        upsample: 'bilinear' (paper), 'nearest' or 'bicubic' reconstruction.
        residual: ``y = x * S + x`` when True (paper), ``y = x * S`` otherwise.
        recompute: in training keep only the coarse statistics for backward and
            recompute the gate there (less memory, faster on the CPU); False uses
            plain autograd, which also supports double backward.
    """

    def __init__(
            self,
            channels: int | None = None,
            heads: int = 16,
            window: int = 2,
            hidden: int = 1,
            pool: str = 'avgmax',
            upsample: str = 'bilinear',
            residual: bool = True,
            recompute: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (('heads', heads), ('window', window), ('hidden', hidden)):
            if int(value) < 1:
                raise ValueError(f'LA {name} must be a positive integer, got {value}')
        if pool not in POOLS:
            raise ValueError(f'LA pool={pool!r} is unknown; choose one of {", ".join(POOLS)}')
        if upsample not in UPSAMPLES:
            raise ValueError(
                f'LA upsample={upsample!r} is unknown; choose one of {", ".join(UPSAMPLES)}')
        if channels is not None:
            check_heads('LA', channels, heads)
        self.heads = int(heads)
        self.window = int(window)
        self.pool = pool
        self.upsample = upsample
        self.residual = residual
        self.recompute = recompute
        self.mlp = nn.Sequential(
            nn.Conv2d(heads, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, heads, 1),
        )
        self.fuse = nn.Conv2d(2 if pool == 'avgmax' else 1, 1, 1)

    def extra_repr(self) -> str:
        return (f'heads={self.heads}, window={self.window}, pool={self.pool}, '
                f'upsample={self.upsample}, residual={self.residual}')

    def volumes(self, x: torch.Tensor) -> torch.Tensor:
        """Volume statistics: (B, C, H, W) -> (P, B, heads, ceil(H/w), ceil(W/w)), P pools.

        Stored heads-last, the layout ``mix`` multiplies in one matrix product.
        """
        b, c, h, w = x.shape
        per_head = c // self.heads
        groups = x.reshape(b, self.heads, per_head, h * w)
        exact = tiles_exactly(h, w, self.window)
        stats: list[torch.Tensor] = []
        if self.pool != 'max':
            # one BLAS pass over x averages each group's channels (and, when the cells
            # tile the map, their pixels: the scale folds in window**2)
            scale = 1.0 / (per_head * self.window * self.window if exact else per_head)
            means = torch.matmul(x.new_full((1, per_head), scale), groups)
            means = cell_reduce(means.reshape(b, self.heads, h, w), self.window, False, exact)
            stats.append(means if exact else means / cell_sizes(h, w, self.window, x, exact))
        if self.pool != 'avg':
            maxes = groups.amax(2).reshape(b, self.heads, h, w)
            stats.append(cell_reduce(maxes, self.window, True, exact))
        heads_last = torch.stack([s.permute(0, 2, 3, 1) for s in stats], 0)
        return heads_last.permute(0, 1, 4, 2, 3)

    def mix(self, stats: torch.Tensor) -> torch.Tensor:
        """Shared MLP and bi-pooling fuse: (P, B, heads, Hc, Wc) -> logits (B, heads, Hc, Wc).

        The 1x1 convolutions run as matrix products over the heads axis, far cheaper
        than convolution calls on these small maps. The fuse is linear, so it is applied
        before the MLP's second layer: fuse(W2 a + b2, W2 m + b2) equals
        W2 fuse(a, m) + (sum of fuse weights) * b2 + fuse bias, exactly.
        """
        p, b, heads, hc, wc = stats.shape
        first, second = self.mlp[0], self.mlp[2]
        b1, b2, bf = first.bias, second.bias, self.fuse.bias
        assert b1 is not None and b2 is not None and bf is not None  # for TorchScript
        flat = stats.permute(0, 1, 3, 4, 2).reshape(-1, heads)  # (P*B*Hc*Wc, heads), a view
        hidden = torch.addmm(b1, flat, first.weight.flatten(1).t()).relu_()
        fuse = self.fuse.weight.flatten()  # (P,)
        blended = torch.mm(fuse[None], hidden.view(p, -1)).view(b, hc * wc, -1)  # (B, L, hidden)
        bias = torch.addcmul(bf, b2, fuse.sum())  # (heads,)
        w2 = second.weight.flatten(1).expand(b, -1, -1)  # (B, heads, hidden)
        logits = torch.baddbmm(bias[:, None], w2, blended.transpose(1, 2))
        return logits.reshape(b, heads, hc, wc)

    def refine(self, logits: torch.Tensor, size: list[int]) -> torch.Tensor:
        """Upsample the coarse logits to ``size`` and squash: the gate S, (B, heads, H, W)."""
        corners: bool | None = None if self.upsample == 'nearest' else False
        # in place is autograd-safe: interpolate's backward does not need its output
        return F.interpolate(logits, size=size, mode=self.upsample,
                             align_corners=corners).sigmoid_()

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """The gate S in (0, 1) per head at full resolution: (B, heads, H, W)."""
        return self.refine(self.mix(self.volumes(x)), [x.shape[2], x.shape[3]])

    def enhance(self, x: torch.Tensor, gate: torch.Tensor,
                out: torch.Tensor | None = None) -> torch.Tensor:
        """Enhanced fusion ``x * S + x``: each head's map scales all channels of its group.

        With ``out`` (a tensor like x; no autograd) the result is written there.
        """
        b, c, h, w = x.shape
        groups = x.reshape(b, self.heads, c // self.heads, h, w)
        gate = gate.unsqueeze(2)  # (B, heads, 1, H, W)
        if out is None:
            y = torch.addcmul(groups, groups, gate) if self.residual else groups * gate
            return y.reshape(b, c, h, w)
        target = out.view(groups.shape)
        if self.residual:
            torch.addcmul(groups, groups, gate, out=target)
        else:
            torch.mul(groups, gate, out=target)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing():  # a traced graph keeps no Python checks
            if x.dim() != 4:
                raise ValueError(
                    f'LA expects a 4-D (B, C, H, W) tensor, got shape {list(x.shape)}; '
                    'for token sequences reshape them to a grid first')
            if x.shape[1] % self.heads != 0:
                if torch.jit.is_scripting():
                    raise ValueError('LA needs channels divisible by heads')
                check_heads('LA', x.shape[1], self.heads)
        if not torch.jit.is_scripting() and self._recomputes(x):
            return self._forward_recompute(x)
        return self.enhance(x, self.attention_map(x))

    @torch.jit.unused
    def _recomputes(self, x: torch.Tensor) -> bool:
        """Take the memory-saving autograd function: training in eager mode only."""
        if not (self.recompute and torch.is_grad_enabled()):
            return False
        if torch.compiler.is_compiling() or torch.jit.is_tracing():
            return False
        return x.requires_grad or any(p.requires_grad for p in self.parameters())

    @torch.jit.unused
    def _forward_recompute(self, x: torch.Tensor) -> torch.Tensor:
        return _RecomputedLA.apply(x, self, *self.parameters())


def first_peak_pixels(maxes: torch.Tensor, peaks: torch.Tensor, window: int,
                      exact: bool) -> torch.Tensor:
    """Flat pixel index (into H*W) of the first pixel of each cell that holds its peak.

    ``maxes`` is the per-pixel channel max (B, heads, H, W), ``peaks`` the cell max
    (B, heads, Hc, Wc). Cheap comparisons on these small maps, not argmax, which is
    slow on the CPU.
    """
    h, w = maxes.shape[-2], maxes.shape[-1]
    hc, wc = peaks.shape[-2], peaks.shape[-1]
    if not exact:
        maxes = F.pad(maxes, (0, wc * window - w, 0, hc * window - h), value=float('-inf'))
    row = torch.zeros_like(peaks, dtype=torch.long)
    col = torch.zeros_like(row)
    for k in range(window * window - 1, -1, -1):  # the first hit wins: scan backwards
        hit = maxes[..., k // window::window, k % window::window] == peaks
        row = torch.where(hit, k // window, row)
        col = torch.where(hit, k % window, col)
    row = row + torch.arange(0, hc * window, window, device=maxes.device).view(-1, 1)
    col = col + torch.arange(0, wc * window, window, device=maxes.device)
    return (row * w + col).flatten(-2)


def route_max_grad(groups: torch.Tensor, peaks: torch.Tensor, grad: torch.Tensor, window: int,
                   exact: bool, out: torch.Tensor) -> None:
    """Add each volume's max gradient to ``out`` (B, heads, C/heads, H, W) at its arg-max.

    The gradient goes to the first pixel of the cell that holds the peak, as in
    ``max_pool2d``, shared evenly among the channels tied at that pixel.
    """
    b, heads, per_head, h, w = groups.shape
    pixels = first_peak_pixels(groups.amax(2), peaks, window, exact)  # (B, heads, L)
    index = pixels.unsqueeze(2).expand(b, heads, per_head, pixels.shape[-1])
    values = groups.reshape(b, heads, per_head, h * w).gather(3, index)
    hits = values == peaks.flatten(-2).unsqueeze(2)
    share = grad.flatten(-2).unsqueeze(2) / hits.sum(2, keepdim=True)
    out.view(b, heads, per_head, h * w).scatter_add_(3, index, hits * share)


class _RecomputedLA(torch.autograd.Function):
    """LA whose backward keeps only x and the coarse statistics, and recomputes the gate."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, la: LA, *params: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            stats = la.volumes(x)
            gate = la.refine(la.mix(stats), [x.shape[2], x.shape[3]])
            # a fresh tensor, not a view: blocks may add their shortcut to it in place
            out = la.enhance(x, gate, out=torch.empty_like(x))
        ctx.la = la
        ctx.save_for_backward(x, stats)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, stats = ctx.saved_tensors
        la: LA = ctx.la
        b, c, h, w = x.shape
        params = list(la.parameters())
        trained = [p for p in params if p.requires_grad]
        with torch.enable_grad():
            coarse = stats.detach().requires_grad_(True)
            gate = la.refine(la.mix(coarse), [h, w])  # small graph: (B, heads, H, W)
        groups = x.reshape(b, la.heads, c // la.heads, h, w)
        grads = grad.reshape(groups.shape)
        grad_gate = (grads * groups).sum(2)  # each head's map scaled all its channels
        found = torch.autograd.grad(gate, [coarse, *trained], grad_gate)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = _volumes_backward(la, groups, grads, gate.detach(), stats, found[0])
            grad_x = grad_x.reshape(b, c, h, w)
        by_param = dict(zip(map(id, trained), found[1:], strict=True))
        return (grad_x, None, *(by_param.get(id(p)) for p in params))


def _volumes_backward(la: LA, groups: torch.Tensor, grads: torch.Tensor, gate: torch.Tensor,
                      stats: torch.Tensor, grad_stats: torch.Tensor) -> torch.Tensor:
    """The input gradient, (B, heads, C/heads, H, W): the gate's direct part, the mean's
    even spread over each volume (both in one pass), then the max's at its arg-max."""
    per_head, h, w = groups.shape[2:]
    exact = tiles_exactly(h, w, la.window)
    scale = (gate + 1.0 if la.residual else gate).unsqueeze(2)
    k = 0
    if la.pool != 'max':
        sizes = cell_sizes(h, w, la.window, groups, exact) * per_head
        spread = cell_expand(grad_stats[0] / sizes, la.window, h, w).unsqueeze(2)
        out = torch.addcmul(spread, grads, scale)
        k = 1
    else:
        out = grads * scale
    if la.pool != 'avg':
        out = out.contiguous()  # scattered into in place through a flat view
        route_max_grad(groups, stats[k], grad_stats[k], la.window, exact, out)
    return out
