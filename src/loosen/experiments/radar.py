"""The paper's Figure 2: one radar per training size, one axis per backbone, one polygon per
attention module, with each module's spread over seeds as a whisker at every vertex.

Backbones differ by tens of points while modules differ by a few, so, as in the paper,
each axis has its own scale by default: from a little below the lowest mean - std on it
(the centre side) to a little above the highest mean + std (the rim); ``common_scale``
puts every axis on one. The figure says which, and the values are written beside each
axis (one line per module, in the legend's order and colours), never on the polygons,
where modules a point apart would print over each other.
"""
from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.markers import MarkerStyle
from matplotlib.projections.polar import PolarAxes
from matplotlib.transforms import Affine2D, offset_copy

INNER, OUTER = 0.2, 1.0   # radii of each axis's lowest and highest value
RIM_GAP = 0.06            # the value blocks start this far outside the rim (radius units)
FONT = 7.5                # points, the value blocks
LINE = 1.3 * FONT         # points between their lines
CIRCLE = 5.0              # inches across the circle
WHISKER_GAP = 2.5         # points between the whiskers of two modules at one vertex


@dataclass
class Radar:
    """What one radar draws: ``values[i, j]`` is attention i on arch j (nan: no result)."""

    archs: list[str]
    attentions: list[str]
    values: np.ndarray   # (attentions, archs): mean score over seeds, in percent
    spread: np.ndarray   # (attentions, archs): standard deviation over seeds (nan: one seed)
    low: np.ndarray      # (archs,) the value at radius INNER
    high: np.ndarray     # (archs,) the value at radius OUTER
    metrics: list[str]   # (archs,) what each axis measures, e.g. 'accuracy', 'mAP50'
    common: bool = False  # one scale for every axis

    @property
    def angles(self) -> np.ndarray:
        return np.linspace(0, 2 * np.pi, len(self.archs), endpoint=False)

    def radius(self, values: np.ndarray) -> np.ndarray:
        """Values (attentions, archs) placed on their axes' scales, INNER to OUTER."""
        return INNER + (OUTER - INNER) * (values - self.low) / (self.high - self.low)

    @property
    def radii(self) -> np.ndarray:
        """Each mean on its own axis's scale: (attentions, archs) in [INNER, OUTER]."""
        return self.radius(self.values)

    def whiskers(self) -> tuple[np.ndarray, np.ndarray]:
        """Radii of mean - std and mean + std (a single seed: the mean), within the plot."""
        spread = np.nan_to_num(self.spread)
        return (np.clip(self.radius(self.values - spread), 0, OUTER),
                np.clip(self.radius(self.values + spread), 0, OUTER))


def radar_data(stats: pd.DataFrame, archs: list[str], attentions: list[str],
               metrics: Mapping[str, str] | None = None, common_scale: bool = False) -> Radar:
    """``stats`` (columns arch, attention, mean and optionally std) of one size, in the given
    axis order; ``metrics`` names what an arch's axis measures (default 'accuracy')."""
    def table(column: str) -> np.ndarray:
        if column not in stats:
            return np.full((len(attentions), len(archs)), np.nan)
        pivot = stats.pivot_table(index='attention', columns='arch', values=column,
                                  dropna=False)
        return pivot.reindex(index=attentions, columns=archs).to_numpy(dtype=float)

    values, spread = table('mean'), table('std')
    lo = np.nanmin(values - np.nan_to_num(spread), 0)
    hi = np.nanmax(values + np.nan_to_num(spread), 0)
    if common_scale:
        lo, hi = np.full_like(lo, lo.min()), np.full_like(hi, hi.max())
    pad = np.maximum(0.1 * (hi - lo), 0.5)
    low, high = np.maximum(np.floor(lo - pad), 0), np.minimum(np.ceil(hi + pad), 100)
    names = [(metrics or {}).get(arch, 'accuracy') for arch in archs]
    return Radar(archs, attentions, values, spread, low, high, names, common_scale)


def _value_lines(radar: Radar, j: int) -> list[tuple[str, str | None]]:
    """The block beside axis ``j``: its name, its metric and scale, then one line per module
    ((text, colour); None: black)."""
    scale = '' if radar.common else f' [{radar.low[j]:g}, {radar.high[j]:g}]'
    lines: list[tuple[str, str | None]] = [(radar.archs[j], None),
                                           (f'{radar.metrics[j]}{scale} %', None)]
    for i, attention in enumerate(radar.attentions):
        value, spread = radar.values[i, j], radar.spread[i, j]
        text = ('–' if not np.isfinite(value) else f'{value:.1f}' if not np.isfinite(spread)
                else f'{value:.1f} ± {spread:.1f}')
        lines.append((f'{attention} {text}', colour(i)))
    return lines


