"""The all-sky camera both synthetic generators share: geometry, sky glow, stars, exposure.

A ground-based imager looks up through a fisheye lens (equidistant: radius in the
image grows with zenith angle, 180 degrees across) at emission about 110 km up.
Every pixel therefore sees a point of the emission layer; ``x, y`` are its
horizontal coordinates (east, north) in units of 100 km, with the Earth's curvature,
so structures squeeze together toward the horizon as they do in real frames.
Field-aligned rays converge on the magnetic zenith (8 degrees south of the zenith,
as at Svalbard): textures laid out in polar coordinates around it become rays.

Everything is numpy on a float32 (size, size) plane, drawn in 8-bit intensity
levels; ``expose`` applies the optics and the sensor and returns uint8.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from PIL import Image

EARTH_KM = 6371.0
EMISSION_KM = 110.0
MAG_ZENITH_DEG = 8.0   # magnetic zenith's distance from the zenith (south)
FOV_RADIUS = 0.9975    # the circle's radius over half the frame, as in the YRS frames
RAY_GRID = (24, 360)   # polar texture grid: log-distance bins x azimuth bins


@dataclass(frozen=True)
class SkyGeometry:
    """Per-pixel lookups for one frame size (computed once per size)."""

    size: int
    rim: np.ndarray     # (S, S) field-of-view transmission: 1 inside, 0 outside, 1-px soft edge
    r: np.ndarray       # (S, S) zenith angle / 90 degrees: 0 at the zenith, 1 at the horizon
    x: np.ndarray       # (S, S) east of the station at the emission height, 100 km units
    y: np.ndarray       # (S, S) north of the station, 100 km units
    path: np.ndarray    # (S, S) slant path through the emission layer (van Rhijn), 1 at zenith
    ray_index: np.ndarray   # (4, S*S) flat indices into a RAY_GRID texture, bilinear corners
    ray_weight: np.ndarray  # (4, S*S) their weights

    def pixel(self, x: float, y: float) -> tuple[float, float]:
        """Image (column, row) of emission-layer point (x, y): the inverse of the lookups."""
        distance = float(np.hypot(x, y)) * 100.0
        gamma = distance / EARTH_KM
        # zenith angle of a point at ground distance `distance` on the emission shell
        theta = np.arctan2(np.sin(gamma) * (EARTH_KM + EMISSION_KM),
                           np.cos(gamma) * (EARTH_KM + EMISSION_KM) - EARTH_KM)
        radius = theta / (np.pi / 2) * FOV_RADIUS * self.size / 2
        azimuth = np.arctan2(x, y)
        half = self.size / 2
        return half + radius * np.sin(azimuth), half - radius * np.cos(azimuth)


def _ground_distance(theta: np.ndarray) -> np.ndarray:
    """Horizontal distance (100 km) to where a line of sight at zenith angle ``theta`` meets
    the emission shell, on a spherical Earth."""
    shell = EARTH_KM + EMISSION_KM
    gamma = theta - np.arcsin(np.clip(EARTH_KM / shell * np.sin(theta), -1, 1))
    return EARTH_KM * gamma / 100.0


@functools.lru_cache(maxsize=8)
def sky_geometry(size: int) -> SkyGeometry:
    """Lookups for a ``size`` x ``size`` frame, north up, east left (as seen from below)."""
    centre = (np.arange(size) + 0.5) / size * 2 - 1
    u = -centre[None, :].repeat(size, 0)  # east is left in a sky-facing frame
    v = -centre[:, None].repeat(size, 1)  # north is up
    radius = np.hypot(u, v) / FOV_RADIUS
    rim = np.clip((1 - radius) * FOV_RADIUS * size / 2 + 0.5, 0, 1)
    r = np.minimum(radius, 1.0)
    theta = r * np.pi / 2
    distance = _ground_distance(theta)
    with np.errstate(invalid='ignore', divide='ignore'):
        x = np.where(radius > 0, distance * u / (radius * FOV_RADIUS), 0)
        y = np.where(radius > 0, distance * v / (radius * FOV_RADIUS), 0)
    shell = EARTH_KM / (EARTH_KM + EMISSION_KM / 2)
    path = 1 / np.sqrt(1 - (shell * np.sin(theta)) ** 2)

    # polar texture coordinates around the magnetic zenith's footprint
    foot_y = -EMISSION_KM * np.tan(np.radians(MAG_ZENITH_DEG)) / 100.0
    rho = np.log1p(np.hypot(x, y - foot_y) / 0.5) / np.log1p(12 / 0.5)
    phi = (np.arctan2(x, y - foot_y) / (2 * np.pi)) % 1.0
    n_rho, n_phi = RAY_GRID
    fr = np.clip(rho, 0, 1) * (n_rho - 1 - 1e-6)
    fp = phi * n_phi
    i0, j0 = np.floor(fr).astype(np.int64), np.floor(fp).astype(np.int64) % n_phi
    wr, wp = fr - i0, fp - np.floor(fp)
    j1 = (j0 + 1) % n_phi
    index = np.stack([i0 * n_phi + j0, i0 * n_phi + j1, (i0 + 1) * n_phi + j0,
                      (i0 + 1) * n_phi + j1]).reshape(4, -1)
    weight = np.stack([(1 - wr) * (1 - wp), (1 - wr) * wp, wr * (1 - wp), wr * wp]).reshape(4, -1)
    f32 = functools.partial(np.asarray, dtype=np.float32)
    return SkyGeometry(size, f32(rim), f32(r), f32(x), f32(y), f32(path),
                       index.astype(np.intp), f32(weight))


def polar_texture(geom: SkyGeometry, grid: np.ndarray) -> np.ndarray:
    """Sample a RAY_GRID texture (log distance from the magnetic zenith x azimuth) per pixel.

    Anything smooth along the first axis and sharp along the second becomes rays that
    converge on the magnetic zenith, as field-aligned aurora looks from the ground.
    """
    flat = np.ascontiguousarray(grid, dtype=np.float32).ravel()
    out = np.take(flat, geom.ray_index[0]) * geom.ray_weight[0]
    for k in range(1, 4):
        out += np.take(flat, geom.ray_index[k]) * geom.ray_weight[k]
    return out.reshape(geom.size, geom.size)


def smooth_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """A smooth random field, zero mean and unit-ish spread, varying over ``size / cells`` px."""
    coarse = rng.standard_normal((cells, cells), dtype=np.float32)
    return np.asarray(Image.fromarray(coarse, 'F').resize((size, size), Image.BICUBIC))


def ray_grid(rng: np.random.Generator, length: int, width: float, gain: float) -> np.ndarray:
    """A RAY_GRID texture of sparse bright rays: ``length`` coarse steps along the field
    (fewer = longer rays), ``width`` in azimuth bins, ``gain`` = contrast (lognormal)."""
    n_rho, n_phi = RAY_GRID
    coarse = rng.standard_normal((length, n_phi), dtype=np.float32)
    if width > 1:  # circular smoothing in azimuth: widen the rays
        k = np.fft.rfft(np.exp(-0.5 * (np.fft.fftfreq(n_phi) * n_phi / width) ** 2))
        coarse = np.fft.irfft(np.fft.rfft(coarse, axis=1) * k / k[0].real, n_phi, axis=1)
        coarse /= coarse.std() + 1e-6
    rows = np.linspace(0, length - 1, n_rho)
    lo = np.floor(rows).astype(int)
    hi = np.minimum(lo + 1, length - 1)
    t = (rows - lo)[:, None]
    fine = coarse[lo] * (1 - t) + coarse[hi] * t
    return np.exp(gain * fine - 0.5 * gain * gain).astype(np.float32)


def airglow(geom: SkyGeometry, rng: np.random.Generator) -> np.ndarray:
    """Sky background: a uniform airglow level with smooth patchiness (thin cloud,
    diffuse aurora, moonlight); ``expose`` adds the brightening toward the horizon."""
    level = rng.uniform(11, 30)
    patchy = 1 + rng.uniform(0.05, 0.25) * smooth_field(rng, geom.size, int(rng.integers(3, 7)))
    horizon = rng.uniform(0, 0.6) * np.clip(geom.r * 1.6 - 0.6, 0, 1) ** 2  # a distant oval
    return level * (patchy + horizon)


def add_stars(geom: SkyGeometry, rng: np.random.Generator, sky: np.ndarray, count: int) -> None:
    """Point stars of random brightness, in place (most faint, a few bright)."""
    rows = rng.integers(0, geom.size, count)
    cols = rng.integers(0, geom.size, count)
    sky[rows, cols] += rng.pareto(2.5, count).astype(np.float32) * 6 + 3


def soften(plane: np.ndarray, passes: int) -> np.ndarray:
    """The lens's blur: ``passes`` separable [1, 2, 1] / 4 filters (sigma = sqrt(passes / 2))."""
    for _ in range(passes):
        plane[1:-1] = 0.25 * (plane[:-2] + plane[2:]) + 0.5 * plane[1:-1]
        plane[:, 1:-1] = 0.25 * (plane[:, :-2] + plane[:, 2:]) + 0.5 * plane[:, 1:-1]
    return plane


