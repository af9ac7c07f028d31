"""Loosen Attention (LA): localized channel attention with a coarse spatial map.

Wang et al., "Loosen Attention: Integrating Localized Channel and Coarse Spatial
Attention for Enhanced Analysis of Complex Aurora Images".

The channels are split into ``heads`` groups and the plane into ``window x window``
cells; each group x cell is a *volume*. ``LA.attention_map`` is the paper's steps in
order: (1-2) the mean and the max of every volume, (3) an MLP shared across locations
mixes the heads, (4) a 1x1 ``fuse`` blends the two poolings per head, (5) the coarse
map is upsampled to (H, W) and squashed into the gate S; ``forward`` enhances
``y = x * S + x`` (6). The parameter count (``2*heads*hidden + hidden + heads + 3``, or
``+ 0`` without the fuse of a single pooling) does not depend on C.

In the shape of timm's ``layers/activations_me.py``: the steps are functions of tensors
and weights (``la_functional``), the recomputing autograd function that gives eager
training a cheaper backward calls them (``la_recompute``), and this module holds the
parameters and options and picks the path.
"""
import torch
from torch import nn

from .checks import check_heads
from .la_functional import enhance, gate, volumes
from .la_recompute import RecomputedLA
from .layout import channels_innermost
from .registry import register_attention

POOLS = {'avgmax': ('avg', 'max'), 'avg': ('avg',), 'max': ('max',)}
UPSAMPLES = ('bilinear', 'nearest', 'bicubic')
# input elements from which the recomputing backward is faster than plain autograd: at
# (8, 128, 8, 8) it is 1.15x slower, at (8, 256, 10, 10) 0.92x (CPU, one thread)
RECOMPUTE_MIN_NUMEL = 1 << 17


@register_attention(
    'la', paper='Wang et al., Loosen Attention, for complex aurora images (2025)',
    params='2*heads*hidden + hidden + heads + 3 (52 at the defaults), independent of C; '
           'pool avg or max alone has no fuse (3 fewer)')
class LA(nn.Module):
    """Loosen Attention over (B, C, H, W) feature maps; returns the same shape.

    Args:
        channels: optional channel count, only validated against ``heads`` early.
        heads: number of channel groups (volumes per cell); must divide C.
        window: cell size in pixels (cells at the right/bottom edge may be smaller).
        hidden: width of the MLP shared across heads.
        pool: 'avgmax' (paper), 'avg' or 'max' volume statistics; with one pooling there
            is nothing to fuse and no ``fuse`` layer (as in the release's max-only LA).
        upsample: 'bilinear' (paper), 'nearest' or 'bicubic' reconstruction.
        residual: ``y = x * S + x`` when True (paper), ``y = x * S`` otherwise.
        recompute: in training keep only the coarse statistics for backward and
            recompute the gate there (``la_recompute``: less memory, a faster step).
            None (default): on inputs of at least ``RECOMPUTE_MIN_NUMEL`` elements,
            below which its few extra small operators cost more than it saves; True:
            always; False: never, plain autograd, which also supports double backward.
    """

    def __init__(
            self,
            channels: int | None = None,
            heads: int = 16,
            window: int = 2,
            hidden: int = 1,
            pool: str = 'avgmax',
            upsample: str = 'bilinear',
            residual: bool = True,
            recompute: bool | None = None,
    ) -> None:
        super().__init__()
        for name, value in (('heads', heads), ('window', window), ('hidden', hidden)):
            if int(value) < 1:
                raise ValueError(f'LA {name} must be a positive integer, got {value}')
        if pool not in POOLS:
            raise ValueError(f'LA pool={pool!r} is unknown; choose one of {", ".join(POOLS)}')
        if upsample not in UPSAMPLES:
            raise ValueError(
                f'LA upsample={upsample!r} is unknown; choose one of {", ".join(UPSAMPLES)}')
        if channels is not None:
            check_heads('LA', channels, heads)
        self.heads = int(heads)
        self.window = int(window)
        self.pool = pool
        self.pools = list(POOLS[pool])  # the statistics, in the fuse's order
        self.upsample = upsample
        self.residual = residual
        self.recompute = recompute
        self.mlp = nn.Sequential(
            nn.Conv2d(heads, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, heads, 1),
        )
        self.fuse = nn.Conv2d(2, 1, 1) if len(self.pools) == 2 else None

    def extra_repr(self) -> str:
        return (f'heads={self.heads}, window={self.window}, pool={self.pool}, '
                f'upsample={self.upsample}, residual={self.residual}')

    def weights(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                               torch.Tensor | None, torch.Tensor | None]:
        """The gate's weights as la_functional takes them: the shared MLP's (w1, b1, w2,
        b2), then the fuse's (None, None without one)."""
        first, second = self.mlp[0], self.mlp[2]
        b1, b2 = first.bias, second.bias
        assert b1 is not None and b2 is not None  # for TorchScript
        fuse_w: torch.Tensor | None = None
        fuse_b: torch.Tensor | None = None
        if self.fuse is not None:
            fuse_w, fuse_b = self.fuse.weight, self.fuse.bias
        return first.weight, b1, second.weight, b2, fuse_w, fuse_b

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """The gate S in (0, 1) per head at full resolution: (B, heads, H, W)."""
        stats = volumes(x, self.heads, self.window, self.pools)  # 1-2. (B, P, heads, Hc, Wc)
        w1, b1, w2, b2, fuse_w, fuse_b = self.weights()  # 3-5. shared MLP, fuse, upsample
        return gate(stats, w1, b1, w2, b2, fuse_w, fuse_b, [x.shape[2], x.shape[3]],
                    self.upsample, channels_innermost(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing():  # a traced graph keeps no Python checks
            if x.dim() != 4:
                raise ValueError(
                    f'LA expects a 4-D (B, C, H, W) tensor, got shape {list(x.shape)}; '
                    'for token sequences reshape them to a grid first')
            if x.shape[1] % self.heads != 0:
                if torch.jit.is_scripting():
                    raise ValueError('LA needs channels divisible by heads')
                check_heads('LA', x.shape[1], self.heads)
        if not torch.jit.is_scripting() and self._recomputes(x):
            return self._forward_recompute(x)
        return enhance(x, self.attention_map(x), self.heads, self.residual)  # 6. x * S + x

    # -- training fast path (eager only): a backward that recomputes the gate, la_recompute.py

    @torch.jit.unused
    def _recomputes(self, x: torch.Tensor) -> bool:
        """Take the recomputing autograd function: training in eager mode only."""
        if self.recompute is False or not torch.is_grad_enabled():
            return False
        if self.recompute is None and x.numel() < RECOMPUTE_MIN_NUMEL:
            return False
        if torch.compiler.is_compiling() or torch.jit.is_tracing():
            return False
        return x.requires_grad or any(p.requires_grad for p in self.parameters())

    @torch.jit.unused
    def _forward_recompute(self, x: torch.Tensor) -> torch.Tensor:
        options = (self.heads, self.window, self.pools, self.upsample, self.residual)
        return RecomputedLA.apply(x, options, *self.weights())
