"""The streamlined attention module: GAP, FC, element-wise second-order product with x.

Streamlined Attention Module for fine-grained recognition (myspace-img/streamlined-attention,
2021), inserted in a ResNet block before the skip connection.
"""
from __future__ import annotations

import torch
from torch import nn

from .registry import register_attention


@register_attention('sam', paper='Streamlined Attention Module, GAP-FC second-order attention '
                                 '(myspace-img/streamlined-attention, 2021)',
                    params='C**2; one bias-free C x C fully connected layer')
class SAM(nn.Module):
    """Streamlined attention module (streamlined-attention, 2021): x * FC(GAP(x)), same shape.

    No squashing: the channel descriptor multiplies x directly, a second-order term in x
    (scaling x by a scales the output by a**2), as in the release code.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x.mean((2, 3)))[:, :, None, None]
