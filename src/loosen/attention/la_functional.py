"""Loosen Attention's steps as functions of tensors and weights, forward and backward.

DESIGN.md section 1 in order: ``volumes`` (steps 1-2), ``shared_mlp`` (3, the first
layer), ``fuse_pools`` (4), ``upsample_gate`` (5, with the MLP's output layer), composed
by ``gate``; then ``enhance`` (6). ``LA`` (la.py) holds the weights and calls these;
``RecomputedLA`` (la_recompute.py) calls them and the backward functions below. No
function reads a module.

Cost: two reductions over the input, then work on maps ``C/heads`` times smaller,
then one gating pass: 17 operator calls (and some views) whatever the map. Two exact
rewrites keep the small work small: the MLP's output layer runs after the upsampling,
which is linear with weights summing to one, and the linear fuse runs before both, on
the hidden maps; so only ``hidden`` maps are upsampled (1 at the defaults), not
``heads``. Edge cells that do not fill a window are pooled over the pixels they have
(ceil division), never dropped.
"""
import torch
import torch.nn.functional as F

from .cells import cell_expand, cell_mean, cell_reduce, cell_sizes, tiles_exactly
from .layout import channels_innermost


def split(t: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, heads, C/heads, H, W): the channel groups, a view in either
    memory format (sizes read from ``t``, so traced and exported graphs keep them)."""
    b, c, h, w = t.shape
    return t.view(b, heads, c // heads, h, w)


def volumes(x: torch.Tensor, heads: int, window: int, pools: list[str]) -> torch.Tensor:
    """Steps 1-2, volume-wise mean and max: (B, C, H, W) -> (B, P, heads, Hc, Wc), one
    map per entry of ``pools`` ('avg', 'max'), in that order.

    A volume's statistic is one reduction over its channels and its cell's pixels, in
    either order; the order follows the memory layout. Channels as an outer dimension
    (NCHW): over each group's channels first, whole planes at a time, then over the
    cells of maps ``C/heads`` times smaller. Channels innermost (channels-last maps,
    ViT's token grid), where a reduction along C is slow: over the cells first,
    elementwise along C, then over the groups of maps ``window**2`` times smaller.
    """
    exact = tiles_exactly(x.shape[2], x.shape[3], window)
    if channels_innermost(x):
        stats = [split(cell_mean(x, window, exact), heads).mean(2) if kind == 'avg'
                 else split(cell_reduce(x, window, True, exact), heads).amax(2)
                 for kind in pools]
    else:
        groups = split(x, heads)
        stats = [cell_mean(groups.sum(2), window, exact, groups.shape[2]) if kind == 'avg'
                 else cell_reduce(groups.amax(2), window, True, exact)
                 for kind in pools]
    return torch.stack(stats, 1)


def shared_mlp(stats: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor) -> torch.Tensor:
    """Step 3, the MLP's first layer and ReLU on every pooling and cell, the same weights
    for all: (B, P, heads, Hc, Wc) -> hidden maps (B, P, hidden*Hc*Wc)."""
    b, p, heads, hc, wc = stats.shape
    return torch.baddbmm(b1[:, None], w1.flatten(1).expand(b * p, -1, -1),
                         stats.view(b * p, heads, hc * wc)).relu_().view(b, p, -1)


def fuse_pools(hidden: torch.Tensor, b2: torch.Tensor, fuse_w: torch.Tensor | None,
               fuse_b: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 4, the bi-pooling fuse, on the hidden maps (B, P, n) -> (B, 1, n), and the
    output layer's bias that goes with them. The output layer and the upsampling after
    it are linear, so fuse(W2 a + b2, W2 m + b2) = W2 (f_a a + f_m m) + (f_a + f_m) b2 + f0.
    Without fuse weights (one pooling) both pass unchanged."""
    if fuse_w is None or fuse_b is None:
        return hidden, b2
    fuse = fuse_w.view(1, 1, hidden.shape[1])
    return torch.matmul(fuse, hidden), torch.addcmul(fuse_b, b2, fuse.sum())


def upsample_gate(hidden: torch.Tensor, w2: torch.Tensor, bias: torch.Tensor, size: list[int],
                  mode: str, innermost: bool) -> torch.Tensor:
    """Step 5 with the MLP's output layer: the hidden maps (B, hidden, Hc, Wc) upsampled to
    ``size`` (H, W), then ``W2 . + bias`` and the sigmoid: the gate S (B, heads, H, W),
    laid out as (B, H, W, heads) in memory when ``innermost`` (for a channels-innermost
    input, whose enhance then reads the gate along C instead of across planes)."""
    b, h, w = hidden.shape[0], size[0], size[1]
    corners: bool | None = None if mode == 'nearest' else False
    up = F.interpolate(hidden, size=[h, w], mode=mode,
                       align_corners=corners).view(b, -1, h * w)  # (B, hidden, H*W)
    w2 = w2.flatten(1)  # (heads, hidden)
    if innermost:
        logits = torch.baddbmm(bias, up.transpose(1, 2), w2.t().expand(b, -1, -1))
        return logits.sigmoid_().view(b, h, w, w2.shape[0]).permute(0, 3, 1, 2)
    logits = torch.baddbmm(bias[:, None], w2.expand(b, -1, -1), up)
    return logits.sigmoid_().view(b, w2.shape[0], h, w)


def gate(stats: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor,
         b2: torch.Tensor, fuse_w: torch.Tensor | None, fuse_b: torch.Tensor | None,
         size: list[int], mode: str, innermost: bool) -> torch.Tensor:
    """Steps 3-5, volume statistics (B, P, heads, Hc, Wc) -> the gate S (B, heads, H, W).

    ``w1, b1, w2, b2`` are the shared MLP's two 1x1 convolutions, ``fuse_w, fuse_b`` the
    fuse's (None with one pooling), ``mode`` the upsampling."""
    b, hc, wc = stats.shape[0], stats.shape[3], stats.shape[4]
    hidden = shared_mlp(stats, w1, b1)  # (B, P, hidden*Hc*Wc)
    hidden, bias = fuse_pools(hidden, b2, fuse_w, fuse_b)  # (B, 1, hidden*Hc*Wc)
    return upsample_gate(hidden.view(b, -1, hc, wc), w2, bias, size, mode, innermost)


def enhance(x: torch.Tensor, gate: torch.Tensor, heads: int, residual: bool,
            out: torch.Tensor | None = None) -> torch.Tensor:
    """Step 6, enhanced fusion ``x * S + x`` (``x * S`` without ``residual``): each head's
    map of S (B, heads, H, W) scales all channels of its group.

    With ``out`` (a tensor like x; no autograd) the result is written there.
    """
    groups = split(x, heads)
    gate = gate.unsqueeze(2)  # (B, heads, 1, H, W)
    if out is None:
        y = torch.addcmul(groups, groups, gate) if residual else groups * gate
        return y.view(x.shape)
    target = out.view(groups.shape)
    if residual:
        torch.addcmul(groups, groups, gate, out=target)
    else:
        torch.mul(groups, gate, out=target)
    return out


# -- backward: the input gradient from the coarse statistics (for la_recompute.py)

def input_bwd(groups: torch.Tensor, grads: torch.Tensor, gate: torch.Tensor,
              stats: torch.Tensor, grad_stats: torch.Tensor, window: int, pools: list[str],
              residual: bool) -> torch.Tensor:
    """The input gradient, (B, heads, C/heads, H, W), from the input and output gradient
    as groups, the gate S, the statistics and their gradient: enhance's direct part and
    the mean's even spread over each volume (both in one pass), then the max's at its
    arg-max."""
    per_head, h, w = groups.shape[2:]
    exact = tiles_exactly(h, w, window)
    scale = (gate + 1.0 if residual else gate).unsqueeze(2)
    if 'avg' in pools:
        sizes = cell_sizes(h, w, window, groups, exact) * per_head
        spread = cell_expand(grad_stats[:, 0] / sizes, window, h, w).unsqueeze(2)
        out = torch.addcmul(spread, grads, scale)
    else:
        out = grads * scale
    if 'max' in pools:
        k = pools.index('max')
        out = out.contiguous()  # scattered into in place through a flat view
        route_max_grad(groups, stats[:, k], grad_stats[:, k], window, exact, out)
    return out


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
