"""A plane tiled into ``window x window`` cells: pooling over cells and back, for LA.

Cells at the right and bottom edge keep the pixels they have when H or W is not a
multiple of the window (ceil division); they are never dropped.
"""
import torch
import torch.nn.functional as F


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
    Strided slices combined elementwise are several times faster on the CPU than
    ``max_pool2d``, ``avg_pool2d`` or a reduction over a (Hc, w, Wc, w) view.
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


def cell_sizes(h: int, w: int, window: int, like: torch.Tensor, exact: bool) -> torch.Tensor:
    """Pixels per cell, (1, 1, Hc, Wc): window**2 except in the cut edge cells."""
    if exact:
        return like.new_full((1, 1, 1, 1), float(window * window))
    return cell_reduce(like.new_ones(1, 1, h, w), window, False, exact)


def cell_mean(t: torch.Tensor, window: int, exact: bool, per_pixel: int = 1) -> torch.Tensor:
    """Mean over each cell of (..., H, W), where each pixel of ``t`` sums ``per_pixel`` values."""
    sums = cell_reduce(t, window, False, exact)
    if exact:
        return sums * (1.0 / (per_pixel * window * window))
    h, w = t.shape[-2], t.shape[-1]
    return sums / (cell_sizes(h, w, window, t, exact) * per_pixel)


def cell_expand(t: torch.Tensor, window: int, h: int, w: int) -> torch.Tensor:
    """Repeat each cell's value over its pixels: (..., Hc, Wc) -> (..., h, w)."""
    return t.repeat_interleave(window, -2).repeat_interleave(window, -1)[..., :h, :w]
