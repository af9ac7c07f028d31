"""Checks shared by the attention modules: a channel count a module cannot take fails early."""
from __future__ import annotations

from ..errors import LoosenError
from .la import divisors_near


def check_heads(module: str, channels: int, heads: int) -> None:
    """Raise a LoosenError naming C, heads and the nearest head counts that divide C."""
    if heads < 1:
        raise LoosenError(f'{module} heads must be a positive integer, got heads={heads}')
    if channels % heads:
        near = divisors_near(channels, heads)
        hint = ' or '.join(str(n) for n in near)
        raise LoosenError(
            f'{module} needs channels divisible by heads: C={channels} is not divisible by '
            f'heads={heads}; pass heads={hint}, or change the layer width')
