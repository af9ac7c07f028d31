"""``loosen data check``: would this image folder train, and train honestly?

Counts per class and split, image sizes and modes; errors for what would break
training or make its numbers wrong (unreadable or truncated images, the same file
in two splits, a class folder missing from a split, an empty class folder, no
train split, fewer than two classes); warnings for the rest (non-image files,
duplicates within a split, no val split). Every image is decoded in full, on a few
threads (decoding releases the GIL).
"""
from __future__ import annotations

import hashlib
import os
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import LoosenError
from .folder import class_folders, find_splits, is_image_file, open_image


@dataclass
class ImageInfo:
    path: Path
    split: str
    cls: str
    size: tuple[int, int] = (0, 0)  # width, height
    mode: str = ''
    digest: str = ''
    error: str = ''


@dataclass
class CheckReport:
    root: Path
    splits: list[str]
    classes: list[str]
    counts: dict[str, Counter] = field(default_factory=dict)  # split -> class -> images
    images: list[ImageInfo] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def inspect_image(info: ImageInfo) -> ImageInfo:
    """Fill in size, mode, content hash, or the reason the file cannot be read."""
    try:
        info.digest = hashlib.blake2b(info.path.read_bytes(), digest_size=16).hexdigest()
        if info.path.suffix.lower() == '.npy':
            array = np.load(info.path, mmap_mode='r', allow_pickle=False)
            info.mode, info.size = str(array.dtype), (array.shape[1], array.shape[0])
        else:
            with Image.open(info.path) as image:
                info.mode, info.size = image.mode, image.size
        open_image(info.path)
    except LoosenError as error:
        info.error = str(error)
    except (OSError, ValueError, SyntaxError, IndexError) as error:
        info.error = f'cannot read image {info.path} ({error})'
    return info


def _walk(report: CheckReport) -> list[ImageInfo]:
    """The images of every split, and the layout problems found on the way."""
    infos = []
    for split in report.splits:
        present = class_folders(report.root / split)
        for cls in report.classes:
            folder = report.root / split / cls
            if cls not in present:
                report.errors.append(f'{split}/ has no folder for class {cls}; add {folder}/ '
                                     'with its images (labels would shift between splits)')
                continue
            files = sorted(p for p in folder.rglob('*') if p.is_file())
            images = [p for p in files if is_image_file(p)]
            others = [p for p in files if not is_image_file(p) and not p.name.startswith('.')]
            if others:
                report.warnings.append(f'{len(others)} non-image file(s) ignored in {folder} '
                                       f'(first: {others[0].name})')
            if not images:
                report.errors.append(f'class folder {folder} has no images; add images or '
                                     'delete the folder')
            infos += [ImageInfo(p, split, cls) for p in images]
            report.counts.setdefault(split, Counter())[cls] = len(images)
    return infos


def check_tree(root: str | Path, workers: int | None = None) -> CheckReport:
    """Inspect every image under ``root/<split>/<class>/``."""
    root = Path(root)
    if not root.is_dir():
        raise LoosenError(f'{root} is not a folder; give the dataset folder (with train/, val/)')
    splits = find_splits(root)
    classes = sorted({c for s in splits for c in class_folders(root / s)})
    report = CheckReport(root, splits, classes)
    if 'train' not in splits:
        flat = class_folders(root)
        hint = (f'it looks unsplit ({", ".join(flat[:4])}); make splits with '
                f'`loosen data split {root} OUT`' if flat else 'put images in train/<class>/')
        report.errors.append(f'no train/ folder in {root}; {hint}')
    elif 'val' not in splits:
        report.warnings.append(f'no val/ folder in {root}; make one with `loosen data split`')
    if splits and len(classes) < 2:
        report.errors.append(f'{len(classes)} class folder(s) in {root}; classification needs '
                             'two or more')
    infos = _walk(report)
    with ThreadPoolExecutor(workers or min(4, os.cpu_count() or 1)) as pool:
        report.images = list(pool.map(inspect_image, infos))
    report.errors += [i.error for i in report.images if i.error]
    by_digest: dict[str, list[ImageInfo]] = defaultdict(list)
    for info in report.images:
        if info.digest:
            by_digest[info.digest].append(info)
    for same in by_digest.values():
        names = ', '.join(str(i.path.relative_to(root)) for i in same[:3])
        if len({i.split for i in same}) > 1:
            report.errors.append(f'the same image is in two splits: {names}; remove it from '
                                 'all but one (test accuracy would be inflated)')
        elif len(same) > 1:
            report.warnings.append(f'{len(same)} identical images in {same[0].split}/: {names}')
    return report


def counts_table(counts: dict[str, Counter], classes: list[str]) -> str:
    """Images per split (rows) and class (columns), with totals."""
    width = max([7, *(len(c) for c in classes)])
    lines = ['split'.ljust(8) + ' '.join(c.rjust(width) for c in [*classes, 'total'])]
    for split, row in counts.items():
        cells = [row[c] for c in classes] + [sum(row[c] for c in classes)]
        lines.append(split.ljust(8) + ' '.join(str(n).rjust(width) for n in cells))
    return '\n'.join(lines)


def format_report(report: CheckReport) -> str:
    """Counts table, sizes and modes, then errors and warnings."""
    readable = [i for i in report.images if not i.error]
    sizes = Counter(f'{w}x{h}' for w, h in (i.size for i in readable))
    modes = Counter(i.mode for i in readable)
    lines = [str(report.root), counts_table(report.counts, report.classes), '',
             f'images: {len(report.images)} ({len(readable)} readable)',
             'sizes: ' + ', '.join(f'{s} ({n})' for s, n in sizes.most_common(5)),
             'modes: ' + ', '.join(f'{m} ({n})' for m, n in modes.most_common())]
    lines += [f'error: {e}' for e in report.errors] + [f'warning: {w}' for w in report.warnings]
    lines.append('ok: ready to train' if report.ok else
                 f'{len(report.errors)} problem(s) would break training or its numbers')
    return '\n'.join(lines)
