"""``loosen bench pipeline``: what the data pipeline costs a training epoch.

Two contenders per case, interleaved in rounds (``timing.measure``): a training pass of
the engine (loader with decoding or cache, timm transforms, collate, then the update)
and the same updates on the same batches already in memory (the model's pure
forward + backward + optimizer step). The pipeline's cost is ``1 - pipeline / model``
in images/s; the target is under 15 %.

Cases: the demo's synthetic frames (128 px, MobileNet-v1 x0.5) and, when the real set is
found, the YRS frames (440 px PNG) at 224 px (full MobileNet-v1) and at 64 px (the
real-data test's x0.25), with the decoded-image cache on and off, each with 0 and 1
loader workers.
"""
from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DistributedSampler, Subset

from ..data import default_yrs_dir, write_synthetic
from ..engine.config import EngineConfig
from ..engine.data import make_loader, make_transform
from ..engine.runtime import Runtime
from ..engine.train import Prepared, Trainer, prepare
from .report import write_report
from .timing import keep_freed_memory, measure

TARGET = 0.15  # the most of an epoch the pipeline may cost


@dataclass
class Case:
    name: str
    data: str           # 'synthetic' (written to a temporary folder) or 'yrs'
    size: int
    width: float
    cache_mb: int = 2048


CASES = (
    Case('synthetic 128 px, x0.5 (the demo)', 'synthetic', 128, 0.5),
    Case('YRS 440 px PNG -> 224 px, x1.0', 'yrs', 224, 1.0),
    Case('YRS 440 px PNG -> 224 px, x1.0, no cache', 'yrs', 224, 1.0, cache_mb=0),
    Case('YRS 440 px PNG -> 64 px, x0.25 (the real-data test)', 'yrs', 64, 0.25),
)


def _prepared(case: Case, root: Path, batch: int) -> Prepared:
    config = EngineConfig(model='mobilenetv1_la', data='folder', data_root=str(root),
                          img_size=case.size, model_kwargs={'channel_multiplier': case.width},
                          cache_mb=case.cache_mb, batch_size=batch, epochs=1)
    return prepare(config)


def time_case(prepared: Prepared, images: int, workers: int,
              rounds: int) -> dict[str, float]:
    """Images/s of a training pass through the loader and of the same updates on the same
    batches held in memory."""
    config = prepared.config
    dataset = prepared.train.dataset
    dataset.transform = make_transform(prepared.data_cfg, config, training=True)
    picks = np.linspace(0, len(dataset) - 1, min(images, len(dataset))).round().astype(int)
    subset = Subset(dataset, sorted(set(picks.tolist())))  # every class, not the first one
    sampler = DistributedSampler(subset, 1, 0, shuffle=True, seed=0)
    loader = make_loader(subset, config.batch_size, sampler, workers, training=True)
    loader.generator.manual_seed(0)
    trainer = Trainer(config, prepared.model, len(prepared.classes),
                      Runtime(torch.device('cpu')), len(loader))
    batches = list(loader)
    seen = sum(len(t) for _, t in batches)

    def model_only() -> None:
        trainer.model.train()
        for x, y in batches:
            trainer.step(x, y)

    timings = measure({'pipeline': lambda: trainer.epoch(loader, 'bench', progress=False),
                       'model': model_only}, rounds=rounds, block=0.0)
    model, pipeline = (seen / timings[k].seconds for k in ('model', 'pipeline'))
    return {'model_img_s': round(model, 1), 'pipeline_img_s': round(pipeline, 1),
            'cost': round(1 - pipeline / model, 4), 'images': seen,
            'rounds': timings['pipeline'].rounds}


def markdown(records: list[dict[str, object]], command: str) -> str:
    lines = ['# Data pipeline cost in training', '',
             f'Measured with `{command}`: a training pass of the engine through its loader '
             'against the same updates on the same batches held in memory, interleaved in '
             f'rounds, medians. Target: the pipeline costs under {TARGET:.0%} of model speed.',
             '', '| case | workers | model img/s | training img/s | pipeline cost | target |',
             '|---|---:|---:|---:|---:|---|']
    for r in records:
        ok = 'met' if r['cost'] < TARGET else 'missed'
        lines.append(f'| {r["case"]} | {r["workers"]} | {r["model_img_s"]} | '
                     f'{r["pipeline_img_s"]} | {r["cost"]:.1%} | {ok} |')
    return '\n'.join(lines) + '\n'


def run(args: argparse.Namespace) -> int:
    keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    yrs = args.real or default_yrs_dir()
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        synthetic = None
        for case in CASES:
            if case.data == 'yrs' and yrs is None:
                print(f'skipped {case.name}: no YRS folder (give --real)')
                continue
            if case.data == 'synthetic' and synthetic is None:
                synthetic = write_synthetic(Path(tmp) / 'synthetic', args.images // 4 + 8,
                                            case.size, split={'train': 0.8, 'val': 0.2})
            prepared = _prepared(case, synthetic if case.data == 'synthetic' else yrs,
                                 args.batch_size)
            for workers in args.workers:
                found = time_case(prepared, args.images, workers, args.rounds)
                records.append({'case': case.name, 'workers': workers, **found})
                print(f'{case.name}, {workers} worker(s): model {found["model_img_s"]} img/s, '
                      f'training {found["pipeline_img_s"]} img/s, cost {found["cost"]:.1%}',
                      flush=True)
    command = (f'loosen bench pipeline --images {args.images} --batch-size {args.batch_size} '
               f'--workers {" ".join(map(str, args.workers))} --rounds {args.rounds}')
    text = markdown(records, command)
    print(text)
    if args.out:
        write_report(args.out, 'pipeline', text, records)
    missed = [r for r in records if r['cost'] >= TARGET]
    return 1 if args.strict and missed else 0


def add_parser(benches: argparse._SubParsersAction) -> None:
    p = benches.add_parser('pipeline', help='training images/s against the model alone',
                           description=__doc__)
    p.add_argument('--images', type=int, default=256, help='images per timed pass')
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--workers', type=int, nargs='+', default=[0, 1],
                   help='loader worker counts to time')
    p.add_argument('--rounds', type=int, default=3, help='interleaved rounds')
    p.add_argument('--real', type=Path, help='the YRS folder (default: found beside the repo)')
    p.add_argument('--threads', type=int, default=0, help='torch threads (default: all)')
    p.add_argument('--out', type=Path, help='write pipeline.md and pipeline.csv here')
    p.add_argument('--strict', action='store_true', help='exit 1 when the target is missed')
    p.set_defaults(run=run)
