"""The parts of ``loosen bench gpu``: what each one measures on the device it is given.

A part is a function of a ``PartRun``: the device, full or tiny sizes, a deadline after
which it starts nothing new, and the folder its ``result.json`` goes to. It records each
finished item at once (a part stopped at its cap still reports what it finished), lists
what it skipped and why, and records an item that failed with its error and goes on.
``project_paper`` turns the measured rates into the projected GPU-hours of the ``paper``
grid.
"""
from __future__ import annotations

import dataclasses
import os
import platform
import resource
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..atomic import write_json
from ..attention.la import LA
from ..engine.compile import first_line
from ..engine.config import EngineConfig
from ..engine.runtime import Runtime
from ..engine.train import Trainer, amp_dtype
from ..models import create_model, get_arch, list_archs
from ..models.release import DETECTION_ARCHS, PAPER_GRID, YOLO_EPOCHS
from .la import DEFAULT_CASES, FLOOR, Floor
from .timing import count_kernels, forward_call, measure, training_call

NUM_CLASSES = 4  # the aurora classes: what the heads are sized for
TINY_LA_CASES = (((2, 32, 6, 6), 16),)
LAUNCH_BOUND_US = 10.0  # eager LA's µs per kernel at or under which launching is the cost
COMPILE_GUESS = 45.0  # seconds a compiled pair needs, before one has been timed
# compiled in this order until the part's cap: the paper cell's backbone, the default
# model, the ViT of the latency targets, then the rest
COMPILE_ORDER = ('resnet34', 'mobilenetv1', 'vit_small', 'alexnet', 'zfnet', 'vit_paper',
                 'vit_tiny', 'rmt_t', 'rmt_s', 'vit_base')


@dataclass(frozen=True)
class Sizes:
    """Input size, batch and timing rounds of a run."""

    image: int
    batch: int
    rounds: int
    block: float     # seconds of one timed block of training steps (timing.measure)
    la_block: float  # and of LA calls, which take micro- to milliseconds


FULL, TINY = Sizes(224, 32, 5, 0.25, 0.05), Sizes(64, 4, 2, 0.0, 0.02)


