"""Which architecture a state dict seems to hold, for errors about weights that do not fit.

Its tensor names and shapes are matched against loosen's plain models and a few timm
architectures users start from, each built on the meta device (no memory; about a
second for all of them, paid only when a file does not fit).
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import timm
import torch

# timm architectures whose weights users reach for, beside those loosen's archs take
TIMM_ARCHS = ('resnet18', 'resnet34', 'resnet50', 'mobilenetv1_100', 'mobilenetv2_100',
              'efficientnet_b0', 'convnext_tiny', 'vit_tiny_patch16_224',
              'vit_small_patch16_224', 'vit_base_patch16_224')
Shapes = dict[str, tuple[int, ...]]


def _shapes(name: str) -> Shapes:
    with torch.device('meta'):
        model = timm.create_model(name)
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


@functools.cache
def known_shapes() -> dict[str, Shapes]:
    """Tensor shapes by key of every candidate: loosen's archs first, then timm's."""
    plain = timm.list_models('*_plain', module='_registry')  # loosen's entry points
    found = {f"loosen's {name.removesuffix('_plain')}": _shapes(name) for name in plain}
    found.update({f"timm's {name}": _shapes(name) for name in TIMM_ARCHS})
    return found


def describe_weights(state: Mapping[str, Any]) -> str:
    """The architecture ``state`` seems to hold, in words, with how well it matches."""
    shapes = {key: tuple(value.shape) for key, value in state.items() if hasattr(value, 'shape')}
    rows = []
    for name, known in known_shapes().items():
        union = len(shapes.keys() | known.keys())
        named = shapes.keys() & known.keys()
        fits = sum(shapes[key] == known[key] for key in named)
        rows.append((name, fits / union, len(named) / union, fits, len(named), len(known)))
    name, fit, _, fits, _, total = max(rows, key=lambda row: row[1])  # the first of equals
    if fit >= 0.5:
        return f'{name} ({fits} of its {total} tensors match by name and shape)'
    name, _, share, fits, named, total = max(rows, key=lambda row: row[2])
    if share >= 0.5:
        return (f'{name} at other widths or depths ({named} of its {total} tensor names '
                f'match, {fits} of them in shape)')
    first = ', '.join(list(shapes)[:3])
    return (f"none of loosen's architectures or timm's {', '.join(TIMM_ARCHS)} "
            f'(its first tensors: {first or "none"})')
