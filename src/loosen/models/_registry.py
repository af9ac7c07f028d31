"""``{arch}_{attention}`` for every backbone and attention, registered with timm.

Each architecture module calls ``register_arch`` with its ``ArchSpec``;
``register_models`` then gives timm one entry point per pair (plus ``{arch}_plain``),
each with a ``pretrained_cfg`` so timm's data and classifier helpers work on it.
The entry points live in this module, so ``timm.list_models(module='_registry')``
lists them all, as ``timm.list_models('*_la')`` lists the LA models.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from timm.models import register_model
from torch import nn

from ..attention import list_attentions
from ..errors import LoosenError, unknown_name
from ._builder import build
from ._spec import ArchSpec

PLAIN = 'plain'

_ARCHS: dict[str, ArchSpec] = {}
default_cfgs: dict[str, dict[str, Any]] = {}  # read by timm's register_model


def register_arch(spec: ArchSpec) -> ArchSpec:
    """Record an architecture; its models reach timm at the next ``register_models``."""
    if spec.name in _ARCHS:
        raise ValueError(f'architecture {spec.name!r} is registered twice')
    _ARCHS[spec.name] = spec
    return spec


def list_archs() -> list[str]:
    """Every architecture name, sorted."""
    return sorted(_ARCHS)


def get_arch(arch: str) -> ArchSpec:
    """The spec of ``arch`` or of one of its aliases (case-insensitive)."""
    key = arch.strip().lower().replace('-', '_')
    names = _arch_names()
    if key not in names:
        raise unknown_name('architecture', arch, names)
    return _ARCHS[names[key]]


def model_arch(model: nn.Module) -> ArchSpec:
    """The spec of a model built here, found by the name timm records in its
    ``pretrained_cfg``; a LoosenError for any other model."""
    name = (getattr(model, 'pretrained_cfg', None) or {}).get('architecture')
    if not name:
        raise LoosenError(f'{type(model).__name__} was not built by loosen (it has no '
                          'pretrained_cfg naming its architecture); build it with '
                          'loosen.create_model or timm.create_model')
    return get_arch(parse_model_name(name)[0])


def _arch_names() -> dict[str, str]:
    """Every name an architecture answers to (its own and its aliases) -> its name."""
    names = {alias: spec.name for spec in _ARCHS.values() for alias in spec.aliases}
    names.update({name: name for name in _ARCHS})
    return names


def model_name(arch: str, attention: str | None) -> str:
    """``resnet34`` + ``la`` -> ``resnet34_la``; no attention -> ``resnet34_plain``."""
    return f'{arch}_{attention or PLAIN}'


def _entrypoint(spec: ArchSpec, attention: str | None) -> Callable[..., nn.Module]:
    name = model_name(spec.name, attention)

    def create(pretrained: bool = False, **kwargs: Any) -> nn.Module:
        return build(spec, name, attention, pretrained=pretrained, **kwargs)

    create.__name__ = create.__qualname__ = name
    create.__module__ = __name__
    what = f'{attention} attention' if attention else 'no attention (the slot left empty)'
    create.__doc__ = f'{spec.name} with {what}; paper placement: {spec.spot}.'
    return create


def register_models() -> list[str]:
    """Register with timm every ``{arch}_{attention}`` and ``{arch}_plain`` not yet known.

    Runs when ``loosen`` is imported; call it again after registering an attention
    of your own to get its models. Returns the names it added.
    """
    added = []
    module = sys.modules[__name__]
    for spec in _ARCHS.values():
        for attention in (None, *list_attentions()):
            name = model_name(spec.name, attention)
            if hasattr(module, name):
                continue
            default_cfgs[name] = {**spec.cfg, **spec.paper_cfg.get(attention, {})}
            setattr(module, name, register_model(_entrypoint(spec, attention)))
            added.append(name)
    return added


def list_models() -> list[str]:
    """Every model name registered here, sorted."""
    return sorted(model_name(a, t) for a in _ARCHS for t in (None, *list_attentions()))


def parse_model_name(name: str) -> tuple[str, str | None]:
    """A model name users know (``AlexNet_LA``, ``MobileNet_LA``, ``ViT_LA``, ``RMT_S_LA``,
    ``resnet34_plain``) -> (architecture, attention or None), case-insensitive."""
    key = name.strip().lower().replace('-', '_')
    attentions = [PLAIN, *list_attentions()]
    names = _arch_names()
    for prefix in sorted(names, key=len, reverse=True):
        if key.startswith(prefix + '_'):
            arch, attention = names[prefix], key[len(prefix) + 1:]
            if attention in attentions:
                return arch, None if attention == PLAIN else attention
            raise unknown_name('model', name, [model_name(arch, a) for a in attentions])
    tail = key.rsplit('_', 1)[-1]
    raise unknown_name('model', name, [model_name(a, tail if tail in attentions else 'la')
                                       for a in _ARCHS])


def resolve_model_name(name: str) -> str:
    """The registered timm name for ``name``: ``MobileNet_LA`` -> ``mobilenetv1_la``."""
    return model_name(*parse_model_name(name))
