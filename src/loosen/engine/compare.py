"""``loosen compare`` and ``loosen demo``: models trained alike, tested, reported side by side.

Every model gets the same data, seed, epochs, batch size and optimiser; only the model
changes, so with ``mobilenetv1_la`` against ``mobilenetv1_plain`` the one difference is the
LA module at the paper's spot. ``loosen demo`` is the comparison on a synthetic set it
writes first, sized to finish in a few minutes on two CPU cores.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bench.report import write_report
from ..commands import summary
from ..data import write_synthetic
from ..errors import LoosenError
from .config import EngineConfig, default_workers
from .flags import COMPARE_DIR, DefaultsFormatter, add_flags, config_from_args

if TYPE_CHECKING:  # the engine loads torch and timm: only when a comparison runs
    from .test import TestResult
    from .train import TrainResult

METRICS = (('accuracy', 'accuracy'), ('macro_f1', 'macro-F1'),
           ('balanced_accuracy', 'balanced accuracy'), ('loss', 'loss'))


@dataclass
class Entry:
    """One model of a comparison: its training, its test and the wall time of both."""

    model: str
    trained: TrainResult
    tested: TestResult
    seconds: float


def compare(models: list[str], base: EngineConfig, out: Path, notes: list[str] | None = None,
            progress: bool | None = None) -> list[Entry]:
    """Train and test each of ``models`` with ``base``'s settings into ``out/<model>/``."""
    from ..models import resolve_model_name
    from .test import run_test
    from .train import train

    names = [resolve_model_name(m) for m in models]  # fail on a bad name before any training
    if len(set(names)) != len(names):
        raise LoosenError(f'--models names a model twice ({", ".join(names)}); give each once')
    entries = []
    for name in names:
        start = time.perf_counter()
        config = dataclasses.replace(base, model=name, output_dir=str(out / name),
                                     save_path=None, resume=None, overwrite=True)
        trained = train(config, notes, progress=progress)
        tested = run_test(dataclasses.replace(config, checkpoint=str(trained.best_path),
                                              output_dir=str(out / name / 'test')),
                          progress=progress)
        entries.append(Entry(name, trained, tested, time.perf_counter() - start))
    return entries


def _row(label: str, values: list[str]) -> str:
    return f'| {label} | ' + ' | '.join(values) + ' |'


def comparison_markdown(entries: list[Entry], base: EngineConfig, preface: str) -> str:
    """The side-by-side table, per-class F1 and links to every plot."""
    names = [e.model for e in entries]
    lines = [preface, '', '## Test split', '', _row('', [f'`{n}`' for n in names]),
             '|---|' + '---:|' * len(names)]
    lines.append(_row('parameters', [f'{e.trained.params:,}' for e in entries]))
    for key, label in METRICS:
        lines.append(_row(label, [f'{e.tested.metrics[key]:.4f}' for e in entries]))
    lines.append(_row('test images', [str(e.tested.metrics['images']) for e in entries]))
    lines.append(_row(f'best epoch (val {base.best_metric})',
                      [f'{e.trained.best["epoch"]} of {len(e.trained.history)}' for e in entries]))
    lines.append(_row(f'best val {base.best_metric}',
                      [f'{e.trained.best["value"]:.4f}' for e in entries]))
    lines.append(_row('train + test time', [f'{e.seconds:.0f} s' for e in entries]))
    speed = [sum(r['images_per_s'] for r in e.trained.history) / len(e.trained.history)
             for e in entries]
    lines.append(_row('training images/s', [f'{s:.0f}' for s in speed]))
    classes = list(entries[0].tested.metrics['per_class_f1'])
    lines += ['', '## F1 per class (test)', '', _row('class', names),
              '|---|' + '---:|' * len(names)]
    for cls in classes:
        lines.append(_row(cls, [f'{e.tested.metrics["per_class_f1"][cls]:.4f}'
                                for e in entries]))
    lines += ['', '## Plots and reports', '']
    for name in names:
        lines.append(f'- `{name}`: [training curves]({name}/curves.png), '
                     f'[confusion matrix]({name}/test/confusion_matrix.png), '
                     f'[per-class report]({name}/test/classification_report.txt), '
                     f'[most confident mistakes]({name}/test/mistakes.csv), '
                     f'[training log]({name}/train.log)')
    return '\n'.join(lines) + '\n'


def write_comparison(out: Path, entries: list[Entry], base: EngineConfig, preface: str) -> None:
    records: list[dict[str, Any]] = [
        {'model': e.model, 'params': e.trained.params,
         **{k: round(e.tested.metrics[k], 6) for k, _ in METRICS},
         'best_epoch': e.trained.best['epoch'], 'epochs_run': len(e.trained.history),
         'seconds': round(e.seconds, 1)} for e in entries]
    write_report(out, 'report', comparison_markdown(entries, base, preface), records)


