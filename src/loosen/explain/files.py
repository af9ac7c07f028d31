"""Explain image files with a checkpoint: decode them as in training, predict, map, score
each map against the field of view (and a synthetic frame's structure), write it all.

Everything that can be wrong (checkpoint, images, method, layer, class) is checked
before ``write`` creates anything; images are decoded as ``loosen predict`` decodes
them, so the maps are of the very input the model classified.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from ..data import open_image
from ..engine.checkpoint import load_checkpoint
from ..engine.data import make_transform, shrink
from ..engine.predict import find_images
from ..engine.report import write_rows
from ..engine.test import restore_model
from ..errors import LoosenError
from .cams import CAMS
from .figures import plot_maps, save
from .maps import check_method, explain, get_method
from .regions import fov_mask, mass_share, synthetic_frame
from .targets import cam_target

GRID_ROWS = 24  # images in the batch's grid; every image has its own figure


@dataclass
class Explained:
    """One image: its input tensor, prediction, maps and where their mass lies."""

    path: Path
    image: torch.Tensor                 # (3, H, W), as the model saw it
    true: str | None                    # from a synthetic frame or a class folder's name
    predicted: str = ''
    probability: float = 0.0
    maps: dict[str, np.ndarray] = field(default_factory=dict)      # method -> (H, W)
    shares: dict[str, dict[str, float]] = field(default_factory=dict)  # method -> share

    @property
    def name(self) -> str:
        return self.path.stem

    def title(self) -> str:
        true = f', true {self.true}' if self.true else ''
        return f'{self.name}\npredicted {self.predicted} ({self.probability:.2f}{true})'

    def note(self, method: str, reading: Reading, shares: bool) -> str:
        """The lines under a map panel's method: the class it explains, where it reads the
        model and, with ``shares``, where its mass lies."""
        explained = ('no class: the same map for every class' if not reading.by_class
                     else f'class {reading.target} (asked)' if reading.target
                     else f'class {self.predicted} (predicted)')
        lines = [explained, reading.where]
        s = self.shares.get(method)
        if shares and s:
            text = 'flat map' if np.isnan(s['fov_share']) else f'FOV {s["fov_share"]:.0%}'
            if 'structure_share' in s and not np.isnan(s['fov_share']):
                text += (f', structure {s["structure_share"]:.0%} '
                         f'(area {s["structure_area"]:.0%})')
            lines.append(text)
        return '\n'.join(lines)


@dataclass(frozen=True)
class Reading:
    """What one method's maps show, the same for every image of a run."""

    where: str            # the layer or LA module(s) the maps are read at
    by_class: bool        # whether the map depends on the class explained
    target: str | None    # the class asked for; None: each image's predicted class


@dataclass
class Batch:
    """A model and the images it explains: what ``load`` reads and ``run`` fills in."""

    model: nn.Module
    name: str                 # the checkpoint's model name, e.g. 'alexnet_la'
    classes: list[str]
    items: list[Explained]
    source: str               # the images, as the user named them
    readings: dict[str, Reading] = field(default_factory=dict)   # method -> its maps' reading

    def title(self) -> str:
        return (f'Where {self.name} looks: {", ".join(self.readings)} on {len(self.items)} '
                f'image(s) from {self.source}')

    def legend(self) -> str:
        """What the mass shares under the map panels are."""
        fov = self.items[0].shares[next(iter(self.readings))]['fov_area']
        text = (f"FOV: the share of the map's mass (the map less its minimum) inside the "
                f"camera's circle, which is {fov:.0%} of the frame.")
        if any('structure_share' in s for item in self.items for s in item.shares.values()):
            text += (" Structure: the share inside the structure that makes a synthetic "
                     "frame's class; area: that structure's share of the frame (a map that "
                     "ignores a region puts about its area share there).")
        return text


def resolve_class(name_or_index: str | None, classes: Sequence[str]) -> int | None:
    """``--target-class`` as a class index (a name or a number), None for the prediction."""
    if name_or_index is None:
        return None
    if name_or_index in classes:
        return list(classes).index(name_or_index)
    if name_or_index.isdigit() and int(name_or_index) < len(classes):
        return int(name_or_index)
    raise LoosenError(f'--target-class {name_or_index}: the model knows {", ".join(classes)} '
                      f'(or 0..{len(classes) - 1})')


def _true_class(path: Path, classes: Sequence[str]) -> str | None:
    frame = synthetic_frame(path)
    if frame is not None:
        return frame.name
    return path.parent.name if path.parent.name in classes else None