@dataclass
class PartRun:
    """One part's run: where, how big, until when, and what it found so far."""

    name: str
    device: torch.device
    tiny: bool
    folder: Path
    deadline: float                       # time.monotonic() after which nothing new starts
    items: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    cuda_peak: int = 0                    # bytes, over the allocator's resets

    @property
    def cuda(self) -> bool:
        return self.device.type == 'cuda'

    @property
    def sizes(self) -> Sizes:
        return TINY if self.tiny else FULL

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def synced(self, fn: Callable[[], object]) -> Callable[[], None]:
        """``fn`` that returns only once the device has finished its work."""
        def call() -> None:
            fn()
            self.sync()
        return call

    def attempt(self, what: str, fn: Callable[[], dict[str, Any]], estimate: float) -> float:
        """Run item ``what`` when ``estimate`` seconds are left, record what it returns (or
        its error), and return how long it took (0 when skipped)."""
        if self.left() < estimate:
            self.skip(what, f'the part\'s time cap ({self.left():.0f} s left, ~{estimate:.0f} s '
                            'needed)')
            return 0.0
        start = time.monotonic()
        try:
            item = {'what': what, **fn()}
        except Exception as error:  # recorded: the part goes on with its next item
            item = {'what': what, 'error': first_line(error)}
            if self.cuda:
                torch.cuda.empty_cache()
        item['seconds'] = round(time.monotonic() - start, 2)
        self.items.append(item)
        self.save()
        return item['seconds']

    def skip(self, what: str, why: str) -> None:
        self.skipped.append({'what': what, 'why': why})
        self.save()

    def peak(self) -> dict[str, float | None]:
        """Peak memory so far: this process's (or a child's) resident set and torch's CUDA
        allocator's."""
        rss = max(resource.getrusage(who).ru_maxrss
                  for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        if self.cuda:
            self.cuda_peak = max(self.cuda_peak, torch.cuda.max_memory_allocated(self.device))
        return {'rss_mb': round(rss / 1024, 1),
                'cuda_allocated_mb': round(self.cuda_peak / 2**20, 1) if self.cuda else None}

    def reset_cuda_peak(self) -> None:
        """Start the allocator's peak afresh (for one item's), keeping the part's."""
        if self.cuda:
            self.peak()
            torch.cuda.reset_peak_memory_stats(self.device)

    def as_dict(self) -> dict[str, Any]:
        return {'part': self.name, 'device': str(self.device), 'tiny': self.tiny,
                'info': self.info, 'items': self.items, 'skipped': self.skipped,
                'peak_memory': self.peak()}

    def save(self) -> None:
        write_json(self.folder / 'result.json', self.as_dict())


def _wall(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def model_kwargs(arch: str, tiny: bool) -> dict[str, Any]:
    """--tiny: the narrow variant (``ArchSpec.narrow``) on small inputs, so the CPU runs
    every part in seconds."""
    return dict(get_arch(arch).narrow) if tiny else {}


# --- env -----------------------------------------------------------------------------

def driver_version() -> str | None:
    """The NVIDIA driver's version, from nvidia-smi (None where it is missing)."""
    smi = shutil.which('nvidia-smi')
    if smi is None:
        return None
    try:
        found = subprocess.run([smi, '--query-gpu=driver_version', '--format=csv,noheader'],
                               capture_output=True, text=True, timeout=20, check=True)
    except (subprocess.SubprocessError, OSError):
        return None
    return found.stdout.strip().splitlines()[0] if found.stdout.strip() else None


def env_part(run: PartRun) -> None:
    """The machine: device, driver, torch, CUDA and cuDNN versions."""
    import timm

    from .. import __version__
    info: dict[str, Any] = {
        'device': str(run.device), 'python': platform.python_version(),
        'platform': platform.platform(), 'cpus': os.cpu_count(), 'torch': torch.__version__,
        'timm': timm.__version__, 'loosen': __version__, 'cuda': torch.version.cuda,
        'cudnn': torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None}
    if run.cuda:
        props = torch.cuda.get_device_properties(run.device)
        info.update(name=props.name, capability=f'{props.major}.{props.minor}',
                    memory_gb=round(props.total_memory / 2**30, 1),
                    multiprocessors=props.multi_processor_count, driver=driver_version(),
                    bf16=torch.cuda.is_bf16_supported(including_emulation=False))
    else:
        info.update(name=platform.processor() or platform.machine(), driver=None, bf16=None)
    run.info.update(info)
    run.save()


# --- la --------------------------------------------------------------------------------

def la_modules(channels: int, heads: int) -> dict[str, torch.nn.Module]:
    """LA and the floor, eager and compiled (LA compiled on its plain-autograd form)."""
    return {'LA': LA(channels, heads=heads),
            'LA, compiled': torch.compile(LA(channels, heads=heads, recompute=False)),
            FLOOR: Floor(), f'{FLOOR}, compiled': torch.compile(Floor())}


def la_shape(run: PartRun, shape: tuple[int, ...], heads: int) -> dict[str, Any]:
    """Forward and forward+backward ms and kernels (CPU: operators) per call of LA and the
    floor at ``shape``, eager and compiled; compile seconds of the compiled ones."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen).to(run.device).requires_grad_(True)
    grad = torch.randn(shape, generator=gen).to(run.device)
    modules = {n: m.to(run.device) for n, m in la_modules(shape[1], heads).items()}
    rows: dict[str, dict[str, Any]] = {n: {'name': n} for n in modules}
    for kind, make in (('forward', lambda m: forward_call(m, x)),
                       ('train', lambda m: training_call(m, x, grad))):
        calls = {n: run.synced(make(m)) for n, m in modules.items()}
        for n in calls:  # the compiled ones compile on this first call
            rows[n][f'{kind}_first_s'] = round(_wall(calls[n]), 3)
        timed = measure(calls, rounds=run.sizes.rounds, block=run.sizes.la_block, budget=5.0)
        for n, fn in calls.items():
            rows[n][f'{kind}_ms'] = round(timed[n].ms, 4)
            rows[n][f'{kind}_kernels'] = count_kernels(fn, run.cuda)
    la, floor = rows['LA'], rows[FLOOR]
    per_kernel_us = 1e3 * la['forward_ms'] / max(la['forward_kernels'], 1)
    return {'shape': list(shape), 'heads': heads, 'rows': list(rows.values()),
            'forward_over_floor': round(la['forward_ms'] / floor['forward_ms'], 2),
            'train_over_floor': round(la['train_ms'] / floor['train_ms'], 2),
            'compiled_forward_over_floor': round(
                rows['LA, compiled']['forward_ms'] / floor['forward_ms'], 2),
            'us_per_kernel': round(per_kernel_us, 2),
            'launch_bound': per_kernel_us <= LAUNCH_BOUND_US}


def la_part(run: PartRun) -> None:
    last = 0.0
    for shape, heads in TINY_LA_CASES if run.tiny else DEFAULT_CASES:
        last = run.attempt(f'{"x".join(map(str, shape))}, {heads} heads',
                           lambda s=shape, h=heads: la_shape(run, s, h), last) or last


# --- archs -----------------------------------------------------------------------------

def step_trainer(run: PartRun, arch: str, attention: str, compiled: bool) -> Trainer:
    """The engine's trainer of ``arch_attention`` with AMP and channels-last."""
    torch.manual_seed(0)
    net = create_model(arch, attention, num_classes=NUM_CLASSES,
                       **model_kwargs(arch, run.tiny))
    config = EngineConfig(model=f'{arch}_{attention}', amp=True, channels_last=True,
                          compile='on' if compiled else 'off', batch_size=run.sizes.batch)
    return Trainer(config, net, NUM_CLASSES, Runtime(run.device), updates_per_epoch=1000)


def precision(run: PartRun) -> str:
    """What ``--amp`` trains in here (the CPU trains in float32: AMP is CUDA only)."""
    if not run.cuda:
        return 'fp32 (cpu)'
    return 'bf16' if amp_dtype() == torch.bfloat16 else 'fp16 + loss scaler'


def arch_pair(run: PartRun, arch: str, compiled: bool) -> dict[str, Any]:
    """Training steps of ``arch_plain`` and ``arch_la`` interleaved in rounds: images/s,
    LA's overhead in %, and the first step's seconds (compiling, when compiled)."""
    run.reset_cuda_peak()
    gen = torch.Generator().manual_seed(0)
    size, batch = run.sizes.image, run.sizes.batch
    x = torch.randn(batch, 3, size, size, generator=gen).to(run.device)
    y = torch.randint(0, NUM_CLASSES, (batch,), generator=gen).to(run.device)
    trainers = {a: step_trainer(run, arch, a, compiled) for a in ('plain', 'la')}
    steps = {a: (lambda t=t: t.step(x, y)) for a, t in trainers.items()}  # .item(): synced
    first = {a: _wall(fn) for a, fn in steps.items()}
    for fn in steps.values():
        fn()
    timed = measure(steps, rounds=run.sizes.rounds, block=run.sizes.block, budget=30.0)
    rate = {a: batch / t.seconds for a, t in timed.items()}
    found = {'arch': arch, 'compiled': compiled, 'precision': precision(run), 'batch': batch,
             'size': size, 'plain_img_s': round(rate['plain'], 1),
             'la_img_s': round(rate['la'], 1),
             'la_overhead_pct': round(100 * (rate['plain'] / rate['la'] - 1), 2),
             'plain_first_step_s': round(first['plain'], 2),
             'la_first_step_s': round(first['la'], 2),
             'peak_mb': (round(torch.cuda.max_memory_allocated(run.device) / 2**20, 1)
                         if run.cuda else None)}
    del trainers, steps
    if run.cuda:
        torch.cuda.empty_cache()
    return found


def archs_part(run: PartRun) -> None:
    archs = sorted(list_archs(), key=lambda a: COMPILE_ORDER.index(a)
                   if a in COMPILE_ORDER else len(COMPILE_ORDER))
    for compiled in (False, True):
        last = COMPILE_GUESS if compiled and not run.tiny else 0.0
        for arch in archs:
            what = f'{arch}, {"compiled" if compiled else "eager"}'
            if run.tiny and compiled:
                run.skip(what, '--tiny compiles only in the la part')
                continue
            last = run.attempt(what, lambda a=arch, c=compiled: arch_pair(run, a, c),
                               last) or last


# --- paper -----------------------------------------------------------------------------

PAPER_ARCH, PAPER_STEPS, PAPER_TINY_STEPS = 'resnet34', 300, 5


def paper_config(run: PartRun) -> EngineConfig:
    """ResNet-34 + LA with the paper preset's recipe (--tiny: narrow, 64 px, batch 4)."""
    from ..engine.recipes import apply_recipe, recipe_for
    config = apply_recipe(EngineConfig(model=f'{PAPER_ARCH}_la'), recipe_for(PAPER_ARCH))
    if run.tiny:
        config = dataclasses.replace(config, batch_size=TINY.batch, img_size=TINY.image)
    return dataclasses.replace(config, compile='off')


def paper_cell(run: PartRun) -> dict[str, Any]:
    """Training steps of the recipe on batches held on the device, then eval forwards."""
    config = paper_config(run)
    steps = PAPER_TINY_STEPS if run.tiny else PAPER_STEPS
    torch.manual_seed(0)
    net = create_model(PAPER_ARCH, 'la', num_classes=NUM_CLASSES,
                       **model_kwargs(PAPER_ARCH, run.tiny))
    trainer = Trainer(config, net, NUM_CLASSES, Runtime(run.device), updates_per_epoch=steps)
    gen = torch.Generator().manual_seed(0)
    size, batch = config.img_size, config.batch_size
    batches = [(torch.randn(batch, 3, size, size, generator=gen).to(run.device),
                torch.randint(0, NUM_CLASSES, (batch,), generator=gen).to(run.device))
               for _ in range(4)]
    for x, y in batches[:2]:  # warm-up: cuDNN's choices, the allocator
        trainer.step(x, y)
    done, start = 0, time.perf_counter()
    while done < steps and (done % 10 or run.left() > 0):
        trainer.step(*batches[done % len(batches)])  # .item() in step: synced
        done += 1
    train_s = time.perf_counter() - start
    model = trainer.eval_model.eval()
    evals, start = 0, time.perf_counter()
    with torch.no_grad():
        for _ in range(max(2, steps // 10)):
            model(batches[evals % len(batches)][0])
            evals += 1
        run.sync()
    eval_s = time.perf_counter() - start
    return {'model': config.model, 'recipe': config.recipe, 'batch': batch, 'size': size,
            'amp': config.amp and run.cuda, 'steps': done, 'of_steps': steps,
            'train_img_s': round(done * batch / train_s, 1),
            'eval_img_s': round(evals * batch / eval_s, 1),
            'step_ms': round(1e3 * train_s / done, 2)}


def paper_part(run: PartRun) -> None:
    run.attempt(f'{PAPER_ARCH}_la, paper recipe', lambda: paper_cell(run), 0.0)


# --- the paper grid's projected GPU-hours ----------------------------------------------

def project_paper(parts: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """GPU-hours of the whole ``paper`` grid from the measured rates, or None without the
    paper cell.

    Every classification cell trains its recipe's epochs over its training size and
    validates every epoch, then is tested once. Rates: the paper cell's, scaled per
    backbone by its eager AMP speed relative to resnet34 (the ``archs`` part; the paper
    cell's own where missing); every attention module is taken to cost what LA costs.
    Detection cells take the yolo part's timed epoch (training and YOLOv5's validation,
    images per second, scaled by pixels to the preset's detection size) for YOLOv5's 300
    epochs: on its small set the per-epoch overheads weigh more, so that is an upper bound.
    """
    from ..data.synth import CORE_CLASSES
    from ..engine.recipes import RECIPES, recipe_for

    cell = next((i for i in parts.get('paper', {}).get('items', []) if 'train_img_s' in i),
                None)
    if cell is None:
        return None
    eager = {i['arch']: i['la_img_s'] for i in parts.get('archs', {}).get('items', [])
             if not i.get('compiled') and 'la_img_s' in i}
    yolo = next((i for i in parts.get('yolo', {}).get('items', []) if i.get('train_img_s')),
                None)
    evaluated = len(CORE_CLASSES) * PAPER_GRID['eval_per_class']  # val/ (each epoch) and test/
    cells = len(PAPER_GRID['attentions']) * len(PAPER_GRID['seeds'])
    rows, notes = [], []
    for arch in PAPER_GRID['archs']:
        if arch in DETECTION_ARCHS:
            if yolo is None:
                notes.append(f'{arch}: not projected (the yolo part has no training run)')
                continue
            rate = yolo['train_img_s'] * (yolo['imgsz'] / PAPER_GRID['det_img_size']) ** 2  # pixels
            epochs, eval_rate = YOLO_EPOCHS, None
            basis = "the yolo part's timed epoch (a small set: an upper bound)"
        else:
            scale = (eager[arch] / eager[PAPER_ARCH]) if arch in eager and PAPER_ARCH in eager \
                else 1.0
            rate, eval_rate = cell['train_img_s'] * scale, cell['eval_img_s'] * scale
            epochs = RECIPES[recipe_for(arch)].settings['epochs']
            basis = (f'paper cell x {scale:.2f} (archs part)' if scale != 1.0 or arch ==
                     PAPER_ARCH else 'paper cell (no archs measurement)')
        seconds = 0.0
        for size in PAPER_GRID['train_sizes']:
            train = epochs * size / rate
            checked = 0.0 if eval_rate is None else (epochs + 1) * evaluated / eval_rate
            seconds += cells * (train + checked)
        rows.append({'arch': arch, 'epochs': epochs, 'train_img_s': round(rate, 1),
                     'cells': cells * len(PAPER_GRID['train_sizes']),
                     'gpu_hours': round(seconds / 3600, 2), 'basis': basis})
    return {'rows': rows, 'notes': notes,
            'gpu_hours': round(sum(r['gpu_hours'] for r in rows), 1),
            'cells': sum(r['cells'] for r in rows)}


# each part's function, by name: the YOLO part lives with the YOLO integration, a layer above
PARTS_RUN: dict[str, str] = {
    'env': f'{__name__}:env_part', 'la': f'{__name__}:la_part', 'archs': f'{__name__}:archs_part',
    'yolo': 'loosen.yolo.gpu:yolo_part', 'paper': f'{__name__}:paper_part'}