def _budget(base: EngineConfig, train_images: int) -> str:
    width = base.model_kwargs.get('channel_multiplier')
    return (f'{base.epochs} epochs of {train_images} training images at {base.img_size} px, '
            f'batch {base.batch_size}, {base.opt} lr {base.lr:g} ({base.sched}), seed '
            f'{base.seed}, class-balance {base.balance!r}'
            + (f', width multiplier {width}' if width else ''))


def run_compare(args: argparse.Namespace) -> int:
    base, notes = config_from_args(args, 'compare')
    out = Path(base.output_dir or COMPARE_DIR)
    entries = compare(args.models, base, out, notes, args.progress)
    preface = (f'# {" vs ".join(e.model for e in entries)}\n\nSame data, seed and budget for '
               f'every model: {_budget(base, entries[0].trained.train_images)}. One seed: '
               'differences of a few points can be noise; repeat with other --seed values '
               'before concluding.')
    write_comparison(out, entries, base, preface)
    return 0


# the demo: a synthetic set and a budget that finish in minutes on two CPU cores
DEMO_MODELS = ('mobilenetv1_la', 'mobilenetv1_plain')


def demo_data(out: Path, per_class: int, size: int, seed: int) -> Path:
    """The demo's synthetic ImageFolder tree, written once and reused while its settings hold."""
    data = out / 'data'
    wanted = {'per_class': per_class, 'size': size, 'seed': seed}
    meta = data / 'synthetic.json'
    if meta.is_file():
        found = json.loads(meta.read_text())
        if all(found.get(k) == v for k, v in wanted.items()):
            return data
        shutil.rmtree(data)  # the demo's own earlier set, with other settings
    elif data.exists():
        raise LoosenError(f'{data} exists but is not a synthetic set the demo wrote; move it or '
                          'give another --out')
    return write_synthetic(data, per_class, size, seed)


def run_demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    start = time.perf_counter()
    data = demo_data(out, args.per_class, args.size, args.seed)
    made = time.perf_counter() - start
    base = EngineConfig(data='folder', data_root=str(data), img_size=args.size,
                        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                        model_kwargs={'channel_multiplier': args.width}, seed=args.seed,
                        num_workers=args.num_workers)
    entries = compare(list(DEMO_MODELS), base, out, progress=args.progress)
    spent = time.perf_counter() - start
    counts = json.loads((data / 'synthetic.json').read_text())
    preface = (
        '# Demo: MobileNet-v1 with and without Loosen Attention\n\n'
        f'**A small synthetic run**, not the paper\'s experiment: {args.per_class} frames per '
        f'class of the built-in synthetic aurora generator ({", ".join(counts["classes"])}; '
        f'split {counts["split"]}), written to `{data}` in {made:.0f} s. Both models: '
        f'{_budget(base, entries[0].trained.train_images)}; LA sits after the 11th block, on a '
        f'{args.size // 16}x{args.size // 16} map. Total wall time {spent / 60:.1f} min. '
        'One seed and a few hundred test frames: differences of a few points can be noise; '
        'rerun with `loosen demo --seed 1` (or `loosen compare` on your own folders) before '
        'reading much into them.')
    write_comparison(out, entries, base, preface)
    return 0


COMPARE = (f'Train and test several models alike (the same data, seed, epochs, batch size '
           f'and optimiser: only the model changes), then report them side by side in '
           f'{COMPARE_DIR}/report.md (--output-dir elsewhere), each model\'s run, test and '
           'plots in a folder of its name beside it.')
DEMO = ('The comparison on built-in data: mobilenetv1_la against mobilenetv1_plain on a '
        'synthetic aurora set it writes first, sized to finish in a few minutes on two CPU '
        'cores; the report is OUT/report.md.')


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        'compare', help=summary('compare'), description=COMPARE, allow_abbrev=False,
        formatter_class=DefaultsFormatter)
    parser.add_argument('--models', nargs='+', required=True,
                        help='e.g. mobilenetv1_la mobilenetv1_plain mobilenetv1_cbam')
    add_flags(parser, 'compare')
    parser.set_defaults(run=run_compare)
    demo = commands.add_parser(
        'demo', help=summary('demo'), description=DEMO, allow_abbrev=False,
        formatter_class=DefaultsFormatter)
    demo.add_argument('--out', default='runs/demo', help='where the data, runs and report go')
    demo.add_argument('--per-class', type=int, default=400, help='synthetic frames per class')
    demo.add_argument('--size', type=int, default=128, help='frame and input size in pixels')
    demo.add_argument('--epochs', type=int, default=20, help='epochs per model')
    demo.add_argument('--batch-size', type=int, default=32, help='images per batch')
    demo.add_argument('--lr', type=float, default=2e-3, help='peak learning rate')
    demo.add_argument('--width', type=float, default=0.5, help='MobileNet width multiplier')
    demo.add_argument('--seed', type=int, default=0, help='seed of the data and the training')
    demo.add_argument('--num-workers', type=int, default=default_workers(),
                      help='loader processes')
    demo.add_argument('--progress', action=argparse.BooleanOptionalAction, default=None,
                      help='progress bars (default: on a terminal)')
    demo.set_defaults(run=run_demo)
