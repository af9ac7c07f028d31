"""``loosen bench cost``: what each attention adds to each backbone, in one table.

Every architecture is built plain and with each attention of the comparison set at
the paper's placement. For each model: parameters; FLOPs of one image counted by
fvcore (one fused multiply-add = one flop; element-wise and pooling work is not
counted); and the CPU latency of an eval-mode forward pass at each batch size, all
models of one architecture interleaved in rounds on the same input, medians kept.
Every cost is also given as a percentage over the plain model measured in the same run.
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..attention import list_attentions
from ..timm_plugins import create_model, get_arch, list_archs
from .attention import count_flops
from .report import write_report
from .timing import forward_call, keep_freed_memory, measure

COMPARISON = ('plain', 'la', 'cbam', 'se', 'eca', 'ca', 'sa', 'psca', 'fsa', 'gcsa', 'mlca')
CNNS = ('alexnet', 'zfnet', 'resnet34', 'mobilenetv1')  # where the targets apply
PARAMS_TARGET, LATENCY_TARGET = 0.1, 3.0  # % LA may add over plain on a CNN


@dataclass
class Cost:
    """One model: parameters, fvcore GFLOPs at one image, median ms per batch size."""

    arch: str
    attention: str
    params: int
    gflops: float
    ms: dict[int, float]
    rounds: int


def percent_over(value: float, plain: float) -> float:
    return 100.0 * (value - plain) / plain if plain else math.nan


def bench_arch(arch: str, attentions: Sequence[str], batch_sizes: Sequence[int], size: int,
               rounds: int, budget: float, num_classes: int) -> list[Cost]:
    """Build ``arch`` with every attention (plain included) and measure each model."""
    models = {a: create_model(arch, a, num_classes=num_classes).eval() for a in attentions}
    gen = torch.Generator().manual_seed(0)
    one = torch.randn(1, 3, size, size, generator=gen)
    flops = {a: count_flops(m, one)[0] / 1e9 for a, m in models.items()}
    ms: dict[str, dict[int, float]] = {a: {} for a in attentions}
    counted = {a: rounds for a in attentions}
    for batch in batch_sizes:
        x = torch.randn(batch, 3, size, size, generator=gen)
        timed = measure({a: forward_call(m, x) for a, m in models.items()}, rounds=rounds,
                        budget=budget)
        for a, t in timed.items():
            ms[a][batch] = t.ms
            counted[a] = min(counted[a], t.rounds)
    return [Cost(arch, a, sum(p.numel() for p in m.parameters()), flops[a], ms[a], counted[a])
            for a, m in models.items()]


def as_records(rows: Sequence[Cost], batch_sizes: Sequence[int]) -> list[dict[str, object]]:
    """Flat records, one per model, with every cost and its percentage over plain."""
    plain = {r.arch: r for r in rows if r.attention == 'plain'}
    records = []
    for r in rows:
        p = plain.get(r.arch)
        record: dict[str, object] = {
            'arch': r.arch, 'attention': r.attention, 'params': r.params,
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
    la = [r for r in records if r['attention'] == 'la' and not math.isnan(r['params_pct'])]
    if la:
        heads = ''.join(f' latency b{b} |' for b in batch_sizes)
        lines += ['', '## LA over plain', '',
                  f'| arch | params | GFLOPs |{heads} CNN targets met |',
                  '|---|---:|---:|' + '---:|' * len(batch_sizes) + ':---:|']
        for r in la:
            latency = [r[f'ms_b{b}_pct'] for b in batch_sizes]
            met = (r['params_pct'] < PARAMS_TARGET and max(latency) < LATENCY_TARGET)
            verdict = ('yes' if met else 'NO') if r['arch'] in CNNS else '-'
            lines.append(f'| {r["arch"]} | {_pct(r["params_pct"])} | {_pct(r["gflops_pct"])} |'
                         + ''.join(f' {_pct(v)} |' for v in latency) + f' {verdict} |')
        lines += ['', f'Targets on the CNN backbones: LA adds under {PARAMS_TARGET}% parameters '
                  f'and under {LATENCY_TARGET}% latency over plain.']
    lines += ['', 'Latency: median ms of an eval-mode forward pass; the models of one '
              'architecture run interleaved in rounds on the same input, so the percentages '
              'over plain come from one run. FLOPs: fvcore at one image (one fused multiply-add '
              '= one flop; element-wise and pooling work is not counted).', *notes, '']
    return '\n'.join(lines)


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
                           args.budget, args.num_classes)
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
    p.add_argument('--attentions', nargs='+', default=list(COMPARISON[1:]), metavar='NAME',
                   help='attentions besides plain (default: the comparison set '
                        f'{" ".join(COMPARISON[1:])}; unregistered ones are skipped)')
    p.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 8], metavar='B',
                   help='batch sizes timed (default: 1 8)')
    p.add_argument('--size', type=int, default=224, help='input height and width (default: 224)')
    p.add_argument('--num-classes', type=int, default=1000,
                   help='classifier outputs (default: 1000, the reference sizes)')
    p.add_argument('--rounds', type=int, default=5, help='interleaved rounds (default: 5)')
    p.add_argument('--budget', type=float, default=60.0,
                   help='seconds a slow model may take in all, per batch size (default: 60)')
    p.add_argument('--threads', type=int, default=0,
                   help='torch threads (default: all); 1 is steadier on a busy machine')
    p.add_argument('--out', type=Path, help='write cost.md and cost.csv here')
    p.set_defaults(run=run)