def blur_passes(size: int) -> int:
    """Passes of ``soften`` for the lens blur at this frame size (sigma grows with size)."""
    return max(1, round((size / 224) ** 2))


def optics(geom: SkyGeometry, radiance: np.ndarray,
           window: tuple[slice, slice] = (slice(None), slice(None))) -> np.ndarray:
    """What reaches the sensor (linear in ``radiance``): slant-path brightening toward the
    horizon, lens blur, falloff at the rim, nothing outside the circle. With ``window``,
    ``radiance`` covers only that part of the frame (exact when it is zero near the
    window's edges, further in than ``blur_passes``)."""
    r = geom.r[window]
    signal = radiance * geom.path[window] ** 0.3 * (1 - 0.2 * np.maximum(r - 0.8, 0) / 0.2)
    soften(signal, blur_passes(geom.size))
    signal *= geom.rim[window]
    return signal


def sensor(geom: SkyGeometry, rng: np.random.Generator, signal: np.ndarray) -> np.ndarray:
    """Shot and read noise and 8-bit clipping; (S, S) uint8, exactly 0 outside the circle."""
    np.maximum(signal, 0, out=signal)
    noise = rng.integers(0, 256, (2, geom.size, geom.size), dtype=np.uint8)
    tri = (noise[0].astype(np.float32) - noise[1]) * (1 / 104.0)  # triangular, unit std
    signal += tri * np.sqrt(0.25 + 0.006 * signal) * geom.rim
    return np.clip(signal + 0.5, 0, 255).astype(np.uint8)


