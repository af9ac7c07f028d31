"""The training loop, built on timm's parts.

``create_optimizer_v2`` and ``create_scheduler_v2`` (stepped per update), or torch's
``ReduceLROnPlateau`` on the validation metric for ``--sched plateau`` (its patience
counter is in its state dict, so ``--resume`` continues it; timm's plateau scheduler
does not save it),
``Mixup``/CutMix with ``SoftTargetCrossEntropy``, ``LabelSmoothingCrossEntropy``,
``ModelEmaV3`` (with its decay warm-up, so short runs get a useful average), AMP (bf16
where the GPU has it, else fp16 with a loss scaler) and channels-last on CUDA only,
``DistributedDataParallel`` under ``torchrun``, and ``torch.compile`` with ``--compile``
(``compile.py``: checkpoints keep plain keys).

Everything that can be wrong with the input (model name and options, folders, classes,
images, the batch size, the optimizer, a checkpoint to resume) is checked before the run
directory is touched. Every epoch ends with ``last.pth`` (everything needed to resume,
the run's config included) and, when the chosen metric improved, the best checkpoint;
both are written atomically. A resumed run is the checkpoint's run: a config that would
change how it trains is refused (``check_resume``). Randomness is reseeded at each epoch
from (seed, epoch, rank), so ``--resume`` after a kill ends exactly where an
uninterrupted run ends.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from timm.data import Mixup
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2
from timm.utils import ModelEmaV3, distribute_bn
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..errors import LoosenError
from ..models import LoadReport, load_weights, resolve_model_name
from .checkpoint import (
    check_classes,
    check_resumable,
    export_weights,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from .compile import maybe_compile
from .config import (
    BEST_METRICS,
    DATA_PATHS,
    MAY_CHANGE_ON_RESUME,
    EngineConfig,
    flag_name,
)
from .data import (
    Split,
    check_num_classes,
    class_weights,
    data_config,
    decode_side,
    default_img_size,
    make_loader,
    make_sampler,
    make_transform,
    normalisation,
    open_split,
)
from .evaluate import evaluate, infer
from .model import build_model, model_kwargs
from .report import LOGGER, plot_curves, run_log, write_rows
from .runtime import Runtime, epoch_seed, seed_everything, setup_runtime

EpochHook = Callable[[int, dict[str, float]], None]


class WeightedSoftTargetCrossEntropy(nn.Module):
    """Cross-entropy against soft (mixed) targets with class weights: each target's share
    of class k counts ``weight[k]`` times, normalised by the batch's total weight, which is
    ``nn.CrossEntropyLoss(weight=...)`` when the targets are one-hot."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer('weight', weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        weighted = target * self.weight  # (B, K)
        return -(weighted * logits.log_softmax(-1)).sum() / weighted.sum()


def build_criterion(config: EngineConfig, weights: torch.Tensor | None) -> nn.Module:
    """For mixed batches soft-target CE (mixup carries the smoothing), else CE with label
    smoothing; class-weighted for ``--balance weights``."""
    if config.mixing:
        return (SoftTargetCrossEntropy() if weights is None
                else WeightedSoftTargetCrossEntropy(weights))
    if weights is not None:
        return nn.CrossEntropyLoss(weight=weights, label_smoothing=config.smoothing)
    if config.smoothing > 0:
        return LabelSmoothingCrossEntropy(config.smoothing)
    return nn.CrossEntropyLoss()


def build_mixup(config: EngineConfig, num_classes: int) -> Mixup | None:
    if not config.mixing:
        return None
    return Mixup(mixup_alpha=config.mixup, cutmix_alpha=config.cutmix, prob=config.mixup_prob,
                 switch_prob=config.mixup_switch_prob, label_smoothing=config.smoothing,
                 num_classes=num_classes)


def amp_dtype() -> torch.dtype:
    """``--amp``'s precision: bfloat16 where the GPU computes it natively (no loss scaling
    needed), else float16 with a ``GradScaler``."""
    return torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) \
        else torch.float16


