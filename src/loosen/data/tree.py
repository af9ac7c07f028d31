"""Frames on disk: gather them from a tree, and lay a labelled set out as a new tree.

A tree is either split (``root/<split>/<class>/<image>``) or flat
(``root/<class>/<image>``, not split yet). Frame times come from ``labels.csv``
when the tree has one, otherwise from the file names.
"""
from __future__ import annotations

import os
import shutil
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from ..errors import LoosenError
from .folder import class_folders, find_splits, is_image_file
from .labels import LabelRow, format_time, time_lookup, write_labels


@dataclass(frozen=True)
class Frame:
    path: Path
    cls: str
    split: str = ''           # '' while not split
    time: datetime | None = None

    @property
    def name(self) -> str:
        return self.path.stem


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob('*') if p.is_file() and is_image_file(p))


def collect_frames(root: str | Path) -> list[Frame]:
    """Every image of a split or flat tree, with its class, split and time (if known)."""
    root = Path(root)
    if not root.is_dir():
        raise LoosenError(f'{root} is not a folder; give the dataset folder')
    splits = find_splits(root)
    frames = [Frame(path, cls, split)
              for split in splits or ['']
              for cls in class_folders(root / split)
              for path in _images(root / split / cls)]
    if not frames:
        raise LoosenError(f'no images in {root}; expected {root}/<class>/<image> or '
                          f'{root}/train/<class>/<image>')
    time_of = time_lookup(root)
    return [replace(f, time=time_of(f.name)) for f in frames]


def _place(source: Path, target: Path, copy: bool) -> None:
    """Hard-link (no extra disk) where the filesystem allows, else copy."""
    if not copy:
        try:
            os.link(source, target)
            return
        except OSError:
            pass
    shutil.copy2(source, target)


def write_tree(frames: list[Frame], out: str | Path, copy: bool = False) -> Path:
    """Lay ``frames`` (each with a split) out as ``out/<split>/<class>/`` plus labels.csv."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise LoosenError(f'{out} is not empty; give a new output folder')
    twice = sorted(n for n, k in Counter(f.name for f in frames).items() if k > 1)[:3]
    if twice:
        raise LoosenError(f'image names repeat ({", ".join(twice)}); names must be unique '
                          'across classes and splits')
    for frame in frames:
        folder = out / frame.split / frame.cls
        folder.mkdir(parents=True, exist_ok=True)
        _place(frame.path, folder / frame.path.name, copy)
    rows = [LabelRow(f.name, f.cls, f.split, format_time(f.time))
            for f in sorted(frames, key=lambda f: (f.time.timestamp() if f.time else 0.0, f.name))]
    write_labels(out / 'labels.csv', rows)
    return out
