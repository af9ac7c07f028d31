"""``{arch}_{attention}`` for every backbone and attention, registered with timm.

Each architecture module calls ``register_arch`` with its ``ArchSpec``;
``register_models`` then gives timm one entry point per pair (plus ``{arch}_plain``),
each with a ``pretrained_cfg`` so timm's data and classifier helpers work on it.
The entry points live in this module, so ``timm.list_models(module='_registry')``
lists them all, as ``timm.list_models('*_la')`` lists the LA models.
"""
from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import timm
from timm.models import build_model_with_cfg, register_model
from torch import nn

from ..attention import get_attention, list_attentions
from ..errors import unknown_name
from ._builder import ArchSpec, attention_layer
from ._pretrained import LoadReport, load_pretrained

PLAIN = 'plain'
# what ``build`` takes besides the architecture's constructor options
BUILD_KWARGS = ('placement', 'attn_kwargs', 'attention_init')
_logger = logging.getLogger(__name__)

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


def _arch_names() -> dict[str, str]:
    """Every name an architecture answers to (its own and its aliases) -> its name."""
    names = {alias: spec.name for spec in _ARCHS.values() for alias in spec.aliases}
    names.update({name: name for name in _ARCHS})
    return names


def model_name(arch: str, attention: str | None) -> str:
    """``resnet34`` + ``la`` -> ``resnet34_la``; no attention -> ``resnet34_plain``."""
    return f'{arch}_{attention or PLAIN}'


def build(spec: ArchSpec, attention: str | None, pretrained: bool = False,
          placement: str = 'paper', attn_kwargs: dict[str, Any] | None = None,
          attention_init: str = 'default', **kwargs: Any) -> nn.Module:
    """Build ``spec`` with ``attention`` in its slot(s) through timm's model builder.

    ``attn_kwargs`` go to every attention module (e.g. ``{'window': 1}`` for LA) and
    override the release's options at this spot (``ArchSpec.paper_attention``);
    ``attention_init='identity'`` starts every module as the identity (a gate at 0, see
    ``loosen.attention.start``); other kwargs override the architecture's constructor
    defaults.
    """
    spec.check_placement(placement)
    layer = attention_layer(attention, attn_kwargs, spec.attention_defaults(attention, placement),
                            start=attention_init)
    kwargs = {**spec.kwargs, **spec.model_defaults(attention, placement), **kwargs}
    # timm's factory kwargs: built where asked, whatever each constructor takes
    device, dtype = kwargs.pop('device', None), kwargs.pop('dtype', None)
    model = build_model_with_cfg(spec.model_cls, model_name(spec.name, attention), pretrained,
                                 feature_cfg=dict(spec.feature_cfg), attention_layer=layer,
                                 placement=placement, **kwargs)
    return model.to(device=device, dtype=dtype)


def _entrypoint(spec: ArchSpec, attention: str | None) -> Callable[..., nn.Module]:
    name = model_name(spec.name, attention)

    def create(pretrained: bool = False, **kwargs: Any) -> nn.Module:
        return build(spec, attention, pretrained=pretrained, **kwargs)

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


def create_model(arch: str, attention: str | None = 'la', num_classes: int = 4,
                 pretrained: str | None = None, placement: str = 'paper',
                 pretrained_partial: bool = False, **kwargs: Any) -> nn.Module:
    """Build ``arch`` with ``attention`` (None or 'plain': none) through timm.

    Args:
        arch: architecture or alias (``resnet34``, ``MobileNet``, ``ViT``, ``RMT_S``...).
        attention: a name from ``loosen.list_attentions()``, or None / 'plain'.
        num_classes: classifier outputs (the aurora data has 4 classes).
        pretrained: weights for the plain part: the path of a local state dict (.pth, .pt,
            .safetensors) or ``timm:TAG`` (``timm:resnet34.a1_in1k``: timm's weights from
            the Hugging Face cache, fetched only on a machine online); attention
            parameters stay at their init. The load report is logged.
        placement: 'paper' (the paper's spot) or 'block' (one module per block).
        pretrained_partial: accept weights that fit fewer than half of the model's
            non-attention tensors, or some in another shape (see ``load_pretrained``).
        **kwargs: constructor options (widths, depths, drop_path_rate, attn_kwargs,
            attention_init...).
    """
    spec = get_arch(arch)
    if attention is not None and attention.lower() == PLAIN:
        attention = None
    if attention is not None:
        attention = get_attention(attention).name
    name = model_name(spec.name, attention)
    if not timm.is_model(name):  # an attention registered after loosen was imported
        register_models()
    model = timm.create_model(name, num_classes=num_classes, placement=placement, **kwargs)
    if pretrained:
        report = load_weights(model, pretrained, pretrained_partial)
        log = _logger.warning if report.missing or report.unexpected else _logger.info
        log(report.summary())
    return model


def load_weights(model: nn.Module, source: str, partial: bool = False,
                 classes: Sequence[str] | None = None) -> LoadReport:
    """``load_pretrained`` into a model built here, through its architecture's filter."""
    arch, _ = parse_model_name(model.pretrained_cfg['architecture'])
    return load_pretrained(model, source, partial, get_arch(arch).pretrained_filter, classes)