def expose(geom: SkyGeometry, rng: np.random.Generator, radiance: np.ndarray) -> np.ndarray:
    """Optics then sensor: the frame a camera records of ``radiance``, (S, S) uint8."""
    return sensor(geom, rng, optics(geom, radiance))


def rotated(geom: SkyGeometry, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Emission-layer coordinates turned by ``degrees`` (a rotated sky, as the auroral oval
    is not always east-west over the station)."""
    c, s = np.float32(np.cos(np.radians(degrees))), np.float32(np.sin(np.radians(degrees)))
    return geom.x * c - geom.y * s, geom.x * s + geom.y * c


def gaussian_patch(size: int, col: float, row: float, sigma_col: float, sigma_row: float,
                   degrees: float, floor: float = 0.02
                   ) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """An elliptical Gaussian (peak 1, centre in pixel units) cut to exactly 0 where it is
    below ``floor``: returns the (rows, cols) window and its values there, or None when it
    misses the frame. What is nonzero is what was drawn, so its box is exact."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    reach = np.sqrt(-2 * np.log(floor))
    half_c = reach * np.hypot(sigma_col * c, sigma_row * s)
    half_r = reach * np.hypot(sigma_col * s, sigma_row * c)
    c0, c1 = max(int(np.floor(col - half_c)), 0), min(int(np.ceil(col + half_c)) + 1, size)
    r0, r1 = max(int(np.floor(row - half_r)), 0), min(int(np.ceil(row + half_r)) + 1, size)
    if c0 >= c1 or r0 >= r1:
        return None
    dc = (np.arange(c0, c1, dtype=np.float32) + 0.5 - col)[None, :]
    dr = (np.arange(r0, r1, dtype=np.float32) + 0.5 - row)[:, None]
    a = (dc * c + dr * s) / sigma_col
    b = (dr * c - dc * s) / sigma_row
    values = np.exp(-0.5 * (a * a + b * b))
    values[values < floor] = 0
    return (slice(r0, r1), slice(c0, c1)), values
