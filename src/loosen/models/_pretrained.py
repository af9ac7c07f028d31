"""Pretrained weights into the plain part of a model; attention parameters keep their init.

A backbone trained without attention (``{arch}_plain``, timm's own model where the keys
agree, or the weights timm publishes, named ``timm:TAG``) starts an attended model: every
tensor whose key and shape match is copied, the classifier is reset when the class count
differs, and the rest is reported. Weights that fit fewer than half of the model's
non-attention tensors, or some in another shape, are refused (the error names the
architecture the file seems to hold) unless ``partial`` accepts them knowingly.

Local files are read as they are. ``timm:TAG`` goes through timm's own loading: the
tag's ``pretrained_cfg`` names its Hugging Face hub repository, the hub's local cache
answers first, and only a machine online fetches what the cache lacks
(``HF_HUB_OFFLINE=1``: never); nothing is fetched unless the user names a tag.
"""
from __future__ import annotations

import argparse
import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import timm
import torch
from huggingface_hub import constants as hub_constants
from huggingface_hub.file_download import repo_folder_name
from safetensors import SafetensorError, safe_open
from timm.models import load_state_dict
from torch import nn

from ..errors import LoosenError
from ._builder import attention_keys
from ._identify import describe_weights
from ._spec import PretrainedFilter

TIMM_PREFIX = 'timm:'


@dataclass
class LoadReport:
    """What ``load_pretrained`` did with each tensor of the weights and of the model."""

    source: str
    plain: int = 0  # the model's tensors outside attention: what the weights should fill
    loaded: list[str] = field(default_factory=list)
    attention: list[str] = field(default_factory=list)  # the model's, left at init
    classifier: list[str] = field(default_factory=list)  # reset: see classifier_reason
    classifier_reason: str = 'another class count'
    reordered_from: list[str] = field(default_factory=list)  # the weights' class order
    mismatched: list[str] = field(default_factory=list)  # another shape: left at init
    missing: list[str] = field(default_factory=list)  # plain keys the weights lack
    unexpected: list[str] = field(default_factory=list)  # weight keys the model lacks

    def summary(self) -> str:
        """The load report: one line per kind of key, naming up to five of each."""
        def some(keys: list[str]) -> str:
            more = f' (+{len(keys) - 5} more)' if len(keys) > 5 else ''
            return ', '.join(keys[:5]) + more if keys else 'none'

        lines = [f'pretrained: loaded {len(self.loaded)}/{self.plain} tensors (all but the '
                 f'attention) from {self.source}',
                 f'  attention at init: {len(self.attention)} tensors ({some(self.attention)})',
                 f'  classifier reset ({self.classifier_reason}): {some(self.classifier)}',
                 f'  missing from the weights (left at init): {some(self.missing)}',
                 f'  unexpected in the weights (ignored): {some(self.unexpected)}']
        if self.reordered_from:
            lines.append('  classifier rows reordered from the weights\' class order: '
                         + ', '.join(self.reordered_from))
        if self.mismatched:
            lines.append(f'  other shapes in the weights (left at init): {some(self.mismatched)}')
        return '\n'.join(lines)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a local ``.pth``/``.pt`` (loaded with weights_only) or ``.safetensors``
    file; checkpoints wrapping a ``state_dict``/``model`` entry are unwrapped."""
    path = Path(path)
    if not path.is_file():
        raise LoosenError(f'no weights file at {path}; pass the path of a .pth, .pt or '
                          '.safetensors state dict, or timm:TAG for weights timm publishes '
                          '(e.g. timm:resnet34.a1_in1k)')
    try:  # DeiT-style checkpoints (RMT's release) keep their argparse flags beside the model
        with torch.serialization.safe_globals([argparse.Namespace]):
            return load_state_dict(str(path), use_ema=False, weights_only=True)
    except Exception as error:  # pickle, safetensors and zip errors alike
        reason = ' '.join(str(error).split())[:200]
        raise LoosenError(f'cannot read weights from {path} ({reason}); save them with '
                          'torch.save(model.state_dict(), path) or safetensors') from error


def file_classes(path: str | Path) -> list[str] | None:
    """The class names a weights file records (a checkpoint of ``loosen train`` or its
    ``--export-weights``), else None; read after ``read_state_dict`` accepted the file."""
    path = Path(path)
    try:
        if path.suffix == '.safetensors':
            with safe_open(str(path), framework='pt') as f:
                meta = f.metadata() or {}
            return json.loads(meta['classes']) if 'classes' in meta else None
        with torch.serialization.safe_globals([argparse.Namespace]):  # mapped: no tensor read
            found = torch.load(path, map_location='cpu', weights_only=True, mmap=True)
    except (RuntimeError, ValueError, OSError, SafetensorError):  # the old (non-zip) format
        return None
    classes = found.get('classes') if isinstance(found, dict) else None
    if isinstance(classes, list | tuple) and all(isinstance(c, str) for c in classes):
        return list(classes)
    return None


def _check_tag(tag: str) -> Any:
    """timm's ``pretrained_cfg`` of ``tag``; a LoosenError naming close tags otherwise."""
    arch = tag.partition('.')[0]
    tags = timm.list_pretrained(f'{arch}.*')
    if not tags:
        archs = sorted({name.partition('.')[0] for name in timm.list_pretrained()})
        close = difflib.get_close_matches(arch, archs, n=3)
        hint = f'did you mean {" or ".join(close)}? ' if close else ''
        raise LoosenError(f'timm publishes no weights for {arch!r}; {hint}list them with '
                          f'timm.list_pretrained("{arch[:4]}*")')
    if tag != arch and tag not in tags:
        raise LoosenError(f'timm has no weights {tag!r}; {arch} has {", ".join(tags)}')
    return timm.models.get_pretrained_cfg(tag)


