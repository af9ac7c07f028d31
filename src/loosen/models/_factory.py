"""``create_model`` and ``load_weights``: loosen's names for building a registered model
through timm and for starting it from pretrained weights."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import timm
from torch import nn

from ..attention import get_attention
from ._pretrained import LoadReport, load_pretrained
from ._registry import PLAIN, get_arch, model_arch, model_name, register_models

_logger = logging.getLogger(__name__)


def create_model(arch: str, attention: str | None = 'la', num_classes: int = 4,
                 pretrained: str | None = None, placement: str = 'paper',
                 pretrained_partial: bool = False, **kwargs: Any) -> nn.Module:
    """Build ``arch`` with ``attention`` (None or 'plain': none) through timm.

    Args:
        arch: architecture or alias (``resnet34``, ``MobileNet``, ``ViT``, ``RMT_S``...).
        attention: a name from ``loosen.list_attentions()``, or None / 'plain'.
        num_classes: classifier outputs (the aurora data has 4 classes).
        pretrained: weights for the plain part: the path of a local state dict (.pth, .pt,
            .safetensors) or ``timm:TAG`` (``timm:resnet34.a1_in1k``: timm's weights from
            the Hugging Face cache, fetched only on a machine online); attention
            parameters stay at their init. The load report is logged.
        placement: 'paper' (the paper's spot) or 'block' (one module per block).
        pretrained_partial: accept weights that fit fewer than half of the model's
            non-attention tensors, or some in another shape (see ``load_pretrained``).
        **kwargs: constructor options (widths, depths, drop_path_rate, attn_kwargs,
            attention_init...).
    """
    spec = get_arch(arch)
    if attention is not None and attention.lower() == PLAIN:
        attention = None
    if attention is not None:
        attention = get_attention(attention).name
    name = model_name(spec.name, attention)
    if not timm.is_model(name):  # an attention registered after loosen was imported
        register_models()
    model = timm.create_model(name, num_classes=num_classes, placement=placement, **kwargs)
    if pretrained:
        report = load_weights(model, pretrained, pretrained_partial)
        log = _logger.warning if report.missing or report.unexpected else _logger.info
        log(report.summary())
    return model


def load_weights(model: nn.Module, source: str, partial: bool = False,
                 classes: Sequence[str] | None = None) -> LoadReport:
    """``load_pretrained`` into a model built here, through its architecture's filter."""
    return load_pretrained(model, source, partial, model_arch(model).pretrained_filter, classes)
