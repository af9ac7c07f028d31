"""Where a class activation map looks, per architecture: the target layer and the reshape
transform that turns its output into a (B, C, h, w) map, as pytorch-grad-cam wants.

| model class       | default target                | map at 224 | layout of its output   |
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

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import LoosenError, unknown_name
from ..models.alexnet import AlexNet
from ..models.mobilenet import MobileNetV1
from ..models.resnet import AttentionResNet
from ..models.rmt import RMT
from ..models.vit import GridViT

NCHW, NHWC, TOKENS = 'nchw', 'nhwc', 'tokens'


@dataclass(frozen=True)
class CamSpot:
    """One family of models: its default target layer, and the layout of a layer's output."""

    default: Callable[[nn.Module], str]
    layout: Callable[[str, nn.Module], str] = lambda name, module: NCHW


def _last_relu(model: nn.Module) -> str:
    """The last conv's activation in the layer table (not one inside an attention module)."""
    return [f'features.{i}' for i, m in enumerate(model.features) if isinstance(m, nn.ReLU)][-1]


def _vit_layout(name: str, module: nn.Module) -> str:
    if name == 'patch_embed':  # dynamic_img_size keeps the grid: (B, h, w, C)
        return NHWC
    if name == 'norm' or (name.startswith('blocks') and '.grid_attn' not in name):
        return TOKENS
    return NCHW


def _rmt_layout(name: str, module: nn.Module) -> str:
    channels_last = name == 'patch_embed' or name.startswith('layers')
    return NHWC if channels_last and not isinstance(module, (nn.Conv2d, nn.BatchNorm2d)) else NCHW


CAM_SPOTS: dict[type, CamSpot] = {
    AlexNet: CamSpot(_last_relu),
    AttentionResNet: CamSpot(lambda model: 'layer3'),
    MobileNetV1: CamSpot(lambda model: f'blocks.{len(model.blocks) - 2}'),
    GridViT: CamSpot(lambda model: f'blocks.{len(model.blocks) - 1}.norm1', _vit_layout),
    RMT: CamSpot(lambda model: 'act', _rmt_layout),
}


def cam_spot(model: nn.Module) -> CamSpot | None:
    """The registry entry of ``model``'s class (or of its nearest registered base class)."""
    return next((CAM_SPOTS[cls] for cls in type(model).__mro__ if cls in CAM_SPOTS), None)


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
    """The target layer ``layer`` (default: the registry's) of ``model`` for inputs of
    ``size`` (H, W), with its reshape transform."""
    spot = cam_spot(model)
    if layer is None:
        if spot is None:
            raise LoosenError(f'no default CAM layer for {type(model).__name__}; give --layer '
                              f'with one of {", ".join(layer_names(model, 1))}')
        layer = spot.default(model)
    modules = dict(model.named_modules())
    if layer not in modules or not layer:
        raise unknown_name('layer', layer, layer_names(model))
    module = modules[layer]
    layout = spot.layout(layer, module) if spot is not None else NCHW
    patch = getattr(getattr(model, 'patch_embed', None), 'patch_size', None)
    grid = (size[0] // patch[0], size[1] // patch[1]) if layout == TOKENS and patch else None
    return CamTarget(layer, module, ToMap(layer, layout, grid))
