"""``loosen bench la``: what LA costs, as ratios measured in one run on the same tensors.

LA is timed against its loop-form reference (the paper release's computation), the
memory-bound floor ``x * sigmoid(x)`` over the same tensor, and timm's SE and CBAM;
the memory it keeps alive for backward is counted beside. Targets are checked and
reported, never asserted in tests (timings belong to benchmarks).
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..attention.checks import check_heads
from ..attention.la import LA
from ..attention.la_reference import la_loops
from .timing import (
    Timing,
    forward_call,
    keep_freed_memory,
    measure,
    peak_bytes,
    saved_bytes,
    training_call,
)

DEFAULT_SHAPES = ((16, 512, 14, 14), (8, 64, 112, 112))
REFERENCE = 'loop reference'
FLOOR = 'x * sigmoid(x)'


@dataclass
class Row:
    """One contender at one shape: median ms per call, and memory of a training step."""

    name: str
    forward_ms: float
    train_ms: float
    saved_mb: float  # kept by autograd between forward and backward
    peak_mb: float | None  # allocated at the worst moment of forward+backward
    rounds: int


@dataclass
class ShapeReport:
    shape: tuple[int, ...]
    rows: list[Row]
    targets: list[tuple[str, float, bool]] = field(default_factory=list)

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)


class _Floor(nn.Module):
    """The memory-bound floor: one elementwise gate over the same tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class _Reference(nn.Module):
    """The loop-form LA sharing ``la``'s weights."""

    def __init__(self, la: LA) -> None:
        super().__init__()
        self.la = la

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return la_loops(self.la, x)


def contenders(channels: int, heads: int, compile_la: bool) -> dict[str, nn.Module]:
    """Every module timed, LA first; timm's modules at their default reductions."""
    from timm.layers.cbam import CbamModule
    from timm.layers.squeeze_excite import SEModule

    la = LA(channels, heads=heads)
    found: dict[str, nn.Module] = {
        'LA': la,
        'LA, plain autograd': LA(channels, heads=heads, recompute=False),
    }
    if compile_la:
        found['LA, torch.compile'] = torch.compile(LA(channels, heads=heads, recompute=False))
    found.update({REFERENCE: _Reference(la), FLOOR: _Floor(),
                  'timm SE': SEModule(channels), 'timm CBAM': CbamModule(channels)})
    return found


def bench_shape(shape: tuple[int, ...], heads: int, rounds: int, budget: float,
                compile_la: bool) -> ShapeReport:
    """Time every contender at ``shape`` on one input tensor and one output gradient."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen).requires_grad_(True)
    grad = torch.randn(shape, generator=gen)
    found = contenders(shape[1], heads, compile_la)
    forward = measure({n: forward_call(m, x) for n, m in found.items()}, rounds=rounds,
                      budget=budget)
    train = measure({n: training_call(m, x, grad) for n, m in found.items()}, rounds=rounds,
                    budget=budget)
    rows = []
    for name, module in found.items():
        kept = saved_bytes(lambda m=module: m(x), x, *module.parameters())
        peak = None if name == REFERENCE else peak_bytes(training_call(module, x, grad)) / 2**20
        rows.append(Row(name, forward[name].ms, train[name].ms, kept / 2**20, peak,
                        min(forward[name].rounds, train[name].rounds)))
    report = ShapeReport(tuple(shape), rows)
    report.targets = check_targets(forward, train)
    return report


def check_targets(forward: dict[str, Timing], train: dict[str, Timing]) -> list[
        tuple[str, float, bool]]:
    """The issue's targets as (what, measured ratio, met)."""
    la_f, la_t = forward['LA'].seconds, train['LA'].seconds
    ratios = [
        ('speed-up over the loop reference, forward (>= 100x)',
         forward[REFERENCE].seconds / la_f, 100.0, True),
        ('speed-up over the loop reference, forward+backward (>= 50x)',
         train[REFERENCE].seconds / la_t, 50.0, True),
        ('forward time over x * sigmoid(x) (<= 2.5x)', la_f / forward[FLOOR].seconds, 2.5, False),
        ('forward+backward time over timm CBAM (<= 1x)', la_t / train['timm CBAM'].seconds, 1.0,
         False),
    ]
    return [(what, ratio, ratio >= bound if at_least else ratio <= bound)
            for what, ratio, bound, at_least in ratios]


