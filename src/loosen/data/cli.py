"""``loosen data``: make, import, split, check and preview image folders."""
from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from ..commands import summary
from ..errors import LoosenError
from .check import check_tree, counts_table, format_report
from .folder import SPLITS
from .leakage import HASH_DISTANCE, LEAK_SECONDS, MAX_LEAK
from .split import METHODS, parse_fractions, split_with_gap
from .synth import CORE_CLASSES, SKY_CLASSES, write_synthetic
from .synth_det import DET_CLASSES, write_detection
from .tree import Frame, collect_frames, write_tree
from .yrs import import_yrs


def _fractions(text: str) -> dict[str, float]:
    try:
        return parse_fractions(text)
    except LoosenError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _share(text: str) -> float:
    """'1%' or '0.01' -> 0.01."""
    try:
        value = float(text[:-1]) / 100 if text.endswith('%') else float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f'{text!r} is not a share like 1% or 0.01')
    return value


def _classes(text: str) -> list[str]:
    return [c.strip() for c in text.split(',') if c.strip()]


def _summary(frames: list[Frame], out: Path) -> str:
    counts: dict[str, Counter] = {}
    for frame in frames:
        counts.setdefault(frame.split, Counter())[frame.cls] += 1
    classes = sorted({f.cls for f in frames})
    order = {s: k for k, s in enumerate(SPLITS)}
    counts = dict(sorted(counts.items(), key=lambda item: (order.get(item[0], 9), item[0])))
    return f'wrote {len(frames)} images to {out}\n' + counts_table(counts, classes)


def _dropped(dropped: list[Frame], minutes: float) -> str:
    """'dropped 12 frames within 1 min of another split (--gap-minutes): arc 9, radial 3'."""
    if not minutes:
        return 'no gap at block edges (--gap-minutes 0): `data check` may find leaks there'
    per_class = Counter(f.cls for f in dropped)
    classes = ', '.join(f'{c} {n}' for c, n in sorted(per_class.items()))
    return (f'dropped {len(dropped)} frames within {minutes:g} min of another split '
            f'(--gap-minutes){": " + classes if dropped else ""}')


def run_synth(args: argparse.Namespace) -> int:
    out = write_synthetic(args.out, args.per_class, args.size, args.seed, args.classes,
                          args.split)
    print(_summary(collect_frames(out), out))
    return 0


def run_synth_det(args: argparse.Namespace) -> int:
    spec = write_detection(args.out, args.images, args.size, args.seed, args.split,
                           args.max_objects)
    print(f'wrote {args.images} frames with boxes of {", ".join(DET_CLASSES)}; '
          f'YOLOv5 reads {spec}')
    return 0


def run_preview(args: argparse.Namespace) -> int:
    from .preview import preview  # matplotlib: only for this command

    print(f'wrote {preview(args.dir, args.out, args.per_class, args.seed, args.split)}')
    return 0


def run_import_yrs(args: argparse.Namespace) -> int:
    done = import_yrs(args.labels, args.images, args.out, args.split, args.block_minutes,
                      args.seed, args.copy, args.skip_missing, args.gap_minutes)
    print(_summary(done.frames, args.out))
    print(_dropped(done.dropped, args.gap_minutes))
    if done.missing:
        print(f'skipped {len(done.missing)} labelled frames without an image '
              f'(first: {done.missing[0]})')
    return 0


def run_split(args: argparse.Namespace) -> int:
    frames, dropped = split_with_gap(collect_frames(args.src), args.method, args.split,
                                     args.block_minutes, args.seed, args.train_size,
                                     args.gap_minutes)
    write_tree(frames, args.out, args.copy)
    print(_summary(frames, args.out))
    print(_dropped(dropped, args.gap_minutes))
    return 0


def run_check(args: argparse.Namespace) -> int:
    report = check_tree(args.dir, args.workers, args.leak_seconds, args.hash_distance,
                        args.max_leak)
    print(format_report(report, args.worst))
    return 0 if report.ok else 1


