"""What a run leaves for a scientist to read: logs, per-epoch metrics, curves, confusion
matrices, predictions and the most confident mistakes.

Training writes ``train.log``, ``config.yaml``, ``metrics.csv`` (one row per epoch) and
``curves.png`` (loss and accuracy). Testing writes ``test.log``,
``classification_report.txt`` (scikit-learn's layout), ``confusion_matrix.csv`` and
``.png`` (counts and row-normalised), ``predictions.csv``, ``mistakes.csv`` and
``metrics.json``. Figures are drawn on matplotlib's object API: no display needed.
"""
from __future__ import annotations

import contextlib
import csv
import json
import logging
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import seaborn as sns
import yaml
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .metrics import confusion, per_class_report

LOGGER = 'loosen.engine'
CURVE_NAMES = {'loss': 'loss', 'accuracy': 'accuracy', 'macro_f1': 'macro-F1'}


@contextlib.contextmanager
def run_log(path: Path | None, console: bool = True) -> Iterator[logging.Logger]:
    """The engine's logger, writing to ``path`` and the console while the block runs.
    ``path=None`` and ``console=False`` (other ranks) log nothing."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handlers: list[logging.Handler] = []
    if path is not None:
        handler = logging.FileHandler(path, mode='a')
        handler.setFormatter(logging.Formatter('%(asctime)s %(message)s', '%Y-%m-%d %H:%M:%S'))
        handlers.append(handler)
    if console:
        handlers.append(logging.StreamHandler(sys.stdout))
    for handler in handlers:
        logger.addHandler(handler)
    try:
        yield logger
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()


def write_rows(path: Path, rows: Sequence[Mapping[str, Any]],
               fields: Sequence[str] | None = None) -> None:
    """Rows as CSV; the header is ``fields``, else the keys of the first row."""
    with path.open('w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(fields or rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline='') as f:
        return list(csv.DictReader(f))


def run_title(run_dir: Path) -> str:
    """What a training run is, from its ``config.yaml``: the model and the data's folder."""
    path = run_dir / 'config.yaml'
    if not path.is_file():
        return run_dir.name
    config = yaml.safe_load(path.read_text())
    folder = config.get('data_root') or config.get('train_dir')
    data = (Path(folder).name if folder else 'synthetic aurora' if config['data'] == 'synthetic'
            else config['data'])
    return f'{config["model"]} on {data}'


def plot_curves(history: Sequence[Mapping[str, float]], path: Path) -> None:
    """``curves_figure`` saved at ``path``, titled by the run's model and data (its
    ``config.yaml`` beside ``path``)."""
    curves_figure(history, run_title(path.parent)).savefig(path, dpi=110)


def curves_figure(history: Sequence[Mapping[str, float]], run: str) -> Figure:
    """Loss (train and val) and accuracy (train, val, val macro-F1) against whole epochs."""
    epochs = [row['epoch'] for row in history]
    fig = Figure(figsize=(10, 4.3), layout='constrained')
    loss, acc = fig.subplots(1, 2)
    for ax, keys, title in ((loss, ('train_loss', 'val_loss'), 'loss (cross-entropy)'),
                            (acc, ('train_accuracy', 'val_accuracy', 'val_macro_f1'),
                             'accuracy and macro-F1')):
        for key in keys:
            split, metric = key.split('_', 1)
            ax.plot(epochs, [row[key] for row in history], marker='o', ms=3,
                    label=f'{CURVE_NAMES[metric]} on {split}/')
        ax.set_xlabel('epoch')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    acc.set_ylim(0, 1)
    fig.suptitle(f'Training curves: {run}')
    return fig


def confusion_figure(matrix: np.ndarray, classes: list[str], title: str) -> Figure:
    """Two heatmaps under ``title`` (model and split): counts, and each row divided by its
    class's count (recall on the diagonal), each with its labelled colour bar."""
    rows = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    fig = Figure(figsize=(12, 4.8), layout='constrained')
    for ax, values, fmt, name, top in zip(fig.subplots(1, 2), (matrix, rows), ('d', '.2f'),
                                          ('images', 'share of the true class'),
                                          (None, 1), strict=True):
        sns.heatmap(values, annot=True, fmt=fmt, cmap='Blues', square=True, vmin=0, vmax=top,
                    xticklabels=classes, yticklabels=classes, ax=ax,
                    cbar_kws={'label': name, 'shrink': 0.8})
        ax.set_xlabel('predicted class')
        ax.set_ylabel('true class')
        ax.tick_params(axis='y', labelrotation=0)
        ax.set_title('counts' if fmt == 'd' else 'row-normalised (recall on the diagonal)')
    fig.suptitle(f'Confusion matrix: {title}')
    return fig


def prediction_rows(ids: Sequence[str], probs: np.ndarray, classes: list[str],
                    targets: Sequence[int]) -> list[dict[str, Any]]:
    """One row per image: id, true and predicted class, confidence and every probability."""
    predicted = probs.argmax(1)
    return [{'id': name, 'true': classes[t], 'predicted': classes[p],
             'confidence': round(float(row[p]), 6), 'correct': int(t == p),
             **{f'p_{c}': round(float(v), 6) for c, v in zip(classes, row, strict=True)}}
            for name, t, p, row in zip(ids, targets, predicted, probs, strict=True)]


def write_test_reports(out: Path, classes: list[str], ids: Sequence[str],
                       targets: Sequence[int], probs: np.ndarray, metrics: Mapping[str, Any],
                       mistakes: int) -> list[dict[str, Any]]:
    """Every test report file in ``out``; returns the ``mistakes`` most confident errors."""
    targets_np, predicted = np.asarray(targets), probs.argmax(1)
    (out / 'classification_report.txt').write_text(
        per_class_report(targets_np, predicted, classes))
    matrix = confusion(targets_np, predicted, len(classes))
    write_rows(out / 'confusion_matrix.csv',
               [{'true': c, **{p: int(n) for p, n in zip(classes, row, strict=True)}}
                for c, row in zip(classes, matrix, strict=True)])
    confusion_figure(matrix, classes, f'{metrics["model"]} on {metrics["split"]}/ '
                     f'({len(targets)} images, accuracy {metrics["accuracy"]:.3f})'
                     ).savefig(out / 'confusion_matrix.png', dpi=110)
    rows = prediction_rows(ids, probs, classes, targets)
    write_rows(out / 'predictions.csv', rows)
    wrong = sorted((r for r in rows if not r['correct']), key=lambda r: -r['confidence'])
    fields = ('id', 'true', 'predicted', 'confidence')
    worst = [{k: r[k] for k in fields} for r in wrong[:mistakes]]
    write_rows(out / 'mistakes.csv', worst, fields)
    (out / 'metrics.json').write_text(json.dumps(dict(metrics), indent=2) + '\n')
    return worst
