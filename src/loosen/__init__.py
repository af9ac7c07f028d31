"""loosen: Loosen Attention for vision models, and a fair comparison of attention modules.

Importing it is cheap: the names below load their modules on first use, and loosen's
models reach timm's registry the moment timm's models are imported (or at once, when
they already are), so ``import loosen`` then ``timm.create_model('resnet34_la')`` works
either way round (see ``loosen.patches.hook``).
"""
from __future__ import annotations

import importlib

from .patches.hook import install as _install_hook

__version__ = '0.1.0'

_LAZY = {  # public name -> the module defining it
    'LA': 'loosen.attention',
    'create_attention': 'loosen.attention',
    'list_attentions': 'loosen.attention',
    'create_model': 'loosen.timm_plugins',
    'resolve_model_name': 'loosen.timm_plugins',
}

__all__ = ['__version__', *sorted(_LAZY)]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


_install_hook()
