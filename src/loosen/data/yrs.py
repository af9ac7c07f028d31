"""Yellow River Station (YRS) labels into an image-folder tree.

The YRS label files list one frame per line, ``NAME label`` with 1 = arc,
2 = drapery, 3 = radial, 4 = hotspot; frame names carry their time
(``N20031221G043541``: 2003-12-21 04:35:41 UT). Importing finds each frame's image
under IMAGES (any folder depth, any image extension), splits by time blocks, and
writes ``OUT/<split>/<class>/`` plus ``labels.csv`` (name, class, split, time_utc),
the layout of the YRS set in ``../shared/data/yrs-aurora``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import LoosenError
from .folder import is_image_file
from .labels import time_from_name
from .split import split_with_gap
from .tree import Frame, write_tree

YRS_CLASSES = {1: 'arc', 2: 'drapery', 3: 'radial', 4: 'hotspot'}
YRS_DIR_ENV = 'LOOSEN_YRS_DIR'


def default_yrs_dir() -> Path | None:
    """The YRS set: ``$LOOSEN_YRS_DIR``, else ``../shared/data/yrs-aurora`` beside the
    repository; None when neither exists."""
    repo = Path(__file__).resolve().parents[3]
    found = Path(os.environ.get(YRS_DIR_ENV) or repo.parent / 'shared' / 'data' / 'yrs-aurora')
    return found if found.is_dir() else None


def read_yrs_labels(path: str | Path) -> dict[str, str]:
    """Frame name (without extension) -> class, from a YRS label file."""
    path = Path(path)
    if not path.is_file():
        raise LoosenError(f'label file {path} does not exist; give the YRS label list '
                          '(lines "NAME label")')
    labels: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split('#')[0].split()
        if not fields:
            continue
        code = fields[1] if len(fields) == 2 else ''
        if not code.isdigit() or int(code) not in YRS_CLASSES:
            codes = ', '.join(f'{k}={v}' for k, v in YRS_CLASSES.items())
            raise LoosenError(f'{path}:{number}: {line.strip()!r} is not "NAME label" with '
                              f'label 1-4 ({codes})')
        labels[Path(fields[0]).stem] = YRS_CLASSES[int(code)]
    if not labels:
        raise LoosenError(f'{path} lists no frames; expected lines "NAME label"')
    return labels


@dataclass
class YrsImport:
    frames: list[Frame]
    missing: list[str]   # labelled names with no image
    dropped: list[Frame]  # within the gap of another split


def import_yrs(labels: str | Path, images: str | Path, out: str | Path,
               fractions: dict[str, float] | None = None, minutes: float = 20.0,
               seed: int = 0, copy: bool = False, skip_missing: bool = False,
               gap_minutes: float = 0.0) -> YrsImport:
    """Import labelled YRS frames into ``out``, split by blocks of ``minutes`` with a
    gap of ``gap_minutes`` at their edges."""
    classes = read_yrs_labels(labels)
    images = Path(images)
    if not images.is_dir():
        raise LoosenError(f'image folder {images} does not exist; give the folder holding '
                          'the frames')
    found: dict[str, Path] = {}
    for path in sorted(images.rglob('*')):
        if path.stem in classes and is_image_file(path):
            found.setdefault(path.stem, path)
    missing = [name for name in classes if name not in found]
    if len(missing) == len(classes):
        raise LoosenError(f'none of the {len(classes)} labelled frames has an image in '
                          f'{images} (first: {missing[0]}); check IMAGES')
    if missing and not skip_missing:
        raise LoosenError(f'{len(missing)} of {len(classes)} labelled frames have no image in '
                          f'{images} (first: {missing[0]}); check IMAGES, or pass '
                          '--skip-missing to import the rest')
    frames = [Frame(found[name], cls, time=time_from_name(name))
              for name, cls in classes.items() if name in found]
    frames, dropped = split_with_gap(frames, 'time', fractions, minutes, seed,
                                     gap_minutes=gap_minutes)
    write_tree(frames, out, copy)
    return YrsImport(frames, missing, dropped)
