"""The attention slot every backbone shares, and the architecture specs behind the registry.

A backbone never names an attention module: it receives ``attention_layer``, a factory
``(channels) -> nn.Module`` (the convention of timm's ``attn_layer``), and calls it at
each spot where attention sits. ``{arch}_plain`` gets a factory of ``nn.Identity``, so
plain and attended models run the same code and differ only in the slot's contents.
"""
# annotations stay types (no __future__ import): TorchScript reads LinearClassifier's as types
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import get_device_dtype, register_notrace_module
from torch import nn

from ..attention import get_attention
from ..attention.gcsa import RELEASE_HEADS
from ..attention.start import check_start, with_start
from ..errors import LoosenError

AttentionLayer = Callable[..., nn.Module]  # (channels) -> module
# timm's pretrained_filter_fn: (state_dict, model) -> the state dict in the model's layout
PretrainedFilter = Callable[[dict[str, Any], nn.Module], dict[str, Any]]

# set on every module an attention slot builds, so the plain part of a model can be told apart
SLOT_MARK = '_loosen_attention_slot'

PLACEMENTS = {
    'paper': 'one module at the paper\'s spot',
    'block': 'one module per residual or depthwise-separable block, as SE-ResNet places SE',
}


def no_attention(channels: int, **factory_kwargs: Any) -> nn.Module:
    """The empty slot of ``{arch}_plain``."""
    return nn.Identity()


def attention_layer(attention: str | None, kwargs: Mapping[str, Any] | None = None,
                    defaults: Mapping[str, Any] | None = None,
                    start: str = 'default') -> AttentionLayer:
    """A factory ``(channels) -> module`` for ``attention`` (None: the empty slot).

    ``defaults`` are this spot's options for the module (at ``placement='paper'`` the
    release's, e.g. LA's heads and window per backbone); ``kwargs`` go to every module
    built and override them. Unless ``kwargs`` sets it, a head count (the spot's, else
    the module's own default) is fitted to each width: ``gcd(channels, heads)``, the
    count itself where it divides the width, the largest below it that does elsewhere.
    ``start`` 'identity' wraps every module in ``IdentityStart`` (see attention/start.py).
    """
    check_start(start)
    if attention is None:
        return no_attention
    spec = get_attention(attention)
    kwargs = dict(kwargs or {})
    options = {**(defaults or {}), **kwargs}
    heads = None
    if 'heads' not in kwargs:
        own = inspect.signature(spec.factory).parameters.get('heads')
        heads = options.pop('heads', own.default if own is not None else None)

    def build(channels: int, device: Any = None, dtype: Any = None) -> nn.Module:
        # device and dtype: timm's blocks pass them to every layer they create
        extra = {'heads': math.gcd(channels, heads)} if isinstance(heads, int) else {}
        module = spec.factory(channels, **options, **extra).to(device=device, dtype=dtype)
        register_notrace_module(type(module))  # one unit for torch.fx (LA's control flow)
        module = with_start(module, start).to(device=device, dtype=dtype)
        setattr(module, SLOT_MARK, True)
        return module

    return build


def release_options(family: str, **la: Any) -> dict[str, dict[str, Any]]:
    """The release's module options at a backbone's paper spot (``ArchSpec.paper_attention``):
    LA's (heads, window...) as given, GCSA's heads for the family ('cnn' or 'vit')."""
    return {'la': la, 'gcsa': {'heads': RELEASE_HEADS[family]}}


def attention_keys(model: nn.Module) -> set[str]:
    """State-dict keys that belong to attention modules placed by a slot."""
    prefixes = [f'{name}.' for name, m in model.named_modules() if getattr(m, SLOT_MARK, False)]
    return {k for k in model.state_dict() if k.startswith(tuple(prefixes))} if prefixes else set()


class LinearClassifier:
    """timm's classifier API for an ``nn.Module`` whose last layer is ``self.head``, a Linear
    from ``head_hidden_size`` features (pre-logits) to ``num_classes`` (0: no classifier).
    ``global_pool`` '' makes ``forward_head`` return the unpooled map (timm's contract)."""

    head_hidden_size: int
    num_classes: int
    global_pool: str = 'avg'

    def _classifier(self, num_classes: int) -> nn.Module:
        """A new head on the model's device and dtype, in the model's train/eval mode."""
        if not num_classes:
            return nn.Identity()
        dd = get_device_dtype(self) if next(self.parameters(), None) is not None else {}
        return nn.Linear(self.head_hidden_size, num_classes, **dd).train(self.training)

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A new classifier; ``global_pool`` None keeps the pooling, '' removes it."""
        self.num_classes = num_classes
        if global_pool is not None:
            self.global_pool = global_pool
        self.head = self._classifier(num_classes)


def default_cfg(**overrides: Any) -> dict[str, Any]:
    """A timm ``pretrained_cfg`` without weights: nothing here ever downloads."""
    cfg = dict(url='', num_classes=1000, input_size=(3, 224, 224), pool_size=None,
               crop_pct=0.875, interpolation='bilinear', mean=IMAGENET_DEFAULT_MEAN,
               std=IMAGENET_DEFAULT_STD, license='mit')
    cfg.update(overrides)
    return cfg


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
