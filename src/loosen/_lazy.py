"""Names of a package that load their module on first use (PEP 562), so importing the
package costs only what its caller touches."""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_names(package: str, names: Mapping[str, str]) -> tuple[Callable[[str], object],
                                                                 Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, where ``names`` maps each public name
    to the module defining it (absolute, or relative to ``package`` when it starts with a dot);
    a name mapped to its own submodule (``'explain': '.explain'``) is that module."""

    def __getattr__(name: str) -> object:
        if name not in names:
            raise AttributeError(f'module {package!r} has no attribute {name!r}')
        module = importlib.import_module(names[name], package)
        value = module if names[name] == f'.{name}' else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__


def resolve(reference: str) -> object:
    """The object a ``'package.module:name'`` string names, its module imported now: how a
    lower layer runs a part that lives in a layer above it without importing that layer."""
    module, _, name = reference.partition(':')
    if not name:
        raise ValueError(f'{reference!r} is not of the form package.module:name')
    return getattr(importlib.import_module(module), name)
