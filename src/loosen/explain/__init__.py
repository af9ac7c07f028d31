"""See what a model looks at: LA's own gate and class activation maps over the sky image.

``loosen.explain(model, images, method='gradcam')`` (this module is callable) returns
maps of the image's size; ``plot_maps`` draws them over the sky; ``record_la`` records
LA's gate while a model runs; ``loosen explain`` does it all for image files.

Modules: ``maps`` (the API and the method registry), ``la_maps`` (LA's gate, recorded
from outside), ``cams`` (pytorch-grad-cam), ``targets`` (CAM layer per architecture),
``regions`` (field of view, synthetic structures, mass shares), ``figures``, ``files``
and ``cli`` (the command).
"""
import importlib
import sys
import types

from .la_maps import la_maps, record_la
from .maps import explain, list_methods
from .regions import fov_mask, mass_share

__all__ = ['explain', 'fov_mask', 'la_maps', 'list_methods', 'mass_share', 'plot_maps',
           'record_la']


def __getattr__(name: str):
    if name == 'plot_maps':  # matplotlib loads when a figure is wanted
        return importlib.import_module('.figures', __name__).plot_maps
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


class _CallableModule(types.ModuleType):
    """``loosen.explain`` is this package and the function: ``loosen.explain(model, x)``."""

    def __call__(self, *args, **kwargs):
        return explain(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
