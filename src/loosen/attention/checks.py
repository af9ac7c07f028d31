"""Checks shared by the attention modules: a channel count a module cannot take fails early."""
from ..errors import LoosenError


def divisors_near(channels: int, heads: int) -> list[int]:
    """The head counts that divide ``channels`` just below and just above ``heads``."""
    below = min(heads, channels)
    while channels % below:
        below -= 1
    above = heads
    while above < channels and channels % above:
        above += 1
    return [below] if channels % above else [below, above]


def check_heads(module: str, channels: int, heads: int) -> None:
    """Raise a LoosenError naming C, heads and the nearest head counts that divide C."""
    if heads < 1:
        raise LoosenError(f'{module} heads must be a positive integer, got heads={heads}')
    if channels % heads:
        hint = ' or '.join(str(n) for n in divisors_near(channels, heads))
        raise LoosenError(
            f'{module} needs channels divisible by heads: C={channels} is not divisible by '
            f'heads={heads}; use heads={hint}, or change the layer width')
