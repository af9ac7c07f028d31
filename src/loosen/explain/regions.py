"""Where a map's mass lies: inside the camera's field of view, and, for synthetic frames,
inside the structure that makes the frame's class.

A map's mass is the map scaled to [0, 1] (its minimum subtracted), so a constant
offset (LA's gate sits around 0.5) counts as nothing. The share inside a region is
compared with the region's share of the area: a map that ignores the region puts
about its area share there.

A synthetic frame written by ``loosen data synth`` (``<root>/<split>/<class>/<class>_<j>.png``
beside ``<root>/synthetic.json``) is drawn again from its seed: ``render_structure``
gives the gray levels its own class's structure adds, and the structure is where
that reaches ``STRUCTURE_LEVEL`` of its peak (for a hot spot, its patches).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.sky import FOV_RADIUS
from ..data.synth import SKY_CLASSES, render_structure

STRUCTURE_LEVEL = 0.25  # of the structure's peak
FLAT = 1e-5             # a map's range below this (relative to its values) is no range
_FRAME_NAME = re.compile(r'(?P<name>[a-z]+)_(?P<index>\d+)')


def fov_mask(height: int, width: int) -> np.ndarray:
    """The all-sky camera's circle, centred, ``FOV_RADIUS`` of the half side: (H, W) bool."""
    rows = (np.arange(height) + 0.5 - height / 2)[:, None]
    cols = (np.arange(width) + 0.5 - width / 2)[None, :]
    return np.hypot(rows, cols) <= FOV_RADIUS * min(height, width) / 2


def flat(maps: np.ndarray) -> np.ndarray:
    """Maps (B, H, W) whose range is rounding noise, as LA's gate over a single cell:
    (B,) bool."""
    low, high = maps.min((-2, -1)), maps.max((-2, -1))
    return high - low <= FLAT * np.maximum(np.abs(high), 1)


def mass_share(maps: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Share of each map's mass inside ``region``: maps (B, H, W), region (H, W) or
    (B, H, W) bool -> (B,); NaN for a flat map (it has no mass to place)."""
    mass = (maps - maps.min((-2, -1), keepdims=True)).astype(np.float64)
    inside = (mass * region).sum((-2, -1))
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(flat(maps), np.nan, inside / mass.sum((-2, -1)))


@dataclass(frozen=True)
class SyntheticFrame:
    """Frame ``index`` of class ``name`` of a synthetic set drawn at ``size`` with ``seed``."""

    name: str
    index: int
    size: int
    seed: int

    def structure(self, height: int, width: int) -> np.ndarray:
        """Where the frame's class is, at (height, width): (H, W) bool."""
        light = np.abs(render_structure(self.name, self.index, self.size, self.seed))
        light = np.asarray(Image.fromarray(light, 'F').resize((width, height), Image.BILINEAR))
        return light >= STRUCTURE_LEVEL * max(float(light.max()), 1e-6)


def synthetic_frame(path: str | Path) -> SyntheticFrame | None:
    """The synthetic frame an image file is, when ``loosen data synth`` wrote it; else None."""
    path = Path(path)
    match = _FRAME_NAME.fullmatch(path.stem)
    for parent in path.parents[:3]:
        meta = parent / 'synthetic.json'
        if meta.is_file():
            spec = json.loads(meta.read_text())
            if match and match['name'] in SKY_CLASSES and match['name'] in spec['classes']:
                return SyntheticFrame(match['name'], int(match['index']), spec['size'],
                                      spec['seed'])
            return None
    return None
