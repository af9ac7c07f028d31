"""Near-duplicate frames across splits: the leak search of ``loosen data check``.

All-sky cameras take a frame every few seconds, so a frame of val or test whose
neighbour in time is in train is, to the model, a training frame. A frame of a later
split (val, then test) leaks when an earlier split holds a frame captured within
``seconds`` of it or, where either time is unknown, a frame whose perceptual hash is
within ``distance`` bits of its own (``phash``).

Times are searched by a sorted sweep: each frame is placed among the other split's
sorted times by binary search and only its two neighbours are compared (n log n).
Hashes are compared as packed 64-bit words, XOR and popcount, one block of frames
against all of the other split at a time (numpy; no Python loop over pairs).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

LEAK_SECONDS = 60.0  # the window: frames closer than this are near-duplicates
HASH_DISTANCE = 4    # bits of a 64-bit phash
MAX_LEAK = 0.01      # share of a split's frames allowed to leak
_BLOCK_BYTES = 1 << 24  # XOR block of the hash search: 16 MiB


@dataclass(frozen=True)
class LeakFrame:
    """What the search needs of a frame: its split, capture time and hash, if known."""

    path: Path
    split: str
    time: float | None = None  # seconds since the epoch
    phash: int | None = None


@dataclass(frozen=True)
class Leak:
    """A frame of the later split and its nearest frame in the earlier one."""

    frame: Path
    other: Path
    seconds: float | None = None  # apart in time, when both times are known
    distance: int | None = None   # hash distance, when found by hash


@dataclass
class PairLeaks:
    """The leaks from one split into a later one."""

    earlier: str
    later: str
    frames: int  # frames of the later split
    by_time: bool  # whether any pair was compared by time, and by hash
    by_hash: bool
    leaks: list[Leak] = field(default_factory=list)  # closest first

    @property
    def share(self) -> float:
        return len(self.leaks) / max(self.frames, 1)


def nearest_time(query: np.ndarray, ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``query`` (seconds), the gap to the nearest of ``ordered`` (sorted
    seconds, not empty) and that one's index: a binary search per query."""
    right = np.clip(np.searchsorted(ordered, query), 0, len(ordered) - 1)
    left = np.clip(right - 1, 0, len(ordered) - 1)
    to_left, to_right = np.abs(query - ordered[left]), np.abs(ordered[right] - query)
    take_right = to_right < to_left
    return np.where(take_right, to_right, to_left), np.where(take_right, right, left)


def nearest_hash(query: np.ndarray, refs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``query`` (uint64 hashes), the fewest bits it differs from any of
    ``refs`` (uint64, not empty) and that one's index."""
    rows = max(1, _BLOCK_BYTES // (8 * len(refs)))
    distance = np.empty(len(query), np.int64)
    index = np.empty(len(query), np.int64)
    for start in range(0, len(query), rows):
        bits = np.bitwise_count(query[start:start + rows, None] ^ refs[None, :])  # (rows, refs)
        index[start:start + rows] = best = bits.argmin(1)
        distance[start:start + rows] = bits[np.arange(len(best)), best]
    return distance, index


def _times(frames: Sequence[LeakFrame]) -> np.ndarray:
    return np.array([f.time for f in frames], np.float64)


def _hashes(frames: Sequence[LeakFrame]) -> np.ndarray:
    return np.array([f.phash for f in frames], np.uint64)


def pair_leaks(earlier: Sequence[LeakFrame], later: Sequence[LeakFrame],
               seconds: float = LEAK_SECONDS, distance: int = HASH_DISTANCE) -> PairLeaks:
    """The frames of ``later`` with a near-duplicate in ``earlier`` (both not empty): by
    time where both frames have one, else by hash (frames without a hash: not by hash)."""
    found: dict[int, Leak] = {}  # index in later -> its closest leak
    timed = [f for f in earlier if f.time is not None]
    queries = [k for k, f in enumerate(later) if f.time is not None]
    by_time = bool(timed and queries)
    if by_time:
        order = np.argsort(_times(timed), kind='stable')
        ordered = _times(timed)[order]
        gaps, nearest = nearest_time(_times([later[k] for k in queries]), ordered)
        for k, gap, j in zip(queries, gaps, nearest, strict=True):
            if gap <= seconds:
                found[k] = Leak(later[k].path, timed[order[j]].path, seconds=float(gap))
    by_hash = False
    for refs, query_timed in (([f for f in earlier if f.time is None], True), (earlier, False)):
        refs = [f for f in refs if f.phash is not None]
        queries = [k for k, f in enumerate(later) if (f.time is not None) == query_timed
                   and f.phash is not None and k not in found]
        if not (refs and queries):
            continue
        by_hash = True
        bits, nearest = nearest_hash(_hashes([later[k] for k in queries]), _hashes(refs))
        for k, d, j in zip(queries, bits, nearest, strict=True):
            if d <= distance:
                found[k] = Leak(later[k].path, refs[j].path, distance=int(d))
    leaks = sorted(found.values(), key=lambda leak: (
        leak.seconds / max(seconds, 1e-9) if leak.seconds is not None
        else leak.distance / max(distance, 1e-9), str(leak.frame)))
    return PairLeaks(earlier[0].split, later[0].split, len(later), by_time, by_hash, leaks)


def hash_needed(frames: Sequence[LeakFrame]) -> list[bool]:
    """Which frames some pair of splits compares by hash: the untimed ones, and every
    frame of a split when another split has an untimed frame."""
    untimed = {f.split for f in frames if f.time is None}
    return [f.time is None or bool(untimed - {f.split}) for f in frames]


def find_leaks(frames: Sequence[LeakFrame], splits: Sequence[str],
               seconds: float = LEAK_SECONDS, distance: int = HASH_DISTANCE) -> list[PairLeaks]:
    """Leaks for every pair of ``splits`` (earlier, later) that both have frames."""
    by_split = {s: [f for f in frames if f.split == s] for s in splits}
    present = [s for s in splits if by_split[s]]
    return [pair_leaks(by_split[a], by_split[b], seconds, distance)
            for i, a in enumerate(present) for b in present[i + 1:]]
