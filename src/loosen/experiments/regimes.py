"""Data regimes of the accuracy grid: the data each cell of a (training size, seed) sees.

Every cell of a regime and seed trains on the same stratified subset of the training
split (``loosen data split --method keep --train-size``, hard links where the disk
allows) and is tested on the same split, so the attention module is the one difference.
When the data has fewer training images than a size asks for, the subset is all of them
and ``subset.json`` says so. A re-split regime (``RESPLITS``) first pools every frame of the
data and splits it again with its seed (the same fractions for every kind), then
subsamples that train split; its ``subset.json`` also counts the val/test frames that
have a train frame within the leak window (``data check``'s). ``--data synthetic`` first
writes a synthetic set big enough for the largest size; detection cells get a YOLOv5
dataset YAML whose train entry lists a seeded random subset of the detection images.
"""
from __future__ import annotations

import math
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..atomic import read_json_or_none, write_json
from ..data import find_splits, write_detection, write_synthetic
from ..data.folder import is_image_file
from ..data.leakage import LEAK_SECONDS, LeakFrame, find_leaks
from ..data.split import split_frames, split_with_gap
from ..data.tree import Frame, collect_frames, write_tree
from ..errors import LoosenError
from .spec import GIVEN, RESPLIT_FRACTIONS, Cell, GridSpec

SUBSET_INFO = 'subset.json'
# how each re-split kind divides the pooled frames (``split_with_gap``'s options): the
# paper's stratified random frames, and loosen's time blocks with the gap `data check` passes
RESPLITS: dict[str, dict[str, Any]] = {
    'random': {'method': 'stratified'},
    'blocks': {'method': 'time', 'gap_minutes': LEAK_SECONDS / 60},
}
SPLIT_KINDS = (GIVEN, *RESPLITS)
HONEST_SPLIT = 'blocks'  # the report gives every other kind's gap to this one


def classification_root(spec: GridSpec) -> Path:
    """The image folder the grid's classification cells draw from."""
    return spec.root / 'data' / 'classification' if spec.data == 'synthetic' else Path(spec.data)


def detection_yaml(spec: GridSpec) -> Path:
    """The YOLOv5 dataset YAML the grid's detection cells draw from."""
    if spec.det_data == 'synthetic':
        return spec.root / 'data' / 'detection' / 'dataset.yaml'
    return Path(spec.det_data)


def reported_split(root: Path) -> str:
    """test/ when the data has one, else val/ (stated in the report)."""
    splits = find_splits(root)
    if 'train' not in splits or 'val' not in splits:
        raise LoosenError(f'{root} needs train/<class>/ and val/<class>/ image folders '
                          f'(it has {", ".join(splits) or "neither"}); or give --data synthetic')
    return 'test' if 'test' in splits else 'val'


def write_sources(spec: GridSpec) -> None:
    """The synthetic sets the grid asks for, written once."""
    largest = max(spec.train_sizes)
    if spec.data == 'synthetic' and any(not c.detection for c in spec.cells()):
        root = classification_root(spec)
        if not root.is_dir():
            train = math.ceil(largest / 4)  # four core classes
            fresh = _scratch(root)
            write_synthetic(fresh, train + 2 * spec.eval_per_class, spec.img_size, 0,
                            split={'train': train, 'val': spec.eval_per_class,
                                   'test': spec.eval_per_class})
            os.replace(fresh, root)
    if spec.det_data == 'synthetic' and any(c.detection for c in spec.cells()):
        folder = detection_yaml(spec).parent
        if not folder.is_dir():
            fresh = _scratch(folder)
            val = 4 * spec.eval_per_class
            write_detection(fresh, largest + val, spec.det_img_size, 0,
                            {'train': largest, 'val': val})
            os.replace(fresh, folder)
            text = (folder / 'dataset.yaml').read_text()  # it names the folder it was written to
            (folder / 'dataset.yaml').write_text(text.replace(str(fresh.resolve()),
                                                              str(folder.resolve())))


def _scratch(target: Path) -> Path:
    """An empty folder beside ``target``, renamed onto it when complete."""
    fresh = target.with_name(f'.{target.name}.partial')
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    return fresh


