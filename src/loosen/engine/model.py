"""The model a config names: its registered name, the constructor options it takes, and notes
for the options it does not.

The seed's command lines carry architecture flags (``--patch-size``, ``--embed-dim``,
``--drop-path``...) that only some models have. A flag a model's constructor does not
take is dropped with a one-line note, so every seed command line runs with every model.
"""
from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from ..errors import LoosenError, unknown_name
from ..models import BUILD_KWARGS, create_model, get_arch, parse_model_name
from .config import EngineConfig
from .recipes import get_recipe

# config field -> the constructor argument timm models use for it
CONFIG_KWARGS = {'dropout': 'drop_rate', 'drop_path': 'drop_path_rate', 'img_size': 'img_size'}
# kwargs with a meaning fixed elsewhere: the data decides them
FIXED_KWARGS = {'num_classes', 'in_chans'}


def constructor_args(cls: type) -> set[str]:
    """Keyword arguments ``cls(...)`` accepts, following ``**kwargs`` up its base classes."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass in (nn.Module, object):
            break
        params = inspect.signature(klass.__init__).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names - {'self'}


def model_kwargs(config: EngineConfig) -> tuple[dict[str, Any], list[str]]:
    """Constructor options for ``config.model``: ``model_kwargs``, then the seed's
    architecture flags and the dropout, drop-path and image-size flags. An option of
    ``model_kwargs`` the model does not take is an error naming the closest it does (a
    misspelt key would otherwise train another model); one of the flags, or of the
    recipe, is a note (the seed's command lines carry them for every model)."""
    arch, _ = parse_model_name(config.model)
    accepted = (constructor_args(get_arch(arch).model_cls) | set(BUILD_KWARGS)) - FIXED_KWARGS
    given = dict(config.model_kwargs)
    recipe = get_recipe(config.recipe).model_kwargs if config.recipe else {}
    optional = {k: given.pop(k) for k in list(given) if k in recipe and given[k] == recipe[k]}
    optional.update(config.arch_flags)
    in_chans = {**given, **optional}.get('in_chans', 3)
    given.pop('in_chans', None)
    optional.pop('in_chans', None)
    if in_chans != 3:
        raise LoosenError(f'--in-channels {in_chans}: images are read as RGB (grayscale copied '
                          'into three channels); use --in-channels 3')
    for name in given:
        if name not in accepted:
            raise unknown_name(f'{config.model} option (--model-kwargs)', name, accepted)
    for key, kwarg in CONFIG_KWARGS.items():
        if getattr(config, key) is not None and kwarg not in given:
            optional.setdefault(kwarg, getattr(config, key))
    kwargs, notes = dict(given), []
    for name, value in optional.items():
        if name in accepted:
            kwargs[name] = value
        elif name != 'img_size':  # only ViTs size their position table; others need nothing
            notes.append(f'{config.model} has no option {name!r} (={value}); ignored')
    return kwargs, notes


def build_model(name: str, num_classes: int, kwargs: dict[str, Any]) -> nn.Module:
    """Model ``name`` (a registered name) with ``num_classes`` outputs and constructor
    options ``kwargs`` (from ``model_kwargs``); ``loosen.models.load_weights``
    then loads pretrained weights into it and reports what it loaded."""
    arch, attention = parse_model_name(name)
    try:
        return create_model(arch, attention, num_classes=num_classes, **kwargs)
    except (TypeError, AssertionError) as error:
        reason = ' '.join(str(error).split())
        raise LoosenError(f'cannot build {name} with {kwargs} ({reason}); change the '
                          'architecture flags') from error
