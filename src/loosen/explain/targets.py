"""Where a class activation map looks: the target layer and the reshape transform that
turns its output into a (B, C, h, w) map, as pytorch-grad-cam wants.

Both come from the model's ``ArchSpec`` (``cam_layer``, ``cam_layout``); this module
applies them and imports no backbone class:

| arch              | default target                | map at 224 | layout of its output   |
|-------------------|-------------------------------|------------|------------------------|
| AlexNet, ZFNet    | the last conv's ReLU          | 13x13      | (B, C, h, w)           |
| ResNet-34         | ``layer3`` (ends with LA)     | 14x14      | (B, C, h, w)           |
| MobileNet-v1      | ``blocks.3`` (ends with LA)   | 14x14      | (B, C, h, w)           |
| ViT               | ``blocks.<last>.norm1``       | 14x14      | tokens (B, 1 + h*w, C) |
| RMT               | ``act`` (after LA)            | 7x7        | (B, C, h, w)           |

The defaults are the last stride-16 maps where there is one (the paper's LA spot in
ResNet and MobileNet): fine enough to show a hot spot, deep enough to know the class.
RMT's head map is the one its classifier pools. ``layer=`` takes any module name
instead; ViT token layers and RMT's channels-last stages get the reshape they need.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import LoosenError, unknown_name
from ..models import NCHW, NHWC, TOKENS, ArchSpec, model_arch


def arch_spec(model: nn.Module) -> ArchSpec | None:
    """The spec of a model loosen built, None for any other (no default layer, maps only)."""
    try:
        return model_arch(model)
    except LoosenError:
        return None


class ToMap:
    """pytorch-grad-cam's ``reshape_transform``: a layer's output as (B, C, h, w).

    ``grid`` is the patch grid of the current input (token layouts only); tokens before
    the grid's ``h * w`` (the class token) are dropped. Anything that is not a feature
    map is refused with the layer's name, so a wrong ``layer=`` fails clearly.
    """

    def __init__(self, name: str, layout: str, grid: tuple[int, int] | None = None) -> None:
        self.name, self.layout, self.grid = name, layout, grid

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        if self.layout == TOKENS and t.dim() == 3 and self.grid is not None:
            h, w = self.grid
            return t[:, t.shape[1] - h * w:].transpose(1, 2).reshape(t.shape[0], -1, h, w)
        if t.dim() == 4:
            return t.permute(0, 3, 1, 2) if self.layout == NHWC else t
        raise LoosenError(f'layer {self.name!r} gives {tuple(t.shape)}, not a feature map; '
                          'give --layer a convolutional stage or a block')


@dataclass(frozen=True)
class CamTarget:
    name: str
    module: nn.Module
    reshape: ToMap


def layer_names(model: nn.Module, depth: int = 2) -> list[str]:
    """Module names up to ``depth`` levels deep: the choices an error message lists."""
    return [name for name, _ in model.named_modules() if name and name.count('.') < depth]


def cam_target(model: nn.Module, layer: str | None, size: tuple[int, int]) -> CamTarget:
    """The target layer ``layer`` (default: the architecture's) of ``model`` for inputs of
    ``size`` (H, W), with its reshape transform."""
    spec = arch_spec(model)
    if layer is None:
        if spec is None:
            raise LoosenError(f'no default CAM layer for {type(model).__name__}; give --layer '
                              f'with one of {", ".join(layer_names(model, 1))}')
        layer = spec.default_cam_layer(model)
    modules = dict(model.named_modules())
    if layer not in modules or not layer:
        raise unknown_name('layer', layer, layer_names(model))
    module = modules[layer]
    layout = spec.cam_layout(layer, module) if spec is not None else NCHW
    patch = getattr(getattr(model, 'patch_embed', None), 'patch_size', None)
    grid = (size[0] // patch[0], size[1] // patch[1]) if layout == TOKENS and patch else None
    return CamTarget(layer, module, ToMap(layer, layout, grid))
