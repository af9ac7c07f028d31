"""SimAM: a parameter-free attention from an energy function of each neuron.

Yang et al., "SimAM: A Simple, Parameter-Free Attention Module for Convolutional Neural
Networks", ICML 2021.
"""
from __future__ import annotations

import torch
from torch import nn

from .registry import register_attention


@register_attention('simam', paper='Yang et al., SimAM: A Simple, Parameter-Free Attention '
                                   'Module for Convolutional Neural Networks, ICML 2021',
                    params='0; parameter-free')
class SimAM(nn.Module):
    """SimAM (Yang et al., ICML 2021): x * sigmoid(1/e*), e* the minimal energy per neuron.

    ``1/e* = d / (4 * (sum(d) / n + e_lambda)) + 0.5`` with ``d = (x - mean)^2`` over each
    channel's map and ``n = H*W - 1``. A 1x1 map has no other neuron to compare with
    (n = 0); there ``n`` is taken as 1, giving d = 0 and the gate sigmoid(0.5).

    Args:
        channels: unused; accepted so every module takes C first.
        e_lambda: the energy's regulariser (1e-4 in the paper).
    """

    def __init__(self, channels: int | None = None, e_lambda: float = 1e-4) -> None:
        super().__init__()
        self.e_lambda = e_lambda

    def extra_repr(self) -> str:
        return f'e_lambda={self.e_lambda}'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = max(x.shape[2] * x.shape[3] - 1, 1)
        d = (x - x.mean((2, 3), keepdim=True)).square()
        inverse_energy = d / (4 * (d.sum((2, 3), keepdim=True) / n + self.e_lambda)) + 0.5
        return x * torch.sigmoid(inverse_energy)
