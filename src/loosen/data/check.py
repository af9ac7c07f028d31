"""``loosen data check``: would this image folder train, and train honestly?

Counts per class and split, image sizes and modes; errors for what would break
training or make its numbers wrong (unreadable or truncated images, the same file
in two splits, near-duplicate frames across splits beyond ``max_leak`` (see
``leakage``), a class folder missing from a split, an empty class folder, no train
split, fewer than two classes); warnings for the rest (non-image files, duplicates
within a split, no val split). Every image is decoded in full, on a few threads
(decoding releases the GIL); the frames whose time is unknown, and those they are
compared with, are hashed from that same decoded image, once (``phash``'s cache).
"""
from __future__ import annotations

import hashlib
import os
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import LoosenError
from .folder import class_folders, find_splits, is_image_file, open_image
from .labels import time_from_name, time_lookup
from .leakage import (
    HASH_DISTANCE,
    LEAK_SECONDS,
    MAX_LEAK,
    Leak,
    LeakFrame,
    PairLeaks,
    find_leaks,
    hash_needed,
)
from .phash import HASH_BITS, HashCache, phash


@dataclass
class ImageInfo:
    path: Path
    split: str
    cls: str
    size: tuple[int, int] = (0, 0)  # width, height
    mode: str = ''
    digest: str = ''
    error: str = ''
    time: datetime | None = None
    wants_hash: bool = False
    phash: int | None = None


@dataclass
class CheckReport:
    root: Path
    splits: list[str]
    classes: list[str]
    counts: dict[str, Counter] = field(default_factory=dict)  # split -> class -> images
    images: list[ImageInfo] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    leaks: list[PairLeaks] = field(default_factory=list)  # per pair of splits
    leak_seconds: float = LEAK_SECONDS
    hash_distance: int = HASH_DISTANCE

    @property
    def ok(self) -> bool:
        return not self.errors


def inspect_image(info: ImageInfo, hashes: HashCache | None = None) -> ImageInfo:
    """Fill in size, mode, content hash, perceptual hash (when wanted, from ``hashes``
    or the decoded image), or the reason the file cannot be read."""
    try:
        info.digest = hashlib.blake2b(info.path.read_bytes(), digest_size=16).hexdigest()
        if info.path.suffix.lower() == '.npy':
            array = np.load(info.path, mmap_mode='r', allow_pickle=False)
            info.mode, info.size = str(array.dtype), (array.shape[1], array.shape[0])
        else:
            with Image.open(info.path) as image:
                info.mode, info.size = image.mode, image.size
        image = open_image(info.path)
        if info.wants_hash and hashes is not None:
            info.phash = hashes.get(info.path)
            if info.phash is None:
                info.phash = phash(image)
                hashes.put(info.path, info.phash)
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


def _leak_frame(info: ImageInfo) -> LeakFrame:
    return LeakFrame(info.path, info.split, info.time.timestamp() if info.time else None,
                     info.phash)


def _mark_times(report: CheckReport, infos: list[ImageInfo]) -> None:
    """Capture times as ``data split`` reads them, and which frames need a hash."""
    try:
        time_of = time_lookup(report.root)
    except LoosenError as error:  # a damaged labels.csv: the names may still tell
        report.errors.append(str(error))
        time_of = time_from_name
    for info in infos:
        info.time = time_of(info.path.stem)
    for info, wanted in zip(infos, hash_needed([_leak_frame(i) for i in infos]), strict=True):
        info.wants_hash = wanted


def _inspect_all(report: CheckReport, infos: list[ImageInfo], workers: int | None) -> None:
    hashes = HashCache(report.root) if any(i.wants_hash for i in infos) else None
    with ThreadPoolExecutor(workers or min(4, os.cpu_count() or 1)) as pool:
        report.images = list(pool.map(partial(inspect_image, hashes=hashes), infos))
    if hashes is not None:
        try:
            hashes.save()
        except OSError as error:
            report.warnings.append(f'could not save the hash cache {hashes.file} ({error}); '
                                   'set LOOSEN_CACHE to a writable folder')


def _check_leaks(report: CheckReport, max_leak: float) -> None:
    report.leaks = find_leaks([_leak_frame(i) for i in report.images], report.splits,
                              report.leak_seconds, report.hash_distance)
    for pair in report.leaks:
        if pair.share > max_leak:
            report.errors.append(
                f'{_leak_line(report, pair, share=True)}, over --max-leak {max_leak:.1%} '
                '(scores would be inflated); split by time blocks with a gap at their edges: '
                f'`loosen data split {report.root} OUT` (add `--method keep` when these '
                'splits are time blocks already)')


