"""Synthetic all-sky aurora: the built-in default data, one registry of sky classes.

Classes mirror the YRS 4-class scheme: ``arc`` (east-west bands with a sharp lower
edge), ``drapery`` (a folded, rayed curtain), ``radial`` (rays converging on the
magnetic zenith), ``hotspot`` (bright irregular patches); ``diffuse``, ``cloudy`` and
``clear`` are optional. Every frame is the same camera (``sky.py``): airglow, stars,
optics and sensor noise, random rotation, brightness and position. Each frame also
carries weaker structures of other classes, as real nights do, so the classes
overlap and a linear model on pixels does not separate them.

Frame ``j`` of class ``c`` comes from ``np.random.default_rng([seed, code(c), j])``:
the same bytes whatever the other classes, the count or the order.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import LoosenError, unknown_name
from .labels import LabelRow, write_labels
from .sky import (
    SkyGeometry,
    add_stars,
    airglow,
    expose,
    gaussian_patch,
    optics,
    polar_texture,
    ray_grid,
    rotated,
    sky_geometry,
    smooth_field,
)
from .split import proportional_counts

CORE_CLASSES = ('arc', 'drapery', 'radial', 'hotspot')
DEFAULT_SPLIT = {'train': 0.7, 'val': 0.15, 'test': 0.15}

# draw(geom, rng, sky, strength): adds (or applies) one class's structure to ``sky`` in place
Draw = Callable[[SkyGeometry, np.random.Generator, np.ndarray, float], None]


@dataclass(frozen=True)
class SkyClass:
    """One synthetic class: how to draw it, and how strong the other classes' structures
    mixed into its frames may be (0 = none: a clear sky stays clear)."""

    name: str
    draw: Draw
    code: int          # stable seed component: never reuse or renumber
    mixing: float = 1.0


SKY_CLASSES: dict[str, SkyClass] = {}


def register_sky_class(name: str, code: int, mixing: float = 1.0) -> Callable[[Draw], Draw]:
    """Decorator: register ``draw`` as synthetic class ``name``."""

    def wrap(draw: Draw) -> Draw:
        if name in SKY_CLASSES or code in {c.code for c in SKY_CLASSES.values()}:
            raise ValueError(f'sky class {name!r} (code {code}) is registered twice')
        SKY_CLASSES[name] = SkyClass(name, draw, code, mixing)
        return draw

    return wrap


def _band(yr: np.ndarray, xr: np.ndarray, rng: np.random.Generator, centre: float,
          width: float, fold: float, fold_k: float, lower: float, upper: float) -> np.ndarray:
    """One east-west band across the emission layer: a sharp lower edge (``lower`` widths
    to e^-1) and a gentler upper one, bent by the oval's curvature and folded along its
    length (``fold`` in 100 km, ``fold_k`` folds per 100 km)."""
    curve = rng.uniform(-0.03, 0.03)
    t = yr - (centre + curve * xr * xr + fold * np.sin(fold_k * xr + rng.uniform(0, 2 * np.pi)))
    t *= 1 / width
    edge = np.where(t < 0, t * (1 / lower), t * (1 / upper))
    return np.exp(-edge * edge)


def _fade_in(geom: SkyGeometry, inner: float) -> np.ndarray:
    """0 inside zenith distance ``inner`` (as a fraction of 90 degrees), rising to 1 just
    beyond: rays foreshorten to nothing toward the magnetic zenith."""
    return np.clip((geom.r - inner) * 4, 0, 1)


def _rays(geom: SkyGeometry, rng: np.random.Generator, length: int, width: float, gain: float,
          inner: float = 0.15) -> np.ndarray:
    """A multiplicative ray pattern (mean 1) that fades to 1 toward the magnetic zenith."""
    return 1 + (polar_texture(geom, ray_grid(rng, length, width, gain)) - 1) * _fade_in(
        geom, inner)


@register_sky_class('arc', code=1)
def draw_arc(geom: SkyGeometry, rng: np.random.Generator, sky: np.ndarray,
             strength: float) -> None:
    """One to three quiet east-west arcs: bands with a sharp lower edge, lightly rayed,
    in a broad diffuse glow."""
    xr, yr = rotated(geom, rng.normal(0, 18))
    centre = rng.normal(-0.2, 0.9)
    shimmer = _rays(geom, rng, 6, 2.5, 0.5)
    level = strength * rng.uniform(55, 170)
    glow = _band(yr, xr, rng, centre + rng.uniform(-0.5, 0.5), rng.uniform(0.8, 2.0), 0, 0,
                 1.0, 1.0)
    sky += (level * rng.uniform(0.1, 0.3)) * glow
    for _ in range(int(rng.choice([1, 1, 2, 2, 3]))):
        band = _band(yr, xr, rng, centre, rng.uniform(0.12, 0.45), rng.uniform(0, 0.2),
                     rng.uniform(0.3, 1.2), 0.3, rng.uniform(0.6, 1.8))
        along = 1 + 0.45 * np.sin(rng.uniform(0.3, 1.5) * xr + rng.uniform(0, 2 * np.pi))
        sky += (level * rng.uniform(0.5, 1.0)) * band * along * shimmer
        centre += rng.uniform(0.25, 1.0) * rng.choice([-1, 1])


@register_sky_class('drapery', code=2)
def draw_drapery(geom: SkyGeometry, rng: np.random.Generator, sky: np.ndarray,
                 strength: float) -> None:
    """Drapery corona: a broad folded curtain cut into rays, over a rayed glow."""
    xr, yr = rotated(geom, rng.normal(0, 25))
    rays = _rays(geom, rng, int(rng.integers(3, 6)), rng.uniform(1.5, 3.5), rng.uniform(0.7, 1.0))
    curtain = _band(yr, xr, rng, rng.uniform(-1.8, 1.5), rng.uniform(0.15, 0.4),
                    rng.uniform(0.15, 0.6), rng.uniform(1.0, 3.0), 0.4, rng.uniform(1.5, 3.5))
    glow = np.clip(0.5 + 0.35 * smooth_field(rng, geom.size, 4), 0.1, None)
    level = strength * rng.uniform(15, 40)
    sky += level * (curtain + 0.4 * glow) * rays


@register_sky_class('radial', code=3)
def draw_radial(geom: SkyGeometry, rng: np.random.Generator, sky: np.ndarray,
                strength: float) -> None:
    """Radial corona: short rays all round the sky converging on the magnetic zenith."""
    rays = polar_texture(geom, ray_grid(rng, int(rng.integers(6, 14)), rng.uniform(1.5, 3.5),
                                        rng.uniform(0.8, 1.1)))
    envelope = _fade_in(geom, rng.uniform(0.05, 0.3))
    envelope *= np.clip(0.6 + 0.4 * smooth_field(rng, geom.size, 3), 0.15, None)
    sky += (strength * rng.uniform(8, 25)) * rays * envelope
    if rng.random() < 0.5:  # the corona's bright knot at the magnetic zenith
        col, row = geom.pixel(0.0, -0.15)
        _add_patch(geom.size, sky, rng, col, row, 0.02, strength * rng.uniform(30, 100))


def _add_patch(size: int, sky: np.ndarray, rng: np.random.Generator, col: float, row: float,
               scale: float, amplitude: float) -> None:
    """A small elongated Gaussian of ``scale`` x frame size, in place."""
    sigma = scale * size * rng.uniform(0.6, 1.6)
    patch = gaussian_patch(size, col, row, sigma, sigma * rng.uniform(0.3, 1.0),
                           rng.uniform(0, 180))
    if patch is not None:
        window, values = patch
        sky[window] += amplitude * values


@register_sky_class('hotspot', code=4)
def draw_hotspot(geom: SkyGeometry, rng: np.random.Generator, sky: np.ndarray,
                 strength: float) -> None:
    """Hot-spot aurora: a cluster of bright, often saturated, irregular patches."""
    size = geom.size
    radius, angle = 0.7 * np.sqrt(rng.random()) * size / 2, rng.uniform(0, 2 * np.pi)
    col, row = size / 2 + radius * np.cos(angle), size / 2 + radius * np.sin(angle)
    patches = np.zeros_like(sky)
    for _ in range(int(rng.integers(2, 8))):
        _add_patch(size, patches, rng, col + rng.normal(0, 0.06 * size),
                   row + rng.normal(0, 0.06 * size), rng.uniform(0.015, 0.05),
                   strength * rng.uniform(70, 300))
    sky += patches * np.clip(1 + 0.6 * smooth_field(rng, size, 14), 0.1, None)


@register_sky_class('diffuse', code=5, mixing=0.5)
def draw_diffuse(geom: SkyGeometry, rng: np.random.Generator, sky: np.ndarray,
                 strength: float) -> None:
    """Diffuse aurora: broad structureless glow in patches."""
    glow = np.maximum(smooth_field(rng, geom.size, int(rng.integers(3, 7))) + 0.5, 0)
    sky += strength * rng.uniform(10, 32) * glow


@register_sky_class('cloudy', code=6)
def draw_cloudy(geom: SkyGeometry, rng: np.random.Generator, sky: np.ndarray,
                strength: float) -> None:
    """Clouds: hide what is behind them and scatter a little light of their own."""
    seen = np.clip(0.45 + 0.6 * smooth_field(rng, geom.size, int(rng.integers(3, 8))), 0.08, 1)
    sky *= seen
    sky += (1 - seen) * (strength * rng.uniform(8, 35))


@register_sky_class('clear', code=7, mixing=0.0)
def draw_clear(geom: SkyGeometry, rng: np.random.Generator, sky: np.ndarray,
               strength: float) -> None:
    """A clear, aurora-free sky: airglow and more stars."""
    add_stars(geom, rng, sky, int(rng.integers(40, 160)))


def get_sky_class(name: str) -> SkyClass:
    if name not in SKY_CLASSES:
        raise unknown_name('synthetic class', name, SKY_CLASSES)
    return SKY_CLASSES[name]


def radiance(name: str, geom: SkyGeometry, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray]:
    """The sky of one frame of class ``name`` before the camera, and the part of it the
    class's own structure added (the other classes' weaker structures left out)."""
    spec = get_sky_class(name)
    sky = airglow(geom, rng)
    add_stars(geom, rng, sky, int(rng.integers(20, 80)))
    # weak rays everywhere: the sky is never structureless on an auroral night
    weak_rays = polar_texture(geom, ray_grid(rng, 5, 2.5, 0.8)) * _fade_in(geom, 0.1)
    sky += (spec.mixing * rng.uniform(0, 8)) * weak_rays
    others = [c for c in CORE_CLASSES if c != name]
    for other in rng.choice(others, size=int(rng.choice([0, 1, 1, 2])), replace=False):
        if spec.mixing:
            SKY_CLASSES[other].draw(geom, rng, sky, spec.mixing * rng.uniform(0.05, 0.3))
    before = sky.copy()
    spec.draw(geom, rng, sky, rng.uniform(0.55, 1.0))
    own = sky - before
    gain = rng.lognormal(0, 0.2)
    sky *= gain
    own *= gain
    return sky, own


def render(name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One frame of class ``name``: (size, size) uint8, dark outside the circle."""
    geom = sky_geometry(size)
    return expose(geom, rng, radiance(name, geom, rng)[0])


