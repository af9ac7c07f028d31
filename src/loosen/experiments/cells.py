"""One cell of a grid: train, test, and the cell's row of ``results.csv``.

Classification cells train through the engine (``loosen train``) on their regime's subset
and test the model the spec's ``select`` names (``selection``: the model after the last
epoch, a fixed budget, or the epoch best on val/ where test/ is reported); a killed cell
resumes from its ``last.pth``. Detection cells train and validate through the YOLOv5
integration (``GridSpec.detector``, by default ``loosen.yolo.cells.detection``) and start
again when killed. Whatever a cell
raises is recorded in its row, so one failure does not stop the grid.
"""
from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .._lazy import resolve
from ..atomic import write_json
from ..engine.config import EngineConfig
from ..engine.test import TestResult, run_test
from ..engine.train import TrainResult, train
from .regimes import subset_info
from .selection import chosen_checkpoint
from .spec import GIVEN, Cell, GridSpec

CellRunner = Callable[[GridSpec, Cell], dict[str, Any]]


def engine_config(spec: GridSpec, cell: Cell) -> EngineConfig:
    """The engine settings of a classification cell: the grid's budget, the cell's seed
    (and ``--compile``, which changes speed, not the budget)."""
    config = EngineConfig(model=f'{cell.arch}_{cell.attention}')
    if spec.recipes:
        from ..engine.recipes import apply_recipe, recipe_for  # each backbone's paper recipe
        config = apply_recipe(config, recipe_for(cell.arch))
    run = spec.cell_dir(cell) / 'train'
    budget = {k: getattr(spec, k) for k in ('epochs', 'batch_size', 'lr')
              if getattr(spec, k) is not None}
    start = {'attention_init': spec.attention_init} if spec.attention_init else {}
    return dataclasses.replace(
        config, **budget, model_kwargs={**config.model_kwargs,
                                        **spec.model_kwargs.get(cell.arch, {}), **start},
        data='folder', data_root=str(spec.subset_dir(cell)), img_size=spec.img_size,
        seed=cell.seed, num_workers=0, device=spec.device, output_dir=str(run),
        save_path=None, patience=None, export_weights=None, pretrained=spec.pretrained,
        compile=spec.compile or config.compile)


def train_and_test(config: EngineConfig, select: str, test_dir: Path, split: str | None = None,
                   notes: list[str] | None = None, progress: bool | None = False
                   ) -> tuple[TrainResult, TestResult]:
    """Train ``config``, then test the model ``select`` picks on ``split`` (None: the
    engine's, test/ or else val/) into ``test_dir``: every classification cell, the grid's
    and ``loosen compare``'s."""
    trained = train(config, notes, progress=progress)
    tested = run_test(dataclasses.replace(
        config, checkpoint=str(chosen_checkpoint(trained, config, select)), resume=None,
        split=split or config.split, output_dir=str(test_dir)), progress=progress)
    return trained, tested


def classification(spec: GridSpec, cell: Cell) -> dict[str, Any]:
    config = engine_config(spec, cell)
    last = config.last_path()
    if last.is_file():
        config.resume = str(last)
    else:  # nothing to resume: start in a clean folder
        shutil.rmtree(config.run_dir(), ignore_errors=True)
    trained, tested = train_and_test(config, spec.select, spec.cell_dir(cell) / 'test',
                                     spec.reported_split(cell.split))
    metrics = tested.metrics
    epochs = len(trained.history)
    per_batch = trained.train_images // config.batch_size * config.batch_size
    return {'accuracy': metrics['accuracy'], 'macro_f1': metrics['macro_f1'],
            'balanced_accuracy': metrics['balanced_accuracy'], 'loss': metrics['loss'],
            **{f'f1_{k}': v for k, v in metrics['per_class_f1'].items()},
            'test_images': metrics['images'], 'params': trained.params,
            'epochs': epochs,
            'scored_epoch': trained.best['epoch'] if spec.select == 'best' else epochs,
            'images_seen': per_batch * epochs,
            'train_seconds': sum(row['seconds'] for row in trained.history),
            'first_train_loss': trained.history[0]['train_loss'],  # how the start went
            'first_val_loss': trained.history[0]['val_loss']}


def load_runner(path: str) -> CellRunner:
    """The cell runner a ``'module:function'`` string names (``GridSpec.detector``)."""
    return resolve(path)


def cell_row(cell: Cell) -> dict[str, Any]:
    """The columns of ``results.csv`` that name the cell (``split`` for a re-split's)."""
    split = {} if cell.split == GIVEN else {'split': cell.split}
    return {'key': cell.key, 'arch': cell.arch, 'attention': cell.attention, 'size': cell.size,
            'seed': cell.seed, **split,
            'task': 'detection' if cell.detection else 'classification'}


def run_cell(spec: GridSpec, cell: Cell) -> dict[str, Any]:
    """Run ``cell`` and write its row to its ``result.json`` (atomically); return the row."""
    torch.set_num_threads(spec.threads)
    start = time.perf_counter()
    row = cell_row(cell)
    try:
        row['train_images'] = subset_info(spec, cell)['used']
        runner = load_runner(spec.detector) if cell.detection else classification
        row.update(runner(spec, cell), status='done')
    except Exception as error:  # recorded in the row: the grid goes on without this cell
        traceback.print_exc()
        row.update(status='failed', error=f'{type(error).__name__}: {" ".join(str(error).split())}')
    row['wall_seconds'] = round(time.perf_counter() - start, 2)
    write_json(spec.result_path(cell), row)
    return row


def execute(spec_values: dict[str, Any], key: str) -> dict[str, Any]:
    """``run_cell`` in a worker process (local pool or Ray task), its output to ``cell.log``."""
    spec = GridSpec(**spec_values)
    cell = spec.cell(key)
    log = spec.cell_dir(cell) / 'cell.log'
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open('a') as stream, contextlib.redirect_stdout(stream), \
            contextlib.redirect_stderr(stream):
        return run_cell(spec, cell)
