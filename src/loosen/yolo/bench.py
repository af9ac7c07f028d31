"""``loosen bench yolo``: what LA and the other modules cost inside YOLOv5, and a small
detection comparison on the synthetic small-structure set.

cost: parameters, fvcore GFLOPs of one image and the median CPU latency of an eval-mode
forward pass at ``--size`` (640), for YOLOv5's own ``yolov5s.yaml`` and loosen's
``yolov5s_<attention>.yaml``, all built in one process and timed interleaved in rounds on
the same input, so the percentages over plain come from one run. Targets: LA adds under
1% latency and under 0.01% parameters.

detect: as users start a detector, from pretrained weights. Upstream ``yolov5n.yaml`` (no
attention slot) is trained on one synthetic set, the stand-in for COCO weights; then
``yolov5n`` with an empty slot, with LA and with CBAM are fine-tuned from it (the weights
moved across the slot by loosen's patch) on another synthetic set, by YOLOv5's own
train.py, with the same budget, data order and seeds: the cells of a grid of the
comparison protocol (``loosen.experiments``; the cell is ``loosen.yolo.cells.detection``)
that start from the pretrained weights. mAP50 and mAP50-95 of the last epoch as mean ±
std over seeds, and each module's difference from plain paired by seed. Every run is
cached under ``--runs`` (``pretrain/``, and the grid in ``finetune/``): a finished one is
read back, a killed one resumed.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..atomic import atomic_write
from ..bench.flops import count_flops, percent_over
from ..bench.timing import forward_call, keep_freed_memory, measure
from ..errors import LoosenError
from ..options import add_budget, add_out, add_rounds, add_threads
from ..report import write_report

if TYPE_CHECKING:
    from ..experiments.spec import GridSpec

PARAMS_TARGET, LATENCY_TARGET = 0.01, 1.0  # % LA may add over plain YOLOv5
COST_DEFAULT = ('la', 'cbam')
DETECT_DEFAULT = ('plain', 'la', 'cbam')
BASELINE, METRICS = 'plain', ('map50', 'map50_95')
PRETRAIN_CFG = 'yolov5n.yaml'  # upstream's own YAML: no attention slot, as COCO weights are
# the default comparison (calibrated to learn on two CPU cores; README, detection section)
PRETRAIN_DATA, PRETRAIN_EPOCHS = 'synthetic:images=500,size=128,seed=100', 30
DETECT_DATA, DETECT_EPOCHS = 'synthetic:images=250,size=128,seed=1', 5
DETECT_IMG, DETECT_BATCH, DETECT_SEEDS = 128, 16, (0, 1, 2)


def build(cfg: str, nc: int = 80) -> torch.nn.Module:
    """A YOLOv5 detection model of ``nc`` classes from a model YAML name, in eval mode."""
    from .patches import yolov5
    yolov5.install()
    from yolov5.models.yolo import Model
    from yolov5.utils.general import check_yaml
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        return Model(check_yaml(cfg), ch=3, nc=nc).eval()
    finally:
        logging.disable(previous)


def bench_cost(size: str, attentions: Sequence[str], image: int, rounds: int,
               budget: float) -> list[dict[str, object]]:
    names = {'plain': f'yolov5{size}.yaml',
             **{a: f'yolov5{size}_{a}.yaml' for a in attentions}}
    models = {a: build(cfg) for a, cfg in names.items()}
    x = torch.randn(1, 3, image, image, generator=torch.Generator().manual_seed(0))
    flops = {a: count_flops(m, x)[0] / 1e9 for a, m in models.items()}
    timed = measure({a: forward_call(m, x) for a, m in models.items()}, rounds=rounds,
                    budget=budget)
    params = {a: sum(p.numel() for p in m.parameters()) for a, m in models.items()}
    return [{'model': names[a], 'attention': a, 'params': params[a],
             'params_pct': percent_over(params[a], params['plain']), 'gflops': flops[a],
             'ms': timed[a].ms, 'ms_pct': percent_over(timed[a].ms, timed['plain'].ms),
             'rounds': timed[a].rounds} for a in models]


def cost_markdown(records: Sequence[dict[str, object]], image: int, threads: int) -> str:
    lines = [f'## YOLOv5 cost at {image} px, batch 1, CPU ({threads} threads)', '',
             '| model | params | vs plain | GFLOPs | ms | vs plain |', '|---|---|---|---|---|---|']
    for r in records:
        lines.append(f"| {r['model']} | {r['params']:,} | {r['params_pct']:+.4f}% | "
                     f"{r['gflops']:.3f} | {r['ms']:.1f} | {r['ms_pct']:+.2f}% |")
    la = next((r for r in records if r['attention'] == 'la'), None)
    if la is not None:
        lines += ['', f"LA: parameters {la['params_pct']:+.4f}% (target < {PARAMS_TARGET}%: "
                  f"{'met' if la['params_pct'] < PARAMS_TARGET else 'not met'}), latency "
                  f"{la['ms_pct']:+.2f}% (target < {LATENCY_TARGET}%: "
                  f"{'met' if la['ms_pct'] < LATENCY_TARGET else 'not met'})."]
    lines += ['', 'plain is YOLOv5\'s own yolov5*.yaml. Latency: median of interleaved rounds on '
              'one input; on a shared machine only the percentages are comparable. FLOPs: '
              'fvcore (one fused multiply-add = one flop).', '']
    return '\n'.join(lines)


@dataclass(frozen=True)
class Budget:
    """What every run of one part of the detection comparison gets."""

    data: str    # a dataset YAML or a synthetic:... set
    epochs: int
    image: int   # train and val size, pixels
    batch: int

    def describe(self) -> str:
        return f'{self.data}, {self.epochs} epochs at {self.image} px, batch {self.batch}'


def train(cfg: str, budget: Budget, seed: int, out: Path, weights: str | Path = '',
          pick: str = 'last') -> dict:
    """One YOLOv5 run; it reports its last epoch unless told otherwise: nothing is picked
    on the val split it is scored on."""
    from .api import train_val  # imported only when detection runs
    return train_val(cfg, budget.data, epochs=budget.epochs, imgsz=budget.image,
                     batch=budget.batch, seed=seed, out=out, weights=weights,
                     options=('--noplots',), pick=pick)


def check_runs(runs: Path, plan: dict[str, object]) -> None:
    """Finished runs under ``runs`` are read back, so they must be of this very plan:
    ``runs/plan.json`` records it, and another plan stops with one line."""
    path = runs / 'plan.json'
    if path.exists():
        found = json.loads(path.read_text())
        if found != plan:
            changed = ', '.join(k for k in plan if found.get(k) != plan[k])
            raise LoosenError(f'{runs} holds runs of another detection plan ({changed} '
                              'differ); give another --runs or remove that folder')
        return
    runs.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda temp: Path(temp).write_text(json.dumps(plan, indent=1)))


def detect_spec(attentions: Sequence[str], budget: Budget, seeds: Sequence[int], runs: Path,
                weights: str | Path = '') -> GridSpec:
    """The detection comparison as a grid of the protocol: ``yolov5n`` x ``attentions`` x
    ``seeds`` on every training image of ``budget.data``, each cell fine-tuned from
    ``weights`` (from scratch when ''), scored after its last epoch on val/."""
    from ..experiments.regimes import detection_images
    from ..experiments.spec import GridSpec
    from .data import synthetic_set
    data = synthetic_set(budget.data) if budget.data.startswith('synthetic') else budget.data
    return GridSpec(out=str(runs.resolve()), data='synthetic', archs=['yolov5n'],
                    attentions=list(attentions), train_sizes=[len(detection_images(data))],
                    seeds=list(seeds), epochs=budget.epochs, img_size=budget.image,
                    batch_size=budget.batch, lr=None, eval_per_class=0, det_data=str(data),
                    det_img_size=budget.image, test_split='val', preset='bench-yolo',
                    det_weights=str(weights) if weights else None, select='last')


def bench_detect(attentions: Sequence[str], budget: Budget, seeds: Sequence[int], runs: Path,
                 weights: str | Path = '') -> dict[str, list[dict]]:
    """The cells of ``detect_spec``, run by the protocol's runner (finished ones read back);
    returns attention -> one result row per seed, in seed order."""
    from ..experiments.executors import run_grid  # the engine and YOLOv5: when detect runs
    from ..experiments.spec import read_result
    spec = detect_spec(attentions, budget, seeds, runs, weights)
    run_grid(spec, progress=False)
    rows = [read_result(spec, cell) for cell in spec.cells()]
    failed = next((row for row in rows if row['status'] == 'failed'), None)
    if failed:
        raise LoosenError(f'{failed["key"]} failed: {failed["error"]} (its log: '
                          f'{spec.cell_dir(spec.cell(failed["key"])) / "cell.log"})')
    return {a: [row for row in rows if row['attention'] == a] for a in attentions}


def seed_table(results: dict[str, list[dict]], metrics: Sequence[str] = METRICS,
               baseline: str = BASELINE) -> list[dict[str, object]]:
    """Per model: mean and standard deviation (n-1) of each metric over seeds, and its
    difference from ``baseline`` paired by seed with a 95 % t-interval (``paired_gain``);
    a difference exceeds seed noise when that interval leaves out zero."""
    from ..experiments.statistics import beyond_noise, paired_gain
    rows = []
    for attention, runs in results.items():
        row: dict[str, object] = {'attention': attention, 'seeds': len(runs),
                                  'params': runs[0]['params']}
        for metric in metrics:
            values = np.array([r[metric] for r in runs])
            row[metric] = float(values.mean())
            row[f'{metric}_std'] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
            if baseline in results and attention != baseline:
                base = np.array([r[metric] for r in results[baseline]])
                found = paired_gain(values - base)
                row.update({f'{metric}_{k}': v for k, v in found.items() if k != 'pairs'})
                row[f'{metric}_exceeds_noise'] = bool(beyond_noise(found['low'], found['high']))
        row['seconds'] = sum(r['train_seconds'] for r in runs)
        row['cpu_seconds'] = sum(r['cpu_seconds'] for r in runs)
        rows.append(row)
    return rows


def difference(row: dict[str, object], metric: str) -> str:
    """The table cell of ``row``'s paired difference from plain in ``metric``."""
    from ..experiments.statistics import paired_text
    if f'{metric}_gain' not in row:
        return ''
    return paired_text({k: row[f'{metric}_{k}'] for k in ('gain', 'low', 'high')}, digits=3)


