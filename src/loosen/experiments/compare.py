"""``loosen compare`` and ``loosen demo``: presets of the comparison protocol, models as
cells, trained alike, tested, reported side by side.

Every model gets the same data, seed, epochs, batch size and optimiser; only the model
changes, so with ``mobilenetv1_la`` against ``mobilenetv1_plain`` the one difference is the
LA module at the paper's spot. Each (model, seed) is a classification cell of the grid's
runner (``cells.train_and_test``), scored by the grid's rule (``selection``: by default the
epoch best on val/, on test/); from two seeds on the report shows mean ± std per model and
each model's difference from the baseline paired by seed (``statistics.paired_gain``).
``loosen demo`` is the comparison on a synthetic set it writes first, sized to finish in a
few minutes on two CPU cores.
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

import numpy as np

from ..commands import summary
from ..data import write_synthetic
from ..engine.config import EngineConfig, default_workers
from ..engine.flags import COMPARE_DIR, DefaultsFormatter, add_flags, config_from_args
from ..errors import LoosenError
from ..options import add_out
from ..report import write_report
from .flags import add_protocol_flags
from .selection import SELECTS, check_selection

if TYPE_CHECKING:  # the engine loads torch and timm: only when a comparison runs
    from ..engine.test import TestResult
    from ..engine.train import TrainResult

METRICS = (('accuracy', 'accuracy'), ('macro_f1', 'macro-F1'),
           ('balanced_accuracy', 'balanced accuracy'), ('loss', 'loss'))
SELECT = 'best'  # the preset of compare and demo: the epoch best on val/, scored on test/
PAIRED = (('accuracy', 'accuracy'), ('macro_f1', 'macro-F1'))  # differences over seeds


@dataclass
class Entry:
    """One cell of a comparison (a model and a seed): its training, its test and the wall
    time of both."""

    model: str
    seed: int
    trained: TrainResult
    tested: TestResult
    seconds: float


def compare(models: list[str], base: EngineConfig, out: Path, notes: list[str] | None = None,
            progress: bool | None = None, seeds: list[int] | None = None,
            select: str = SELECT) -> list[Entry]:
    """Train and test each of ``models`` with ``base``'s settings, once per seed (default:
    ``base.seed``), into ``out/<model>/`` (several seeds: ``out/<model>/seed<seed>/``)."""
    from ..engine.data import test_split
    from ..models import resolve_model_name
    from .cells import train_and_test

    names = [resolve_model_name(m) for m in models]  # fail on a bad name before any training
    if len(set(names)) != len(names):
        raise LoosenError(f'--models names a model twice ({", ".join(names)}); give each once')
    seeds = seeds or [base.seed]
    if len(set(seeds)) != len(seeds):
        raise LoosenError(f'--seeds names a seed twice ({", ".join(map(str, seeds))}); give '
                          'each once')
    check_selection(select, test_split(base))
    entries = []
    for seed in seeds:
        for name in names:
            start = time.perf_counter()
            folder = out / name if len(seeds) == 1 else out / name / f'seed{seed}'
            config = dataclasses.replace(base, model=name, seed=seed, output_dir=str(folder),
                                         save_path=None, resume=None, overwrite=True)
            trained, tested = train_and_test(config, select, folder / 'test', notes=notes,
                                             progress=progress)
            entries.append(Entry(name, seed, trained, tested, time.perf_counter() - start))
    return entries


def _row(label: str, values: list[str]) -> str:
    return f'| {label} | ' + ' | '.join(values) + ' |'


def by_model(entries: list[Entry]) -> dict[str, list[Entry]]:
    """The entries of each model, in the order of ``--models``, seeds in their order."""
    found: dict[str, list[Entry]] = {}
    for entry in entries:
        found.setdefault(entry.model, []).append(entry)
    return found


def _mean(values: list[float], digits: int = 4) -> str:
    """One value as it is; several as mean ± std (n-1) over seeds."""
    if len(values) == 1:
        return f'{values[0]:.{digits}f}'
    return f'{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}'


def baseline(names: list[str]) -> str:
    """The model the others are compared with: the one without attention, else the last."""
    return next((n for n in names if n.endswith('_plain')), names[-1])


def over_seeds(runs: dict[str, list[Entry]]) -> list[str]:
    """Each model's paired difference from the baseline, seed by seed, with its interval
    and whether it leaves seed noise; nothing with one seed."""
    names = list(runs)
    seeds = [e.seed for e in runs[names[0]]]
    if len(seeds) < 2 or len(names) < 2:
        return []
    from .statistics import CONFIDENCE, paired_gain, paired_text  # scipy: with two seeds

    base = baseline(names)
    lines = ['', '## Over seeds', '',
             f'Seeds {", ".join(map(str, seeds))}: the tables above show mean ± std over them. '
             f'Difference from `{base}` (points of %), paired by seed, with its '
             f'{CONFIDENCE:.0%} t-interval:', '',
             _row('model', [label for _, label in PAIRED]), '|---|' + '---:|' * len(PAIRED)]
    for name in names:
        if name != base:
            found = [paired_gain(100 * np.array([a.tested.metrics[key] - b.tested.metrics[key]
                                                 for a, b in zip(runs[name], runs[base],
                                                                 strict=True)]))
                     for key, _ in PAIRED]
            lines.append(_row(f'`{name}`', [paired_text(f) for f in found]))
    return lines


def comparison_markdown(entries: list[Entry], base: EngineConfig, preface: str) -> str:
    """The side-by-side table (mean ± std from two seeds on), per-class F1, the paired
    differences over seeds and links to every plot."""
    runs = by_model(entries)
    names, first = list(runs), [found[0] for found in runs.values()]
    several = len(runs[names[0]]) > 1

    def values(get: Any, digits: int = 4) -> list[str]:
        return [_mean([get(e) for e in runs[n]], digits) for n in names]

    split = first[0].tested.split
    lines = [preface, '', f'## {split.capitalize()} split', '',
             _row('', [f'`{n}`' for n in names]), '|---|' + '---:|' * len(names)]
    lines.append(_row('parameters', [f'{e.trained.params:,}' for e in first]))
    for key, label in METRICS:
        lines.append(_row(label, values(lambda e, k=key: e.tested.metrics[k])))
    lines.append(_row(f'{split} images', [str(e.tested.metrics['images']) for e in first]))
    lines.append(_row(f'best epoch (val {base.best_metric})',
                      [', '.join(f'{e.trained.best["epoch"]} of {len(e.trained.history)}'
                                 for e in runs[n]) for n in names]))
    lines.append(_row(f'best val {base.best_metric}',
                      values(lambda e: e.trained.best['value'])))
    lines.append(_row(f'train + {split} time', [_mean([e.seconds for e in runs[n]], 0) + ' s'
                                                for n in names]))
    lines.append(_row('training images/s', values(
        lambda e: sum(r['images_per_s'] for r in e.trained.history) / len(e.trained.history),
        0)))
    classes = list(first[0].tested.metrics['per_class_f1'])
    lines += ['', f'## F1 per class ({split})', '', _row('class', names),
              '|---|' + '---:|' * len(names)]
    for cls in classes:
        lines.append(_row(cls, values(lambda e, c=cls: e.tested.metrics['per_class_f1'][c])))
    lines += over_seeds(runs)
    lines += ['', '## Plots and reports', '']
    for entry in entries:
        run = f'{entry.model}/seed{entry.seed}' if several else entry.model
        lines.append(f'- `{run}`: [training curves]({run}/curves.png), '
                     f'[confusion matrix]({run}/test/confusion_matrix.png), '
                     f'[per-class report]({run}/test/classification_report.txt), '
                     f'[most confident mistakes]({run}/test/mistakes.csv), '
                     f'[training log]({run}/train.log)')
    return '\n'.join(lines) + '\n'


def write_comparison(out: Path, entries: list[Entry], base: EngineConfig, preface: str) -> None:
    records: list[dict[str, Any]] = [
        {'model': e.model, 'seed': e.seed, 'params': e.trained.params,
         **{k: round(e.tested.metrics[k], 6) for k, _ in METRICS},
         'best_epoch': e.trained.best['epoch'], 'epochs_run': len(e.trained.history),
         'seconds': round(e.seconds, 1)} for e in entries]
    write_report(out, 'report', comparison_markdown(entries, base, preface), records)


def _budget(base: EngineConfig, train_images: int, seeds: list[int]) -> str:
    width = base.model_kwargs.get('channel_multiplier')
    size = f'{base.img_size} px' if base.img_size else "each model's default input size"
    seeded = f'seed {seeds[0]}' if len(seeds) == 1 else f'seeds {", ".join(map(str, seeds))}'
    return (f'{base.epochs} epochs of {train_images} training images at {size}, '
            f'batch {base.batch_size}, {base.opt} lr {base.lr:g} ({base.sched}), {seeded}, '
            f'class-balance {base.balance!r}' + (f', width multiplier {width}' if width else ''))


def scoring(entries: list[Entry], select: str) -> str:
    """Which model is scored where, and what the seeds allow one to conclude."""
    seeds = list(dict.fromkeys(e.seed for e in entries))
    scored = f'Scored: {SELECTS[select]}, on {entries[0].tested.split}/.'
    if len(seeds) > 1:
        return (f'{scored} Over {len(seeds)} seeds: mean ± std, and the differences paired by '
                'seed under "Over seeds" say which exceed seed noise.')
    return scored


def run_compare(args: argparse.Namespace) -> int:
    base, notes = config_from_args(args, 'compare')
    out = Path(base.output_dir or COMPARE_DIR)
    entries = compare(args.models, base, out, notes, args.progress, args.seeds, args.select)
    seeds = list(dict.fromkeys(e.seed for e in entries))
    preface = (f'# {" vs ".join(by_model(entries))}\n\nSame data, seed and budget for every '
               f'model: {_budget(base, entries[0].trained.train_images, seeds)}. '
               + (f'{scoring(entries, args.select)}' if len(seeds) > 1 else 'One seed: '
                  'differences of a few points can be noise; repeat with --seeds 0,1,2 '
                  f'before concluding. {scoring(entries, args.select)}'))
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
    entries = compare(list(DEMO_MODELS), base, out, progress=args.progress, seeds=args.seeds,
                      select=args.select)
    spent = time.perf_counter() - start
    counts = json.loads((data / 'synthetic.json').read_text())
    seeds = list(dict.fromkeys(e.seed for e in entries))
    noise = (scoring(entries, args.select) if len(seeds) > 1 else
             'One seed and a few hundred test frames: differences of a few points can be noise; '
             'rerun with `loosen demo --seeds 0,1,2` (or `loosen compare` on your own folders) '
             f'before reading much into them. {scoring(entries, args.select)}')
    preface = (
        '# Demo: MobileNet-v1 with and without Loosen Attention\n\n'
        f'**A small synthetic run**, not the paper\'s experiment: {args.per_class} frames per '
        f'class of the built-in synthetic aurora generator ({", ".join(counts["classes"])}; '
        f'split {counts["split"]}), written to `{data}` in {made:.0f} s. Both models: '
        f'{_budget(base, entries[0].trained.train_images, seeds)}; LA sits after the 11th '
        f'block, on a {args.size // 16}x{args.size // 16} map. Total wall time '
        f'{spent / 60:.1f} min. {noise}')
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
    add_protocol_flags(parser, 'the seeds to train (default: --seed)', SELECT)
    parser.set_defaults(run=run_compare)
    demo = commands.add_parser(
        'demo', help=summary('demo'), description=DEMO, allow_abbrev=False,
        formatter_class=DefaultsFormatter)
    add_out(demo, 'the data, runs and report', default='runs/demo')
    demo.add_argument('--per-class', type=int, default=400, help='synthetic frames per class')
    demo.add_argument('--size', type=int, default=128, help='frame and input size in pixels')
    demo.add_argument('--epochs', type=int, default=EngineConfig.epochs, help='epochs per model')
    demo.add_argument('--batch-size', type=int, default=EngineConfig.batch_size,
                      help='images per batch')
    demo.add_argument('--lr', type=float, default=2e-3, help='peak learning rate')
    demo.add_argument('--width', type=float, default=0.5, help='MobileNet width multiplier')
    demo.add_argument('--seed', type=int, default=0, help='seed of the data and the training')
    demo.add_argument('--num-workers', type=int, default=default_workers(),
                      help='loader processes')
    demo.add_argument('--progress', action=argparse.BooleanOptionalAction, default=None,
                      help='progress bars (default: on a terminal)')
    add_protocol_flags(demo, 'the seeds to train on the one data set (default: --seed)',
                       SELECT)
    demo.set_defaults(run=run_demo)