def _add_split_options(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument('--split', type=_fractions, default=parse_fractions(default),
                   metavar='NAME=F,...', help=f'split fractions (default: {default})')
    p.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')


def _add_tree_options(p: argparse.ArgumentParser) -> None:
    p.add_argument('--block-minutes', type=float, default=20.0,
                   help='time-block length: each block goes wholly to one split (default: 20)')
    p.add_argument('--gap-minutes', type=float, default=LEAK_SECONDS / 60,
                   help='drop the frames within this many minutes of another split, at block '
                        f'edges, from the larger split (default: {LEAK_SECONDS / 60:g}, the '
                        '`data check` window; 0: no gap)')
    p.add_argument('--copy', action='store_true',
                   help='copy the images (default: hard-link them where possible)')


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser('data', help=summary('data'),
                                 description=__doc__)
    sub = parser.add_subparsers(dest='data_command', metavar='ACTION', required=True)

    p = sub.add_parser('synth', help='write a synthetic all-sky aurora image folder',
                       description='Write OUT/<split>/<class>/*.png: synthetic all-sky frames, '
                                   'the same bytes for the same seed.')
    p.add_argument('out', type=Path, help='new output folder')
    p.add_argument('--per-class', type=int, default=250, help='frames per class (default: 250)')
    p.add_argument('--size', type=int, default=224, help='frame size in pixels (default: 224)')
    p.add_argument('--classes', type=_classes, default=list(CORE_CLASSES),
                   help=f'comma-separated, from {",".join(SKY_CLASSES)} '
                        f'(default: {",".join(CORE_CLASSES)})')
    _add_split_options(p, 'train=0.7,val=0.15,test=0.15')
    p.set_defaults(run=run_synth)

    p = sub.add_parser('synth-det', help='write a synthetic detection set for YOLOv5',
                       description='Write images/, labels/ (YOLO boxes) and dataset.yaml.')
    p.add_argument('out', type=Path, help='new output folder')
    p.add_argument('--images', type=int, default=500, help='frames in all (default: 500)')
    p.add_argument('--size', type=int, default=640, help='frame size in pixels (default: 640)')
    p.add_argument('--max-objects', type=int, default=6, help='objects per frame, at most '
                   '(default: 6)')
    _add_split_options(p, 'train=0.8,val=0.2')
    p.set_defaults(run=run_synth_det)

    p = sub.add_parser('preview', help='draw a sheet of sample images per class')
    p.add_argument('dir', type=Path, help='image folder (split or flat)')
    p.add_argument('--out', type=Path, required=True, help='sheet to write (.png)')
    p.add_argument('--per-class', type=int, default=6, help='images per class (default: 6)')
    p.add_argument('--split', help='only this split (default: all)')
    p.add_argument('--seed', type=int, default=0, help='which images (default: 0)')
    p.set_defaults(run=run_preview)

    p = sub.add_parser('import-yrs', help='import YRS labels and frames as an image folder',
                       description='LABELS lists "NAME label" (1=arc 2=drapery 3=radial '
                                   '4=hotspot); frames are split by time blocks.')
    p.add_argument('labels', type=Path, help='YRS label file')
    p.add_argument('images', type=Path, help='folder holding the frames (searched recursively)')
    p.add_argument('out', type=Path, help='new output folder')
    _add_split_options(p, 'train=0.7,val=0.15,test=0.15')
    _add_tree_options(p)
    p.add_argument('--skip-missing', action='store_true',
                   help='import what is there when some labelled frames have no image')
    p.set_defaults(run=run_import_yrs)

    p = sub.add_parser('split', help='split an image folder by time blocks (or stratified)',
                       description='Re-split SRC (split or flat) into OUT. Times come from '
                                   'labels.csv or the file names.')
    p.add_argument('src', type=Path, help='image folder to split')
    p.add_argument('out', type=Path, help='new output folder')
    p.add_argument('--method', choices=METHODS, default='time',
                   help='time blocks (default); stratified at random, only for frames that '
                        'are not a time series; keep the existing splits')
    p.add_argument('--train-size', type=int,
                   help='subsample train to this many images (stratified, seeded), e.g. 4000')
    _add_split_options(p, 'train=0.7,val=0.15,test=0.15')
    _add_tree_options(p)
    p.set_defaults(run=run_split)

    p = sub.add_parser('check', help='check an image folder before training',
                       description='Counts, sizes, modes, unreadable files, duplicates and '
                                   'near-duplicates across splits (frames close in time, or '
                                   'in perceptual hash where a time is unknown), missing '
                                   'class folders; exit 1 on problems.')
    p.add_argument('dir', type=Path, help='image folder with train/ (val/, test/)')
    p.add_argument('--workers', type=int, help='decoding threads (default: up to 4)')
    p.add_argument('--leak-seconds', type=float, default=LEAK_SECONDS,
                   help='frames of two splits this close in time are near-duplicates '
                        f'(default: {LEAK_SECONDS:g}; times from labels.csv or the names)')
    p.add_argument('--hash-distance', type=int, default=HASH_DISTANCE,
                   help='where a time is unknown: frames whose 64-bit perceptual hashes differ '
                        f'in this many bits or fewer are near-duplicates (default: '
                        f'{HASH_DISTANCE}); hashes are cached in $LOOSEN_CACHE/phash '
                        '(default ~/.cache/loosen/phash)')
    p.add_argument('--max-leak', type=_share, default=MAX_LEAK,
                   help='error when more of a val/test split leaks (default: '
                        f'{MAX_LEAK * 100:g}%%; give 1%% or 0.01)')
    p.add_argument('--worst', type=int, default=5,
                   help='closest pairs to show per pair of splits (default: 5)')
    p.set_defaults(run=run_check)
