"""Checkpoints: written atomically, read as data only.

A checkpoint is a dict of tensors and plain containers: model name, constructor
options, config, class names, data config, epoch, model / optimizer / scheduler / EMA
state and RNG states. It is read with ``torch.load(..., weights_only=True)``, so a file
that tries to run code while unpickling is refused, not executed. Weights are kept with
plain keys, written and read: the ``_orig_mod.`` that a ``torch.compile`` d module adds
is dropped, so weights of a compiled model load into an eager one. It is written to a
temporary file beside the target and renamed over it, so a run killed mid-write leaves
the previous checkpoint whole. ``export_weights`` writes the bare weights as safetensors,
with the model name, classes and data config in its metadata, for sharing.
"""
from __future__ import annotations

import json
import pickle
import random
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..atomic import atomic_write
from ..errors import LoosenError
from .compile import strip_compiled

FORMAT = 'loosen-checkpoint'
VERSION = 1
_UNREADABLE = (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, SafetensorError)
WEIGHTS = ('state_dict', 'ema')  # the entries that hold a state dict


def plain_keys(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``payload`` with its state dicts' keys as an eager model names them."""
    return {key: strip_compiled(value) if key in WEIGHTS and value is not None else value
            for key, value in payload.items()}


def save_checkpoint(payload: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``payload`` (tensors and plain containers) to ``path`` atomically."""
    return atomic_write(Path(path), lambda temp: torch.save(
        {'format': FORMAT, 'version': VERSION, **plain_keys(payload)}, temp))


def load_checkpoint(path: str | Path, mmap: bool = False) -> dict[str, Any]:
    """Read a checkpoint of ``loosen train`` (``.pth``) or weights of ``--export-weights``
    (``.safetensors``) as data. Anything else is a one-line LoosenError. With ``mmap`` the
    tensors stay on disk until touched (to read the rest cheaply)."""
    path = Path(path)
    if not path.is_file():
        raise LoosenError(f'checkpoint {path} does not exist; give the best.pth or last.pth '
                          'that loosen train wrote')
    if path.suffix == '.safetensors':
        return plain_keys(_load_exported(path))
    # torch.save writes a zip archive; torch's legacy reader fails on anything else in
    # ways no message names (a KeyError for a few bytes of text)
    if not zipfile.is_zipfile(path):
        raise LoosenError(f'{path} is not a readable checkpoint (truncated or corrupt: not '
                          'the zip archive torch.save writes); use another copy or train '
                          'again')
    try:
        found = torch.load(path, map_location='cpu', weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        reason = _unpickling_reason(str(error))
        if 'GLOBAL' not in reason:
            raise LoosenError(f'{path} is not a readable checkpoint (truncated or corrupt: '
                              f'{reason}); use another copy or train again') from None
        raise LoosenError(
            f'refused to load {path}: it holds more than tensors and plain containers (a '
            f'pickle that could run code: {reason}); load only checkpoints loosen wrote, or '
            'bare weights as .safetensors') from None
    except _UNREADABLE as error:
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise LoosenError(f'{path} is not a readable checkpoint (truncated or corrupt: '
                          f'{reason}); use another copy or train again') from None
    if not isinstance(found, dict) or found.get('format') != FORMAT:
        raise LoosenError(f'{path} is not a loosen checkpoint (a bare state dict?); give a '
                          'checkpoint of loosen train, or export weights with --export-weights')
    return plain_keys(found)


def _unpickling_reason(message: str) -> str:
    """The line of torch's weights-only error that says what was found."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    found = [line for line in lines[1:]
             if not line.startswith(('Please file an issue', 'Check the documentation'))]
    return (found or lines or ['unpickling failed'])[0]


def eval_state(checkpoint: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The weights to evaluate: the EMA's when the run kept one."""
    return checkpoint.get('ema') or checkpoint['state_dict']


def check_model(checkpoint: Mapping[str, Any], model: str | None, path: str | Path) -> None:
    """A LoosenError when ``checkpoint`` holds another model than ``model``."""
    if model is not None and checkpoint['model'] != model:
        raise LoosenError(f'{path} holds a {checkpoint["model"]} model, not {model}; give '
                          f'--model {checkpoint["model"]} or a checkpoint of {model}')


def check_classes(checkpoint: Mapping[str, Any], classes: list[str], path: str | Path) -> None:
    """A LoosenError when the data's classes are not the ones ``checkpoint`` was trained on."""
    if list(checkpoint['classes']) != list(classes):
        raise LoosenError(f'{path} was trained on classes {", ".join(checkpoint["classes"])} '
                          f'but the data has {", ".join(classes)}; use data with the same '
                          'class folders, or a checkpoint trained on these')


def check_resumable(checkpoint: Mapping[str, Any], path: str | Path) -> None:
    """A LoosenError unless ``checkpoint`` holds all a run needs to go on (``last.pth``)."""
    if 'optimizer' not in checkpoint or 'config' not in checkpoint:
        raise LoosenError(f'{path} holds weights without the optimizer state; resume from '
                          'last.pth in its run directory')


def read_run_config(path: str | Path) -> dict[str, Any]:
    """The config of the run that ``last.pth`` at ``path`` continues (its tensors are not
    read)."""
    checkpoint = load_checkpoint(path, mmap=True)
    check_resumable(checkpoint, path)
    return checkpoint['config']


def rng_state() -> dict[str, Any]:
    """torch, numpy and Python RNG states as tensors and plain containers."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {'torch': torch.get_rng_state(),
            'numpy': {'keys': torch.from_numpy(keys.astype(np.int64)), 'pos': int(pos),
                      'has_gauss': int(has_gauss), 'gauss': float(gauss)},
            'python': {'version': version, 'internal': list(internal), 'gauss': gauss_next}}


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what ``rng_state`` returned."""
    torch.set_rng_state(state['torch'])
    npy = state['numpy']
    np.random.set_state(('MT19937', npy['keys'].numpy().astype(np.uint32), npy['pos'],
                         npy['has_gauss'], npy['gauss']))
    py = state['python']
    random.setstate((py['version'], tuple(py['internal']), py['gauss']))


def export_weights(checkpoint: Mapping[str, Any], path: str | Path) -> Path:
    """The evaluated weights of ``checkpoint`` as safetensors, self-describing: model name,
    constructor options, classes and data config in the metadata."""
    tensors = {k: v.detach().contiguous().clone() for k, v in eval_state(checkpoint).items()}
    meta = {'format': FORMAT, 'model': checkpoint['model'],
            **{key: json.dumps(checkpoint[key])
               for key in ('model_kwargs', 'classes', 'data_config')}}
    return atomic_write(Path(path), lambda temp: save_file(tensors, temp, metadata=meta))


def _load_exported(path: Path) -> dict[str, Any]:
    try:
        with safe_open(str(path), framework='pt') as f:
            meta = f.metadata() or {}
            state = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118
    except _UNREADABLE as error:
        raise LoosenError(f'{path} is not readable safetensors ({error}); use another copy') \
            from None
    if meta.get('format') != FORMAT:
        raise LoosenError(f'{path} has no loosen metadata (model name and classes); export '
                          'weights with loosen train --export-weights')
    return {'model': meta['model'], 'state_dict': state,
            **{key: json.loads(meta[key]) for key in ('model_kwargs', 'classes', 'data_config')}}