def load(checkpoint_path: str, paths: Sequence[str], methods: Sequence[str],
         layer: str | None, device: str) -> Batch:
    """The checkpoint's model and classes, and every image decoded; checks the methods and
    the layer against the model."""
    checkpoint = load_checkpoint(checkpoint_path)
    files = find_images(paths)
    model = restore_model(checkpoint, checkpoint_path).to(device)
    for method in methods:
        check_method(model, method)
    data_cfg = checkpoint['data_config']
    size = tuple(data_cfg['input_size'][-2:])
    if any(method in CAMS for method in methods):
        cam_target(model, layer, size)
    transform = make_transform(data_cfg, None, training=False)
    classes = list(checkpoint['classes'])
    items = [Explained(path, transform(shrink(open_image(path), data_cfg['decode_side'])),
                       _true_class(path, classes)) for path in files]
    return Batch(model, str(checkpoint['model']), classes, items, ', '.join(map(str, paths)))


def run(batch: Batch, methods: Sequence[str], target: int | None, layer: str | None,
        batch_size: int) -> None:
    """Predict every item and fill in its maps and mass shares, and what each method's maps
    show."""
    model, classes, items = batch.model, batch.classes, batch.items
    device = next(model.parameters()).device
    images = torch.stack([item.image for item in items])
    with torch.no_grad():
        probs = torch.cat([model(images[i:i + batch_size].to(device)).softmax(1).cpu()
                           for i in range(0, len(images), batch_size)])
    best, top = probs.max(1)
    for item, p, k in zip(items, best.tolist(), top.tolist(), strict=True):
        item.predicted, item.probability = classes[k], p
    size = images.shape[-2:]
    fov = fov_mask(*size)
    structures = [(frame.structure(*size) if (frame := synthetic_frame(item.path)) else None)
                  for item in items]
    for method in methods:
        found = get_method(method)
        batch.readings[method] = Reading(found.where(model, layer, tuple(size)),
                                         found.by_class,
                                         None if target is None else classes[target])
        maps = explain(model, images, method, target, layer, batch_size)
        fov_share = mass_share(maps, fov)
        for i, item in enumerate(items):
            item.maps[method] = maps[i]
            share = {'fov_share': float(fov_share[i]), 'fov_area': float(fov.mean())}
            if structures[i] is not None:
                share['structure_share'] = float(mass_share(maps[i:i + 1], structures[i])[0])
                share['structure_area'] = float(structures[i].mean())
            item.shares[method] = share


def share_rows(items: Sequence[Explained]) -> list[dict[str, object]]:
    """One row per image and method: prediction and mass shares."""
    return [{'path': str(item.path), 'true': item.true or '', 'predicted': item.predicted,
             'probability': round(item.probability, 6), 'method': method,
             **{k: round(v, 6) for k, v in share.items()}}
            for item in items for method, share in item.shares.items()]


def summary_rows(items: Sequence[Explained]) -> list[dict[str, object]]:
    """Per class (the true one where known, else the predicted) and method: mean shares
    over the maps that have mass (a flat map has none to place)."""
    groups: dict[tuple[str, str], list[dict[str, float]]] = {}
    for item in items:
        for method, share in item.shares.items():
            groups.setdefault((item.true or item.predicted, method), []).append(share)
    rows = []
    for (name, method), shares in sorted(groups.items()):
        row: dict[str, object] = {'class': name, 'method': method, 'images': len(shares)}
        for key in ('fov_share', 'fov_area', 'structure_share', 'structure_area'):
            values = [s[key] for s in shares if key in s and np.isfinite(s[key])]
            row[key] = round(float(np.mean(values)), 6) if values else ''  # '': flat maps
        rows.append(row)
    return rows


def sheet(batch: Batch, items: Sequence[Explained], methods: Sequence[str],
          mask_fov: bool) -> Figure:
    """The figure of ``items``: a row per image, its input and its maps, titled by the
    model and the images, with the shares' legend under it when ``mask_fov``."""
    return plot_maps(torch.stack([item.image for item in items]),
                     {m: np.stack([item.maps[m] for item in items]) for m in methods},
                     [item.title() for item in items],
                     {m: [item.note(m, batch.readings[m], mask_fov) for item in items]
                      for m in methods}, mask_fov, batch.title(),
                     batch.legend() if mask_fov else None)


def write(out: Path, batch: Batch, methods: Sequence[str], mask_fov: bool,
          summary: bool) -> list[Path]:
    """Per image a figure and its raw maps, the batch's grid, and the share tables."""
    out.mkdir(parents=True, exist_ok=True)
    items = batch.items
    written = []
    for i, item in enumerate(items):
        stem = f'{i:03d}_{item.name}'
        for method in methods:
            np.save(out / f'{stem}.{method}.npy', item.maps[method])
        save(sheet(batch, [item], methods, mask_fov), str(out / f'{stem}.png'))
        written.append(out / f'{stem}.png')
    save(sheet(batch, items[:GRID_ROWS], methods, mask_fov), str(out / 'grid.png'))
    written.append(out / 'grid.png')
    if mask_fov or summary:
        write_rows(out / 'shares.csv', share_rows(items))
        written.append(out / 'shares.csv')
    if summary:
        write_rows(out / 'summary.csv', summary_rows(items))
        written.append(out / 'summary.csv')
    return written