def write_subset(spec: GridSpec, cell: Cell) -> dict[str, Any]:
    """The training subset of ``cell``'s regime and seed (written once); its ``subset.json``."""
    folder = spec.subset_dir(cell)
    found = read_json_or_none(folder / SUBSET_INFO)
    if found is not None:
        return found
    fresh = _scratch(folder)
    info = (_detection_subset if cell.detection else _classification_subset)(spec, cell, fresh)
    write_json(fresh / SUBSET_INFO, info)
    shutil.rmtree(folder, ignore_errors=True)  # a subset killed before its subset.json
    os.replace(fresh, folder)
    return info


def _classification_subset(spec: GridSpec, cell: Cell, fresh: Path) -> dict[str, Any]:
    frames = collect_frames(classification_root(spec))
    resplit: dict[str, Any] = {}
    if cell.split == GIVEN:
        frames = [f for f in frames if f.split in ('train', spec.test_split, 'val')]
    else:
        frames, dropped = split_with_gap(frames, fractions=RESPLIT_FRACTIONS, seed=cell.seed,
                                         **RESPLITS[cell.split])
        resplit = {'split': cell.split, 'dropped': len(dropped)}
    available = sum(f.split == 'train' for f in frames)
    used = min(cell.size, available)
    frames = split_frames(frames, 'keep', seed=cell.seed, train_size=used)
    write_tree(frames, fresh)
    counts = Counter(f.cls for f in frames if f.split == 'train')
    if resplit:
        resplit.update(_leaks(frames))
    return {'requested': cell.size, 'available': available, 'used': used,
            'per_class': dict(sorted(counts.items())), **resplit}


def _leaks(frames: list[Frame]) -> dict[str, dict[str, int]]:
    """Per later split: its frames, and those with a train frame within the leak window
    (frames without a time are not counted; ``timed`` says how many have one)."""
    timed = [LeakFrame(f.path, f.split, f.time.timestamp()) for f in frames if f.time]
    pairs = {p.later: p for p in find_leaks(timed, list(RESPLIT_FRACTIONS)) if p.earlier == 'train'}
    later = [s for s in RESPLIT_FRACTIONS if s != 'train']
    return {'frames': {s: sum(f.split == s for f in frames) for s in later},
            'timed': {s: sum(f.split == s for f in timed) for s in later},
            'leaked': {s: len(pairs[s].leaks) if s in pairs else 0 for s in later}}


def _detection_subset(spec: GridSpec, cell: Cell, fresh: Path) -> dict[str, Any]:
    source = detection_yaml(spec)
    data = yaml.safe_load(source.read_text())
    base = Path(data.get('path') or source.parent)
    images = detection_images(source)
    used = min(cell.size, len(images))
    picked = sorted(np.random.default_rng(cell.seed).choice(images, used, replace=False))
    (fresh / 'train.txt').write_text('\n'.join(picked) + '\n')
    listed = {**data, 'path': str(base.resolve()),
              'train': str((spec.subset_dir(cell) / 'train.txt').resolve())}
    (fresh / 'dataset.yaml').write_text(yaml.safe_dump(listed, sort_keys=False))
    return {'requested': cell.size, 'available': len(images), 'used': used}


def detection_images(source: Path) -> list[str]:
    """The training images of the YOLOv5 dataset YAML ``source``, sorted, as absolute paths."""
    data = yaml.safe_load(Path(source).read_text())
    train = Path(data.get('path') or Path(source).parent) / data['train']
    if not train.is_dir():
        raise LoosenError(f'the train entry of {source} must be a folder of images for the grid '
                          f'to subsample it (it is {data["train"]!r})')
    return sorted(str(p.resolve()) for p in train.rglob('*') if is_image_file(p))


def subset_info(spec: GridSpec, cell: Cell) -> dict[str, Any]:
    found = read_json_or_none(spec.subset_dir(cell) / SUBSET_INFO)
    if found is None:
        raise LoosenError(f'the subset of {cell.key} is missing; run the grid again')
    return found
