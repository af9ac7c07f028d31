"""``loosen bench data``: how fast the synthetic aurora generator draws, how its
frames compare with real ones, and how fast ``data check`` searches for leaks.

Speed: frames of each class drawn at ``--size`` on one core (numpy here runs on one
thread), the classes interleaved in rounds (``timing.measure``); the target is at
least 200 frames/s at 224x224 over the class mix. Likeness: the statistics of
``loosen.data.stats`` for each class, synthetic beside real (the YRS set, brought to
the same size), when the real folder is found (``--real``, ``$LOOSEN_YRS_DIR`` or
``../shared/data/yrs-aurora``). Leak search: ``--leak-frames`` synthetic frames 10 s
apart in pairs (a frame, then its copy with noise, as consecutive sky frames are),
split at random; the time sweep and the hash search timed in rounds, and ``data
check`` on the same frames written to disk, timed once each: with times, without
(hashing every frame), and without again (the hashes from the cache).
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.check import check_tree
from ..data.folder import SPLITS, open_image
from ..data.labels import LabelRow, format_time, write_labels
from ..data.leakage import LeakFrame, PairLeaks, find_leaks
from ..data.phash import phash
from ..data.split import stratified_split
from ..data.stats import format_comparison, sky_statistics
from ..data.synth import CORE_CLASSES, render_frame
from ..data.tree import collect_frames
from ..data.yrs import default_yrs_dir
from ..options import add_out, add_rounds
from ..report import write_report
from .timing import measure

TARGET = 200.0  # frames per second at 224x224 on one core


def _drawer(cls: str, size: int) -> Callable[[], object]:
    frames = itertools.count()
    return lambda: render_frame(cls, next(frames), size, seed=1)


def speed(size: int, rounds: int) -> dict[str, float]:
    """Frames per second for each class, and over the mix of classes."""
    timings = measure({c: _drawer(c, size) for c in CORE_CLASSES}, rounds=rounds, block=0.2)
    rates = {c: 1 / t.seconds for c, t in timings.items()}
    rates['mix'] = len(timings) / sum(t.seconds for t in timings.values())
    return rates


def likeness(real: Path, size: int, per_class: int) -> dict[str, dict[str, float]]:
    """Statistics per class: real frames (up to ``per_class``, evenly spaced in time) and
    as many synthetic ones."""
    frames = collect_frames(real)
    columns = {}
    for cls in CORE_CLASSES:
        paths = sorted((f.path for f in frames if f.cls == cls), key=lambda p: p.name)
        paths = paths[::max(1, len(paths) // per_class)][:per_class]
        if not paths:
            continue
        columns[f'real {cls}'] = sky_statistics(
            np.asarray(open_image(p).convert('L').resize((size, size), Image.BILINEAR))
            for p in paths)
        columns[f'synthetic {cls}'] = sky_statistics(
            render_frame(cls, j, size) for j in range(len(paths)))
    return columns


def leak_night(frames: int, size: int) -> tuple[list[np.ndarray], list[str]]:
    """``frames`` synthetic frames in pairs, a frame then its copy with noise (sigma 2),
    the classes in runs of 30; and their labels."""
    rng = np.random.default_rng(0)
    pixels, labels = [], []
    for k in range(frames):
        cls = CORE_CLASSES[(k // 30) % len(CORE_CLASSES)]
        if k % 2:
            noisy = pixels[-1] + rng.normal(0, 2, pixels[-1].shape)
            pixels.append(np.clip(noisy, 0, 255).astype(np.uint8))
        else:
            pixels.append(render_frame(cls, k // 2, size, seed=1))
        labels.append(cls)
    return pixels, labels


def _leaked(pairs: list[PairLeaks]) -> int:
    return sum(len(p.leaks) for p in pairs)


def _write_night(root: Path, pixels: list[np.ndarray], labels: list[str], splits: list[str],
                 times: list[datetime] | None) -> Path:
    rows = []
    for k, (image, cls, split) in enumerate(zip(pixels, labels, splits, strict=True)):
        (root / split / cls).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / split / cls / f'f{k:06d}.png')
        rows.append(LabelRow(f'f{k:06d}', cls, split, format_time(times[k]) if times else ''))
    write_labels(root / 'labels.csv', rows)
    return root


@contextlib.contextmanager
def _scratch_cache() -> Iterator[Path]:
    """A temporary folder, also ``$LOOSEN_CACHE`` meanwhile: the user's cache stays as it was."""
    before = os.environ.get('LOOSEN_CACHE')
    with tempfile.TemporaryDirectory() as scratch:
        os.environ['LOOSEN_CACHE'] = str(Path(scratch) / 'cache')
        try:
            yield Path(scratch)
        finally:
            if before is None:
                del os.environ['LOOSEN_CACHE']
            else:
                os.environ['LOOSEN_CACHE'] = before


def _timed_check(root: Path, runs: int = 1) -> tuple[float, int]:
    """Seconds of the fastest of ``runs`` checks of ``root``, and the leaking frames."""
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        report = check_tree(root, max_leak=1)
        seconds.append(time.perf_counter() - start)
    return min(seconds), _leaked(report.leaks)


