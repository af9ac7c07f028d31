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

``--compile`` measures what ``torch.compile`` (``loosen train --compile``) buys instead:
for each of ``--archs`` with LA (default ``mobilenetv1_la`` and ``vit_small_la``, 224 px)
on synthetic frames, a training epoch through the engine's loader and an eval-mode forward
of one batch, eager and compiled interleaved in rounds, and the seconds compiling costs
(the first compiled call's wall time over an eager call's, with an empty inductor cache
and with the filled one), so a short run can tell whether compiling pays.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DistributedSampler, Subset

from ..data import default_yrs_dir, write_synthetic
from ..engine.config import EngineConfig
from ..engine.data import make_loader, make_transform
from ..engine.runtime import Runtime
from ..engine.train import Prepared, Trainer, prepare
from ..errors import LoosenError
from ..models import get_arch, model_name
from ..options import add_out, add_rounds, add_threads
from ..report import write_report
from .timing import bench_clock, forward_call, keep_freed_memory, measure

TARGET = 0.15  # the most of an epoch the pipeline may cost


@dataclass
class Case:
    name: str
    data: str           # 'synthetic' (written to a temporary folder) or 'yrs'
    size: int
    model_kwargs: dict[str, object] = field(default_factory=dict)
    cache_mb: int = 2048
    model: str = 'mobilenetv1_la'


def _width(width: float) -> dict[str, object]:
    return {'channel_multiplier': width}


CASES = (
    Case('synthetic 128 px, x0.5 (the demo)', 'synthetic', 128, _width(0.5)),
    Case('YRS 440 px PNG -> 224 px, x1.0', 'yrs', 224, _width(1.0)),
    Case('YRS 440 px PNG -> 224 px, x1.0, no cache', 'yrs', 224, _width(1.0), cache_mb=0),
    Case('YRS 440 px PNG -> 64 px, x0.25 (the real-data test)', 'yrs', 64, _width(0.25)),
)
COMPILE_ARCHS = ('mobilenetv1', 'vit_small')  # --compile: the default CNN and the ViT, full width
COMPILE_SIZE = 224


def compile_cases(archs: list[str], size: int) -> list[Case]:
    """``--compile``'s cases: each architecture with LA at ``size`` px, full width."""
    models = [model_name(get_arch(arch).name, 'la') for arch in archs]
    return [Case(f'{model} {size} px', 'synthetic', size, model=model) for model in models]


def _prepared(case: Case, root: Path, batch: int) -> Prepared:
    config = EngineConfig(model=case.model, data='folder', data_root=str(root),
                          img_size=case.size, model_kwargs=dict(case.model_kwargs),
                          cache_mb=case.cache_mb, batch_size=batch, epochs=1, compile='off')
    return prepare(config)


def _epoch_loader(prepared: Prepared, images: int, workers: int):
    """A training loader over ``images`` of the training split, spread over every class."""
    config = prepared.config
    dataset = prepared.train.dataset
    dataset.transform = make_transform(prepared.data_cfg, config, training=True)
    picks = np.linspace(0, len(dataset) - 1, min(images, len(dataset))).round().astype(int)
    subset = Subset(dataset, sorted(set(picks.tolist())))  # every class, not the first one
    sampler = DistributedSampler(subset, 1, 0, shuffle=True, seed=0)
    loader = make_loader(subset, config.batch_size, sampler, workers, training=True)
    loader.generator.manual_seed(0)
    return loader


def _trainer(prepared: Prepared, loader, compile_setting: str = 'off') -> Trainer:
    config = dataclasses.replace(prepared.config, compile=compile_setting)
    return Trainer(config, copy.deepcopy(prepared.model), len(prepared.classes),
                   Runtime(torch.device('cpu')), len(loader))


def time_case(prepared: Prepared, images: int, workers: int,
              rounds: int) -> dict[str, float]:
    """Images/s of a training pass through the loader and of the same updates on the same
    batches held in memory."""
    loader = _epoch_loader(prepared, images, workers)
    trainer = _trainer(prepared, loader)
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


