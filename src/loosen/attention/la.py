"""Loosen Attention (LA): localized channel attention with a coarse spatial map.

Wang et al., "Loosen Attention: Integrating Localized Channel and Coarse Spatial
Attention for Enhanced Analysis of Complex Aurora Images".

The channels are split into ``heads`` groups and the plane into ``window x window``
cells; each group x cell is a *volume*. ``LA.attention_map`` is the paper's steps in
order: (1) the mean and the max of every volume, (2) an MLP shared across locations
mixes the heads, (3) a 1x1 ``fuse`` blends the two poolings per head, (4) the coarse
map is upsampled to (H, W) and squashed into the gate S; ``forward`` enhances
``y = x * S + x``. The parameter count (``2*heads*hidden + hidden + heads + 3``, or
``+ 0`` without the fuse of a single pooling) does not depend on C.

Cost: two reductions over the input, then work on maps ``C/heads`` times smaller,
then one gating pass: 17 operator calls (and some views) whatever the map. Two exact
rewrites keep the small work small: the MLP's output layer runs after the upsampling,
which is linear with weights summing to one, and the linear fuse runs before both, on
the hidden maps; so only ``hidden`` maps are upsampled (1 at the defaults), not
``heads``. Edge cells that do not fill a window
are pooled over the pixels they have (ceil division), never dropped. In eager
training a separate autograd function (``la_recompute``) gives a cheaper backward.
"""
import torch
import torch.nn.functional as F
from torch import nn

from .cells import cell_mean, cell_reduce, tiles_exactly
from .checks import check_heads
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

    def split(self, t: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, heads, C/heads, H, W): the channel groups, a view in either
        memory format (sizes read from ``t``, so traced and exported graphs keep them)."""
        b, c, h, w = t.shape
        return t.view(b, self.heads, c // self.heads, h, w)

    def volumes(self, x: torch.Tensor) -> torch.Tensor:
        """Step 1, volume-wise mean and max: (B, C, H, W) -> (B, P, heads, Hc, Wc), P pools.

        A volume's statistic is one reduction over its channels and its cell's pixels, in
        either order; the order follows the memory layout. Channels as an outer dimension
        (NCHW): over each group's channels first, whole planes at a time, then over the
        cells of maps ``C/heads`` times smaller. Channels innermost (channels-last maps,
        ViT's token grid), where a reduction along C is slow: over the cells first,
        elementwise along C, then over the groups of maps ``window**2`` times smaller.
        """
        h, w = x.shape[2], x.shape[3]
        exact = tiles_exactly(h, w, self.window)
        if channels_innermost(x):
            stats = [self.split(cell_mean(x, self.window, exact)).mean(2) if kind == 'avg'
                     else self.split(cell_reduce(x, self.window, True, exact)).amax(2)
                     for kind in self.pools]
        else:
            groups = self.split(x)
            stats = [cell_mean(groups.sum(2), self.window, exact, groups.shape[2])
                     if kind == 'avg' else cell_reduce(groups.amax(2), self.window, True, exact)
                     for kind in self.pools]
        return torch.stack(stats, 1)

    def gate(self, stats: torch.Tensor, size: list[int], innermost: bool = False) -> torch.Tensor:
        """Steps 2-4, volume statistics (B, P, heads, Hc, Wc) -> the gate S (B, heads, H, W),
        laid out as (B, H, W, heads) in memory when ``innermost`` (for a channels-innermost
        input, whose enhance then reads the gate along C instead of across planes)."""
        b, p, heads, hc, wc = stats.shape
        h, w = size[0], size[1]
        first, second = self.mlp[0], self.mlp[2]
        b1, b2 = first.bias, second.bias
        assert b1 is not None and b2 is not None  # for TorchScript
        # 2. shared MLP, first layer and ReLU, on every pooling and cell: (B, P, hidden*Hc*Wc)
        hidden = torch.baddbmm(b1[:, None], first.weight.flatten(1).expand(b * p, -1, -1),
                               stats.view(b * p, heads, hc * wc)).relu_().view(b, p, -1)
        # 3. bi-pooling fuse, on the hidden maps: the output layer and the upsampling after
        # it are linear, so fuse(W2 a + b2, W2 m + b2) = W2 (f_a a + f_m m) + (f_a + f_m) b2 + f0
        bias = b2
        if self.fuse is not None:
            fuse, f0 = self.fuse.weight.view(1, 1, p), self.fuse.bias
            assert f0 is not None
            hidden = torch.matmul(fuse, hidden)  # (B, 1, hidden*Hc*Wc)
            bias = torch.addcmul(f0, b2, fuse.sum())
        # 4. refine: upsample the hidden maps, then the output layer and the sigmoid
        corners: bool | None = None if self.upsample == 'nearest' else False
        up = F.interpolate(hidden.view(b, -1, hc, wc), size=[h, w], mode=self.upsample,
                           align_corners=corners).view(b, -1, h * w)  # (B, hidden, H*W)
        w2 = second.weight.flatten(1)  # (heads, hidden)
        if innermost:
            logits = torch.baddbmm(bias, up.transpose(1, 2), w2.t().expand(b, -1, -1))
            return logits.sigmoid_().view(b, h, w, heads).permute(0, 3, 1, 2)
        logits = torch.baddbmm(bias[:, None], w2.expand(b, -1, -1), up)
        return logits.sigmoid_().view(b, heads, h, w)

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """The gate S in (0, 1) per head at full resolution: (B, heads, H, W)."""
        return self.gate(self.volumes(x), [x.shape[2], x.shape[3]], channels_innermost(x))

    def enhance(self, x: torch.Tensor, gate: torch.Tensor,
                out: torch.Tensor | None = None) -> torch.Tensor:
        """Enhanced fusion ``x * S + x``: each head's map scales all channels of its group.

        With ``out`` (a tensor like x; no autograd) the result is written there.
        """
        groups = self.split(x)
        gate = gate.unsqueeze(2)  # (B, heads, 1, H, W)
        if out is None:
            y = torch.addcmul(groups, groups, gate) if self.residual else groups * gate
            return y.view(x.shape)
        target = out.view(groups.shape)
        if self.residual:
            torch.addcmul(groups, groups, gate, out=target)
        else:
            torch.mul(groups, gate, out=target)
        return out

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
        return self.enhance(x, self.attention_map(x))

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
        return RecomputedLA.apply(x, self, *self.parameters())
