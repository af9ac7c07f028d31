"""``loosen bench la``: what LA costs, as ratios measured in one run on the same tensors.

LA is timed against its loop-form reference (the paper release's computation), the
memory-bound floor ``x * sigmoid(x)`` over the same tensor, and timm's SE and CBAM;
the memory it keeps alive for backward is counted beside. ``--latency-archs`` adds
what LA costs each backbone's latency (``loosen bench cost``'s LA-over-plain
targets); ``--step`` times whole training steps with LA's recomputing backward on
and off. Targets are checked and reported, never asserted in tests.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..attention.checks import check_heads
from ..attention.la import LA
from ..attention.la_reference import la_loops
from ..options import add_budget, add_out, add_rounds, add_threads
from .flops import parse_shape
from .timing import (
    Timing,
    bench_clock,
    forward_call,
    keep_freed_memory,
    measure,
    peak_bytes,
    saved_bytes,
    training_call,
)

# the benchmark shapes: a late CNN stage, an early one, and AlexNet's LA input (16 and
# 32 heads, the release's count there)
DEFAULT_CASES = (((16, 512, 14, 14), 16), ((8, 64, 112, 112), 16), ((8, 128, 6, 6), 16),
                 ((8, 128, 6, 6), 32))
SMALL_MAP = 64  # pixels: at most this, per-call overhead dominates and the bound is looser
FLOOR_BOUND = {True: 4.0, False: 1.6}  # LA forward over x * sigmoid(x), small map or not
REFERENCE = 'loop reference'
FLOOR = 'x * sigmoid(x)'
STEP_GAIN = 5.0  # % of a step's time or peak memory the recomputing backward must save


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
    heads: int
    rows: list[Row]
    targets: list[tuple[str, float, bool]] = field(default_factory=list)
    channels_last: bool = False

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)


class Floor(nn.Module):
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
    found.update({REFERENCE: _Reference(la), FLOOR: Floor(),
                  'timm SE': SEModule(channels), 'timm CBAM': CbamModule(channels)})
    return found


def bench_shape(shape: tuple[int, ...], heads: int, rounds: int, budget: float,
                compile_la: bool, channels_last: bool = False) -> ShapeReport:
    """Time every contender at ``shape`` on one input tensor and one output gradient,
    both in ``channels_last`` memory format when asked (as ViT's token grid is)."""
    gen = torch.Generator().manual_seed(0)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(shape, generator=gen).contiguous(memory_format=layout).requires_grad_(True)
    grad = torch.randn(shape, generator=gen).contiguous(memory_format=layout)
    found = contenders(shape[1], heads, compile_la)
    warm = [n for n in found if n != REFERENCE]  # compiled: both graphs before any timing
    clock = bench_clock()
    forward = measure({n: forward_call(m, x) for n, m in found.items()}, rounds=rounds,
                      budget=budget, clock=clock, warm=warm)
    train = measure({n: training_call(m, x, grad) for n, m in found.items()}, rounds=rounds,
                    budget=budget, clock=clock, warm=warm)
    rows = []
    for name, module in found.items():
        kept = saved_bytes(lambda m=module: m(x), x, *module.parameters())
        peak = None if name == REFERENCE else peak_bytes(training_call(module, x, grad)) / 2**20
        rows.append(Row(name, forward[name].ms, train[name].ms, kept / 2**20, peak,
                        min(forward[name].rounds, train[name].rounds)))
    report = ShapeReport(tuple(shape), heads, rows, channels_last=channels_last)
    report.targets = check_targets(forward, train, shape[2] * shape[3] <= SMALL_MAP)
    return report


def check_targets(forward: dict[str, Timing], train: dict[str, Timing], small: bool) -> list[
        tuple[str, float, bool]]:
    """The targets as (what, measured ratio, met). The loop reference's speed-ups are
    targets of the large maps only, where its loops over heads and cells are long."""
    la_f, la_t = forward['LA'].seconds, train['LA'].seconds
    bound = FLOOR_BOUND[small]
    size = f'{"small" if small else "large"} map'
    ratios = [] if small else [
        ('speed-up over the loop reference, forward (>= 100x)',
         forward[REFERENCE].seconds / la_f, 100.0, True),
        ('speed-up over the loop reference, forward+backward (>= 50x)',
         train[REFERENCE].seconds / la_t, 50.0, True),
    ]
    ratios += [
        (f'{size}: forward time over x * sigmoid(x) (<= {bound:g}x)',
         la_f / forward[FLOOR].seconds, bound, False),
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
        layout = ', channels-last' if rep.channels_last else ''
        lines += [f'## input {"x".join(map(str, rep.shape))}{layout}, {rep.heads} heads '
                  f'(x is {x_mb:.1f} MB)', '',
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


def latency_targets(archs: Sequence[str], rounds: int, budget: float) -> list[
        tuple[str, float, bool]]:
    """``loosen bench cost``'s LA-over-plain latency targets, at batch 1 and 8, for ``archs``."""
    from .cost import as_records, bench_arch, la_targets

    batches = (1, 8)
    found = []
    for arch in archs:
        print(f'latency of {arch}_la over {arch}_plain ...', flush=True)
        records = as_records(bench_arch(arch, ['plain', 'la'], batches, 224, rounds, budget,
                                        1000), batches)
        found += la_targets([r for r in records if r['attention'] == 'la'], batches)
    return found


@dataclass
class StepRow:
    """One model's training step with LA's recomputing backward on and off."""

    arch: str
    placement: str
    modules: int  # LA modules in the model
    images_per_s: dict[str, float]
    peak_mb: dict[str, float]

    def gain(self) -> tuple[float, float]:
        """% of a step's time and of its peak memory that recomputing saves."""
        on, off = 'recompute on', 'recompute off'
        return (100 * (1 - self.images_per_s[off] / self.images_per_s[on]),
                100 * (1 - self.peak_mb[on] / self.peak_mb[off]))


def step_models() -> list[tuple[str, str]]:
    """(arch, placement) of every architecture with a ``step_placement``: where LA sits in
    every block, so what the recomputing backward buys a training step shows."""
    from ..models import get_arch, list_archs

    return [(a, get_arch(a).step_placement) for a in list_archs() if get_arch(a).step_placement]


def bench_steps(batch: int, size: int, rounds: int) -> list[StepRow]:
    """Whole training steps (forward, loss, backward) of ``step_models()``, the two LA
    backwards interleaved on the same batch and weights."""
    from ..models import create_model

    rows = []
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, size, size, generator=gen)
    target = torch.randint(0, 4, (batch,), generator=gen)
    for arch, placement in step_models():
        print(f'training steps of {arch}_la ({placement} placement) ...', flush=True)
        models = {}
        for name, recompute in (('recompute on', True), ('recompute off', False)):
            torch.manual_seed(0)
            models[name] = create_model(arch, 'la', placement=placement,
                                        attn_kwargs={'recompute': recompute}).train()
        steps = {name: _training_step(m, x, target) for name, m in models.items()}
        timed = measure(steps, rounds=rounds, budget=1e9, clock=bench_clock())  # every round
        rows.append(StepRow(
            arch, placement, sum(isinstance(m, LA) for m in models['recompute on'].modules()),
            {n: batch / t.seconds for n, t in timed.items()},
            {n: peak_bytes(step) / 2**20 for n, step in steps.items()}))
    return rows


def _training_step(model: nn.Module, x: torch.Tensor, target: torch.Tensor):
    def step() -> None:
        model.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), target).backward()
    return step


