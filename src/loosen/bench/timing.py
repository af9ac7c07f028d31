"""Fair CPU timing: contenders run interleaved in rounds on the same inputs, medians kept.

Interleaving spreads the machine's drift (other load, turbo, caches) over every
contender alike, so the ratios of one run are comparable even when seconds are not.
On a shared machine, run with one torch thread: ``bench_clock`` then reads this
process's CPU time, which other processes' load does not stretch.
"""
from __future__ import annotations

import ctypes
import statistics
import time
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn

from ..options import BUDGET, ROUNDS
from ..quiet import quiet_probes


def keep_freed_memory() -> bool:
    """Stop glibc from handing freed large blocks back to the OS (and faulting them in again).

    Without it, tensors of tens of MB are mapped and unmapped on every call, and the
    page faults, not the arithmetic, dominate CPU timings. A long training run's heap
    behaves like this anyway. Returns False where glibc's ``mallopt`` is not available.
    """
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_trim_threshold, 1 << 30) and libc.mallopt(m_mmap_threshold, 1 << 30))


@dataclass
class Timing:
    """Median seconds per call of one contender, over ``rounds`` rounds."""

    seconds: float
    rounds: int
    calls: int

    @property
    def ms(self) -> float:
        return self.seconds * 1e3


def forward_call(module: nn.Module, x: torch.Tensor) -> Callable[[], torch.Tensor]:
    """A contender: one inference forward of ``module`` on ``x`` (no autograd)."""
    def run() -> torch.Tensor:
        with torch.no_grad():
            return module(x)
    return run


def training_call(module: nn.Module, x: torch.Tensor,
                  grad: torch.Tensor) -> Callable[[], object]:
    """A contender: forward and backward, the gradients of x and every trained parameter."""
    inputs = [x, *(p for p in module.parameters() if p.requires_grad)]
    return lambda: torch.autograd.grad(module(x), inputs, grad)


Clock = Callable[[], float]
K = TypeVar('K', bound=Hashable)  # what names the contenders


def bench_clock() -> Clock:
    """CPU time of this process with one torch thread (no other process's load counts);
    wall time with more, where the CPU time would count threads spinning at barriers."""
    return time.process_time if torch.get_num_threads() == 1 else time.perf_counter


def _per_call(fn: Callable[[], object], number: int, clock: Clock = time.perf_counter) -> float:
    start = clock()
    for _ in range(number):
        fn()
    return (clock() - start) / number


def measure(contenders: Mapping[K, Callable[[], object]], *, rounds: int = ROUNDS,
            block: float = 0.1, budget: float = BUDGET,
            clock: Clock = time.perf_counter, warm: Collection[K] = ()) -> dict[K, Timing]:
    """Time every contender interleaved: ``rounds`` rounds, each a block of ~``block`` s.

    Each contender is warmed up and its calls per block set from the fastest of a
    few calls (a cold first call would shrink its blocks and bias it). The order
    rotates every round, so no contender always runs in the wake of the same
    neighbour. A contender slower than ``block`` per call keeps its first call as
    a sample, and gets only the rounds that fit in ``budget`` seconds, so a slow
    reference does not stall the benchmark. ``clock`` reads seconds (see ``bench_clock``).
    The contenders named in ``warm`` are first called once, untimed: a compiled model
    compiles on its first call at each input size, which must not become a sample.
    """
    for name in warm:
        contenders[name]()
    first = {name: _per_call(fn, 1, clock) for name, fn in contenders.items()}
    typical = {name: t if t > block else min(_per_call(contenders[name], 1, clock)
                                             for _ in range(3))
               for name, t in first.items()}
    number = {name: max(1, round(block / max(t, 1e-9))) for name, t in typical.items()}
    samples = {name: [t] if t > block else [] for name, t in first.items()}
    planned = {name: max(1, min(rounds, int(budget / max(t, 1e-9))))
               for name, t in typical.items()}
    names = list(contenders)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # rotate who goes first
            if len(samples[name]) < planned[name]:
                samples[name].append(_per_call(contenders[name], number[name], clock))
    return {name: Timing(statistics.median(s), len(s), number[name] * len(s))
            for name, s in samples.items()}


def saved_bytes(fn: Callable[[], torch.Tensor], *keep: torch.Tensor) -> int:
    """Bytes autograd keeps alive for backward while ``fn()`` runs, beyond ``keep``.

    Counts distinct storages packed by autograd, except those of ``keep`` (pass the
    input and the parameters, which exist anyway). That is what a layer adds to the
    peak memory of training: it stays allocated until backward reaches the layer.
    """
    exclude = {t.untyped_storage().data_ptr() for t in keep}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in exclude:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return sum(seen.values())


def count_kernels(fn: Callable[[], object], cuda: bool) -> int:
    """Work items one ``fn()`` launches, from torch.profiler: on CUDA the device's kernels
    (memory copies and sets included); on the CPU the operators called from Python (a
    compiled region counts as the operators it still calls, not as one).

    On a GPU, ``fn`` must synchronise before it returns, so every kernel is recorded.
    """
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    quiet_probes()
    activities = [ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if cuda else [])]
    with profile(activities=activities) as prof:
        fn()
    events = prof.events()
    if cuda:
        return sum(e.device_type == DeviceType.CUDA for e in events)
    return sum(e.name.startswith('aten::') and not _under_operator(e) for e in events)


def _under_operator(event) -> bool:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith('aten::'):
            return True
        parent = parent.cpu_parent
    return False


def peak_bytes(fn: Callable[[], object]) -> int:
    """Peak bytes allocated and still live at any moment while ``fn()`` runs.

    Read from the profiler's allocation records, so it works on the CPU, where
    torch keeps no allocator statistics. Tensors that existed before the call
    (inputs, parameters) are not counted; what ``fn`` returns is.
    """
    from torch.profiler import ProfilerActivity, profile

    quiet_probes()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    records = [e for e in prof.profiler.kineto_results.events() if e.name() == '[memory]']
    live = peak = 0
    for record in sorted(records, key=lambda e: e.start_ns()):
        live += record.nbytes()
        peak = max(peak, live)
    return peak
