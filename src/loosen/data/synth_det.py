"""Synthetic small-structure detection: the same all-sky camera, with spots, short arc
segments and patches, and their boxes in YOLO format.

Structure sizes are fractions of the frame, down to ``STRUCTURE_FRAME`` pixels: in a
smaller frame they keep those pixel sizes, since a spot shrunk to the lens blur would be a
star (at 128 px the smallest spot is twice a bright star's width; a 640 px frame is
unchanged).

Boxes are exact: each structure passes through the camera's optics on its own (the
optics are linear); only the pixels where it adds at least half a gray level are
drawn, and its box is their bounding box. Structures never overlap (boxes
at least two pixels apart), so a box is never shared.

``write_detection`` lays out what YOLOv5 reads: ``images/<split>/*.png``,
``labels/<split>/*.txt`` (``class cx cy w h``, normalised) and ``dataset.yaml``
(path, train, val, [test], nc, names).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from ..errors import LoosenError
from .sky import (
    SkyGeometry,
    add_stars,
    airglow,
    blur_passes,
    gaussian_patch,
    optics,
    polar_texture,
    ray_grid,
    sensor,
    sky_geometry,
)
from .split import proportional_counts

DET_CLASSES = ('spot', 'arc', 'patch')
VISIBLE = 0.5      # gray levels an object must add to a pixel for the pixel to count as drawn
EDGE = 0.1         # structures are cut off below this fraction of their peak: crisp edges
_SEED_TAG = 100    # keeps detection frames apart from classification frames of the same seed
VERSION = 2        # of the frames a seed gives: caches of written sets are keyed on it
STRUCTURE_FRAME = 320  # px: structures are sized as fractions of the frame, but of at least
                       # this many pixels, so a small frame keeps them wider than a star

# draw(size, rng, layer, col, row): adds one structure centred near (col, row) to ``layer``
DrawObject = Callable[[int, np.random.Generator, np.ndarray, float, float], None]


def structure_scale(size: int) -> int:
    """The length structure sizes are fractions of: the frame, or ``STRUCTURE_FRAME`` when
    the frame is smaller (below it a spot would shrink to the lens blur, a star's size)."""
    return max(size, STRUCTURE_FRAME)


def _add(layer: np.ndarray, patch: tuple[tuple[slice, slice], np.ndarray] | None,
         amplitude: float) -> None:
    if patch is not None:
        window, values = patch
        layer[window] += amplitude * values


def draw_spot(size: int, rng: np.random.Generator, layer: np.ndarray, col: float,
              row: float) -> None:
    """A small round spot."""
    sigma = rng.uniform(0.004, 0.012) * structure_scale(size)
    _add(layer, gaussian_patch(size, col, row, sigma, sigma * rng.uniform(0.7, 1.0),
                               rng.uniform(0, 180), EDGE), rng.uniform(40, 160))


def draw_arc_segment(size: int, rng: np.random.Generator, layer: np.ndarray, col: float,
                     row: float) -> None:
    """A short, thin, slightly bent arc segment, drawn as beads along a parabola."""
    scale = structure_scale(size)
    length, width = rng.uniform(0.02, 0.06) * scale, rng.uniform(0.003, 0.007) * scale
    angle, bend = rng.uniform(-40, 40), rng.uniform(-0.3, 0.3)
    amplitude = rng.uniform(40, 140)
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    for t in np.linspace(-1, 1, 9):
        along, across = t * length, bend * length * t * t
        _add(layer, gaussian_patch(size, col + along * c - across * s,
                                   row + along * s + across * c, length / 5, width, angle,
                                   EDGE), amplitude)


def draw_patch(size: int, rng: np.random.Generator, layer: np.ndarray, col: float,
               row: float) -> None:
    """An irregular patch: a few overlapping blobs."""
    amplitude, scale = rng.uniform(40, 140), structure_scale(size)
    for _ in range(int(rng.integers(2, 5))):
        sigma = rng.uniform(0.006, 0.016) * scale
        _add(layer, gaussian_patch(size, col + rng.normal(0, 0.012 * scale),
                                   row + rng.normal(0, 0.012 * scale), sigma,
                                   sigma * rng.uniform(0.5, 1.0), rng.uniform(0, 180), EDGE),
             amplitude * rng.uniform(0.5, 1.0))


OBJECTS: dict[str, DrawObject] = {'spot': draw_spot, 'arc': draw_arc_segment,
                                  'patch': draw_patch}


@dataclass
class DetScene:
    image: np.ndarray    # (S, S) uint8, what is written
    signal: np.ndarray   # (S, S) float32, the noise-free frame before 8-bit rounding
    labels: list[int]    # index into DET_CLASSES, one per object
    boxes: np.ndarray    # (N, 4) int: x0, y0, x1, y1 pixel bounds, inclusive


def _box(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return np.array([cols[0], rows[0], cols[-1], rows[-1]])


def _around(layer: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The window holding ``layer``'s nonzero pixels, ``margin`` wider on every side."""
    rows, cols = np.flatnonzero(layer.any(1)), np.flatnonzero(layer.any(0))
    size = layer.shape[0]
    return (slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, size)),
            slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, size)))


