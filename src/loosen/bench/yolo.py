"""``loosen bench yolo``: what LA and the other modules cost inside YOLOv5, and a small
detection comparison on the synthetic small-structure set.

cost: parameters, fvcore GFLOPs of one image and the median CPU latency of an eval-mode
forward pass at ``--size`` (640), for YOLOv5's own ``yolov5s.yaml`` and loosen's
``yolov5s_<attention>.yaml``, all built in one process and timed interleaved in rounds on
the same input, so the percentages over plain come from one run. Targets: LA adds under
1% latency and under 0.01% parameters.

detect: ``yolov5n`` with an empty slot, with LA and with CBAM, trained from scratch by
YOLOv5's own train.py (``loosen.yolo.api.train_val``) with the same budget and seeds;
mAP50 and mAP50-95 of best.pt, averaged over the seeds.
"""
from __future__ import annotations

import argparse
import logging
import statistics
from collections.abc import Sequence
from pathlib import Path

import torch

from .attention import count_flops
from .cost import percent_over
from .report import write_report
from .timing import forward_call, keep_freed_memory, measure

PARAMS_TARGET, LATENCY_TARGET = 0.01, 1.0  # % LA may add over plain YOLOv5
COST_DEFAULT = ('la', 'cbam')
DETECT_DEFAULT = ('plain', 'la', 'cbam')


def build(cfg: str, nc: int = 80) -> torch.nn.Module:
    """A YOLOv5 detection model of ``nc`` classes from a model YAML name, in eval mode."""
    from ..patches import yolov5
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


def bench_detect(attentions: Sequence[str], data: str, epochs: int, image: int, batch: int,
                 seeds: Sequence[int], runs: Path) -> list[dict[str, object]]:
    from ..yolo.api import train_val
    records = []
    for attention in attentions:
        results = [train_val(f'yolov5n_{attention}.yaml', data, epochs=epochs, imgsz=image,
                             batch=batch, seed=seed, out=runs / f'yolov5n_{attention}_s{seed}')
                   for seed in seeds]
        records.append({'model': f'yolov5n_{attention}.yaml', 'seeds': len(seeds),
                        **{k: statistics.mean(r[k] for r in results)
                           for k in ('map50', 'map50_95', 'precision', 'recall', 'seconds')},
                        'params': results[0]['params']})
    return records


def detect_markdown(records: Sequence[dict[str, object]], budget: str) -> str:
    lines = [f'## YOLOv5n detection on the synthetic set ({budget})', '',
             '| model | params | mAP50 | mAP50-95 | precision | recall | train s |',
             '|---|---|---|---|---|---|---|']
    for r in records:
        lines.append(f"| {r['model']} | {r['params']:,} | {r['map50']:.4f} | "
                     f"{r['map50_95']:.4f} | {r['precision']:.4f} | {r['recall']:.4f} | "
                     f"{r['seconds']:.0f} |")
    return '\n'.join([*lines, ''])


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
        budget = (f'{args.data}, {args.epochs} epochs at {args.img} px, batch {args.batch}, '
                  f'seeds {" ".join(map(str, args.seeds))}')
        detect = bench_detect(args.detect_attentions, args.data, args.epochs, args.img,
                              args.batch, args.seeds, args.runs)
        text += '\n' + detect_markdown(detect, budget)
        records += [{'part': 'detect', **r} for r in detect]
    print(text)
    if args.out:
        write_report(args.out, 'yolo', text, records)
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
    p.add_argument('--rounds', type=int, default=7, help='interleaved rounds (default: 7)')
    p.add_argument('--budget', type=float, default=120.0,
                   help='seconds a slow model may take in all (default: 120)')
    p.add_argument('--threads', type=int, default=0, help='torch threads (default: all)')
    p.add_argument('--detect-attentions', nargs='+', default=list(DETECT_DEFAULT),
                   metavar='NAME', help=f'yolov5n variants trained (default: '
                                        f'{" ".join(DETECT_DEFAULT)})')
    p.add_argument('--data', default='synthetic:images=48,size=128',
                   help='detection data (default: synthetic:images=48,size=128)')
    p.add_argument('--epochs', type=int, default=3, help='epochs per run (default: 3)')
    p.add_argument('--img', type=int, default=128, help='train/val size (default: 128)')
    p.add_argument('--batch', type=int, default=16, help='batch size (default: 16)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0], help='seeds (default: 0)')
    p.add_argument('--runs', type=Path, default=Path('runs/bench_yolo'),
                   help='run folders; finished runs are read back (default: runs/bench_yolo)')
    p.add_argument('--out', type=Path, help='write yolo.md and yolo.csv here')
    p.set_defaults(run=run)