def format_report(reports: Sequence[ShapeReport], threads: int) -> str:
    """A markdown report: one table per shape, then the targets."""
    lines = [f'# LA cost on the CPU ({threads} threads, torch {torch.__version__})', '',
             'Median ms per call, contenders interleaved in rounds on the same tensors. '
             '"kept" is what autograd holds between forward and backward beyond the input '
             'and the parameters (what a layer adds to a network\'s training memory); '
             '"peak" is the most memory allocated at once during one forward+backward '
             '(output and input gradient included; not run for the slow loop reference).', '']
    for rep in reports:
        la = rep.row('LA')
        x_mb = torch.Size(rep.shape).numel() * 4 / 2**20
        lines += [f'## input {"x".join(map(str, rep.shape))} (x is {x_mb:.1f} MB)', '',
                  '| module | forward ms | fwd+bwd ms | forward vs LA | fwd+bwd vs LA '
                  '| kept MB | peak MB | rounds |',
                  '|---|---:|---:|---:|---:|---:|---:|---:|']
        for r in rep.rows:
            lines.append(f'| {r.name} | {r.forward_ms:.3f} | {r.train_ms:.3f} | '
                         f'{r.forward_ms / la.forward_ms:.2f}x | {r.train_ms / la.train_ms:.2f}x | '
                         f'{r.saved_mb:.2f} | {_mb(r.peak_mb)} | {r.rounds} |')
        lines += ['', '| target | measured | met |', '|---|---:|:---:|']
        lines += [f'| {what} | {ratio:.2f}x | {"yes" if ok else "NO"} |'
                  for what, ratio, ok in rep.targets]
        lines.append('')
    return '\n'.join(lines)


def _mb(value: float | None) -> str:
    return 'n/a' if value is None else f'{value:.1f}'


def parse_shape(text: str) -> tuple[int, ...]:
    """'16x512x14x14' -> (16, 512, 14, 14)."""
    try:
        shape = tuple(int(v) for v in text.lower().split('x'))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f'shape {text!r} is not BxCxHxW, e.g. 16x512x14x14')
    return shape


def run(args: argparse.Namespace) -> int:
    for shape in args.shapes:
        check_heads('LA', shape[1], args.heads)
    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()
    reports = []
    for shape in args.shapes:
        print(f'timing LA at {"x".join(map(str, shape))} ...', flush=True)
        reports.append(bench_shape(shape, args.heads, args.rounds, args.budget, args.compile))
    text = format_report(reports, torch.get_num_threads())
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / 'la.md').write_text(text)
        (args.out / 'la.json').write_text(json.dumps([asdict(r) for r in reports], indent=2))
        print(f'wrote {args.out / "la.md"} and {args.out / "la.json"}')
    missed = [t for rep in reports for t in rep.targets if not t[2]]
    return 1 if args.strict and missed else 0


def add_parser(benches: argparse._SubParsersAction) -> None:
    p = benches.add_parser('la', help='LA against its loop reference, x*sigmoid(x), SE and CBAM',
                           description=__doc__)
    p.add_argument('--shapes', type=parse_shape, nargs='+', default=list(DEFAULT_SHAPES),
                   metavar='BxCxHxW', help='input shapes (default: 16x512x14x14 8x64x112x112)')
    p.add_argument('--heads', type=int, default=16, help='LA heads (default: 16)')
    p.add_argument('--rounds', type=int, default=7, help='interleaved rounds (default: 7)')
    p.add_argument('--budget', type=float, default=120.0,
                   help='seconds a slow contender may take in all (default: 120)')
    p.add_argument('--threads', type=int, default=0, help='torch threads (default: all)')
    p.add_argument('--compile', action='store_true', help='also time LA under torch.compile')
    p.add_argument('--out', type=Path, help='write la.md and la.json here')
    p.add_argument('--strict', action='store_true', help='exit 1 when a target is missed')
    p.set_defaults(run=run)