def detect_markdown(rows: Sequence[dict[str, object]], start: str, budget: Budget,
                    seeds: Sequence[int], cost: str) -> str:
    def spread(row: dict[str, object], metric: str) -> str:
        std = row[f'{metric}_std']
        return f'{row[metric]:.3f}' + ('' if math.isnan(std) else f' ± {std:.3f}')

    lines = [f'## YOLOv5n on the synthetic small-structure set, {start}', '',
             f'Fine-tuned: {budget.describe()}, seeds {" ".join(map(str, seeds))}; mAP of the '
             'last epoch on val (no epoch is picked on val). Mean ± std over seeds; the '
             'difference from plain is paired by seed, with its 95 % t-interval.', '',
             '| model | params | mAP50 | mAP50-95 | mAP50 vs plain | mAP50-95 vs plain | '
             'wall s | CPU s |', '|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| yolov5n_{r['attention']}.yaml | {r['params']:,} | {spread(r, 'map50')} | "
                     f"{spread(r, 'map50_95')} | {difference(r, 'map50')} | "
                     f"{difference(r, 'map50_95')} | {r['seconds']:.0f} | "
                     f"{r['cpu_seconds']:.0f} |")
    return '\n'.join([*lines, '', cost, ''])


def load_average() -> str:
    return ' '.join(f'{x:.1f}' for x in os.getloadavg())


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and its finished children so far."""
    own, children = (resource.getrusage(who) for who in
                     (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_detect(args: argparse.Namespace) -> tuple[str, list[dict[str, object]]]:
    """Pretrain (unless --weights or --pretrain-epochs 0), then fine-tune every variant."""
    budget = Budget(args.data, args.epochs, args.img, args.batch)
    pretrain = Budget(args.pretrain_data, args.pretrain_epochs, args.img, args.batch)
    plan = {'attentions': list(args.detect_attentions), 'budget': asdict(budget),
            'seeds': list(args.seeds), 'weights': str(args.weights or ''),
            'pretrain': asdict(pretrain) if not args.weights and pretrain.epochs else None}
    check_runs(args.runs, plan)
    # OpenMP threads that spin while they wait cost ten times the CPU on a shared machine
    # (measured: YOLOv5n's step at 128 px, two threads, load 12 on two cores)
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    loads, wall, cpu = [load_average()], time.perf_counter(), cpu_seconds()
    if args.weights:
        weights, start = args.weights, f'fine-tuned from {args.weights}'
    elif pretrain.epochs:
        found = train(PRETRAIN_CFG, pretrain, 0, args.runs / 'pretrain', pick='best')
        weights = found['weights']
        start = (f'fine-tuned from upstream {PRETRAIN_CFG} pretrained on {pretrain.describe()} '
                 f'(mAP50 {found["map50"]:.3f}, mAP50-95 {found["map50_95"]:.3f} there; '
                 f'{found["seconds"]:.0f} s wall, {found["cpu_seconds"]:.0f} s CPU)')
    else:
        weights, start = '', 'trained from scratch'
    rows = seed_table(bench_detect(args.detect_attentions, budget, args.seeds,
                                   args.runs / 'finetune', weights))
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    loads.append(load_average())
    cost = (f'Cost of this call: {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU (data sets '
            f'built and runs read back included); load average {loads[0]} at the start, '
            f'{loads[1]} at the end.')
    return detect_markdown(rows, start, budget, args.seeds, cost), rows


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()
    text, records = '', []
    if 'cost' in args.parts:
        cost = bench_cost(args.model_size, args.attentions, args.size, args.rounds, args.budget)
        text += cost_markdown(cost, args.size, torch.get_num_threads())
        records += [{'part': 'cost', **r} for r in cost]
    if 'detect' in args.parts:
        detect_text, detect = run_detect(args)
        text += '\n' + detect_text
        records += [{'part': 'detect', **r} for r in detect]
    print(text)
    if args.out:
        columns = list(dict.fromkeys(k for r in records for k in r))  # cost and detect rows
        write_report(args.out, 'yolo', text, [{k: r.get(k) for k in columns} for r in records])
    return 0


def add_parser(benches: argparse._SubParsersAction) -> None:
    p = benches.add_parser('yolo', help='YOLOv5 with LA: cost at 640, detection on synthetic',
                           description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--parts', nargs='+', choices=('cost', 'detect'), default=['cost'],
                   help='what to run (default: cost)')
    p.add_argument('--model-size', default='s', choices=tuple('nsmlx'),
                   help='YOLOv5 size for the cost part (default: s)')
    p.add_argument('--attentions', nargs='+', default=list(COST_DEFAULT), metavar='NAME',
                   help=f'modules timed against plain (default: {" ".join(COST_DEFAULT)}; '
                        'see `loosen yolo models`)')
    p.add_argument('--size', type=int, default=640, help='cost input size (default: 640)')
    add_rounds(p)
    add_budget(p)
    add_threads(p)
    p.add_argument('--detect-attentions', nargs='+', default=list(DETECT_DEFAULT),
                   metavar='NAME', help=f'yolov5n variants trained (default: '
                                        f'{" ".join(DETECT_DEFAULT)})')
    p.add_argument('--data', default=DETECT_DATA,
                   help=f'fine-tuning data (default: {DETECT_DATA})')
    p.add_argument('--epochs', type=int, default=DETECT_EPOCHS,
                   help=f'fine-tuning epochs (default: {DETECT_EPOCHS})')
    p.add_argument('--img', type=int, default=DETECT_IMG,
                   help=f'train/val size (default: {DETECT_IMG})')
    p.add_argument('--batch', type=int, default=DETECT_BATCH,
                   help=f'batch size (default: {DETECT_BATCH})')
    p.add_argument('--seeds', type=int, nargs='+', default=list(DETECT_SEEDS),
                   help=f'seeds (default: {" ".join(map(str, DETECT_SEEDS))})')
    p.add_argument('--pretrain-data', default=PRETRAIN_DATA,
                   help=f'data {PRETRAIN_CFG} is pretrained on (default: {PRETRAIN_DATA})')
    p.add_argument('--pretrain-epochs', type=int, default=PRETRAIN_EPOCHS,
                   help=f'pretraining epochs; 0 trains every variant from scratch '
                        f'(default: {PRETRAIN_EPOCHS})')
    p.add_argument('--weights', type=Path,
                   help='fine-tune from this checkpoint instead of pretraining (yolov5n.pt)')
    p.add_argument('--runs', type=Path, default=Path('runs/bench_yolo'),
                   help='run folders of one plan; finished runs are read back, killed ones '
                        'resumed (default: runs/bench_yolo)')
    add_out(p, 'yolo.md and yolo.csv')
    p.set_defaults(run=run)
