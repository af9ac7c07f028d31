"""``explain(model, images, method=...)``: where a model looks, as maps of the image's size.

Methods, one registry: ``la`` (LA's own gate, see ``la_maps.py``) and the class
activation maps of pytorch-grad-cam (``cams.py``). Every map is (H, W) for an (H, W)
input: CAMs in [0, 1] (each scaled to its own maximum), LA's gate in (0, 1) as it is.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import LoosenError, unknown_name
from .cams import CAMS, CLASS_FREE, cam_maps
from .la_maps import la_maps, la_modules
from .targets import cam_target

# (model, images (B, 3, H, W), classes or None, layer or None) -> (B, H, W)
MapFn = Callable[[nn.Module, torch.Tensor, Sequence[int] | None, str | None], np.ndarray]
# (model, layer or None, input size (H, W)) -> the module(s) the map is read at, in words
WhereFn = Callable[[nn.Module, str | None, tuple[int, int]], str]


@dataclass(frozen=True)
class Method:
    name: str
    run: MapFn
    where: WhereFn
    scale: str               # what the map's values are: a colour bar's label
    needs_la: bool = False   # only models with an LA module have this map
    by_class: bool = True    # the map depends on the class explained


def _la(model: nn.Module, images: torch.Tensor, classes: Sequence[int] | None,
        layer: str | None) -> np.ndarray:
    return la_maps(model, images).cpu().numpy()


def _la_where(model: nn.Module, layer: str | None, size: tuple[int, int]) -> str:
    names = list(la_modules(model))
    return (f'LA module {names[0]}' if len(names) == 1
            else f'mean of {len(names)} LA modules ({names[0]} ... {names[-1]})')


def _cam(name: str) -> MapFn:
    return lambda model, images, classes, layer: cam_maps(model, images, name, classes, layer)


def _cam_where(model: nn.Module, layer: str | None, size: tuple[int, int]) -> str:
    return f'layer {cam_target(model, layer, size).name}'


METHODS: dict[str, Method] = {
    'la': Method('la', _la, _la_where, "LA's gate S (multiplies the features)",
                 needs_la=True, by_class=False),
    **{name: Method(name, _cam(name), _cam_where, f'{name}, scaled to [0, 1]',
                    by_class=name not in CLASS_FREE) for name in CAMS},
}


def list_methods() -> list[str]:
    return list(METHODS)


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise unknown_name('method', name, METHODS)
    return METHODS[name]


def check_method(model: nn.Module, name: str) -> Method:
    """The method ``name``, refused with one line when ``model`` cannot give it."""
    method = get_method(name)
    if method.needs_la and not la_modules(model):
        raise LoosenError(f'--method {name}: {type(model).__name__} has no LA module; use a '
                          f'{{arch}}_la model, or a CAM: {", ".join(CAMS)}')
    return method


def explain(model: nn.Module, images: torch.Tensor, method: str = 'gradcam',
            target_class: int | Sequence[int] | None = None, layer: str | None = None,
            batch_size: int = 8) -> np.ndarray:
    """Maps of where ``model`` looks in ``images``, one per image, of the image's size.

    Args:
        model: a classifier (any ``loosen`` model; others with ``layer``).
        images: (B, 3, H, W) or (3, H, W), preprocessed as the model was trained.
        method: one of ``list_methods()``: 'la' or a CAM ('gradcam', 'gradcam++',
            'scorecam', 'eigencam', 'layercam').
        target_class: the class to explain, one for all or one per image; None: the
            predicted class. LA's gate and EigenCAM do not depend on it.
        layer: the CAM's target layer by module name; None: the architecture's default.
        batch_size: images per pass.

    Returns:
        (B, H, W) float32, or (H, W) for a single (3, H, W) image.
    """
    run = check_method(model, method).run
    single = images.dim() == 3
    batch = images[None] if single else images
    if isinstance(target_class, int):
        target_class = [target_class] * len(batch)
    device = next(model.parameters()).device
    training = model.training
    model.eval()
    try:
        maps = np.concatenate([
            run(model, batch[i:i + batch_size].to(device),
                None if target_class is None else target_class[i:i + batch_size], layer)
            for i in range(0, len(batch), batch_size)])
    finally:
        model.train(training)
    return maps[0] if single else maps
