"""A slow loop-form Loosen Attention: the oracle the fast ``LA`` is tested against.

Written from DESIGN.md section 1 the way the paper's release computes it: Python
loops over heads and cells, one volume at a time. It reads the weights of an
``LA`` module so both forms compute with equal parameters. Never use it for work.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .la import LA


def _shared_mlp(la: LA, v: torch.Tensor) -> torch.Tensor:
    """The MLP shared across locations applied to one (B, heads) vector of a cell."""
    w1, b1 = la.mlp[0].weight.flatten(1), la.mlp[0].bias
    w2, b2 = la.mlp[2].weight.flatten(1), la.mlp[2].bias
    return torch.relu(v @ w1.t() + b1) @ w2.t() + b2


def la_loops(la: LA, x: torch.Tensor) -> torch.Tensor:
    """Loosen Attention of ``x`` (B, C, H, W) with the weights of ``la``, by loops."""
    b, c, h, w = x.shape
    heads, win = la.heads, la.window
    per_head = c // heads
    rows, cols = math.ceil(h / win), math.ceil(w / win)
    coarse = x.new_zeros(b, heads, rows, cols)
    for i in range(rows):
        for j in range(cols):
            means, maxes = [], []
            for g in range(heads):
                volume = x[:, g * per_head:(g + 1) * per_head,
                           i * win:(i + 1) * win, j * win:(j + 1) * win]
                means.append(volume.reshape(b, -1).mean(1))
                maxes.append(volume.reshape(b, -1).max(1).values)
            stats = {'avg': _shared_mlp(la, torch.stack(means, 1)),
                     'max': _shared_mlp(la, torch.stack(maxes, 1))}
            if la.fuse is None:  # one pooling: nothing to fuse
                coarse[:, :, i, j] = stats[la.pool]
                continue
            fuse_w, fuse_b = la.fuse.weight.flatten(), la.fuse.bias
            coarse[:, :, i, j] = fuse_w[0] * stats['avg'] + fuse_w[1] * stats['max'] + fuse_b
    mode = la.upsample
    corners = None if mode == 'nearest' else False
    gate = torch.sigmoid(F.interpolate(coarse, size=(h, w), mode=mode, align_corners=corners))
    out = []
    for g in range(heads):
        part = x[:, g * per_head:(g + 1) * per_head]
        s = gate[:, g:g + 1]
        out.append(part * s + part if la.residual else part * s)
    return torch.cat(out, 1)
