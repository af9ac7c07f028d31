"""``ArchSpec``: everything loosen knows about one backbone, in one place.

An architecture module (``resnet.py``, ``vit.py``...) defines its model class and
registers one ``ArchSpec`` per variant with ``register_arch``; the builder, the
registry and every layer above (engine, explain, bench) ask the spec, never the class.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ..attention.gcsa import RELEASE_HEADS
from ..errors import LoosenError

# timm's pretrained_filter_fn: (state_dict, model) -> the state dict in the model's layout
PretrainedFilter = Callable[[dict[str, Any], nn.Module], dict[str, Any]]

PLACEMENTS = {
    'paper': 'one module at the paper\'s spot',
    'block': 'one module per residual or depthwise-separable block, as SE-ResNet places SE',
}


def release_options(family: str, **la: Any) -> dict[str, dict[str, Any]]:
    """The release's module options at a backbone's paper spot (``ArchSpec.paper_attention``):
    LA's (heads, window...) as given, GCSA's heads for the family ('cnn' or 'vit')."""
    return {'la': la, 'gcsa': {'heads': RELEASE_HEADS[family]}}


@dataclass(frozen=True)
class ArchSpec:
    """One backbone: its model class, constructor defaults and where attention sits.

    Args:
        name: architecture name, the ``{arch}`` of ``{arch}_{attention}``.
        model_cls: class taking ``attention_layer`` and ``placement`` besides its own kwargs.
        kwargs: constructor defaults of this variant (user kwargs override them).
        cfg: the timm ``pretrained_cfg`` (see ``default_cfg``).
        spot: where the paper places the attention, in words.
        placements: the placements this architecture supports.
        paper_attention: per attention name, the module options the paper's release uses
            at this spot (LA's heads and window, GCSA's heads); ``placement='paper'`` only.
        paper_model: per attention name, constructor options the release uses with that
            attention (RMT resizes its map for LA only); ``placement='paper'`` only.
        paper_cfg: per attention name, what those options change in ``cfg`` (pool size).
        feature_cfg: timm's ``feature_cfg`` for ``features_only=True`` (e.g. flattening).
        aliases: other names users know it by (the paper's seed names).
        pretrained_filter: timm's ``pretrained_filter_fn`` for weights this architecture
            loads (``pretrained=``): maps another layout's keys onto the model's and
            resizes what depends on the input size (ViT: timm's own filter).
    """

    name: str
    model_cls: type[nn.Module]
    kwargs: Mapping[str, Any]
    cfg: Mapping[str, Any]
    spot: str
    placements: tuple[str, ...] = ('paper',)
    paper_attention: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    paper_model: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    paper_cfg: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    feature_cfg: Mapping[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = field(default=())
    pretrained_filter: PretrainedFilter | None = None

    def attention_defaults(self, attention: str | None, placement: str) -> dict[str, Any]:
        """The options ``attention`` gets at ``placement`` unless the user sets them."""
        if placement != 'paper' or attention is None:
            return {}
        return dict(self.paper_attention.get(attention, {}))

    def model_defaults(self, attention: str | None, placement: str) -> dict[str, Any]:
        """Constructor options that go with ``attention`` at ``placement``."""
        if placement != 'paper' or attention is None:
            return {}
        return dict(self.paper_model.get(attention, {}))

    def check_placement(self, placement: str) -> None:
        """Raise a LoosenError naming the placements this architecture supports."""
        if placement not in self.placements:
            what = PLACEMENTS.get(placement, 'an unknown placement')
            raise LoosenError(
                f'{self.name} does not support placement={placement!r} ({what}); use one of '
                f'{", ".join(map(repr, self.placements))} (paper: {self.spot})')