def _wall(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _batch(prepared: Prepared, size: int) -> torch.Tensor:
    """``size`` validation images, eval-transformed, as one batch."""
    dataset = prepared.val.dataset
    dataset.transform = make_transform(prepared.data_cfg, None, training=False)
    return torch.stack([dataset[i % len(dataset)][0] for i in range(size)])


def _break_even(compile_s: float, eager_s: float, compiled_s: float) -> int | None:
    """Items (at ``eager_s`` / ``compiled_s`` seconds each) after which compiling has paid
    ``compile_s`` back; None when compiled is not faster."""
    saved = eager_s - compiled_s
    return round(compile_s / saved) if saved > 0 else None


def time_compile(prepared: Prepared, images: int, rounds: int) -> dict[str, object]:
    """A training epoch (seconds) and an inference batch (images/s), eager and compiled,
    each pair interleaved in rounds, and the wall seconds compiling adds to the first
    compiled call of each over an eager call: cold (the inductor cache as found, empty
    in ``loosen bench pipeline --compile``) and warm (compiled again from the filled
    cache, as a later run of the same model and sizes is)."""
    loader = _epoch_loader(prepared, images, 0)
    seen = len(loader) * prepared.config.batch_size
    x = _batch(prepared, prepared.config.batch_size)
    trainers = {s: _trainer(prepared, loader, s) for s in ('off', 'on')}

    def calls(trainer: Trainer) -> dict[str, Callable[[], object]]:
        return {'epoch': lambda: trainer.epoch(loader, 'bench', progress=False),
                'infer': lambda: forward_call(trainer.eval_model.eval(), x)()}

    def compile_seconds(compiled: Trainer) -> dict[str, float]:
        found = {}
        for kind, fn in calls(compiled).items():  # the first call per mode compiles
            eager = _wall(calls(trainers['off'])[kind])
            found[kind] = _wall(fn) - eager
        return found

    cold = compile_seconds(trainers['on'])
    clock = bench_clock()
    epoch = measure({s: calls(t)['epoch'] for s, t in trainers.items()}, rounds=rounds,
                    block=0.0, clock=clock)
    infer = measure({s: calls(t)['infer'] for s, t in trainers.items()}, rounds=rounds,
                    block=0.1, clock=clock)
    torch._dynamo.reset()  # forget the compiled graphs here; the disk cache stays
    warm = compile_seconds(_trainer(prepared, loader, 'on'))
    per_image = {s: infer[s].seconds / len(x) for s in infer}
    record: dict[str, object] = {'images': seen, 'batch': len(x)}
    for s, label in (('off', 'eager'), ('on', 'compiled')):
        record[f'{label}_epoch_s'] = round(epoch[s].seconds, 3)
        record[f'{label}_infer_img_s'] = round(1 / per_image[s], 1)
    record.update(
        epoch_speedup=round(epoch['off'].seconds / epoch['on'].seconds, 3),
        train_compile_s=round(cold['epoch'], 1), train_compile_warm_s=round(warm['epoch'], 1),
        train_break_even_images=_break_even(cold['epoch'], epoch['off'].seconds / seen,
                                            epoch['on'].seconds / seen),
        infer_speedup=round(infer['off'].seconds / infer['on'].seconds, 3),
        infer_compile_s=round(cold['infer'], 1), infer_compile_warm_s=round(warm['infer'], 1),
        infer_break_even_images=_break_even(cold['infer'], per_image['off'], per_image['on']),
        rounds=min(epoch['on'].rounds, infer['on'].rounds))
    return record


def markdown_compile(records: list[dict[str, object]], command: str) -> str:
    lines = ['# What torch.compile buys on this machine', '',
             f'Measured with `{command}` ({torch.get_num_threads()} torch thread(s), '
             f'torch {torch.__version__}): a training epoch through the engine\'s loader and '
             'an eval-mode forward of one batch, eager and `--compile` interleaved in rounds, '
             'medians (CPU time of this process at one thread). Compile s: wall seconds the '
             'first compiled call takes over an eager one, with an empty inductor cache '
             '(a model\'s first run) and with the filled one (warm: later runs). Break-even: '
             'images after which the compiled run has paid its cold compile back.', '',
             '| model | images/epoch | epoch s eager | compiled | speed-up | compile s cold / '
             'warm | break-even images | infer img/s eager | compiled | speed-up | compile s '
             'cold / warm | break-even images |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for r in records:
        lines.append(
            f'| {r["case"]} | {r["images"]} | {r["eager_epoch_s"]} | {r["compiled_epoch_s"]} | '
            f'{r["epoch_speedup"]:.2f}x | {r["train_compile_s"]} / {r["train_compile_warm_s"]} | '
            f'{_images(r["train_break_even_images"])} | {r["eager_infer_img_s"]} | '
            f'{r["compiled_infer_img_s"]} | {r["infer_speedup"]:.2f}x | {r["infer_compile_s"]} / '
            f'{r["infer_compile_warm_s"]} | {_images(r["infer_break_even_images"])} |')
    return '\n'.join(lines) + '\n'


def _images(count: object) -> str:
    return 'never' if count is None else f'{count:,}'


def run_compile(args: argparse.Namespace, tmp: Path) -> tuple[str, list[dict[str, object]]]:
    os.environ['TORCHINDUCTOR_CACHE_DIR'] = str(tmp / 'inductor')  # cold: compiled afresh
    records = []
    data = write_synthetic(tmp / 'synthetic', args.images // 4 + 8, args.size,
                           split={'train': 0.8, 'val': 0.2})
    for case in compile_cases(args.archs, args.size):
        print(f'timing {case.name}, eager and compiled ...', flush=True)
        found = time_compile(_prepared(case, data, args.batch_size), args.images, args.rounds)
        records.append({'case': case.name, **found})
    command = (f'loosen bench pipeline --compile --archs {" ".join(args.archs)} --size '
               f'{args.size} --images {args.images} --batch-size {args.batch_size} --rounds '
               f'{args.rounds} --threads {torch.get_num_threads()}')
    return markdown_compile(records, command), records


def run_pipeline(args: argparse.Namespace, tmp: Path) -> tuple[str, list[dict[str, object]]]:
    yrs = args.real or default_yrs_dir()
    records = []
    synthetic = None
    for case in CASES:
        if case.data == 'yrs' and yrs is None:
            print(f'skipped {case.name}: no YRS folder (give --real)')
            continue
        if case.data == 'synthetic' and synthetic is None:
            synthetic = write_synthetic(tmp / 'synthetic', args.images // 4 + 8,
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
    return markdown(records, command), records


def run(args: argparse.Namespace) -> int:
    if args.compile:
        compile_cases(args.archs, args.size)  # an unknown architecture: one line, exit 2
    elif (args.archs, args.size) != (list(COMPILE_ARCHS), COMPILE_SIZE):
        raise LoosenError('--archs and --size choose what --compile times; add --compile '
                          '(the pipeline cases have their own models and sizes)')
    keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        text, records = (run_compile if args.compile else run_pipeline)(args, Path(tmp))
    print(text)
    if args.out:
        write_report(args.out, 'compile' if args.compile else 'pipeline', text, records)
    missed = [r for r in records if not args.compile and r['cost'] >= TARGET]
    return 1 if args.strict and missed else 0


def add_parser(benches: argparse._SubParsersAction) -> None:
    p = benches.add_parser('pipeline', help='training images/s against the model alone',
                           description=__doc__)
    p.add_argument('--images', type=int, default=256, help='images per timed pass')
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--workers', type=int, nargs='+', default=[0, 1],
                   help='loader worker counts to time')
    add_rounds(p, default=3)  # a round is a whole pass over --images, no --budget to cap it
    p.add_argument('--real', type=Path, help='the YRS folder (default: found beside the repo)')
    add_threads(p)
    add_out(p, 'pipeline.md and pipeline.csv (with --compile: compile.md and .csv)')
    p.add_argument('--strict', action='store_true', help='exit 1 when the target is missed')
    p.add_argument('--compile', action='store_true',
                   help='time eager against torch.compile for --archs with LA at --size px '
                        'instead (writes compile.md and compile.csv)')
    p.add_argument('--archs', nargs='+', default=list(COMPILE_ARCHS), metavar='ARCH',
                   help=f'with --compile: the backbones, each with LA (default: '
                        f'{" ".join(COMPILE_ARCHS)})')
    p.add_argument('--size', type=int, default=COMPILE_SIZE,
                   help=f'with --compile: input height and width (default: {COMPILE_SIZE})')
    p.set_defaults(run=run)
