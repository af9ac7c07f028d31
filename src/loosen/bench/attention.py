"""``loosen bench attention``: every registered attention module's cost, in one table.

For each input shape, every module (at its registry defaults) is built for the shape's
C and measured on the same input: parameters, FLOPs counted by fvcore, and CPU time
of a forward pass (eval mode, no grad) and of a forward+backward step (train mode,
gradients of the input and the parameters), as ratios to LA measured in the same
interleaved rounds. fvcore counts one fused multiply-add as one flop and skips the
operators it has no formula for (element-wise ops, pooling, sorting...); the table
names the skipped operators per module, so a low count is read with them in mind.
"""
from __future__ import annotations

import argparse
import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from ..attention import create_attention, get_attention, list_attentions
from ..options import add_budget, add_out, add_rounds
from ..report import write_report
from .flops import count_flops, parse_shape
from .timing import forward_call, keep_freed_memory, measure, training_call

DEFAULT_SHAPES = ((8, 256, 28, 28), (8, 64, 112, 112))
BASELINE = 'la'
DEFAULTS_NOTE = ('Modules at their registry defaults: la heads=16; gcsa heads=4; lesa heads=8, '
                 'window=7 (all divide 64 and 256); timm\'s modules (ca, se, eca, coord, gc, ela) '
                 'with se and eca as released (bias-free at C/16, kernel 3), the others at '
                 'timm\'s defaults; sa, and cbam\'s spatial branch, written here as released '
                 '(a bias-free 7x7 convolution, no BatchNorm).')


@dataclass
class Row:
    """One module at one input shape."""

    name: str
    shape: str
    params: int
    mflops: float
    forward_ms: float
    train_ms: float
    forward_vs_la: float
    train_vs_la: float
    rounds: int
    not_counted: str  # operators fvcore skipped, space-separated


def bench_shape(shape: tuple[int, ...], names: Sequence[str], rounds: int,
                budget: float) -> list[Row]:
    """Measure every module in ``names`` (LA first, as the baseline) at ``shape``."""
    channels = shape[1]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen).requires_grad_(True)
    grad = torch.randn(shape, generator=gen)
    train = {name: create_attention(name, channels).train() for name in names}
    infer = {name: copy.deepcopy(m).eval() for name, m in train.items()}
    forward = measure({n: forward_call(m, x) for n, m in infer.items()}, rounds=rounds,
                      budget=budget)
    step = measure({n: training_call(m, x, grad) for n, m in train.items()}, rounds=rounds,
                   budget=budget)
    base_f, base_t = forward[BASELINE].seconds, step[BASELINE].seconds
    rows = []
    for name, module in infer.items():
        flops, skipped = count_flops(module, x.detach())
        rows.append(Row(
            name=name, shape='x'.join(map(str, shape)),
            params=sum(p.numel() for p in module.parameters()), mflops=flops / 1e6,
            forward_ms=forward[name].ms, train_ms=step[name].ms,
            forward_vs_la=forward[name].seconds / base_f, train_vs_la=step[name].seconds / base_t,
            rounds=min(forward[name].rounds, step[name].rounds), not_counted=' '.join(skipped)))
    return rows


def format_markdown(rows: Sequence[Row], threads: int) -> str:
    """One markdown table of every module at every shape, then the notes."""
    lines = [f'# Attention modules on the CPU ({threads} threads, torch {torch.__version__})', '',
             '| module | input | params | MFLOPs (fvcore) | forward ms | forward vs LA '
             '| fwd+bwd ms | fwd+bwd vs LA | rounds | not counted by fvcore |',
             '|---|---|---:|---:|---:|---:|---:|---:|---:|---|']
    for r in rows:
        lines.append(f'| {r.name} | {r.shape} | {r.params:,} | {r.mflops:.3g} | '
                     f'{r.forward_ms:.3f} | {r.forward_vs_la:.2f}x | {r.train_ms:.3f} | '
                     f'{r.train_vs_la:.2f}x | {r.rounds} | {r.not_counted or "-"} |')
    lines += ['', 'Median ms per call; the modules run interleaved in rounds on the same tensors, '
              'so the ratios to LA come from one run. Forward: eval mode, no grad. fwd+bwd: '
              'train mode, gradients of the input and every parameter.',
              'FLOPs: fvcore counts one fused multiply-add as one flop and skips the operators '
              'in the last column, so element-wise and pooling work is missing from the count.',
              DEFAULTS_NOTE, '']
    return '\n'.join(lines)


def selected(names: Sequence[str] | None) -> list[str]:
    """The modules to measure, the baseline LA first; unknown names fail with the known list."""
    chosen = [get_attention(n).name for n in names] if names else list_attentions()
    return [BASELINE] + [n for n in dict.fromkeys(chosen) if n != BASELINE]


def run(args: argparse.Namespace) -> int:
    names = selected(args.names)
    keep_freed_memory()
    rows: list[Row] = []
    for shape in args.shapes:
        print(f'measuring {len(names)} modules at {"x".join(map(str, shape))} ...', flush=True)
        rows += bench_shape(shape, names, args.rounds, args.budget)
    text = format_markdown(rows, torch.get_num_threads())
    print(text)
    if args.out:
        write_report(args.out, 'attention', text, [asdict(r) for r in rows])
    return 0


def add_parser(benches: argparse._SubParsersAction) -> None:
    p = benches.add_parser('attention', help='every attention module: params, FLOPs, CPU time',
                           description=__doc__)
    p.add_argument('--shapes', type=parse_shape, nargs='+', default=list(DEFAULT_SHAPES),
                   metavar='BxCxHxW', help='input shapes (default: 8x256x28x28 8x64x112x112)')
    p.add_argument('--names', nargs='+', metavar='NAME',
                   help='modules to measure (default: all registered); LA is always included')
    add_rounds(p)
    add_budget(p)
    add_out(p, 'attention.md and attention.csv')
    p.set_defaults(run=run)