class Trainer:
    """One model's optimisation: the step, the epoch, and the state a checkpoint keeps.

    ``net`` is the bare model, ``model`` what runs forward (DDP-wrapped under torchrun,
    compiled with ``--compile``), ``eval_model`` what is evaluated and selected (the EMA
    when there is one, compiled likewise); state dicts are always the bare modules'.
    """

    def __init__(self, config: EngineConfig, net: nn.Module, num_classes: int,
                 runtime: Runtime, updates_per_epoch: int,
                 weights: torch.Tensor | None = None) -> None:
        self.config, self.runtime = config, runtime
        self.channels_last = runtime.cuda and config.channels_last
        self.net = net.to(runtime.device)
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self.model = self.net
        if runtime.world > 1:
            ids = [runtime.device.index] if runtime.cuda else None
            self.model = DistributedDataParallel(self.net, device_ids=ids)
        self.model = self._compiled(self.model)
        self.optimizer = create_optimizer_v2(self.net, opt=config.opt, lr=config.lr,
                                             weight_decay=config.weight_decay,
                                             momentum=config.momentum)
        self.scheduler, self.plateau = None, None
        if config.sched == 'plateau':  # the release's CNN schedule, stepped on validation
            self.plateau = ReduceLROnPlateau(
                self.optimizer, mode='max' if BEST_METRICS[config.best_metric] else 'min',
                factor=config.decay_rate, patience=config.patience_epochs, min_lr=config.min_lr)
        else:
            self.scheduler, _ = create_scheduler_v2(
                self.optimizer, sched=config.sched, num_epochs=config.epochs,
                warmup_epochs=config.warmup_epochs, warmup_lr=config.warmup_lr,
                min_lr=config.min_lr, step_on_epochs=False, updates_per_epoch=updates_per_epoch)
        self.mixup = build_mixup(config, num_classes)
        weights = weights.to(runtime.device) if weights is not None else None
        self.criterion = build_criterion(config, weights).to(runtime.device)
        self.ema = (ModelEmaV3(self.net, decay=config.model_ema_decay, use_warmup=True)
                    if config.model_ema else None)
        self.evaluated = (self.model if self.ema is None and runtime.world == 1
                          else self._compiled(self.eval_module))
        self.amp = runtime.cuda and config.amp
        self.amp_dtype = amp_dtype() if self.amp else None
        self.scaler = (torch.amp.GradScaler('cuda') if self.amp_dtype == torch.float16
                       else None)
        self.updates = 0

    def _compiled(self, module: nn.Module) -> nn.Module:
        return maybe_compile(module, self.config.compile, self.config.compile_mode,
                             self.config.model or 'the model',
                             note=lambda text: logging.getLogger(LOGGER).info('note: %s', text))

    @property
    def eval_module(self) -> nn.Module:
        """The bare module evaluated: the EMA's when there is one."""
        return self.ema.module if self.ema is not None else self.net

    @property
    def eval_model(self) -> nn.Module:
        """What runs the evaluation: ``eval_module``, compiled with ``--compile``."""
        return self.evaluated

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]['lr'])

    def step(self, images: torch.Tensor, targets: torch.Tensor) -> tuple[float, int]:
        """One update on a batch: (loss, how many the model got right before it)."""
        images = images.to(self.runtime.device, non_blocking=True)
        targets = targets.to(self.runtime.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        labels = targets
        if self.mixup is not None:
            images, targets = self.mixup(images, targets)
        with torch.autocast(self.runtime.device.type, dtype=self.amp_dtype, enabled=self.amp):
            logits = self.model(images)
            loss = self.criterion(logits, targets)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.updates += 1
        if self.scheduler is not None:
            self.scheduler.step_update(self.updates)
        if self.ema is not None:
            self.ema.update(self.net, step=self.updates)
        value = loss.item()
        if not math.isfinite(value):
            raise LoosenError(f'the loss became {value} at update {self.updates}; lower --lr '
                              f'(now {self.config.lr:g}) or add --warmup-epochs')
        return value, int((logits.argmax(1) == labels).sum())

    def epoch(self, loader: DataLoader, desc: str,
              progress: bool | None = None) -> dict[str, float]:
        """One pass over ``loader``: mean loss, accuracy (on the unmixed labels), images/s."""
        self.model.train()
        seen = correct = 0
        total = 0.0
        start = time.perf_counter()
        bar = tqdm(loader, desc=desc, leave=False, unit='batch',
                   disable=self.runtime.quiet(progress))
        for images, targets in bar:
            loss, right = self.step(images, targets)
            seen, correct, total = seen + len(targets), correct + right, total + loss * len(targets)
            rate = seen / (time.perf_counter() - start)
            bar.set_postfix(loss=f'{total / seen:.3f}', acc=f'{correct / seen:.3f}',
                            img_s=f'{rate:.0f}', refresh=False)
        seconds = time.perf_counter() - start
        if self.runtime.world > 1:  # each rank updated its own batch-norm statistics
            for module in (self.net, *([self.ema.module] if self.ema is not None else [])):
                distribute_bn(module, self.runtime.world, reduce=True)
        seen, correct, total = self.runtime.total(seen, correct, total)  # over all ranks
        return {'train_loss': total / seen, 'train_accuracy': correct / seen,
                'images_per_s': seen / seconds, 'seconds': seconds}

    @property
    def schedule(self) -> Any:
        """What sets the lr: timm's scheduler (per update), the plateau rule, or None."""
        return self.plateau if self.plateau is not None else self.scheduler

    def end_epoch(self, value: float) -> None:
        """After validation: the plateau rule sees the epoch's ``best_metric`` value."""
        if self.plateau is not None:
            self.plateau.step(value)

    def state(self, full: bool) -> dict[str, Any]:
        """Weights (and the EMA's); with ``full`` also optimizer, scheduler, RNG: all
        that ``--resume`` needs."""
        found: dict[str, Any] = {
            'state_dict': self.net.state_dict(),
            'ema': self.ema.module.state_dict() if self.ema is not None else None,
            'updates': self.updates}
        if full:
            found.update(optimizer=self.optimizer.state_dict(),
                         scheduler=self.schedule.state_dict() if self.schedule else None,
                         rng=rng_state())
        return found

    def load_state(self, checkpoint: dict[str, Any]) -> None:
        self.net.load_state_dict(checkpoint['state_dict'])
        if self.ema is not None and checkpoint.get('ema') is not None:
            self.ema.module.load_state_dict(checkpoint['ema'])
        self.optimizer.load_state_dict(checkpoint['optimizer'])
        self.updates = checkpoint['updates']
        if self.plateau is not None and checkpoint.get('scheduler') is not None:
            self.plateau.load_state_dict(checkpoint['scheduler'])  # its patience counter
        elif self.scheduler is not None:  # timm's lr is a function of the update count, for
            self.scheduler.step_update(self.updates)  # config.epochs: more stretch it
        set_rng_state(checkpoint['rng'])


@dataclass
class Prepared:
    """A checked training run: data, model and notes, before anything is written."""

    config: EngineConfig
    train: Split
    val: Split
    model: nn.Module
    kwargs: dict[str, Any]
    data_cfg: dict[str, Any]
    notes: list[str]
    resume: dict[str, Any] | None = None
    weights: LoadReport | None = None  # what --pretrained loaded

    @property
    def classes(self) -> list[str]:
        return self.train.classes


def settle(config: EngineConfig) -> None:
    """Spell out in ``config`` what its defaults mean here (the registered model name, the
    input size, absolute data paths), so that its checkpoint describes the run wherever
    it is resumed or tested from."""
    config.model = resolve_model_name(config.model)
    config.img_size = default_img_size(config)
    for key in DATA_PATHS:
        if getattr(config, key):
            setattr(config, key, str(Path(getattr(config, key)).resolve()))


def check_resume(config: EngineConfig, checkpoint: dict[str, Any]) -> None:
    """A LoosenError unless ``config`` continues the run of ``checkpoint`` as it was set
    up, changing at most what ``MAY_CHANGE_ON_RESUME`` allows (epochs only up)."""
    path = config.resume
    check_resumable(checkpoint, path)
    run = EngineConfig.from_dict(checkpoint['config'])
    settle(run)
    changed = config.changes_to(run)
    if changed:
        allowed = ', '.join(flag_name(name) for name in MAY_CHANGE_ON_RESUME)
        raise LoosenError(f'--resume {path} continues a run set up otherwise: '
                          f'{"; ".join(changed)}; leave these out to continue it as it was '
                          f'(only {allowed} may change), or start a new run without --resume')
    if config.epochs < checkpoint['epoch']:
        raise LoosenError(f'--epochs {config.epochs}: the run of {path} has done '
                          f'{checkpoint["epoch"]} epochs; give more to extend it')


def prepare(config: EngineConfig) -> Prepared:
    """Check everything about ``config`` and build its data and model; write nothing."""
    config.check()
    settle(config)
    resume = None
    if config.resume:
        resume = load_checkpoint(config.resume)
        check_resume(config, resume)
    kwargs, notes = model_kwargs(config)
    side = (resume['data_config']['decode_side'] if resume is not None
            else decode_side(default_img_size(config), config.scale))
    train = open_split(config, 'train', side)
    val = open_split(config, 'val', side, train.classes)
    check_num_classes(config, train.classes)
    if resume is not None:
        check_classes(resume, train.classes, config.resume)
    seed_everything(config.seed)
    model = build_model(config.model, len(train.classes), kwargs)
    weights = None  # a resumed run has its own weights
    if config.pretrained and resume is None:
        weights = load_weights(model, config.pretrained, config.pretrained_partial,
                               train.classes)
    if resume is not None:
        data_cfg = resume['data_config']
    else:
        stats = normalisation(train.dataset) if config.norm == 'dataset' else None
        data_cfg = data_config(config, model, side, stats)
    return Prepared(config, train, val, model, kwargs, data_cfg, notes, resume, weights)


@dataclass
class TrainResult:
    """Where the run went, its best epoch, every epoch's row, and the model as it ended."""

    run_dir: Path
    best_path: Path
    best: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_early: bool = False
    model: nn.Module | None = None
    params: int = 0
    train_images: int = 0


def next_free_dir(path: Path) -> Path:
    """``path`` while it is missing or empty, else the first missing or empty ``path2``,
    ``path3``... (as YOLOv5 names ``exp``, ``exp2``): a new run never lands on an old one."""
    found, number = path, 1
    while found.exists() and (not found.is_dir() or any(found.iterdir())):
        number += 1
        found = path.with_name(f'{path.name}{number}')
    return found


def _claim_run_dir(config: EngineConfig) -> Path:
    """Create the run directory: the resumed run's, the old one again with ``--overwrite``
    (its logs and curves cleared), else the next free one (see ``next_free_dir``)."""
    if config.resume:
        run_dir = Path(config.output_dir or Path(config.resume).parent)
    elif config.overwrite:
        run_dir = config.run_dir()
        for stale in ('train.log', 'metrics.csv', 'curves.png'):
            (run_dir / stale).unlink(missing_ok=True)
    else:
        run_dir = next_free_dir(config.run_dir())
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _improved(value: float, best: dict[str, Any] | None, metric: str) -> bool:
    if best is None:
        return True
    return value > best['value'] if BEST_METRICS[metric] else value < best['value']


def _loader(split: Split, config: EngineConfig, runtime: Runtime) -> DataLoader:
    sampler = make_sampler(split, config, training=True, num_replicas=runtime.world,
                           rank=runtime.rank)
    if len(sampler) < config.batch_size:
        raise LoosenError(f'--batch-size {config.batch_size} is more than the {len(sampler)} '
                          f'training images per process; lower it')
    return make_loader(split.dataset, config.batch_size, sampler, config.num_workers,
                       training=True, pin_memory=runtime.cuda)


def train(config: EngineConfig, notes: list[str] | None = None,
          on_epoch_end: EpochHook | None = None, progress: bool | None = None) -> TrainResult:
    """Train ``config`` (under ``torchrun``: this process's share) and return the best epoch.

    ``notes`` (on flags that change nothing) go to the log; ``on_epoch_end(epoch, row)``
    runs after each epoch's checkpoints are written.
    """
    runtime, runtime_notes = setup_runtime(config)
    notes = [*(notes or []), *runtime_notes]
    try:
        prepared = prepare(config)
        loader, trainer = _set_up(prepared, runtime)  # the last checks: nothing written yet
        run_dir = runtime.share(_claim_run_dir(config) if runtime.main else None)
        config.output_dir = str(run_dir)  # every path of the run follows it
        log_path = run_dir / 'train.log' if runtime.main else None
        with run_log(log_path, console=runtime.main) as log:
            for note in notes + prepared.notes:
                log.info('note: %s', note)
            if prepared.weights is not None:
                log.info(prepared.weights.summary())
            return _fit(prepared, loader, trainer, runtime, run_dir, log, on_epoch_end,
                        progress)
    finally:
        runtime.close()


def _set_up(prepared: Prepared, runtime: Runtime) -> tuple[DataLoader, Trainer]:
    """The training loader and the trainer, with the resumed run's state when there is one."""
    config, classes = prepared.config, prepared.classes
    prepared.train.dataset.transform = make_transform(prepared.data_cfg, config, training=True)
    prepared.val.dataset.transform = make_transform(prepared.data_cfg, None, training=False)
    loader = _loader(prepared.train, config, runtime)
    weights = (class_weights(prepared.train.targets, len(classes))
               if config.balance == 'weights' else None)
    try:
        trainer = Trainer(config, prepared.model, len(classes), runtime, len(loader), weights)
    except LoosenError:
        raise
    except ValueError as error:  # timm's factories: an unknown --opt or --sched
        raise LoosenError(f'{error} (--opt {config.opt}, --sched {config.sched}); see '
                          'loosen train --help') from None
    if prepared.resume is not None:
        trainer.load_state(prepared.resume)
    return loader, trainer


def _fit(prepared: Prepared, loader: DataLoader, trainer: Trainer, runtime: Runtime,
         run_dir: Path, log: Any, on_epoch_end: EpochHook | None,
         progress: bool | None) -> TrainResult:
    config, classes = prepared.config, prepared.classes
    if runtime.main:
        config.write_yaml(run_dir / 'config.yaml')
    history: list[dict[str, float]] = []
    best: dict[str, Any] | None = None
    start = 0
    if prepared.resume is not None:
        history, best = list(prepared.resume['history']), prepared.resume['best']
        start = prepared.resume['epoch']
        log.info('resumed %s at epoch %d', config.resume, start)
    log.info('%s: %d classes (%s); train %d images from %s; val %d from %s; %d process(es) '
             'on %s', config.model, len(classes), ', '.join(classes), len(prepared.train.ids),
             prepared.train.source, len(prepared.val.ids), prepared.val.source, runtime.world,
             runtime.device)
    meta = {'model': config.model, 'model_kwargs': prepared.kwargs,
            'config': config.to_dict(), 'classes': classes, 'data_config': prepared.data_cfg}
    stopped = False
    for epoch in range(start, config.epochs):
        seed = epoch_seed(config.seed, epoch, runtime.rank)
        seed_everything(seed)
        loader.generator.manual_seed(seed)
        loader.sampler.set_epoch(epoch)
        row = {'epoch': epoch + 1, 'lr': trainer.lr}
        row.update(trainer.epoch(loader, f'epoch {epoch + 1}/{config.epochs}', progress))
        logits, _ = infer(trainer.eval_model, prepared.val.dataset, config.batch_size,
                       config.num_workers, runtime, 'val', progress)
        row.update({f'val_{k}': v for k, v in evaluate(logits, prepared.val.targets,
                                                        len(classes)).items()})
        history.append(row)
        value = row[f'val_{config.best_metric}']
        trainer.end_epoch(value)
        improved = _improved(value, best, config.best_metric)
        if improved:
            best = {'epoch': epoch + 1, 'metric': config.best_metric, 'value': value,
                    **{k: v for k, v in row.items() if k.startswith('val_')}}
        if runtime.main:
            state = {**meta, 'epoch': epoch + 1, 'history': history, 'best': best}
            save_checkpoint({**state, **trainer.state(full=True)}, config.last_path())
            if improved:
                save_checkpoint({**state, **trainer.state(full=False)}, config.best_path())
            write_rows(run_dir / 'metrics.csv', history)
            plot_curves(history, run_dir / 'curves.png')
        log.info('epoch %d/%d  lr %.2e  train loss %.4f acc %.4f  val loss %.4f acc %.4f '
                 'macro-F1 %.4f  %.0f img/s  %.1f s%s', epoch + 1, config.epochs, row['lr'],
                 row['train_loss'], row['train_accuracy'], row['val_loss'],
                 row['val_accuracy'], row['val_macro_f1'], row['images_per_s'],
                 row['seconds'], '  *best*' if improved else '')
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, row)
        if config.patience and epoch + 1 - best['epoch'] >= config.patience:
            log.info('no better %s for %d epochs: stopping early', config.best_metric,
                     config.patience)
            stopped = True
            break
    log.info('best %s %.4f at epoch %d; best checkpoint %s', best['metric'], best['value'],
             best['epoch'], config.best_path())
    if runtime.main and config.export_weights:
        path = export_weights(load_checkpoint(config.best_path()), config.export_weights)
        log.info('exported the best weights to %s', path)
    params = sum(p.numel() for p in trainer.net.parameters())
    return TrainResult(run_dir, config.best_path(), best, history, stopped, trainer.net, params,
                       len(prepared.train.ids))

