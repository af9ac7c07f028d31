"""Local weights into the plain part of a model; attention parameters keep their init.

A backbone trained without attention (``{arch}_plain``, or timm's own model when the
keys agree) starts an attended model: every tensor whose key and shape match is
copied, the classifier is skipped when the class count differs, and anything else
is reported. Nothing is ever downloaded.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from timm.models import load_state_dict
from torch import nn

from ..errors import LoosenError
from ._builder import attention_keys

_logger = logging.getLogger(__name__)


@dataclass
class LoadReport:
    """What ``load_pretrained`` did with each tensor of the file and of the model."""

    path: str
    loaded: list[str] = field(default_factory=list)
    attention: list[str] = field(default_factory=list)  # the model's, left at init
    missing: list[str] = field(default_factory=list)  # plain keys the file lacks
    unexpected: list[str] = field(default_factory=list)  # file keys the model lacks
    classifier: list[str] = field(default_factory=list)  # skipped: another class count

    def summary(self) -> str:
        """One line per kind of key, naming up to five keys of each."""
        def some(keys: list[str]) -> str:
            more = f' (+{len(keys) - 5} more)' if len(keys) > 5 else ''
            return ', '.join(keys[:5]) + more if keys else 'none'

        return '\n'.join([
            f'loaded {len(self.loaded)} tensors from {self.path}',
            f'  attention left at init: {len(self.attention)} ({some(self.attention)})',
            f'  classifier skipped (another class count): {some(self.classifier)}',
            f'  missing from the file (left at init): {some(self.missing)}',
            f'  unexpected in the file (ignored): {some(self.unexpected)}'])


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a local ``.pth``/``.pt`` (loaded with weights_only) or ``.safetensors``
    file; checkpoints wrapping a ``state_dict``/``model`` entry are unwrapped."""
    path = Path(path)
    if not path.is_file():
        raise LoosenError(f'no weights file at {path}; pass the path of a .pth, .pt or '
                          '.safetensors state dict')
    try:
        return load_state_dict(str(path), use_ema=False, weights_only=True)
    except Exception as error:  # pickle, safetensors and zip errors alike
        raise LoosenError(f'cannot read weights from {path} ({error}); save them with '
                          'torch.save(model.state_dict(), path) or safetensors') from error


def _classifier_prefixes(model: nn.Module) -> tuple[str, ...]:
    names = getattr(model, 'pretrained_cfg', {}).get('classifier') or ()
    return tuple(f'{n}.' for n in ((names,) if isinstance(names, str) else names))


def load_pretrained(model: nn.Module, path: str | Path) -> LoadReport:
    """Copy the tensors of ``path`` into the plain part of ``model``; log a summary.

    Raises LoosenError when a tensor outside the classifier has another shape: the
    file then belongs to another architecture or width.
    """
    found = read_state_dict(path)
    own = model.state_dict()
    report = LoadReport(str(path))
    report.attention = sorted(attention_keys(model))
    skip = set(report.attention)
    classifier = _classifier_prefixes(model)
    wanted: dict[str, torch.Tensor] = {}
    for key, value in found.items():
        if key in skip:
            continue
        if key not in own:
            report.unexpected.append(key)
        elif value.shape == own[key].shape:
            wanted[key] = value
        elif key.startswith(classifier):
            report.classifier.append(key)
        else:
            raise LoosenError(
                f'{path}: {key} has shape {list(value.shape)} but the model expects '
                f'{list(own[key].shape)}; the file was saved from another architecture or '
                'width (build the model with the same options)')
    model.load_state_dict(wanted, strict=False)
    report.loaded = sorted(wanted)
    report.unexpected.sort()
    report.classifier.sort()
    report.missing = sorted(set(own) - skip - set(wanted) - set(report.classifier))
    log = _logger.warning if report.missing or report.unexpected else _logger.info
    log(report.summary())
    return report