def frame_rng(seed: int, name: str, index: int) -> np.random.Generator:
    """The generator of frame ``index`` of class ``name``: independent of everything else."""
    return np.random.default_rng([seed, get_sky_class(name).code, index])


def render_frame(name: str, index: int, size: int = 224, seed: int = 0) -> np.ndarray:
    """Frame ``index`` of class ``name`` for ``seed``: (size, size) uint8."""
    return render(name, size, frame_rng(seed, name, index))


def render_structure(name: str, index: int, size: int = 224, seed: int = 0) -> np.ndarray:
    """Where frame ``index`` of class ``name`` shows its class: the gray levels the class's
    own structure adds to ``render_frame(name, index, size, seed)`` through the camera's
    optics, without noise; (size, size) float32. Cloud (``cloudy``) dims what is behind
    it, so its values are partly negative."""
    geom = sky_geometry(size)
    return optics(geom, radiance(name, geom, frame_rng(seed, name, index))[1])


def check_classes(classes: Sequence[str]) -> list[str]:
    """Validate a class list: known names, no repeats, at least two."""
    classes = list(classes)
    for name in classes:
        get_sky_class(name)
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise LoosenError(f'classes {",".join(classes)} must be two or more different names; '
                          f'choose from {", ".join(SKY_CLASSES)}')
    return classes