def check_tree(root: str | Path, workers: int | None = None,
               leak_seconds: float = LEAK_SECONDS, hash_distance: int = HASH_DISTANCE,
               max_leak: float = MAX_LEAK) -> CheckReport:
    """Inspect every image under ``root/<split>/<class>/``, and search the splits for
    near-duplicates: frames within ``leak_seconds``, or ``hash_distance`` bits where a
    time is unknown; more than ``max_leak`` of a split's frames leaking is an error."""
    root = Path(root)
    if not root.is_dir():
        raise LoosenError(f'{root} is not a folder; give the dataset folder (with train/, val/)')
    if leak_seconds < 0 or not 0 <= hash_distance <= HASH_BITS:
        raise LoosenError(f'leak window {leak_seconds:g} s and hash distance {hash_distance} '
                          f'must be >= 0 and 0..{HASH_BITS}, e.g. 60 and 4')
    splits = find_splits(root)
    classes = sorted({c for s in splits for c in class_folders(root / s)})
    report = CheckReport(root, splits, classes, leak_seconds=leak_seconds,
                         hash_distance=hash_distance)
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
    _mark_times(report, infos)
    _inspect_all(report, infos, workers)
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
    _check_leaks(report, max_leak)
    return report


def counts_table(counts: dict[str, Counter], classes: list[str]) -> str:
    """Images per split (rows) and class (columns), with totals."""
    width = max([7, *(len(c) for c in classes)])
    lines = ['split'.ljust(8) + ' '.join(c.rjust(width) for c in [*classes, 'total'])]
    for split, row in counts.items():
        cells = [row[c] for c in classes] + [sum(row[c] for c in classes)]
        lines.append(split.ljust(8) + ' '.join(str(n).rjust(width) for n in cells))
    return '\n'.join(lines)


def _leak_line(report: CheckReport, pair: PairLeaks, share: bool = False) -> str:
    """'37 of 402 val frames (9.2%) have a train frame within 60 s or hash distance 4',
    naming the tests that this pair of splits used."""
    tests = [f'{report.leak_seconds:g} s'] if pair.by_time or not pair.by_hash else []
    tests += [f'hash distance {report.hash_distance}'] if pair.by_hash else []
    return (f'{len(pair.leaks)} of {pair.frames} {pair.later} frames'
            + (f' ({pair.share:.1%})' if share else '')
            + f' have a {pair.earlier} frame within {" or ".join(tests)}')


def _describe(leak: Leak, root: Path) -> str:
    near = (f'{leak.seconds:g} s' if leak.seconds is not None
            else f'hash distance {leak.distance}')
    return f'  {leak.frame.relative_to(root)}  {near} from  {leak.other.relative_to(root)}'


def format_leaks(report: CheckReport, worst: int = 5) -> list[str]:
    """One summary line per pair of splits, each followed by its ``worst`` closest pairs."""
    lines = []
    for pair in report.leaks:
        lines.append(f'{pair.earlier}/{pair.later}: {_leak_line(report, pair)}')
        lines += [_describe(leak, report.root) for leak in pair.leaks[:worst]]
    return lines


def format_report(report: CheckReport, worst: int = 5) -> str:
    """Counts table, sizes and modes, near-duplicates across splits, then errors and
    warnings."""
    readable = [i for i in report.images if not i.error]
    sizes = Counter(f'{w}x{h}' for w, h in (i.size for i in readable))
    modes = Counter(i.mode for i in readable)
    lines = [str(report.root), counts_table(report.counts, report.classes), '',
             f'images: {len(report.images)} ({len(readable)} readable)',
             'sizes: ' + ', '.join(f'{s} ({n})' for s, n in sizes.most_common(5)),
             'modes: ' + ', '.join(f'{m} ({n})' for m, n in modes.most_common()),
             *format_leaks(report, worst)]
    lines += [f'error: {e}' for e in report.errors] + [f'warning: {w}' for w in report.warnings]
    lines.append('ok: ready to train' if report.ok else
                 f'{len(report.errors)} problem(s) would break training or its numbers')
    return '\n'.join(lines)
