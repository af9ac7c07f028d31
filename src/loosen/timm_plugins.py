"""The old name of ``loosen.models``, kept so code written for it runs unchanged.

``import loosen.timm_plugins`` gives the ``loosen.models`` package itself, and each of
its submodules answers to its old name too (``loosen.timm_plugins.rmt`` is
``loosen.models.rmt``), so nothing is imported, or registered with timm, twice.
"""
import sys

from . import models

_OLD, _NEW = __name__, models.__name__
for _name, _module in list(sys.modules.items()):
    if _name.startswith(_NEW + '.'):
        sys.modules[_OLD + _name[len(_NEW):]] = _module
sys.modules[_OLD] = models
