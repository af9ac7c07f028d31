"""Backbones registered with timm: ``timm.create_model('{arch}_{attention}')``.

Importing this package (``import loosen`` does) registers, for every architecture
and every attention in ``loosen.list_attentions()``, a model ``{arch}_{attention}``
with the attention at the paper's spot, and ``{arch}_plain`` with the slot empty.
"""
from . import alexnet, mobilenet, resnet, rmt, vit, zfnet  # noqa: F401  (register the archs)
from ._builder import ArchSpec, attention_keys, attention_layer
from ._pretrained import LoadReport, load_pretrained
from ._registry import (
    BUILD_KWARGS,
    create_model,
    get_arch,
    list_archs,
    list_models,
    load_weights,
    model_name,
    parse_model_name,
    register_arch,
    register_models,
    resolve_model_name,
)

register_models()

__all__ = [
    'BUILD_KWARGS',
    'ArchSpec',
    'LoadReport',
    'attention_keys',
    'attention_layer',
    'create_model',
    'get_arch',
    'list_archs',
    'list_models',
    'load_pretrained',
    'load_weights',
    'model_name',
    'parse_model_name',
    'register_arch',
    'register_models',
    'resolve_model_name',
]
