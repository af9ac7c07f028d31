"""``loosen test``: a checkpoint on a labelled split, with the reports a scientist reads.

The checkpoint says what it is (model, constructor options, classes, preprocessing), so
only its path is needed; model flags given beside it are checked against it. With no
data path the split comes from the checkpoint's own data (its synthetic set, or its
data root): test/ when present, else val/.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from ..errors import LoosenError
from ..models import resolve_model_name
from .checkpoint import check_classes, check_model, eval_state, load_checkpoint
from .compile import maybe_compile
from .config import EngineConfig
from .data import make_transform, open_split, test_split
from .evaluate import evaluate, infer
from .metrics import per_class_f1, present
from .model import build_model
from .report import run_log, write_test_reports
from .runtime import Runtime, setup_runtime


@dataclass
class TestResult:
    __test__ = False  # not a pytest class

    out_dir: Path
    split: str
    metrics: dict[str, Any]
    mistakes: list[dict[str, Any]]


DATA_FIELDS = ('data', 'data_root', 'train_dir', 'val_dir', 'test_dir', 'synthetic_per_class',
               'synthetic_size', 'synthetic_classes', 'synthetic_seed')


def restore_model(checkpoint: dict[str, Any], path: str | Path,
                  runtime: Runtime | None = None) -> nn.Module:
    """The model a checkpoint describes, with its evaluated weights, in eval mode."""
    model = build_model(checkpoint['model'], len(checkpoint['classes']),
                        checkpoint['model_kwargs'])
    try:
        model.load_state_dict(eval_state(checkpoint))
    except RuntimeError as error:
        reason = str(error).splitlines()[1].strip() if '\n' in str(error) else str(error)
        raise LoosenError(f'the weights in {path} do not fit {checkpoint["model"]} ({reason}); '
                          'the file was changed or written by another version') from None
    return model.to(runtime.device if runtime else 'cpu').eval()


def check_given(config: EngineConfig, checkpoint: dict[str, Any], path: str) -> None:
    """Model name and architecture flags given on the command line must match the file."""
    check_model(checkpoint, resolve_model_name(config.model) if config.model else None, path)
    for key, value in config.model_kwargs.items():
        held = checkpoint['model_kwargs'].get(key)
        if key != 'in_chans' and held is not None and held != value:
            raise LoosenError(f'{path} was trained with {key}={held}, not {value}; drop that '
                              'flag or give the matching checkpoint')


def data_source(config: EngineConfig, checkpoint: dict[str, Any]) -> EngineConfig:
    """``config``, taking the data settings from the checkpoint's run when it names no data."""
    if config.data == 'folder' or 'config' not in checkpoint:
        return config
    trained = checkpoint['config']
    merged = EngineConfig(**{**config.to_dict(), **{k: trained[k] for k in DATA_FIELDS}})
    merged.scale = tuple(merged.scale)
    # synthetic frames are drawn at the size they were trained at
    merged.synthetic_size = trained['synthetic_size'] or checkpoint['data_config']['input_size'][-1]
    return merged


def run_test(config: EngineConfig, notes: list[str] | None = None,
         progress: bool | None = None) -> TestResult:
    """Evaluate ``config.checkpoint`` and write the test reports to the run directory."""
    runtime, runtime_notes = setup_runtime(config)
    try:
        return _test(config, runtime, [*(notes or []), *runtime_notes], progress)
    finally:
        runtime.close()


def _test(config: EngineConfig, runtime: Runtime, notes: list[str],
          progress: bool | None) -> TestResult:
    path = config.checkpoint
    if not path:
        raise LoosenError('no checkpoint to test; give --checkpoint (or --save_path / --resume '
                          'as in the seed) with the best.pth of loosen train')
    checkpoint = load_checkpoint(path)
    check_given(config, checkpoint, path)
    source = data_source(config, checkpoint)
    split_name = test_split(source)
    # labels index the model's classes; the data may hold only some of them
    split = open_split(source, split_name, checkpoint['data_config']['decode_side'],
                       list(checkpoint['classes']), partial=True)
    check_classes(checkpoint, split.classes, path)
    absent = [split.classes[k] for k in range(len(split.classes))
              if k not in present(split.targets, len(split.classes))]
    data_cfg = dict(checkpoint['data_config'])
    size = data_cfg['input_size'][-1]
    if config.img_size and config.img_size != size:
        notes.append(f'--img_size {config.img_size}: trained at {size}; testing at '
                     f'{config.img_size} as asked')
        data_cfg['input_size'] = [3, config.img_size, config.img_size]
    model = restore_model(checkpoint, path, runtime)
    split.dataset.transform = make_transform(data_cfg, None, training=False)
    out = Path(config.output_dir or Path('runs') / 'test' / checkpoint['model'])
    if runtime.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / 'test.log').unlink(missing_ok=True)
    with run_log(out / 'test.log' if runtime.main else None, console=runtime.main) as log:
        for note in notes:
            log.info('note: %s', note)
        log.info('testing %s (%s) on %s: %d images from %s', path, checkpoint['model'],
                 split_name, len(split.ids), split.source)
        model = maybe_compile(model, config.compile, config.compile_mode, checkpoint['model'],
                              note=lambda text: log.info('note: %s', text))
        logits, _ = infer(model, split.dataset, config.batch_size, config.num_workers, runtime,
                          split_name, progress)
        predicted = logits.argmax(1).numpy()
        f1 = per_class_f1(np.asarray(split.targets), predicted, len(split.classes))
        metrics = {'checkpoint': str(path), 'model': checkpoint['model'], 'split': split_name,
                   'images': len(split.ids), **evaluate(logits, split.targets, len(split.classes)),
                   'per_class_f1': {c: v for c, v in zip(split.classes, f1, strict=True)
                                    if c not in absent},
                   'absent_classes': absent}
        if absent:
            log.info('classes of the model absent from the data, not scored (still '
                     'predicted): %s', ', '.join(absent))
        worst: list[dict[str, Any]] = []
        if runtime.main:
            probs = logits.softmax(1).numpy()
            worst = write_test_reports(out, split.classes, split.ids, split.targets, probs,
                                       metrics, config.mistakes)
            log.info('accuracy %.4f  macro-F1 %.4f  balanced accuracy %.4f  loss %.4f',
                     metrics['accuracy'], metrics['macro_f1'], metrics['balanced_accuracy'],
                     metrics['loss'])
            log.info('\n%s', (out / 'classification_report.txt').read_text())
            log.info('most confident mistakes (of %d):', int(len(split.ids) - round(
                metrics['accuracy'] * len(split.ids))))
            for row in worst[:10]:
                log.info('  %.3f  %s  true %s, predicted %s', row['confidence'], row['id'],
                         row['true'], row['predicted'])
            log.info('reports in %s', out)
    return TestResult(out, split_name, metrics, worst)
