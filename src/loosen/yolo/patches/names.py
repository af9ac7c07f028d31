"""The names under which every registered attention module resolves in a model YAML.

``[-1, 1, LA, [16]]`` builds ``create_attention('la', C, 16)`` where C is the layer's
true input width; a trailing dict in the args gives keyword options:
``[-1, 1, LA, [{heads: 8, window: 2}]]``. The builder is a class (both parsers print
and test the module type), whose construction returns the registry's module itself,
so checkpoints pickle the real module and state-dict keys have no extra level.
"""
from __future__ import annotations

from torch import nn

from ...attention import get_attention, list_attentions
from ...errors import LoosenError

# YAML spelling of registry names where it is not simply the upper case
SPELLING = {'simam': 'SimAM', 'coord': 'Coord'}


def yaml_name(attention: str) -> str:
    """``'la'`` -> ``'LA'``, ``'simam'`` -> ``'SimAM'``."""
    return SPELLING.get(attention, attention.upper())


def _build(cls: type, channels: int, *args: object) -> nn.Module:
    """Construct ``cls.attention`` for ``channels``; ``args`` are the YAML's, channels filled in."""
    options = args[-1] if args and isinstance(args[-1], dict) else {}
    positional = args[:-1] if options else args
    try:
        return get_attention(cls.attention).factory(channels, *positional, **options)
    except TypeError as error:
        raise LoosenError(f'{cls.__name__} args {list(args)} at {channels} channels: {error}; '
                          'give options by name in a trailing dict, e.g. [{heads: 8}]') from None


def builder(attention: str) -> type:
    """A class named ``yaml_name(attention)`` whose call builds that attention module."""
    name = yaml_name(attention)
    return type(name, (nn.Module,), {
        '__new__': _build, '__module__': __name__, '__qualname__': name, 'attention': attention,
        '__doc__': f'Model-YAML name of attention {attention!r}: called as (channels, *args).'})


BUILDERS: dict[str, type] = {yaml_name(a): builder(a) for a in list_attentions()}


def is_builder(obj: object) -> bool:
    return any(obj is b for b in BUILDERS.values())


def add_names(namespace: dict) -> list[str]:
    """Add every builder to a parser's module globals, never replacing an upstream name.

    Returns the names that stay upstream's (Ultralytics has its own ``CBAM``).
    """
    kept = []
    for name, cls in BUILDERS.items():
        if namespace.setdefault(name, cls) is not cls:
            kept.append(name)
    return kept
