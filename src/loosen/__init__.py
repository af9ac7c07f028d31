"""loosen: Loosen Attention for vision models, and a fair comparison of attention modules.

Importing it is cheap: the names below load their modules on first use, and loosen's
models reach timm's registry the moment timm's models are imported (or at once, when
they already are), so ``import loosen`` then ``timm.create_model('resnet34_la')`` works
either way round (see ``loosen.patches.hook``).
"""
from __future__ import annotations

from ._lazy import lazy_names
from .patches.hook import install as _install_hook

__version__ = '0.1.0'

_LAZY = {  # public name -> the module defining it
    'LA': '.attention',
    'create_attention': '.attention',
    'list_attentions': '.models',  # with the release's provenance: list_attentions('seed')
    'create_model': '.models',
    'resolve_model_name': '.models',
    'explain': '.explain',  # the package itself, callable: loosen.explain(model, images)
}
__all__ = ['__version__', *sorted(_LAZY)]
__getattr__, __dir__ = lazy_names(__name__, _LAZY)

_install_hook()