def _apart(box: np.ndarray, boxes: list[np.ndarray], gap: int = 2) -> bool:
    return all(box[0] > b[2] + gap or b[0] > box[2] + gap or box[1] > b[3] + gap
               or b[1] > box[3] + gap for b in boxes)


def _place(geom: SkyGeometry, rng: np.random.Generator) -> tuple[float, float]:
    radius, angle = 0.8 * np.sqrt(rng.random()) * geom.size / 2, rng.uniform(0, 2 * np.pi)
    return geom.size / 2 + radius * np.cos(angle), geom.size / 2 + radius * np.sin(angle)


def render_scene(size: int, seed: int, index: int, max_objects: int = 6,
                 objects: bool = True, noise: bool = True) -> DetScene:
    """Detection frame ``index`` for ``seed``. ``objects=False`` gives the same sky without
    the structures, ``noise=False`` the same frame without sensor noise (for checking)."""
    geom = sky_geometry(size)
    sky_rng, object_rng, noise_rng = (np.random.default_rng([seed, _SEED_TAG, index, k])
                                      for k in range(3))
    sky = airglow(geom, sky_rng)
    add_stars(geom, sky_rng, sky, int(sky_rng.integers(20, 80) * (size / 224) ** 2))
    sky += sky_rng.uniform(0, 10) * polar_texture(geom, ray_grid(sky_rng, 5, 2.5, 0.8))
    signal = optics(geom, sky)
    labels, boxes = [], []
    for _ in range(int(object_rng.integers(1, max_objects + 1)) if objects else 0):
        kind = int(object_rng.integers(len(DET_CLASSES)))
        layer = np.zeros_like(sky)
        OBJECTS[DET_CLASSES[kind]](size, object_rng, layer, *_place(geom, object_rng))
        if not layer.any():  # at small sizes a structure can round away to nothing
            continue
        window = _around(layer, blur_passes(size) + 1)
        seen = optics(geom, layer[window], window)
        mask = seen >= VISIBLE
        if not mask.any():
            continue
        seen[~mask] = 0  # the sub-visible fringe is not drawn: the box holds all there is
        box = _box(mask) + np.array([window[1].start, window[0].start] * 2)
        if _apart(box, boxes):
            signal[window] += seen
            labels.append(kind)
            boxes.append(box)
    image = sensor(geom, noise_rng, signal.copy()) if noise else np.clip(
        signal + 0.5, 0, 255).astype(np.uint8)
    return DetScene(image, signal, labels, np.array(boxes, dtype=int).reshape(-1, 4))


def yolo_lines(scene: DetScene) -> list[str]:
    """``class cx cy w h``, normalised to the frame, one line per box."""
    size = scene.image.shape[0]
    lines = []
    for label, (x0, y0, x1, y1) in zip(scene.labels, scene.boxes, strict=True):
        cx, cy = (x0 + x1 + 1) / 2 / size, (y0 + y1 + 1) / 2 / size
        w, h = (x1 - x0 + 1) / size, (y1 - y0 + 1) / size
        lines.append(f'{label} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}')
    return lines


def write_detection(out: str | Path, images: int, size: int = 640, seed: int = 0,
                    split: dict[str, float] | None = None, max_objects: int = 6) -> Path:
    """Write a YOLOv5 dataset of ``images`` frames; returns the dataset YAML's path."""
    out = Path(out)
    if images < 1 or size < 64 or max_objects < 1:
        raise LoosenError(f'images={images}, size={size}, max_objects={max_objects}: need '
                          'images >= 1, size >= 64 and max_objects >= 1')
    if out.exists() and any(out.iterdir()):
        raise LoosenError(f'{out} is not empty; write the detection set to a new folder')
    counts = {k: n for k, n in proportional_counts(images, split or {'train': 0.8, 'val': 0.2})
              .items() if n}  # an empty split gets no folders
    if not counts.get('train') or not counts.get('val'):
        raise LoosenError(f'{images} images split as {counts}: YOLOv5 needs images in both '
                          'train and val; give more images or a split like train=0.8,val=0.2')
    index = 0
    for part, count in counts.items():
        (out / 'images' / part).mkdir(parents=True, exist_ok=True)
        (out / 'labels' / part).mkdir(parents=True, exist_ok=True)
        for _ in range(count):
            scene = render_scene(size, seed, index, max_objects)
            name = f'frame_{index:05d}'
            Image.fromarray(scene.image, 'L').save(out / 'images' / part / f'{name}.png')
            text = '\n'.join(yolo_lines(scene))
            (out / 'labels' / part / f'{name}.txt').write_text(text + '\n' if text else '')
            index += 1
    spec = {'path': str(out.resolve()), **{p: f'images/{p}' for p in counts},
            'nc': len(DET_CLASSES), 'names': list(DET_CLASSES)}
    path = out / 'dataset.yaml'
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path
