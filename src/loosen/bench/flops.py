"""What the cost benches count and how they say it: fvcore's FLOPs of a module at one
input, the ``BxCxHxW`` input shapes they take, and a cost as a percentage over plain.

A helper module of its own, so that every bench (and the YOLO bench in ``loosen.yolo``)
imports it without importing another bench's command.
"""
from __future__ import annotations

import argparse
import math
import warnings

import torch
from torch import nn


def count_flops(module: nn.Module, x: torch.Tensor) -> tuple[float, list[str]]:
    """fvcore's FLOP count of ``module(x)`` and the operators it could not count."""
    with warnings.catch_warnings():
        # fvcore's import and its tracing warn about TorchScript and Python shape logic
        warnings.simplefilter('ignore')
        from fvcore.nn import FlopCountAnalysis

        analysis = FlopCountAnalysis(module, (x,))
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        analysis.tracer_warnings('none')
        total = analysis.total()
    skipped = sorted(op.removeprefix('aten::') for op in analysis.unsupported_ops())
    return float(total), skipped


def parse_shape(text: str) -> tuple[int, ...]:
    """'16x512x14x14' -> (16, 512, 14, 14)."""
    try:
        shape = tuple(int(v) for v in text.lower().split('x'))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f'shape {text!r} is not BxCxHxW, e.g. 16x512x14x14')
    return shape


def percent_over(value: float, plain: float) -> float:
    return 100.0 * (value - plain) / plain if plain else math.nan
