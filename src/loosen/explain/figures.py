"""Maps over the sky: each map in a colour map over the grayscale frame, with its labelled
colour bar and the field-of-view circle; one row per image, one column per method.

Each map is drawn on its own range: [0, 1] for CAMs (scaled so), the gate's values
as they are for LA (they are what multiplies the features); the colour bar says which.
With ``mask_fov`` the colour stops at the circle, as the sky does. A figure may carry a
title (the model and the images) and a legend line under the panels (what the numbers
in their titles are). Figures use matplotlib's object API: no display.
"""
from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from ..data.sky import FOV_RADIUS
from .maps import METHODS
from .regions import fov_mask

COLOURS = 'turbo'
ALPHA = 0.5
PANEL_INCHES = 2.6
MIN_RANGE = 0.01  # the narrowest colour bar: a flat map is drawn flat


def sky_gray(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Normalised model inputs (B, 3, H, W) as displayable gray (B, H, W) in [0, 1]: the
    channel mean stretched to its range per image (normalisation is undone up to scale)."""
    gray = np.asarray(images.detach().cpu() if isinstance(images, torch.Tensor) else images,
                      np.float32).mean(-3)
    low = gray.min((-2, -1), keepdims=True)
    return (gray - low) / np.maximum(gray.max((-2, -1), keepdims=True) - low, 1e-6)


def colour_label(method: str) -> str:
    """What a method's map values are, for its colour bar."""
    return METHODS[method].scale if method in METHODS else f'{method} value'


def _panel(fig: Figure, ax: Axes, gray: np.ndarray, heat: np.ndarray | None, title: str,
           mask_fov: bool, label: str = '') -> None:
    h, w = gray.shape
    ax.imshow(gray, cmap='gray', vmin=0, vmax=1, interpolation='bilinear')
    if heat is not None:
        shown = np.ma.masked_where(~fov_mask(h, w), heat) if mask_fov else heat
        low, high = float(heat.min()), float(heat.max())
        centre, half = (low + high) / 2, max(high - low, MIN_RANGE) / 2  # noise stays flat
        layer = ax.imshow(shown, cmap=COLOURS, alpha=ALPHA, vmin=centre - half,
                          vmax=centre + half, interpolation='bilinear')
        bar = fig.colorbar(layer, ax=ax, fraction=0.046, pad=0.02)
        bar.set_label(label, fontsize=6)
        bar.ax.tick_params(labelsize=6)
    ax.add_patch(Circle((w / 2 - 0.5, h / 2 - 0.5), FOV_RADIUS * min(h, w) / 2, fill=False,
                        color='white', linewidth=0.6, linestyle='--'))
    ax.set_title(title, fontsize=7)
    ax.set_axis_off()


def plot_maps(images: torch.Tensor | np.ndarray, maps: Mapping[str, np.ndarray] | np.ndarray,
              titles: Sequence[str] | None = None,
              notes: Mapping[str, Sequence[str]] | None = None,
              mask_fov: bool = False, title: str | None = None,
              legend: str | None = None) -> Figure:
    """A figure of ``images`` (B, 3, H, W) as the model saw them and their ``maps``
    ({method: (B, H, W)}, or one (B, H, W) array): a row per image, the input first.

    ``titles`` (one per image) head the input panels, ``notes`` ({method: one per
    image}) the map panels under the method's name; ``mask_fov`` stops the colour at
    the field-of-view circle; ``title`` heads the figure and ``legend`` goes under it.
    """
    maps = {'map': maps} if isinstance(maps, np.ndarray) else dict(maps)
    gray = sky_gray(images)
    if gray.ndim == 2:
        gray, maps = gray[None], {k: v[None] for k, v in maps.items()}
    rows, cols = len(gray), 1 + len(maps)
    fig = Figure(figsize=(PANEL_INCHES * cols, PANEL_INCHES * rows + 0.4 * bool(title)
                          + 0.3 * bool(legend)), layout='constrained')
    axes = fig.subplots(rows, cols, squeeze=False)
    for i in range(rows):
        _panel(fig, axes[i, 0], gray[i], None, titles[i] if titles else 'input', mask_fov)
        for j, (method, heat) in enumerate(maps.items(), 1):
            note = f'\n{notes[method][i]}' if notes and method in notes else ''
            _panel(fig, axes[i, j], gray[i], heat[i], f'{method}{note}', mask_fov,
                   colour_label(method))
    if title:
        fig.suptitle(title, fontsize=9)
    if legend:
        fig.supxlabel(textwrap.fill(legend, int(15 * PANEL_INCHES * cols)), fontsize=7)
    return fig


def save(fig: Figure, path: str) -> None:
    fig.savefig(path, dpi=110)