def leak_search(frames: int, size: int, rounds: int) -> tuple[list[str], list[dict]]:
    """The leak search on ``leak_night(frames, size)`` split at random 70/15/15: report
    lines and records."""
    pixels, labels = leak_night(frames, size)
    splits = stratified_split(labels, {'train': 0.7, 'val': 0.15, 'test': 0.15}, seed=0)
    start = time.perf_counter()
    hashes = [phash(Image.fromarray(p).convert('RGB')) for p in pixels]
    hashing = time.perf_counter() - start
    t0 = datetime(2003, 12, 21, 3, 0, tzinfo=timezone.utc)
    times = [t0 + timedelta(seconds=10 * k) for k in range(frames)]
    timed = [LeakFrame(Path(str(k)), s, t.timestamp()) for k, (s, t)
             in enumerate(zip(splits, times, strict=True))]
    untimed = [LeakFrame(Path(str(k)), s, phash=h) for k, (s, h)
               in enumerate(zip(splits, hashes, strict=True))]
    planted = sum(splits[k] != splits[k + 1] for k in range(0, frames - 1, 2))
    search = measure({'time sweep': lambda: find_leaks(timed, SPLITS),
                      'hash search': lambda: find_leaks(untimed, SPLITS)},
                     rounds=rounds, block=0.2)
    by_hash = [leak for pair in find_leaks(untimed, SPLITS) for leak in pair.leaks]
    copies = sum(int(leak.frame.name) // 2 == int(leak.other.name) // 2 for leak in by_hash)
    found = {'time sweep': f'{_leaked(find_leaks(timed, SPLITS))} leaking frames',
             'hash search': f'{len(by_hash)} leaking frames: {copies} of the {planted} '
                            f'copies, {len(by_hash) - copies} other frames as close'}
    steps = [('phash of every frame (once)', hashing, '')]
    steps += [(f'{name}, 3 pairs of splits', t.seconds, found[name])
              for name, t in search.items()]
    with _scratch_cache() as scratch:
        with_times = _write_night(scratch / 'timed', pixels, labels, splits, times)
        without = _write_night(scratch / 'untimed', pixels, labels, splits, None)
        checks = [('data check, with times (decode only)', _timed_check(with_times, 2)),
                  ('data check, no times, hashes computed', _timed_check(without)),
                  ('data check, no times, hashes from the cache', _timed_check(without, 2))]
    steps += [(name, seconds, f'{n} leaking frames') for name, (seconds, n) in checks]
    lines = [f'## Leak search on {frames} synthetic frames ({size}x{size}), split at random',
             '', f'Frames 10 s apart in pairs (a frame, then its copy with noise); {planted} '
             'pairs are cut by the split, each a leak the hash must find. Steps: median of '
             f'{rounds} interleaved rounds; hashing: one run; checks (wall clock, up to 4 '
             'threads): the faster of two runs, but one for the cold cache.', '',
             '| step | seconds | found |', '|---|---:|---|']
    lines += [f'| {name} | {seconds:.3f} | {note} |' for name, seconds, note in steps]
    records = [{'step': name, 'seconds': round(seconds, 4), 'found': note}
               for name, seconds, note in steps]
    return [*lines, ''], records


def run(args: argparse.Namespace) -> int:
    print(f'timing the generator at {args.size}x{args.size} ...', flush=True)
    rates = speed(args.size, args.rounds)
    met = rates['mix'] >= TARGET or args.size != 224
    lines = [f'# Synthetic aurora generator at {args.size}x{args.size}', '',
             'Frames per second on one core, classes interleaved in rounds (median).', '',
             '| class | frames/s |', '|---|---:|']
    lines += [f'| {c} | {r:.0f} |' for c, r in rates.items()]
    verdict = ('met' if met else 'MISSED') if args.size == 224 else 'not measured at this size'
    lines += ['', f'target: >= {TARGET:.0f} frames/s over the mix at 224x224: {verdict}', '']
    records = [{'class': c, 'frames_per_s': round(r, 1)} for c, r in rates.items()]
    real = args.real or default_yrs_dir()
    if real:
        print(f'comparing with {real} ...', flush=True)
        columns = likeness(real, args.size, args.per_class)
        lines += [f'## Synthetic against real frames ({real.name}), {args.size}x{args.size}', '',
                  format_comparison(columns), '']
    else:
        lines += ['(no real folder found: pass --real DIR to compare statistics)', '']
    if args.leak_frames:
        print(f'timing the leak search on {args.leak_frames} frames ...', flush=True)
        leak_lines, leak_records = leak_search(args.leak_frames, args.leak_size, args.rounds)
        lines += leak_lines
    text = '\n'.join(lines)
    print(text)
    if args.out:
        write_report(args.out, 'data', text, records)
        if args.leak_frames:
            write_report(args.out, 'data_leak', '\n'.join(leak_lines), leak_records)
    return 1 if args.strict and not met else 0


def add_parser(benches: argparse._SubParsersAction) -> None:
    p = benches.add_parser('data', help='synthetic aurora: frames/s, and likeness to real',
                           description=__doc__)
    p.add_argument('--size', type=int, default=224, help='frame size (default: 224)')
    add_rounds(p)
    p.add_argument('--real', type=Path, help='real image folder to compare with '
                   '(default: $LOOSEN_YRS_DIR or ../shared/data/yrs-aurora when present)')
    p.add_argument('--per-class', type=int, default=60,
                   help='frames per class in the comparison (default: 60)')
    p.add_argument('--leak-frames', type=int, default=10000,
                   help='frames for the leak search timing (default: 10000; 0: skip it)')
    p.add_argument('--leak-size', type=int, default=64,
                   help='their size in pixels (default: 64)')
    add_out(p, 'data.md and data.csv (and data_leak.md and .csv)')
    p.add_argument('--strict', action='store_true', help='exit 1 when the target is missed')
    p.set_defaults(run=run)