def colour(i: int) -> str:
    """The colour of the i-th attention module in every figure of the grid."""
    rgba = colormaps['tab10'](i % 10)
    return '#' + ''.join(f'{round(255 * c):02x}' for c in rgba[:3])


def radar_figure(radar: Radar, title: str, caption: str) -> Figure:
    """The radar as a matplotlib figure: polygons and whiskers per attention, a block of
    values beside each arch's axis, the legend and the caption below."""
    blocks = [_value_lines(radar, j) for j in range(len(radar.archs))]
    # inches: the circle, the value blocks around it, title above, legend and caption below
    block_h = max(map(len, blocks)) * LINE / 72 + 0.15
    block_w = max(len(text) for block in blocks for text, _ in block) * 0.6 * FONT / 72 + 0.15
    top, bottom = 0.75, 1.1
    width, height = CIRCLE + 2 * block_w + 0.3, top + 2 * block_h + CIRCLE + bottom
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes(((width - CIRCLE) / 2 / width, (bottom + block_h) / height,
                       CIRCLE / width, CIRCLE / height), projection='polar')
    angles = radar.angles
    closed = np.append(angles, angles[0])
    low, high = radar.whiskers()
    n = len(radar.attentions)
    for i, attention in enumerate(radar.attentions):
        radii = radar.radii[i]
        ax.plot(closed, np.append(radii, radii[0]), color=colour(i),
                lw=2 if attention == 'la' else 1.3, marker='o', ms=3.5, label=attention)
        ax.fill(closed, np.append(radii, radii[0]), color=colour(i), alpha=0.05)
        for j, angle in enumerate(angles):  # along the axis, beside the other modules'
            shift = (i - (n - 1) / 2) * WHISKER_GAP
            along = offset_copy(ax.transData, fig, -shift * np.sin(angle),
                                shift * np.cos(angle), units='points')
            cap = MarkerStyle('_', transform=Affine2D().rotate(angle + np.pi / 2))
            ax.plot([angle, angle], [low[i, j], high[i, j]], color=colour(i), lw=1.1,
                    alpha=0.8, transform=along, marker=cap, ms=4, solid_capstyle='butt')
    ax.set_xticks(angles, [''] * len(angles))
    ax.set_yticks([INNER, (INNER + OUTER) / 2, OUTER], [])
    ax.set_ylim(0, OUTER)
    for angle, block in zip(angles, blocks, strict=True):
        _value_block(ax, float(angle), block)
    fig.suptitle(title, y=1 - 0.12 / height, va='top', fontsize=11)
    fig.legend(*ax.get_legend_handles_labels(), loc='lower center',
               bbox_to_anchor=(0.5, 0.72 / height), ncols=min(n, 8), fontsize=8,
               frameon=False)
    scale = (f'All axes share one scale, [{radar.low[0]:g}, {radar.high[0]:g}] from centre to '
             'rim.' if radar.common else 'Each axis has its own scale ([low, high] beside '
             'its name, centre side to rim): compare modules along an axis, not radii '
             'across axes.')
    fig.text(0.5, 0.1 / height, textwrap.fill(f'{caption} {scale}', int(15 * width)),
             ha='center', va='bottom', fontsize=8)
    return fig


def _value_block(ax: PolarAxes, angle: float, lines: list[tuple[str, str | None]]) -> None:
    """``lines`` stacked outside the rim at ``angle``, on the side of the circle the axis
    points to, so that no line of the block crosses the circle."""
    cos, sin = np.cos(angle), np.sin(angle)
    ha = 'left' if cos > 0.25 else 'right' if cos < -0.25 else 'center'
    height = len(lines) * LINE
    # the block's centre, in points from the anchor on the rim: beside it, above or below
    top = 0.0 if abs(sin) < 0.25 else np.sign(sin) * (height / 2 + 2)
    dx = 4 * np.sign(cos) if ha != 'center' else 0
    for k, (text, shade) in enumerate(lines):
        ax.annotate(text, (angle, OUTER + RIM_GAP), xytext=(dx, top + height / 2 - (k + 0.5)
                    * LINE), textcoords='offset points', ha=ha, va='center', fontsize=FONT,
                    color=shade or 'black', fontweight='bold' if k == 0 else 'normal',
                    annotation_clip=False)
