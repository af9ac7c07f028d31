"""RMT: Retentive Networks Meet Vision Transformers (Fan et al., CVPR 2024), with LA.

Manhattan self-attention (MaSA): softmax attention whose logits get an explicit spatial
decay, ``log(gamma_head) * manhattan_distance``, so a token attends less to far tokens
by a per-head rate. Stages 1-3 decompose it along the axes (attend along W, then along
H, each with the 1-D decay); stage 4 attends over the whole map with the 2-D decay.
Every block adds a 3x3 depthwise conv positional encoding (CPE) to its input, MaSA
adds a 5x5 depthwise conv of V (local context enhancement, LCE), and the FFN has a
3x3 depthwise conv inside. A four-conv stem reduces by 4, a 3x3 stride-2 conv + BN
between stages. The head projects to 1024, applies BN and swish, and pools.

The paper places LA after the 1024-d projection and BN, on the last feature map,
with 32 heads (1024 = 32 groups of 32 channels). For LA only, the release first resizes
the 7x7 map bilinearly to 8x8, so it tiles into 4x4 cells of 2x2; the pooled head then
averages the 8x8 map. Here ``attention_multiple=2`` (set for LA at the paper's
placement) resizes the map up to the next multiple of 2 on each side: 7x7 -> 8x8 at
224, the release's, and a sensible size at any other input.

Details taken from the authors' classification release, kept so its ImageNet
checkpoints load with ``loosen.create_model(..., pretrained=PATH)``: the module names;
the decay ``gamma = 1 - 2 ** -(init_value + heads_range * head / heads)``; rotary
(theta) shifts of q and k indexed by the flattened token position; k scaled by
``key_dim ** -0.5``; LayerNorm eps 1e-6; trunc-normal(0.02) Linear init. Choices made
here: ``rmt_t`` decomposes stages 1-2 as that release's RMT-T does (RMT-S: 1-3); a
``drop_rate`` dropout before the classifier (0 by default), as timm models have.
"""
# annotations stay types (no __future__ import): torch.fx writes the forward's into the
# code it generates, which TorchScript then compiles
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from timm.layers import (
    DropPath,
    apply_rot_embed,
    calculate_drop_path_rates,
    register_notrace_function,
    register_notrace_module,
    trunc_normal_,
)
from timm.models import checkpoint
from timm.models._features import feature_take_indices  # where timm keeps it
from torch import nn

from ._builder import AttentionLayer, LinearClassifier, default_cfg, no_attention
from ._registry import register_arch
from ._spec import NCHW, NHWC, ArchSpec

Tensor = torch.Tensor
RelPos = tuple[Tensor, Tensor, list[Tensor]]  # sin, cos, the decay masks (two per axis or one)