def format_steps(rows: Sequence[StepRow], batch: int, size: int) -> str:
    """The step table and the verdict on the recomputing backward."""
    lines = [f'## Training step, LA\'s recomputing backward on vs off (batch {batch}, '
             f'{size}x{size})', '',
             '| model | LA modules | img/s on | img/s off | step time saved | peak MB on '
             '| peak MB off | peak saved |', '|---|---:|---:|---:|---:|---:|---:|---:|']
    for r in rows:
        time_gain, memory_gain = r.gain()
        lines.append(f'| {r.arch}_la ({r.placement}) | {r.modules} | '
                     f'{r.images_per_s["recompute on"]:.2f} | '
                     f'{r.images_per_s["recompute off"]:.2f} | {time_gain:+.1f}% | '
                     f'{r.peak_mb["recompute on"]:.0f} | {r.peak_mb["recompute off"]:.0f} | '
                     f'{memory_gain:+.1f}% |')
    best = max(max(r.gain()) for r in rows)
    verdict = 'pays for itself' if best >= STEP_GAIN else 'does NOT pay for itself'
    lines += ['', f'Recomputing backward: best saving {best:+.1f}% of a step (keep it at >= '
              f'{STEP_GAIN:g}% of time or memory on one model): {verdict}.', '']
    return '\n'.join(lines)


