"""``loosen bench data``: how fast the synthetic aurora generator draws, and how its
frames compare with real ones.

Speed: frames of each class drawn at ``--size`` on one core (numpy here runs on one
thread), the classes interleaved in rounds (``timing.measure``); the target is at
least 200 frames/s at 224x224 over the class mix. Likeness: the statistics of
``loosen.data.stats`` for each class, synthetic beside real (the YRS set, brought to
the same size), when the real folder is found (``--real``, ``$LOOSEN_YRS_DIR`` or
``../shared/data/yrs-aurora``).
"""
from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.folder import open_image
from ..data.stats import format_comparison, sky_statistics
from ..data.synth import CORE_CLASSES, render_frame
from ..data.tree import collect_frames
from ..data.yrs import default_yrs_dir
from .report import write_report
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
    text = '\n'.join(lines)
    print(text)
    if args.out:
        write_report(args.out, 'data', text, records)
    return 1 if args.strict and not met else 0


def add_parser(benches: argparse._SubParsersAction) -> None:
    p = benches.add_parser('data', help='synthetic aurora: frames/s, and likeness to real',
                           description=__doc__)
    p.add_argument('--size', type=int, default=224, help='frame size (default: 224)')
    p.add_argument('--rounds', type=int, default=7, help='interleaved rounds (default: 7)')
    p.add_argument('--real', type=Path, help='real image folder to compare with '
                   '(default: $LOOSEN_YRS_DIR or ../shared/data/yrs-aurora when present)')
    p.add_argument('--per-class', type=int, default=60,
                   help='frames per class in the comparison (default: 60)')
    p.add_argument('--out', type=Path, help='write data.md and data.csv here')
    p.add_argument('--strict', action='store_true', help='exit 1 when the target is missed')
    p.set_defaults(run=run)
