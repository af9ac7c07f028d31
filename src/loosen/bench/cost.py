"""``loosen bench cost``: what each attention adds to each backbone, in one table.

Every architecture is built plain and with each attention of the comparison set at
the paper's placement. For each model: parameters; FLOPs of one image counted by
fvcore (one fused multiply-add = one flop; element-wise and pooling work is not
counted); and the CPU latency of an eval-mode forward pass at each batch size, all
models of one architecture interleaved in rounds on the same input, medians kept.
Every cost is also given as a percentage over the plain model measured in the same run.
``--compile`` adds ``torch.compile`` of the plain and the LA model beside eager.
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..attention import list_attentions
from ..models import create_model, get_arch, list_archs
from ..models.release import DETECTION
from ..options import add_budget, add_out, add_rounds, add_threads
from ..report import write_report
from .flops import count_flops, percent_over
from .timing import bench_clock, forward_call, keep_freed_memory, measure

MODULES = DETECTION  # every module of the release: its classification and detection runs
PARAMS_TARGET = 0.1  # % parameters LA may add over plain where ArchSpec.params_target
COMPILED = ('plain', 'la')  # the models --compile adds


def latency_target(arch: str) -> float:
    """% latency LA may add over plain (``ArchSpec.latency_target``): 5 on ViT (LA in
    every block), 2 elsewhere."""
    return get_arch(arch).latency_target


@dataclass
class Cost:
    """One model: parameters, fvcore GFLOPs at one image, median ms per batch size."""

    arch: str
    attention: str
    params: int
    gflops: float
    ms: dict[int, float]
    rounds: int
    compiled: bool = False

    @property
    def label(self) -> str:
        return f'{self.attention}, compiled' if self.compiled else self.attention


def bench_arch(arch: str, attentions: Sequence[str], batch_sizes: Sequence[int], size: int,
               rounds: int, budget: float, num_classes: int,
               compiled: bool = False) -> list[Cost]:
    """Build ``arch`` with every attention (plain included) and measure each model; with
    ``compiled``, also ``torch.compile`` of the plain and LA models, timed beside them."""
    eager = {a: create_model(arch, a, num_classes=num_classes).eval() for a in attentions}
    models = {(a, False): m for a, m in eager.items()}
    if compiled:
        models.update({(a, True): torch.compile(eager[a]) for a in COMPILED if a in eager})
    gen = torch.Generator().manual_seed(0)
    one = torch.randn(1, 3, size, size, generator=gen)
    flops = {a: count_flops(m, one)[0] / 1e9 for a, m in eager.items()}
    ms: dict[tuple[str, bool], dict[int, float]] = {k: {} for k in models}
    counted = {k: rounds for k in models}
    for batch in batch_sizes:
        x = torch.randn(batch, 3, size, size, generator=gen)
        timed = measure({k: forward_call(m, x) for k, m in models.items()}, rounds=rounds,
                        budget=budget, clock=bench_clock(),
                        warm=[k for k in models if k[1]])  # compiled: compile at this batch
        for k, t in timed.items():
            ms[k][batch] = t.ms
            counted[k] = min(counted[k], t.rounds)
    return [Cost(arch, a, sum(p.numel() for p in eager[a].parameters()), flops[a], ms[(a, c)],
                 counted[(a, c)], c) for a, c in models]


def as_records(rows: Sequence[Cost], batch_sizes: Sequence[int]) -> list[dict[str, object]]:
    """Flat records, one per model, with every cost and its percentage over plain."""
    plain = {(r.arch, r.compiled): r for r in rows if r.attention == 'plain'}
    records = []
    for r in rows:
        p = plain.get((r.arch, r.compiled))
        record: dict[str, object] = {
            'arch': r.arch, 'attention': r.label, 'params': r.params,
            'gflops': r.gflops, 'rounds': r.rounds,
            'params_pct': percent_over(r.params, p.params) if p else math.nan,
            'gflops_pct': percent_over(r.gflops, p.gflops) if p else math.nan}
        for b in batch_sizes:
            record[f'ms_b{b}'] = r.ms[b]
            record[f'ms_b{b}_pct'] = percent_over(r.ms[b], p.ms[b]) if p else math.nan
        records.append(record)
    return records


def _pct(value: object) -> str:
    return '-' if not isinstance(value, float) or math.isnan(value) else f'{value:+.3g}%'


def _vs_plain(record: dict[str, object], key: str) -> str:
    return '-' if record['attention'] == 'plain' else _pct(record[key])


def format_markdown(records: Sequence[dict[str, object]], batch_sizes: Sequence[int],
                    size: int, notes: Sequence[str]) -> str:
    """The full table, then LA over plain per architecture with the CNN targets."""
    ms_heads = ''.join(f' ms b{b} | vs plain |' for b in batch_sizes)
    lines = [f'# Backbone cost on the CPU ({torch.get_num_threads()} threads, '
             f'torch {torch.__version__}, {size}x{size} input)', '',
             f'| arch | attention | params | vs plain | GFLOPs | vs plain |{ms_heads} rounds |',
             '|---|---|---:|---:|---:|---:|' + '---:|---:|' * len(batch_sizes) + '---:|']
    for r in records:
        times = ''.join(f' {r[f"ms_b{b}"]:.2f} | {_vs_plain(r, f"ms_b{b}_pct")} |'
                        for b in batch_sizes)
        lines.append(f'| {r["arch"]} | {r["attention"]} | {r["params"]:,} | '
                     f'{_vs_plain(r, "params_pct")} | {r["gflops"]:.3f} | '
                     f'{_vs_plain(r, "gflops_pct")} |{times} {r["rounds"]} |')
    la = [r for r in records if r['attention'] in ('la', 'la, compiled')
          and not math.isnan(r['params_pct'])]
    if la:
        heads = ''.join(f' latency b{b} |' for b in batch_sizes)
        lines += ['', '## LA over plain', '',
                  f'| arch | model | params | GFLOPs |{heads} latency target | met |',
                  '|---|---|---:|---:|' + '---:|' * len(batch_sizes) + '---:|:---:|']
        for r, (_, target, met) in zip(la, la_targets(la, batch_sizes), strict=True):
            latency = ''.join(f' {_pct(r[f"ms_b{b}_pct"])} |' for b in batch_sizes)
            lines.append(f'| {r["arch"]} | {r["attention"]} | {_pct(r["params_pct"])} | '
                         f'{_pct(r["gflops_pct"])} |{latency} < {target:g}% | '
                         f'{"yes" if met else "NO"} |')
        lines += ['', f'Targets: LA adds under 2% latency over plain at every batch size (ViT, '
                  f'with LA in every block, under 5%), and on the CNNs under {PARAMS_TARGET}% '
                  'parameters.']
    lines += ['', 'Latency: median ms of an eval-mode forward pass; the models of one '
              'architecture run interleaved in rounds on the same input, so the percentages '
              'over plain come from one run. FLOPs: fvcore at one image (one fused multiply-add '
              '= one flop; element-wise and pooling work is not counted).', *notes, '']
    return '\n'.join(lines)


def la_targets(records: Sequence[dict[str, object]],
               batch_sizes: Sequence[int]) -> list[tuple[str, float, bool]]:
    """For each LA record: (what, latency target %, met), the worst batch size counting."""
    found = []
    for r in records:
        target = latency_target(str(r['arch']))
        worst = max(float(r[f'ms_b{b}_pct']) for b in batch_sizes)
        met = worst < target and (not get_arch(str(r['arch'])).params_target
                                  or float(r['params_pct']) < PARAMS_TARGET)
        found.append((f'{r["arch"]} ({r["attention"]}): latency over plain at batch '
                      f'{"/".join(map(str, batch_sizes))}, worst {worst:+.2f}% (< {target:g}%)',
                      target, met))
    return found


def run(args: argparse.Namespace) -> int:
    archs = [get_arch(a).name for a in args.archs] if args.archs else list_archs()
    known = {'plain', *list_attentions()}
    wanted = list(dict.fromkeys(['plain', *(a.lower() for a in args.attentions)]))
    missing = [a for a in wanted if a not in known]
    attentions = [a for a in wanted if a in known]
    notes = [f'Not registered, skipped: {", ".join(missing)}.'] if missing else []
    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()
    rows: list[Cost] = []
    for arch in archs:
        print(f'measuring {arch} with {len(attentions)} attention slots ...', flush=True)
        rows += bench_arch(arch, attentions, args.batch_sizes, args.size, args.rounds,
                           args.budget, args.num_classes, args.compile)
    records = as_records(rows, args.batch_sizes)
    text = format_markdown(records, args.batch_sizes, args.size, notes)
    print(text)
    if args.out:
        write_report(args.out, 'cost', text, records)
    return 0


def add_parser(benches: argparse._SubParsersAction) -> None:
    p = benches.add_parser('cost', help='params, FLOPs and CPU latency of every backbone x '
                           'attention', description=__doc__)
    p.add_argument('--archs', nargs='+', metavar='ARCH',
                   help='architectures (default: all registered)')
    p.add_argument('--attentions', nargs='+', default=list(MODULES), metavar='NAME',
                   help="attentions besides plain (default: the release's, its comparison "
                        f"set and its detection code's: {' '.join(MODULES)}; unregistered "
                        'ones are skipped)')
    p.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 8], metavar='B',
                   help='batch sizes timed (default: 1 8)')
    p.add_argument('--size', type=int, default=224, help='input height and width (default: 224)')
    p.add_argument('--num-classes', type=int, default=1000,
                   help='classifier outputs (default: 1000, the reference sizes)')
    add_rounds(p)
    add_budget(p)
    add_threads(p)
    p.add_argument('--compile', action='store_true',
                   help='also time torch.compile of the plain and LA models')
    add_out(p, 'cost.md and cost.csv')
    p.set_defaults(run=run)
