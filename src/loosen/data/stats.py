"""Image statistics of all-sky frames, to hold synthetic frames against real ones.

Measured on 8-bit grayscale frames brought to one size: the intensity histogram inside
the field of view (percentiles, saturation), the dark outside, the glow's radial
profile, and the scale of structures as a structure function: the mean absolute
difference between pixels ``lag`` apart, which grows with the lag up to the size of
the bands, rays and patches in the frame.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np

PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
RADII = (0.0, 0.25, 0.5, 0.75, 0.9, 0.97)
LAGS = (1, 2, 4, 8, 16, 32)


def _zones(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised radius of every pixel, and the pixels safely outside the circle."""
    centre = (np.arange(size) + 0.5) / size * 2 - 1
    radius = np.hypot(centre[None, :], centre[:, None])
    return radius, radius > 1.0 + 2.0 / size


def sky_statistics(frames: Iterable[np.ndarray]) -> dict[str, float]:
    """Pooled statistics of square uint8 frames of one size (at least one frame)."""
    stack = np.stack(list(frames)).astype(np.float32)  # (N, S, S)
    size = stack.shape[-1]
    radius, outside = _zones(size)
    inside = radius < 0.97
    values = stack[:, inside]
    stats = {'frames': float(len(stack)), 'outside mean': float(stack[:, outside].mean()),
             'inside mean': float(values.mean()), 'inside std': float(values.std()),
             'saturated %': float((values >= 255).mean() * 100)}
    for p, v in zip(PERCENTILES, np.percentile(values, PERCENTILES), strict=True):
        stats[f'p{p}'] = float(v)
    for lo, hi in itertools.pairwise(RADII):
        ring = (radius >= lo) & (radius < hi)
        stats[f'glow r {lo:.2f}-{hi:.2f}'] = float(stack[:, ring].mean())
    for lag in LAGS:  # over pairs with both ends inside, rows and columns alike
        pair_c = inside[:, lag:] & inside[:, :-lag]
        pair_r = inside[lag:, :] & inside[:-lag, :]
        diff_c = np.abs(stack[:, :, lag:] - stack[:, :, :-lag])[:, pair_c]
        diff_r = np.abs(stack[:, lag:, :] - stack[:, :-lag, :])[:, pair_r]
        stats[f'S({lag}px)'] = float((diff_c.mean() + diff_r.mean()) / 2)
    return stats


def format_comparison(columns: dict[str, dict[str, float]]) -> str:
    """A markdown table: one row per statistic, one column per named set."""
    names = list(columns)
    keys = list(next(iter(columns.values())))
    lines = ['| statistic | ' + ' | '.join(names) + ' |', '|---|' + '---:|' * len(names)]
    lines += [f'| {k} | ' + ' | '.join(f'{columns[n][k]:.2f}' for n in names) + ' |'
              for k in keys]
    return '\n'.join(lines)
