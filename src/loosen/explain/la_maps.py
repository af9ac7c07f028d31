"""LA's own map: the gate S it multiplies its input by, recorded from outside the module.

``record_la(model)`` registers a forward hook on every ``LA`` module while the ``with``
block runs; each hook calls the module's public ``attention_map`` on the input it just
saw, under ``no_grad``, and keeps the gate (B, heads, h, w) of the last call. Outside
the block there are no hooks and nothing is kept, so a model runs exactly as if this
module did not exist: recording is off by default and costs nothing then.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..attention.la import LA


def la_modules(model: nn.Module) -> dict[str, LA]:
    """Every LA module of ``model`` by its name (a ViT has one per block)."""
    return {name: module for name, module in model.named_modules() if isinstance(module, LA)}


def _keep_gate(gates: dict[str, torch.Tensor], name: str, module: LA,
               inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
    with torch.no_grad():
        gates[name] = module.attention_map(inputs[0].detach())  # (B, heads, h, w)


@contextmanager
def record_la(model: nn.Module) -> Iterator[dict[str, torch.Tensor]]:
    """Within the block, the dict it yields holds each LA module's last gate S in (0, 1),
    (B, heads, h, w), by module name; hooks are removed on exit, even on an error."""
    gates: dict[str, torch.Tensor] = {}
    handles = [module.register_forward_hook(partial(_keep_gate, gates, name))
               for name, module in la_modules(model).items()]
    try:
        yield gates
    finally:
        for handle in handles:
            handle.remove()


def upsample_gates(gates: dict[str, torch.Tensor], size: tuple[int, int]
                   ) -> dict[str, torch.Tensor]:
    """Each module's gate per head, bilinearly upsampled to the image: (B, heads, H, W)."""
    return {name: F.interpolate(gate.float(), size=size, mode='bilinear', align_corners=False)
            for name, gate in gates.items()}


def la_maps(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The gate of ``model`` on ``images`` (B, 3, H, W) averaged over heads and LA modules,
    at the image's size: (B, H, W), values in (0, 1)."""
    with torch.no_grad(), record_la(model) as gates:
        model(images)
    if not gates:
        raise ValueError(f'{type(model).__name__} has no LA module')
    per_module = upsample_gates(gates, (images.shape[-2], images.shape[-1]))
    return torch.stack([gate.mean(1) for gate in per_module.values()]).mean(0)
