"""Backbones registered with timm: ``timm.create_model('{arch}_{attention}')``.

Importing this package (``import loosen`` does, once timm's models are imported) registers,
for every architecture and every attention in ``loosen.list_attentions()``, a model
``{arch}_{attention}`` with the attention at the paper's spot, and ``{arch}_plain`` with
the slot empty. As in timm: ``_spec`` holds what is known of each architecture
(``ArchSpec``), ``_builder`` builds, ``_registry`` registers and resolves names,
``_factory`` is the public ``create_model``; one module per architecture. ``release``
holds the paper's comparison set and what its release fixes per family.
"""
from . import alexnet, mobilenet, release, resnet, rmt, vit, zfnet  # noqa: F401  (the archs)
from ._builder import BUILD_KWARGS, attention_keys, attention_layer
from ._factory import create_model, load_weights
from ._pretrained import LoadReport, load_pretrained
from ._registry import (
    get_arch,
    list_archs,
    list_models,
    model_arch,
    model_name,
    parse_model_name,
    register_arch,
    register_models,
    resolve_model_name,
)
from ._spec import NCHW, NHWC, TOKENS, ArchSpec
from .release import list_attentions

register_models()

__all__ = [
    'BUILD_KWARGS',
    'NCHW',
    'NHWC',
    'TOKENS',
    'ArchSpec',
    'LoadReport',
    'attention_keys',
    'attention_layer',
    'create_model',
    'get_arch',
    'list_archs',
    'list_attentions',
    'list_models',
    'load_pretrained',
    'load_weights',
    'model_arch',
    'model_name',
    'parse_model_name',
    'register_arch',
    'register_models',
    'resolve_model_name',
]
