"""``loosen train``, ``loosen test``, ``loosen predict``, ``loosen compare``, ``loosen demo``.

``python -m loosen.train`` and ``python -m loosen.test`` are ``loosen train`` and
``loosen test``: they take the seed's command lines as written (see ``flags.py``).
"""
from __future__ import annotations

import argparse

from ..commands import summary
from .flags import DefaultsFormatter, add_flags, config_from_args

DESCRIPTIONS = {
    'train': 'Train a classifier on an image folder (or the synthetic aurora set). Accepts '
             "the seed's classification, RMT and ViT command lines.",
    'test': 'Evaluate a checkpoint on a labelled split: per-class report, confusion matrix, '
            'predictions and the most confident mistakes.',
    'predict': 'Classify image files or folders with a checkpoint: top-k classes to a CSV.',
}


def run_train(args: argparse.Namespace) -> int:
    from .train import train  # torch and timm: only once a command runs

    config, notes = config_from_args(args, 'train')
    result = train(config, notes, progress=args.progress)
    best = result.best
    print(f'best val {best["metric"]} {best["value"]:.4f} at epoch {best["epoch"]}; '
          f'checkpoint {result.best_path}; reports in {result.run_dir}')
    return 0


def run_test(args: argparse.Namespace) -> int:
    from .test import run_test

    config, notes = config_from_args(args, 'test')
    result = run_test(config, notes, progress=args.progress)
    m = result.metrics
    print(f'{result.split}: accuracy {m["accuracy"]:.4f}, macro-F1 {m["macro_f1"]:.4f}, '
          f'balanced accuracy {m["balanced_accuracy"]:.4f}; reports in {result.out_dir}')
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from .predict import predict

    config, notes = config_from_args(args, 'predict')
    for note in notes:
        print(f'note: {note}')
    result = predict(config, args.paths, args.output, progress=args.progress)
    skipped = f'; skipped {len(result.skipped)} unreadable' if result.skipped else ''
    print(f'wrote {len(result.rows)} predictions to {result.output}{skipped}')
    return 0


RUNS = {'train': run_train, 'test': run_test, 'predict': run_predict}


def add_parser(commands: argparse._SubParsersAction) -> None:
    for command, run in RUNS.items():
        parser = commands.add_parser(
            command, help=summary(command),
            description=DESCRIPTIONS[command], allow_abbrev=False,
            formatter_class=DefaultsFormatter)
        add_flags(parser, command)
        parser.set_defaults(run=run)
