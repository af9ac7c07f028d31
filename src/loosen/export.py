"""ONNX export with dynamic batch and spatial size, checked against PyTorch."""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn


def export_onnx(model: nn.Module, example: torch.Tensor, path: str | Path,
                opset: int = 17) -> Path:
    """Write ``model`` (in eval mode) to ``path`` with dynamic B, H and W.

    Opset 17 goes through the TorchScript-based exporter: the torch.export-based one
    cannot target opsets below 18 for ``Pad``. Shapes stay symbolic either way, so
    one file serves every input size the model admits.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter('ignore', DeprecationWarning)  # legacy exporter notice
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            torch.onnx.export(
                model, (example,), str(path), opset_version=opset, dynamo=False,
                input_names=['x'], output_names=['y'],
                dynamic_axes={'x': {0: 'batch', 2: 'height', 3: 'width'},
                              'y': {0: 'batch'}})
    finally:
        model.train(was_training)
    return path
