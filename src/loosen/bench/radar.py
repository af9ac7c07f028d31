"""The paper's Figure 2: one radar per training size, one axis per backbone, one polygon per
attention module, the value written at each vertex.

Backbones differ by tens of points while modules differ by a few, so, as in the paper,
each axis has its own scale: from a little below the lowest value on it (the centre side)
to a little above the highest (the rim). The caption says so, and what the values are.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

INNER, OUTER = 0.2, 1.0  # radii of each axis's lowest and highest value


@dataclass
class Radar:
    """What one radar draws: ``values[i, j]`` is attention i on arch j (nan: no result)."""

    archs: list[str]
    attentions: list[str]
    values: np.ndarray   # (attentions, archs), score in percent
    low: np.ndarray      # (archs,) the value at radius INNER
    high: np.ndarray     # (archs,) the value at radius OUTER

    @property
    def angles(self) -> np.ndarray:
        return np.linspace(0, 2 * np.pi, len(self.archs), endpoint=False)

    @property
    def radii(self) -> np.ndarray:
        """Each value placed on its own axis's scale: (attentions, archs) in [INNER, OUTER]."""
        return INNER + (OUTER - INNER) * (self.values - self.low) / (self.high - self.low)


def radar_data(means: pd.DataFrame, archs: list[str], attentions: list[str]) -> Radar:
    """``means`` (columns arch, attention, mean) of one size, in the given axis order."""
    table = means.pivot_table(index='attention', columns='arch', values='mean')
    values = table.reindex(index=attentions, columns=archs).to_numpy(dtype=float)
    lo, hi = np.nanmin(values, 0), np.nanmax(values, 0)
    pad = np.maximum(0.1 * (hi - lo), 0.5)
    return Radar(archs, attentions, values, np.floor(lo - pad), np.ceil(hi + pad))


def radar_figure(radar: Radar, title: str, caption: str) -> Figure:
    """The radar as a matplotlib figure: polygons labelled by attention, axes by arch."""
    fig = Figure(figsize=(7.5, 8.2))
    ax = fig.add_axes((0.1, 0.16, 0.8, 0.72), projection='polar')
    angles = radar.angles
    closed = np.append(angles, angles[0])
    colours = colormaps['tab10']
    for i, attention in enumerate(radar.attentions):
        radii = radar.radii[i]
        colour = colours(i % 10)
        ax.plot(closed, np.append(radii, radii[0]), color=colour, lw=2 if attention == 'la'
                else 1.3, marker='o', ms=3.5, label=attention)
        ax.fill(closed, np.append(radii, radii[0]), color=colour, alpha=0.06)
        for angle, radius, value in zip(angles, radii, radar.values[i], strict=True):
            if np.isfinite(value):
                ax.annotate(f'{value:.1f}', (angle, radius), textcoords='offset points',
                            xytext=(4, 3), fontsize=7, color=colour)
    ax.set_xticks(angles, [f'{arch}\n[{lo:g}, {hi:g}]' for arch, lo, hi
                           in zip(radar.archs, radar.low, radar.high, strict=True)])
    ax.set_yticks([INNER, (INNER + OUTER) / 2, OUTER], [])
    ax.set_ylim(0, OUTER + 0.05)
    ax.set_title(title, pad=24)
    fig.legend(loc='lower center', bbox_to_anchor=(0.5, 0.075), ncols=min(len(radar.attentions),
               8), fontsize=8, frameon=False)
    fig.text(0.5, 0.015, textwrap.fill(caption, 100), ha='center', va='bottom', fontsize=8)
    return fig
