"""Building a model: the attention slot every backbone shares, and timm's builder call.

A backbone never names an attention module: it receives ``attention_layer``, a factory
``(channels) -> nn.Module`` (the convention of timm's ``attn_layer``), and calls it at
each spot where attention sits. ``{arch}_plain`` gets a factory of ``nn.Identity``, so
plain and attended models run the same code and differ only in the slot's contents.
``build`` puts an ``ArchSpec``'s defaults, the release's options at its spot and the
user's options together and hands them to timm's ``build_model_with_cfg``.
"""
# annotations stay types (no __future__ import): TorchScript reads LinearClassifier's as types
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import get_device_dtype, register_notrace_module
from timm.models import build_model_with_cfg
from torch import nn

from ..attention import get_attention
from ..attention.start import check_start, with_start
from ._spec import ArchSpec

AttentionLayer = Callable[..., nn.Module]  # (channels) -> module
# what ``build`` takes besides the architecture's constructor options
BUILD_KWARGS = ('placement', 'attn_kwargs', 'attention_init')

# set on every module an attention slot builds, so the plain part of a model can be told apart
SLOT_MARK = '_loosen_attention_slot'


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


def build(spec: ArchSpec, variant: str, attention: str | None, pretrained: bool = False,
          placement: str = 'paper', attn_kwargs: dict[str, Any] | None = None,
          attention_init: str = 'default', **kwargs: Any) -> nn.Module:
    """Build ``spec`` as model ``variant`` with ``attention`` in its slot(s), through timm's
    model builder.

    ``attn_kwargs`` go to every attention module (e.g. ``{'window': 1}`` for LA) and
    override the release's options at this spot (``ArchSpec.paper_attention``);
    ``attention_init='identity'`` starts every module as the identity (a gate at 0, see
    ``loosen.attention.start``); other kwargs override the architecture's constructor
    defaults.
    """
    spec.check_placement(placement)
    layer = attention_layer(attention, attn_kwargs, spec.attention_defaults(attention, placement),
                            start=attention_init)
    kwargs = {**spec.kwargs, **spec.model_defaults(attention, placement), **kwargs}
    # timm's factory kwargs: built where asked, whatever each constructor takes
    device, dtype = kwargs.pop('device', None), kwargs.pop('dtype', None)
    model = build_model_with_cfg(spec.model_cls, variant, pretrained,
                                 feature_cfg=dict(spec.feature_cfg), attention_layer=layer,
                                 placement=placement, **kwargs)
    return model.to(device=device, dtype=dtype)