def _fetch_hint(tag: str, cfg: Any, error: Exception) -> str:
    """One line: which cache lacks the weights of ``tag``, why, and what to fetch where."""
    reason = ('HF_HUB_OFFLINE=1' if hub_constants.HF_HUB_OFFLINE
              else f'{type(error).__name__}: {" ".join(str(error).split())[:120]}')
    if cfg.hf_hub_id:
        repo = cfg.hf_hub_id.partition('@')[0]
        where = Path(hub_constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo,
                                                                    repo_type='model')
        fetch = (f'on a machine online run `huggingface-cli download {repo}` and copy its '
                 f'{where.name} folder into {where.parent} here (HF_HOME or HF_HUB_CACHE '
                 'moves that cache)')
    else:
        where = Path(torch.hub.get_dir()) / 'checkpoints' / Path(cfg.url).name
        fetch = f'on a machine online fetch {cfg.url} and copy it to {where} here'
    return (f'{TIMM_PREFIX}{tag}: its weights are not in {where} and could not be fetched '
            f'({reason}); {fetch}, or pass the weights file itself as the pretrained path')


def timm_state_dict(tag: str) -> dict[str, torch.Tensor]:
    """The weights timm publishes as ``tag`` (``resnet34.a1_in1k``), loaded by timm into
    its own model (its hub code, cache and checkpoint filter), as a state dict."""
    cfg = _check_tag(tag)
    try:
        model = timm.create_model(tag, pretrained=True)
    except OSError as error:  # the hub's cache, offline and HTTP errors alike
        raise LoosenError(_fetch_hint(tag, cfg, error)) from error
    return model.state_dict()


def read_weights(source: str | Path) -> dict[str, torch.Tensor]:
    """The state dict ``source`` names: ``timm:TAG`` or the path of a local file."""
    text = str(source)
    if text.startswith(TIMM_PREFIX):
        return timm_state_dict(text[len(TIMM_PREFIX):])
    return read_state_dict(text)


def _classifier_prefixes(model: nn.Module) -> tuple[str, ...]:
    names = getattr(model, 'pretrained_cfg', {}).get('classifier') or ()
    return tuple(f'{n}.' for n in ((names,) if isinstance(names, str) else names))


def _match_classes(found: dict[str, torch.Tensor], report: LoadReport,
                   prefixes: tuple[str, ...], theirs: list[str], ours: list[str]) -> None:
    """Classifier rows of ``found`` in the order of ``ours`` when the weights were trained
    on the same classes in another order; dropped (the classifier is reset) when on others."""
    keys = [k for k in found if k.startswith(prefixes) and found[k].shape[:1] == (len(theirs),)]
    if sorted(theirs) == sorted(ours):
        order = [theirs.index(name) for name in ours]
        found.update({key: found[key][order] for key in keys})
        report.reordered_from = list(theirs)
        return
    for key in keys:
        found.pop(key)
        report.classifier.append(key)
    report.classifier_reason = f'the weights\' classes are {", ".join(theirs)}'


def load_pretrained(model: nn.Module, source: str | Path, partial: bool = False,
                    filter_fn: PretrainedFilter | None = None,
                    classes: Sequence[str] | None = None) -> LoadReport:
    """Copy the tensors of ``source`` (a local file or ``timm:TAG``) into the plain part
    of ``model``, after ``filter_fn`` (the architecture's ``pretrained_filter``).

    ``classes``: the names of the model's outputs. Weights that record theirs (a
    checkpoint of ``loosen train``) then give the classifier rows by name: reordered
    when the classes are the same in another order, reset when they are others.

    Raises LoosenError, leaving the model untouched, when the weights fit fewer than half
    of the model's non-attention tensors or hold one outside the classifier in another
    shape, unless ``partial``: then only the tensors that fit are copied.
    """
    found = dict(read_weights(source))
    if filter_fn is not None:
        found = filter_fn(found, model)
    own = model.state_dict()
    report = LoadReport(str(source))
    report.attention = sorted(attention_keys(model))
    skip = set(report.attention)  # attention weights in the file are ignored
    report.plain = len(own) - len(skip)
    classifier = _classifier_prefixes(model)
    theirs = None if str(source).startswith(TIMM_PREFIX) else file_classes(source)
    if classes is not None and theirs is not None and theirs != list(classes):
        _match_classes(found, report, classifier, theirs, list(classes))
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
            report.mismatched.append(key)
    report.loaded = sorted(wanted)
    report.unexpected.sort()
    report.classifier.sort()
    report.missing = sorted(set(own) - skip - set(wanted) - set(report.classifier)
                            - set(report.mismatched))
    if not partial and (report.mismatched or 2 * len(wanted) < report.plain):
        raise LoosenError(_refusal(report, found, own))
    model.load_state_dict(wanted, strict=False)
    return report


def _refusal(report: LoadReport, found: dict[str, torch.Tensor],
             own: dict[str, torch.Tensor]) -> str:
    """Why the weights do not fit, which architecture they seem to hold, and the fix."""
    why = f'fits {len(report.loaded)} of the model\'s {report.plain} non-attention tensors'
    if report.mismatched:
        key = report.mismatched[0]
        why += (f' ({len(report.mismatched)} in another shape: {key} is '
                f'{list(found[key].shape)}, the model\'s {list(own[key].shape)})')
    return (f'{report.source} {why}; it seems to hold {describe_weights(found)}: build that '
            'model (with the options it was saved with), or accept a partial start with '
            '--pretrained-partial (pretrained_partial=True)')