def run(args: argparse.Namespace) -> int:
    cases = ([(shape, h) for shape in args.shapes for h in args.heads or [16]] if args.shapes
             else [(shape, h) for shape, h in DEFAULT_CASES if not args.heads or h in args.heads])
    for shape, heads in cases:
        check_heads('LA', shape[1], heads)
    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()
    reports = []
    for shape, heads in cases:
        print(f'timing LA at {"x".join(map(str, shape))}, {heads} heads ...', flush=True)
        reports.append(bench_shape(shape, heads, args.rounds, args.budget, args.compile,
                                   args.channels_last))
    text = format_report(reports, torch.get_num_threads())
    latency = latency_targets(args.latency_archs, args.rounds, args.budget)
    if latency:
        text += '\n## LA over plain in every backbone (loosen bench cost)\n\n'
        text += '| target | met |\n|---|:---:|\n' + ''.join(
            f'| {what} | {"yes" if ok else "NO"} |\n' for what, _, ok in latency)
    if args.step:
        text += '\n' + format_steps(bench_steps(args.step_batch, args.step_size, args.rounds),
                                    args.step_batch, args.step_size)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / 'la.md').write_text(text)
        (args.out / 'la.json').write_text(json.dumps([asdict(r) for r in reports], indent=2))
        print(f'wrote {args.out / "la.md"} and {args.out / "la.json"}')
    missed = [t for rep in reports for t in rep.targets if not t[2]] + [
        t for t in latency if not t[2]]
    return 1 if args.strict and missed else 0


def add_parser(benches: argparse._SubParsersAction) -> None:
    from ..models import list_archs

    p = benches.add_parser('la', help='LA against its loop reference, x*sigmoid(x), SE and CBAM',
                           description=__doc__)
    p.add_argument('--shapes', type=parse_shape, nargs='+', metavar='BxCxHxW',
                   help='input shapes (default: 16x512x14x14 8x64x112x112 8x128x6x6, the '
                        'last at 16 and 32 heads)')
    p.add_argument('--heads', type=int, nargs='+', help='LA heads (default: 16; 32 too at 6x6)')
    add_rounds(p)
    add_budget(p)
    add_threads(p)
    p.add_argument('--compile', action='store_true', help='also time LA under torch.compile')
    p.add_argument('--channels-last', action='store_true',
                   help='inputs in channels-last memory format (as ViT hands LA its grid)')
    p.add_argument('--latency-archs', nargs='*', default=list_archs(), metavar='ARCH',
                   help='backbones whose LA-over-plain latency targets are checked at batch 1 '
                        'and 8 (default: all; none: give the flag alone)')
    p.add_argument('--step', action='store_true',
                   help='also time training steps with the recomputing backward on and off')
    p.add_argument('--step-batch', type=int, default=8, help='step batch size (default: 8)')
    p.add_argument('--step-size', type=int, default=224, help='step image size (default: 224)')
    add_out(p, 'la.md and la.json')
    p.add_argument('--strict', action='store_true', help='exit 1 when a target is missed')
    p.set_defaults(run=run)
