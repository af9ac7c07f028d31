"""Honest splits: whole time blocks to one split, stratified by class, and seeded
stratified subsampling to a fixed training size (the paper's 4k and 10k regimes).

All-sky frames come every few seconds, so neighbours are near-duplicates: a random
split puts the same aurora in train and test and overstates accuracy. A time-block
split cuts the night into blocks of N minutes (aligned to the clock) and sends each
block wholly to one split, choosing the split that keeps every class closest to the
target fractions. Even so, the last frame of a train block and the first of the next
val block are seconds apart: a gap of ``gap_minutes`` drops the frames at such edges,
from the larger split, so that no two frames of different splits are that close.
Functions take parallel lists and return one split name per item.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import numpy as np

from ..errors import LoosenError, unknown_name
from .leakage import nearest_time
from .tree import Frame


def parse_fractions(text: str) -> dict[str, float]:
    """'train=0.7,val=0.15,test=0.15' -> {'train': 0.7, ...}; they are normalised to sum 1."""
    fractions: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(','))):
        name, _, value = part.partition('=')
        try:
            fractions[name.strip()] = float(value)
        except ValueError:
            fractions = {}
            break
    if not fractions or any(v < 0 for v in fractions.values()) or sum(fractions.values()) <= 0:
        raise LoosenError(f'split {text!r} is not like train=0.7,val=0.15,test=0.15 '
                          '(names with non-negative fractions)')
    total = sum(fractions.values())
    return {k: v / total for k, v in fractions.items()}


def proportional_counts(total: int, weights: dict[str, float]) -> dict[str, int]:
    """``total`` shared in proportion to ``weights`` by largest remainder (sums to total)."""
    norm = sum(weights.values())
    exact = {k: total * w / norm for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    short = total - sum(counts.values())
    for k in sorted(exact, key=lambda k: counts[k] - exact[k])[:short]:
        counts[k] += 1
    return counts


def stratified_split(labels: Sequence[str], fractions: dict[str, float],
                     seed: int = 0) -> list[str]:
    """A seeded random split with each class divided in ``fractions``. Only for frames
    that are not near-duplicates of their neighbours (see ``time_block_split``)."""
    rng = np.random.default_rng(seed)
    out = [''] * len(labels)
    for cls in sorted(set(labels)):
        members = rng.permutation([i for i, c in enumerate(labels) if c == cls])
        start = 0
        for split, n in proportional_counts(len(members), fractions).items():
            for i in members[start:start + n]:
                out[i] = split
            start += n
    return out


def time_blocks(times: Sequence[datetime], minutes: float) -> list[int]:
    """The block number of each time: blocks of ``minutes`` aligned to the clock."""
    if minutes <= 0:
        raise LoosenError(f'block length {minutes} minutes must be positive, e.g. 20')
    return [int(t.timestamp() // (minutes * 60)) for t in times]


def _balance(counts: np.ndarray, target: np.ndarray, rng: np.random.Generator,
             sweeps: int = 10) -> tuple[np.ndarray, float]:
    """Assign blocks (rows of ``counts``: images per class) to splits (rows of ``target``)
    so the per-split class counts come near the targets: a greedy pass in random order,
    then single-block moves while they help. Returns (split of each block, cost)."""
    scale = np.maximum(counts.sum(0), 1)  # each class's error relative to its size

    def cost(have: np.ndarray) -> float:
        return float((((have - target) / scale) ** 2).sum())

    splits = len(target)
    have = np.zeros_like(target)
    assign = np.zeros(len(counts), dtype=int)
    for b in rng.permutation(len(counts)):
        trial = [cost(have + np.eye(splits)[k][:, None] * counts[b]) for k in range(splits)]
        assign[b] = int(np.argmin(trial))
        have[assign[b]] += counts[b]
    for _ in range(sweeps):
        moved = False
        for b in rng.permutation(len(counts)):
            here, now = assign[b], cost(have)
            for k in range(splits):
                if k == here:
                    continue
                have[here] -= counts[b]
                have[k] += counts[b]
                if cost(have) < now - 1e-12:
                    assign[b], here, now, moved = k, k, cost(have), True
                else:
                    have[k] -= counts[b]
                    have[here] += counts[b]
        if not moved:
            break
    return assign, cost(have)


def time_block_split(labels: Sequence[str], times: Sequence[datetime],
                     fractions: dict[str, float], minutes: float = 20.0, seed: int = 0,
                     restarts: int = 8) -> list[str]:
    """Send every block of ``minutes`` wholly to one split, choosing the blocks of each
    split so every class is divided as near ``fractions`` as whole blocks allow (the
    best of ``restarts`` seeded searches)."""
    block_of = time_blocks(times, minutes)
    keys = sorted(set(block_of))
    if len(keys) < len(fractions):
        raise LoosenError(f'only {len(keys)} time block(s) of {minutes:g} minutes for '
                          f'{len(fractions)} splits; use a shorter --block-minutes')
    classes = sorted(set(labels))
    row = {k: i for i, k in enumerate(keys)}
    column = {c: j for j, c in enumerate(classes)}
    counts = np.zeros((len(keys), len(classes)))
    for block, cls in zip(block_of, labels, strict=True):
        counts[row[block], column[cls]] += 1
    names = list(fractions)
    target = np.array([[fractions[s] * n for n in counts.sum(0)] for s in names])
    rng = np.random.default_rng(seed)
    assign, _ = min((_balance(counts, target, rng) for _ in range(restarts)),
                    key=lambda found: found[1])
    return [names[assign[row[block]]] for block in block_of]


def subsample(labels: Sequence[str], size: int, seed: int = 0) -> list[int]:
    """Indices of a seeded subset of ``size`` items keeping the class proportions."""
    if not 0 < size <= len(labels):
        raise LoosenError(f'training size {size} must be between 1 and the {len(labels)} '
                          'training images available')
    rng = np.random.default_rng(seed)
    per_class = proportional_counts(size, Counter(labels))
    keep: list[int] = []
    for cls, n in sorted(per_class.items()):
        members = [i for i, c in enumerate(labels) if c == cls]
        keep.extend(rng.choice(members, size=n, replace=False).tolist())
    return sorted(keep)


def edge_gap(times: Sequence[datetime | None], splits: Sequence[str], minutes: float,
             order: Sequence[str]) -> list[bool]:
    """Which frames to drop so that no two frames of different splits are within
    ``minutes`` (0: no gap): at an edge, the frames of the split earlier in ``order``
    (the larger first) go. Untimed frames are kept. A sorted sweep per split, n log n."""
    if minutes < 0:
        raise LoosenError(f'gap {minutes:g} minutes must be 0 or more, e.g. 1')
    drop = [False] * len(splits)
    if minutes == 0:
        return drop
    kept: list[float] = []  # times of the frames kept so far, in later splits
    for split in reversed(order):
        members = [k for k, s in enumerate(splits) if s == split and times[k] is not None]
        if kept and members:
            ordered = np.sort(np.array(kept))
            gaps, _ = nearest_time(np.array([times[k].timestamp() for k in members]), ordered)
            for k, gap in zip(members, gaps, strict=True):
                drop[k] = bool(gap <= minutes * 60)
        kept += [times[k].timestamp() for k in members if not drop[k]]
    return drop


METHODS = ('time', 'stratified', 'keep')


def split_with_gap(frames: list[Frame], method: str = 'time',
                   fractions: dict[str, float] | None = None, minutes: float = 20.0,
                   seed: int = 0, train_size: int | None = None, gap_minutes: float = 0.0
                   ) -> tuple[list[Frame], list[Frame]]:
    """``split_frames``, and the frames its gap dropped."""
    fractions = fractions or {'train': 0.7, 'val': 0.15, 'test': 0.15}
    labels = [f.cls for f in frames]
    if method == 'time':
        untimed = [f.name for f in frames if f.time is None]
        if untimed:
            raise LoosenError(f'cannot tell the time of {untimed[0]} (and {len(untimed) - 1} '
                              'more); put YYYYMMDD?HHMMSS in the names or time_utc in '
                              'labels.csv, or choose --method stratified')
        splits = time_block_split(labels, [f.time for f in frames], fractions, minutes, seed)
    elif method == 'stratified':
        splits = stratified_split(labels, fractions, seed)
    elif method == 'keep':
        splits = [f.split for f in frames]
        if not all(splits):
            raise LoosenError('--method keep needs a tree with train/ (val/, test/) folders; '
                              'this one is not split yet')
    else:
        raise unknown_name('split method', method, METHODS)
    frames = [replace(f, split=s) for f, s in zip(frames, splits, strict=True)]
    share, rank = Counter(splits), {s: k for k, s in enumerate(fractions)}
    order = sorted(share, key=lambda s: (-share[s], rank.get(s, len(rank)), s))
    drop = edge_gap([f.time for f in frames], splits, gap_minutes, order)
    dropped = [f for f, d in zip(frames, drop, strict=True) if d]
    frames = [f for f, d in zip(frames, drop, strict=True) if not d]
    if train_size is not None:
        train = [i for i, f in enumerate(frames) if f.split == 'train']
        kept = {train[i] for i in subsample([frames[i].cls for i in train], train_size, seed)}
        frames = [f for i, f in enumerate(frames) if f.split != 'train' or i in kept]
    return frames, dropped


def split_frames(frames: list[Frame], method: str = 'time',
                 fractions: dict[str, float] | None = None, minutes: float = 20.0,
                 seed: int = 0, train_size: int | None = None,
                 gap_minutes: float = 0.0) -> list[Frame]:
    """Frames with their split set: ``time`` blocks (the default), ``stratified`` at
    random (only for frames that are not a time series), or ``keep`` the splits they
    have; less, with ``gap_minutes``, the frames within that gap of another split
    (``edge_gap``); then, with ``train_size``, the train split subsampled (stratified,
    seeded)."""
    return split_with_gap(frames, method, fractions, minutes, seed, train_size,
                          gap_minutes)[0]
