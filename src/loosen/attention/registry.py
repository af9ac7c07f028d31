"""One registry for every attention module, so each contender sits in the same slot.

``create_attention(name, channels, **kwargs)`` builds a module mapping (B, C, H, W)
to the same shape; ``list_attentions()`` names them all. Modules register themselves
with ``@register_attention`` where they are defined, as timm's models do. Whether the
paper's release has a module is a fact of the release: ``loosen.models.release``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from ..errors import unknown_name


@dataclass(frozen=True)
class AttentionSpec:
    """What the registry knows of a module: how to build it, its paper, its size."""

    name: str
    factory: Callable[..., nn.Module]
    paper: str
    params: str  # the parameter count as a function of C, in words or a formula


_REGISTRY: dict[str, AttentionSpec] = {}


def register_attention(name: str, *, paper: str, params: str) -> Callable:
    """Decorator: register a class or factory taking ``(channels, **kwargs)`` as ``name``."""

    def wrap(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f'attention {name!r} is registered twice')
        _REGISTRY[name] = AttentionSpec(name, factory, paper, params)
        return factory

    return wrap


def get_attention(name: str) -> AttentionSpec:
    """The spec registered as ``name`` (case-insensitive); unknown names list the known."""
    key = name.lower()
    if key not in _REGISTRY:
        raise unknown_name('attention', name, _REGISTRY)
    return _REGISTRY[key]


def create_attention(name: str, channels: int, **kwargs) -> nn.Module:
    """Build attention module ``name`` for feature maps with ``channels`` channels."""
    return get_attention(name).factory(channels, **kwargs)


def list_attentions() -> list[str]:
    """Every registered attention name, sorted."""
    return sorted(_REGISTRY)
