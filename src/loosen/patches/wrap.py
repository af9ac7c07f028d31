"""Replace one upstream function by a wrapper of it, once, wherever it was imported by name.

Upstream modules often do ``from pkg.utils import f``; replacing ``pkg.utils.f`` alone
would miss those copies, so every already-imported module of the same package that
holds the original gets the wrapper too. Modules imported later get it from the source.
"""
from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from types import ModuleType

MARK = '__loosen_patch__'


def is_patched(function: object) -> bool:
    return bool(getattr(function, MARK, False))


def wrap(module: ModuleType, name: str, make: Callable[[Callable], Callable]) -> Callable:
    """Bind ``make(original)`` as ``module.name`` and in every module that imported it.

    Idempotent: a function already wrapped by loosen is left as it is. Returns what is bound.
    """
    original = getattr(module, name)
    if is_patched(original):
        return original
    replacement = functools.wraps(original)(make(original))
    setattr(replacement, MARK, True)
    package = module.__name__.partition('.')[0]
    for other in list(sys.modules.values()):
        other_name = getattr(other, '__name__', None) or ''
        if other_name.partition('.')[0] == package and vars(other).get(name) is original:
            setattr(other, name, replacement)
    setattr(module, name, replacement)
    return replacement
