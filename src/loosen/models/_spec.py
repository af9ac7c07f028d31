"""``ArchSpec``: everything loosen knows about one backbone, in one place.

An architecture module (``resnet.py``, ``vit.py``...) defines its model class and
registers one ``ArchSpec`` per variant with ``register_arch``. The builder, the registry
and every layer above ask the spec (``get_arch(name).recipe``, ``.narrow``, ``.cam_layer``...)
and never import a backbone class. What the release fixes per family (GCSA's heads, the
training script) is in ``release.py``; the spec names its family.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ..errors import LoosenError
from .release import FAMILIES, GCSA_HEADS, RECIPES

# timm's pretrained_filter_fn: (state_dict, model) -> the state dict in the model's layout
PretrainedFilter = Callable[[dict[str, Any], nn.Module], dict[str, Any]]
# the layout of a layer's output, which a class activation map turns into (B, C, h, w)
NCHW, NHWC, TOKENS = 'nchw', 'nhwc', 'tokens'  # maps, channels-last maps, (B, P + h*w, C)
CamLayer = str | Callable[[nn.Module], str]  # a module name, or model -> module name
CamLayout = Callable[[str, nn.Module], str]  # (module name, module) -> NCHW, NHWC or TOKENS

PLACEMENTS = {
    'paper': 'one module at the paper\'s spot',
    'block': 'one module per residual or depthwise-separable block, as SE-ResNet places SE',
}


def channels_first(name: str, module: nn.Module) -> str:
    """The layout of every layer of a convolutional network: (B, C, h, w)."""
    return NCHW


@dataclass(frozen=True)
class ArchSpec:
    """One backbone: its model class, its defaults, where attention sits, and every other
    fact a layer above needs about it.

    Args:
        name: architecture name, the ``{arch}`` of ``{arch}_{attention}``.
        model_cls: class taking ``attention_layer`` and ``placement`` besides its own kwargs.
        kwargs: constructor defaults of this variant (user kwargs override them).
        cfg: the timm ``pretrained_cfg`` (see ``default_cfg``).
        spot: where the paper places the attention, in words.
        family: 'cnn', 'vit' or 'rmt': the release's code base for it, which fixes its
            training recipe and GCSA's heads (``release.py``).
        cam_layer: the layer a class activation map looks at by default: a module name,
            or a function of the model giving one.
        narrow: constructor options of the narrow variant CPU runs use (grids of the
            ``smoke``/``cpu`` presets, ``loosen bench gpu --tiny``).
        placements: the placements this architecture supports.
        paper_la: LA's options at the paper's spot, the release's (heads, window).
        paper_model: per attention name, constructor options the release uses with that
            attention (RMT resizes its map for LA only); ``placement='paper'`` only.
        paper_cfg: per attention name, what those options change in ``cfg`` (pool size).
        feature_cfg: timm's ``feature_cfg`` for ``features_only=True`` (e.g. flattening).
        aliases: other names users know it by (the paper's seed names).
        pretrained_filter: timm's ``pretrained_filter_fn`` for weights this architecture
            loads (``pretrained=``): maps another layout's keys onto the model's and
            resizes what depends on the input size (ViT: timm's own filter).
        cam_layout: (module name, module) -> the layout of that module's output (``NCHW``,
            ``NHWC`` or ``TOKENS``), which the CAM's reshape undoes.
        latency_target: % latency LA may add over plain (``loosen bench cost``, ``bench la``).
        params_target: whether LA's parameter target (a tiny share over plain) applies.
        step_placement: the placement at which ``loosen bench la --step`` times LA's
            recomputing backward in whole training steps (None: not timed).
    """

    name: str
    model_cls: type[nn.Module]
    kwargs: Mapping[str, Any]
    cfg: Mapping[str, Any]
    spot: str
    family: str
    cam_layer: CamLayer
    narrow: Mapping[str, Any]
    placements: tuple[str, ...] = ('paper',)
    paper_la: Mapping[str, Any] = field(default_factory=dict)
    paper_model: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    paper_cfg: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    feature_cfg: Mapping[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = field(default=())
    pretrained_filter: PretrainedFilter | None = None
    cam_layout: CamLayout = channels_first
    latency_target: float = 2.0
    params_target: bool = True
    step_placement: str | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f'{self.name}: family {self.family!r} is not one of {FAMILIES}')
        if self.step_placement not in (None, *self.placements):
            raise ValueError(f'{self.name}: step_placement {self.step_placement!r} is not '
                             f'one of its placements {self.placements}')

    @property
    def recipe(self) -> str:
        """The paper's training recipe for this architecture (its family's script)."""
        return RECIPES[self.family]

    @property
    def paper_attention(self) -> dict[str, dict[str, Any]]:
        """Per attention name, the module options the release uses at this spot: LA's
        (``paper_la``) and GCSA's heads (its family's)."""
        return {'la': dict(self.paper_la), 'gcsa': {'heads': GCSA_HEADS[self.family]}}

    def default_cam_layer(self, model: nn.Module) -> str:
        """The name of the module of ``model`` a class activation map looks at by default."""
        return self.cam_layer if isinstance(self.cam_layer, str) else self.cam_layer(model)

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
