"""LA's training fast path: a backward that keeps only the coarse statistics.

Plain autograd keeps LA's per-pixel maps for backward and routes the max pooling's
gradient through ``amax``'s backward, several passes over the input. This function
keeps x and the (B, P, heads, Hc, Wc) volume statistics, recomputes the small gate
graph in backward, spreads the mean's gradient evenly over each volume and sends
the max's gradient to each volume's arg-max, in about three passes over the input.
``loosen bench la --step`` measures what it buys a whole training step.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from .cells import cell_expand, cell_sizes, tiles_exactly
from .layout import channels_innermost

if TYPE_CHECKING:
    from .la import LA


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


class RecomputedLA(torch.autograd.Function):
    """LA whose backward keeps only x and the coarse statistics, and recomputes the gate."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, la: LA, *params: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            stats = la.volumes(x)
            gate = la.gate(stats, [x.shape[2], x.shape[3]], channels_innermost(x))
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
            gate = la.gate(coarse, [h, w], channels_innermost(x))  # small: (B, heads, H, W)
        groups = la.split(x)
        grads = grad.reshape(groups.shape)
        grad_gate = (grads * groups).sum(2)  # each head's map scaled all its channels
        found = torch.autograd.grad(gate, [coarse, *trained], grad_gate)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = volumes_backward(la, groups, grads, gate.detach(), stats, found[0])
            grad_x = grad_x.reshape(b, c, h, w)
        by_param = dict(zip(map(id, trained), found[1:], strict=True))
        return (grad_x, None, *(by_param.get(id(p)) for p in params))


def volumes_backward(la: LA, groups: torch.Tensor, grads: torch.Tensor, gate: torch.Tensor,
                     stats: torch.Tensor, grad_stats: torch.Tensor) -> torch.Tensor:
    """The input gradient, (B, heads, C/heads, H, W): the gate's direct part, the mean's
    even spread over each volume (both in one pass), then the max's at its arg-max."""
    per_head, h, w = groups.shape[2:]
    exact = tiles_exactly(h, w, la.window)
    scale = (gate + 1.0 if la.residual else gate).unsqueeze(2)
    k = 0
    if la.pool != 'max':
        sizes = cell_sizes(h, w, la.window, groups, exact) * per_head
        spread = cell_expand(grad_stats[:, 0] / sizes, la.window, h, w).unsqueeze(2)
        out = torch.addcmul(spread, grads, scale)
        k = 1
    else:
        out = grads * scale
    if la.pool != 'avg':
        out = out.contiguous()  # scattered into in place through a flat view
        route_max_grad(groups, stats[:, k], grad_stats[:, k], la.window, exact, out)
    return out