class DWConv2d(nn.Module):
    """Depthwise conv on a channels-last map: (B, H, W, C) -> (B, H, W, C)."""

    def __init__(self, dim: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, kernel_size, 1, kernel_size // 2, groups=dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


@register_notrace_module  # built from the input's size: one unit for torch.fx
class RetNetRelPos2d(nn.Module):
    """Rotary angles and the Manhattan decay masks of one stage, built for each input size.

    ``decay`` holds ``log(gamma)`` per head (negative): added to the logits times the
    distance, it multiplies the attention by ``gamma ** distance`` before normalising.
    """

    def __init__(self, dim: int, heads: int, init_value: float, heads_range: float) -> None:
        super().__init__()
        angle = 1.0 / (10000 ** torch.linspace(0, 1, dim // heads // 2))
        self.register_buffer('angle', angle.repeat_interleave(2))  # (key_dim,)
        rates = init_value + heads_range * torch.arange(heads, dtype=torch.float) / heads
        self.register_buffer('decay', torch.log(1 - 2 ** -rates))  # (heads,)

    def rotary(self, h: int, w: int) -> tuple[Tensor, Tensor]:
        """sin and cos of the token index times the angles: (H, W, key_dim) each."""
        index = torch.arange(h * w, device=self.decay.device, dtype=self.decay.dtype)
        theta = (index[:, None] * self.angle[None, :]).reshape(h, w, -1)
        return theta.sin(), theta.cos()

    def decay_1d(self, length: int) -> Tensor:
        """log-decay times |i - j| along one axis: (heads, L, L)."""
        index = torch.arange(length, device=self.decay.device, dtype=self.decay.dtype)
        return (index[:, None] - index[None, :]).abs() * self.decay[:, None, None]

    def decay_2d(self, h: int, w: int) -> Tensor:
        """log-decay times the Manhattan distance between tokens: (heads, H*W, H*W)."""
        rows = torch.arange(h, device=self.decay.device, dtype=self.decay.dtype)
        cols = torch.arange(w, device=self.decay.device, dtype=self.decay.dtype)
        grid = torch.stack(torch.meshgrid(rows, cols, indexing='ij'), -1).reshape(h * w, 2)
        distance = (grid[:, None, :] - grid[None, :, :]).abs().sum(-1)
        return distance * self.decay[:, None, None]

    def forward(self, h: int, w: int, decomposed: bool) -> RelPos:
        """(sin, cos, [mask_h, mask_w]) when decomposed, else (sin, cos, [mask])."""
        masks = [self.decay_1d(h), self.decay_1d(w)] if decomposed else [self.decay_2d(h, w)]
        sin, cos = self.rotary(h, w)
        return sin, cos, masks


@register_notrace_module  # unpacks the input's shape: one unit for torch.fx
class ManhattanSelfAttention(nn.Module):
    """MaSA over a (B, H, W, C) map, decomposed along the axes or over the whole map."""

    def __init__(self, dim: int, heads: int, decomposed: bool) -> None:
        super().__init__()
        self.heads = heads
        self.decomposed = decomposed
        self.scale = (dim // heads) ** -0.5
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.lepe = DWConv2d(dim, 5)  # local context enhancement on V
        self.out_proj = nn.Linear(dim, dim)

    def _heads(self, t: Tensor) -> Tensor:
        """(B, H, W, C) -> (B, heads, H, W, C/heads)."""
        b, h, w, _ = t.shape
        return t.reshape(b, h, w, self.heads, -1).permute(0, 3, 1, 2, 4)

    def forward(self, x: Tensor, rel_pos: RelPos) -> Tensor:
        b, h, w, c = x.shape
        sin, cos, masks = rel_pos
        v = self.v_proj(x)  # (B, H, W, C)
        lepe = self.lepe(v)
        q = apply_rot_embed(self._heads(self.q_proj(x)), sin, cos)  # (B, n, H, W, d)
        k = apply_rot_embed(self._heads(self.k_proj(x) * self.scale), sin, cos)
        v = self._heads(v)  # (B, n, H, W, d)
        if self.decomposed:
            mask_h, mask_w = masks[0], masks[1]
            # along W: rows are independent, (B, H, n, W, d)
            q_w, k_w = q.transpose(1, 2), k.transpose(1, 2)
            attn = (q_w @ k_w.transpose(-1, -2) + mask_w).softmax(-1)  # (B, H, n, W, W)
            v = attn @ v.transpose(1, 2)  # (B, H, n, W, d)
            # along H: columns are independent, (B, W, n, H, d)
            q_h, k_h = q.permute(0, 3, 1, 2, 4), k.permute(0, 3, 1, 2, 4)
            attn = (q_h @ k_h.transpose(-1, -2) + mask_h).softmax(-1)  # (B, W, n, H, H)
            out = (attn @ v.permute(0, 3, 2, 1, 4)).permute(0, 3, 1, 2, 4)  # (B, H, W, n, d)
        else:
            q, k, v = q.flatten(2, 3), k.flatten(2, 3), v.flatten(2, 3)  # (B, n, H*W, d)
            attn = (q @ k.transpose(-1, -2) + masks[0]).softmax(-1)  # (B, n, H*W, H*W)
            out = (attn @ v).transpose(1, 2).reshape(b, h, w, self.heads, -1)
        return self.out_proj(out.reshape(b, h, w, c) + lepe)


class FeedForwardNetwork(nn.Module):
    """fc1 -> GELU -> (+ 3x3 depthwise conv) -> fc2, channels-last."""

    def __init__(self, dim: int, hidden: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.dwconv = DWConv2d(hidden, 3)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act(self.fc1(x))
        x = x + self.dwconv(x)
        return self.drop(self.fc2(x))


class RetBlock(nn.Module):
    """CPE, then pre-norm MaSA and FFN residuals (optionally layer-scaled)."""

    def __init__(self, dim: int, heads: int, hidden: int, decomposed: bool,
                 drop_path: float = 0.0, layerscale: float | None = None) -> None:
        super().__init__()
        self.pos = DWConv2d(dim, 3)  # conditional positional encoding
        self.retention_layer_norm = nn.LayerNorm(dim, eps=1e-6)
        self.retention = ManhattanSelfAttention(dim, heads, decomposed)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.final_layer_norm = nn.LayerNorm(dim, eps=1e-6)
        self.ffn = FeedForwardNetwork(dim, hidden)
        if layerscale:
            self.gamma_1 = nn.Parameter(torch.full((1, 1, 1, dim), layerscale))
            self.gamma_2 = nn.Parameter(torch.full((1, 1, 1, dim), layerscale))
        else:
            self.gamma_1 = self.gamma_2 = None

    def forward(self, x: Tensor, rel_pos: RelPos) -> Tensor:
        x = x + self.pos(x)
        y = self.retention(self.retention_layer_norm(x), rel_pos)
        x = x + self.drop_path(y if self.gamma_1 is None else self.gamma_1 * y)
        y = self.ffn(self.final_layer_norm(x))
        return x + self.drop_path(y if self.gamma_2 is None else self.gamma_2 * y)


class PatchMerging(nn.Module):
    """3x3 stride-2 conv + BN between stages: (B, H, W, C) -> (B, H/2, W/2, C_out)."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        self.reduction = nn.Conv2d(dim, out_dim, 3, 2, 1)
        self.norm = nn.BatchNorm2d(out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.reduction(x.permute(0, 3, 1, 2))).permute(0, 2, 3, 1)


class BasicLayer(nn.Module):
    """One stage: its decay masks (built per input size), its blocks, the down-sampling."""

    def __init__(self, dim: int, out_dim: int | None, depth: int, heads: int,
                 init_value: float, heads_range: float, hidden: int, decomposed: bool,
                 drop_path: Sequence[float], layerscale: float | None) -> None:
        super().__init__()
        self.decomposed = decomposed
        self.Relpos = RetNetRelPos2d(dim, heads, init_value, heads_range)  # the release's key
        self.blocks = nn.ModuleList([
            RetBlock(dim, heads, hidden, decomposed, drop_path[i], layerscale)
            for i in range(depth)])
        self.downsample = PatchMerging(dim, out_dim) if out_dim else None
        self.grad_checkpointing = False

    def forward_blocks(self, x: Tensor) -> Tensor:
        """The stage's map before the down-sampling: (B, H, W, C) -> (B, H, W, C)."""
        rel_pos = self.Relpos(x.shape[1], x.shape[2], self.decomposed)
        for block in self.blocks:
            if self.grad_checkpointing and not torch.jit.is_scripting():
                x = checkpoint(block, x, rel_pos)  # recomputed in backward
            else:
                x = block(x, rel_pos)
        return x

    def forward(self, x: Tensor) -> Tensor:
        x = self.forward_blocks(x)
        return x if self.downsample is None else self.downsample(x)


class PatchEmbed(nn.Module):
    """The conv stem: four 3x3 convs with BN (GELU between), stride 4 in all."""

    def __init__(self, in_chans: int, dim: int) -> None:
        super().__init__()
        half = dim // 2
        self.proj = nn.Sequential(
            nn.Conv2d(in_chans, half, 3, 2, 1), nn.BatchNorm2d(half), nn.GELU(),
            nn.Conv2d(half, half, 3, 1, 1), nn.BatchNorm2d(half), nn.GELU(),
            nn.Conv2d(half, dim, 3, 2, 1), nn.BatchNorm2d(dim), nn.GELU(),
            nn.Conv2d(dim, dim, 3, 1, 1), nn.BatchNorm2d(dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).permute(0, 2, 3, 1)  # (B, H/4, W/4, C)


class RMT(LinearClassifier, nn.Module):
    """RMT with an attention slot after the head projection + BN.

    Args:
        embed_dims, depths, num_heads: per stage.
        init_values, heads_ranges: the decay rates, per stage (see ``RetNetRelPos2d``).
        mlp_ratios: FFN width over the embedding width, per stage.
        decomposed: per stage, MaSA along the axes (True) or over the whole map.
        layerscales: per stage, the initial layer scale or None.
        projection: width of the head projection (1024).
        attention_multiple: when set, the map is resized bilinearly up to the next multiple
            of it on each side before the slot (the release: 7x7 -> 8x8 for LA).
        attention_layer: factory ``(channels) -> module`` for the slot.
        placement: only 'paper'.
    """

    def __init__(self, embed_dims: Sequence[int] = (64, 128, 256, 512),
                 depths: Sequence[int] = (3, 4, 18, 4), num_heads: Sequence[int] = (4, 4, 8, 16),
                 init_values: Sequence[float] = (2, 2, 2, 2),
                 heads_ranges: Sequence[float] = (4, 4, 6, 6),
                 mlp_ratios: Sequence[float] = (4, 4, 3, 3),
                 decomposed: Sequence[bool] = (True, True, True, False),
                 layerscales: Sequence[float | None] = (None, None, None, None),
                 projection: int = 1024, num_classes: int = 1000, in_chans: int = 3,
                 drop_rate: float = 0.0, drop_path_rate: float = 0.15,
                 attention_multiple: int | None = None, global_pool: str = 'avg',
                 attention_layer: AttentionLayer = no_attention,
                 placement: str = 'paper') -> None:
        super().__init__()
        self.num_classes, self.in_chans = num_classes, in_chans
        self.num_features = self.head_hidden_size = projection
        self.attention_multiple = attention_multiple
        self.global_pool = global_pool
        self.patch_embed = PatchEmbed(in_chans, embed_dims[0])
        rates = calculate_drop_path_rates(drop_path_rate, sum(depths))  # per block
        stages = len(depths)
        self.layers = nn.ModuleList([
            BasicLayer(embed_dims[i], embed_dims[i + 1] if i + 1 < stages else None, depths[i],
                       num_heads[i], init_values[i], heads_ranges[i],
                       int(mlp_ratios[i] * embed_dims[i]), decomposed[i],
                       rates[sum(depths[:i]):sum(depths[:i + 1])], layerscales[i])
            for i in range(stages)])
        self.proj = nn.Linear(embed_dims[-1], projection)
        self.norm = nn.BatchNorm2d(projection)
        self.act = nn.SiLU()  # swish
        self.head_drop = nn.Dropout(drop_rate)
        self.head = self._classifier(num_classes)
        self.apply(_init_weights)
        self.attention = attention_layer(projection)  # its own init
        # features_only: each stage's map before its down-sampling, then the attended head map
        self.feature_info = [
            {'module': f'layers.{i}', 'num_chs': dim, 'reduction': 4 * 2 ** i}
            for i, dim in enumerate(embed_dims)] + [
            {'module': 'attention', 'num_chs': projection, 'reduction': 4 * 2 ** (stages - 1)}]

    def forward_head_map(self, x: Tensor) -> Tensor:
        """Projection, BN, the attention slot and swish on the last stage's map:
        (B, H/32, W/32, C3) -> (B, 1024, H/32, W/32), 8x8 at 224 when resized for LA."""
        x = self.norm(self.proj(x).permute(0, 3, 1, 2))  # (B, 1024, H/32, W/32)
        if self.attention_multiple is not None:
            x = resize_to_multiple(x, self.attention_multiple)
        return self.act(self.attention(x))

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute every block in backward instead of keeping its activations."""
        for layer in self.layers:
            layer.grad_checkpointing = enable

    def forward_features(self, x: Tensor) -> Tensor:
        x = self.patch_embed(x)  # (B, H/4, W/4, C0)
        for layer in self.layers:
            x = layer(x)  # ... (B, H/32, W/32, C3)
        return self.forward_head_map(x)

    def forward_intermediates(self, x: Tensor, indices: int | list[int] | None = None,
                              norm: bool = False, stop_early: bool = False,
                              output_fmt: str = 'NCHW', intermediates_only: bool = False
                              ) -> list[Tensor] | tuple[Tensor, list[Tensor]]:
        """timm's feature API (``features_only=True`` uses it): the maps of ``feature_info``,
        NCHW; index ``i`` < 4 is stage ``i`` before its down-sampling, 4 the attended head
        map, which is also the final output. With ``intermediates_only`` it stops after the
        last map asked for (``stop_early`` changes nothing else); ``norm`` is accepted for
        timm's signature: no norm applies to the stage maps."""
        if output_fmt != 'NCHW':
            raise ValueError(f'RMT gives NCHW feature maps, not {output_fmt}')
        take, last = feature_take_indices(len(self.feature_info), indices)
        intermediates = []
        x = self.patch_embed(x)  # (B, H/4, W/4, C0)
        for i, layer in enumerate(self.layers):
            x = layer.forward_blocks(x)  # (B, H/2^(i+2), W/2^(i+2), Ci)
            if i in take:
                intermediates.append(x.permute(0, 3, 1, 2))
            if intermediates_only and i == last:
                return intermediates
            if layer.downsample is not None:
                x = layer.downsample(x)
        x = self.forward_head_map(x)
        if last == len(self.layers):
            intermediates.append(x)
        return intermediates if intermediates_only else (x, intermediates)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        if not self.global_pool:  # the map itself (timm: reset_classifier(0, ''))
            return x
        x = self.head_drop(x.mean((2, 3)))  # (B, 1024)
        return x if pre_logits else self.head(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


@register_notrace_function  # sizes from the input's shape: one call for torch.fx
def resize_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """(B, C, H, W) resized bilinearly up to the next multiple on each side (7x7 -> 8x8)."""
    size = [-(-side // multiple) * multiple for side in x.shape[2:]]
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def stage_layout(name: str, module: nn.Module) -> str:
    """The layout of a layer's output: the stem and the stages run channels-last (B, h, w, C)
    but for their convolutions and batch norms; the head's map is (B, C, h, w)."""
    channels_last = name == 'patch_embed' or name.startswith('layers')
    return NHWC if channels_last and not isinstance(module, (nn.Conv2d, nn.BatchNorm2d)) else NCHW


RMT_FEATURES = {'feature_cls': 'getter', 'out_indices': (0, 1, 2, 3, 4)}
RMT_CFG = default_cfg(first_conv='patch_embed.proj.0', classifier='head',
                      interpolation='bicubic', crop_pct=0.9, pool_size=(7, 7),
                      min_input_size=(3, 32, 32),
                      paper_name='RMT: Retentive Networks Meet Vision Transformers')
SPOT = ('after the 1024-d projection + BN on the last feature map, 32 heads; for LA the map '
        'is resized bilinearly to 8x8 first')
RMT_FACTS = dict(  # what both variants share
    spot=SPOT, family='rmt', feature_cfg=RMT_FEATURES, paper_la={'heads': 32},
    paper_model={'la': {'attention_multiple': 2}}, paper_cfg={'la': {'pool_size': (8, 8)}},
    cam_layer='act', cam_layout=stage_layout,  # the head's map (7x7 at 224), after LA
    narrow={'embed_dims': (16, 32, 32, 64), 'depths': (1, 1, 1, 1), 'num_heads': (2, 2, 4, 4),
            'projection': 64},
    params_target=False)

register_arch(ArchSpec(
    'rmt_t', RMT, dict(depths=(2, 2, 8, 2), mlp_ratios=(3, 3, 3, 3),
                       decomposed=(True, True, False, False), drop_path_rate=0.1),
    RMT_CFG, **RMT_FACTS))
register_arch(ArchSpec('rmt_s', RMT, {}, RMT_CFG, aliases=('rmt',), **RMT_FACTS))
