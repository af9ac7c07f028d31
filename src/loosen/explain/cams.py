"""Class activation maps from pytorch-grad-cam, at the target layers of ``targets.py``.

Every map comes from the package's own classes (no gradient code here); it returns each
map scaled to [0, 1] and resized to the input, as ``scale_cam_image`` does. The package
(with OpenCV and scikit-learn behind it) is imported on first use, not with ``loosen``.
"""
from __future__ import annotations

import importlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .targets import cam_target

CAMS: dict[str, str] = {  # method -> pytorch_grad_cam class
    'gradcam': 'GradCAM',            # gradients averaged per channel weight the activations
    'gradcam++': 'GradCAMPlusPlus',  # second-order weights: several instances of a class
    'scorecam': 'ScoreCAM',          # no gradients: each channel masks the input, scored
    'eigencam': 'EigenCAM',          # no class: the activations' first principal component
    'layercam': 'LayerCAM',          # positive gradients weight each location separately
}
CLASS_FREE = ('eigencam',)  # maps that are the same whatever class is asked for
SCORECAM_BATCH = 64  # masked inputs per forward pass (the package's default is 16)


def cam_maps(model: nn.Module, images: torch.Tensor, method: str,
             classes: Sequence[int] | None = None, layer: str | None = None) -> np.ndarray:
    """``method``'s maps of ``images`` (B, 3, H, W) for ``classes`` (one per image; None:
    the predicted class) at ``layer`` (None: the architecture's default): (B, H, W)."""
    grad_cam = importlib.import_module('pytorch_grad_cam')
    outputs = importlib.import_module('pytorch_grad_cam.utils.model_targets')
    target = cam_target(model, layer, (images.shape[-2], images.shape[-1]))
    cam = getattr(grad_cam, CAMS[method])(model=model, target_layers=[target.module],
                       reshape_transform=target.reshape)
    cam.batch_size = SCORECAM_BATCH
    try:
        targets = (None if classes is None
                   else [outputs.ClassifierOutputTarget(int(c)) for c in classes])
        maps = cam(input_tensor=images, targets=targets)
    finally:
        cam.activations_and_grads.release()
        model.zero_grad(set_to_none=True)
    return np.asarray(maps, np.float32)