class SyntheticAurora:
    """``per_class`` synthetic frames of each class, drawn on demand (a few ms each): a
    map-style dataset for torch's DataLoader, without importing torch.

    Items are ``(PIL RGB image or transform(image), label)``; labels index ``classes``
    in the order given. Item ``i`` is frame ``i % per_class`` of class ``i // per_class``.
    """

    def __init__(self, per_class: int, size: int = 224, seed: int = 0,
                 classes: Sequence[str] = CORE_CLASSES, transform: Callable | None = None):
        if per_class < 1 or size < 16:
            raise LoosenError(f'per_class={per_class}, size={size}: need per_class >= 1 and '
                              'size >= 16')
        self.classes = check_classes(classes)
        self.per_class, self.size, self.seed, self.transform = per_class, size, seed, transform
        self.targets = [k for k in range(len(self.classes)) for _ in range(per_class)]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        if not -len(self) <= index < len(self):
            raise IndexError(f'index {index} out of range for {len(self)} frames')
        label, frame = divmod(index % len(self), self.per_class)
        pixels = render_frame(self.classes[label], frame, self.size, self.seed)
        image = Image.fromarray(pixels, 'L').convert('RGB')
        return (self.transform(image) if self.transform else image), label


def write_synthetic(out: Path, per_class: int, size: int = 224, seed: int = 0,
                    classes: Sequence[str] = CORE_CLASSES,
                    split: dict[str, float] | None = None) -> Path:
    """Write an ImageFolder tree ``out/<split>/<class>/<class>_<j>.png`` (8-bit grayscale)
    plus ``labels.csv`` and ``synthetic.json``; the same arguments give the same bytes."""
    out = Path(out)
    classes = check_classes(classes)
    split = dict(DEFAULT_SPLIT if split is None else split)
    if out.exists() and any(out.iterdir()):
        raise LoosenError(f'{out} is not empty; write the synthetic set to a new folder')
    # a split with no frames (test=0) gets no folders: empty class folders fail data check;
    # a set without train/ (frames to predict on or explain) is fine
    counts = {k: n for k, n in proportional_counts(per_class, split).items() if n}
    rows = []
    for name in classes:
        bounds = np.cumsum([0, *counts.values()])
        for part, start, stop in zip(counts, bounds[:-1], bounds[1:], strict=True):
            folder = out / part / name
            folder.mkdir(parents=True, exist_ok=True)
            for j in range(start, stop):
                file = f'{name}_{j:05d}'
                Image.fromarray(render_frame(name, j, size, seed), 'L').save(folder / f'{file}.png')
                rows.append(LabelRow(file, name, part))
    write_labels(out / 'labels.csv', rows)
    meta = {'generator': 'loosen.data.synth', 'per_class': per_class, 'size': size,
            'seed': seed, 'classes': classes, 'split': split}
    (out / 'synthetic.json').write_text(json.dumps(meta, indent=2) + '\n')
    return out
