"""How an attention module starts: as its authors build it, or as the identity.

Put into a pretrained network, an attention module changes the features at its slot
before it has learnt anything: LA's ``y = x * S + x`` with ``S`` near 0.5 scales them by
about 1.5, CBAM's ``x * S`` by about 0.5, so the layers after the slot start from inputs
they never saw. ``IdentityStart`` blends the module in instead: ``y = x + g * (attn(x) - x)``
with one learnable gate ``g`` at 0, so the network starts as the pretrained one and
learns how much attention to take (the zero-initialised residual of ReZero and of timm's
``zero_init_last``, applied to the attention slot). ``'default'`` keeps the module as
built: the paper's form, the default everywhere.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..errors import unknown_name


class IdentityStart(nn.Module):
    """``attention`` blended in by a learnable gate that starts at 0: the identity at init.

    Args:
        attention: any (B, C, H, W) -> (B, C, H, W) module (the registry's).
    """

    def __init__(self, attention: nn.Module) -> None:
        super().__init__()
        self.attention = attention
        self.gate = nn.Parameter(torch.zeros(()))  # 0: y = x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gate * (self.attention(x) - x)


STARTS: dict[str, Callable[[nn.Module], nn.Module]] = {
    'default': lambda module: module,  # as its authors build it (the paper's, for LA)
    'identity': IdentityStart,
}


def check_start(start: str) -> str:
    """``start`` when it names a known start; a LoosenError listing them otherwise."""
    if start not in STARTS:
        raise unknown_name('attention_init', start, STARTS)
    return start


def with_start(module: nn.Module, start: str) -> nn.Module:
    """``module`` as ``start`` asks it to begin (``'default'``: unchanged)."""
    return STARTS[check_start(start)](module)
