"""ViT-Tiny/Small/Base with patch 16, and the release's ViT: timm's ``VisionTransformer``
with a gridded block.

The paper puts LA on the patch-token grid in every block, gating only the input of
the attention branch: the patch tokens are laid out as a (B, C, H/16, W/16) map,
attended and laid back, the class token bypasses, and
``x = x + attn(norm1(cat(cls, LA(patches))))``, ``x = x + mlp(norm2(x))``: the residual
and the MLP branch see the un-gated tokens. The position embedding is resampled for
other input sizes (timm's ``dynamic_img_size``), so any multiple of 16 works. With the
slot empty every key matches timm's ``vit_*_patch16_224``; weights load through timm's
checkpoint filter, which resamples the position table to the model's size.

``vit_paper`` is the release's configuration: embed 384, depth 6, 6 heads, MLP ratio 4,
dropout 0.1 on the position embedding, the attention weights, the projections and the
MLP, PyTorch's LayerNorm (eps 1e-5), ImageNet mean and std.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import torch
from timm.data import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    IMAGENET_INCEPTION_MEAN,
    IMAGENET_INCEPTION_STD,
)
from timm.layers import register_notrace_function, resample_abs_pos_embed
from timm.models import checkpoint
from timm.models.vision_transformer import Block, VisionTransformer, checkpoint_filter_fn
from torch import nn

from ._builder import AttentionLayer, default_cfg, no_attention
from ._registry import register_arch
from ._spec import NCHW, NHWC, TOKENS, ArchSpec

# timm resamples the position embedding to the input's patch grid (dynamic_img_size) after a
# size check in Python: one call for torch.fx, as timm's own shape functions are
register_notrace_function(resample_abs_pos_embed)


@register_notrace_function  # shape arithmetic on the input: one call for torch.fx
def split_patch_grid(x: torch.Tensor, grid: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, prefix + H*W, C) tokens -> the prefix (B, P, C) and the patches as (B, C, H, W)."""
    b, n, c = x.shape
    h, w = grid[0], grid[1]
    prefix, patches = x[:, :n - h * w], x[:, n - h * w:]  # (B, P, C), (B, H*W, C)
    return prefix, patches.transpose(1, 2).reshape(b, c, h, w)


class GridBlock(Block):
    """timm's pre-norm ViT block with an attention slot on the patch grid that gates the
    input of the attention branch only (the residual carries the un-gated tokens)."""

    def __init__(self, dim: int, *args: Any, attention_layer: AttentionLayer = no_attention,
                 **kwargs: Any) -> None:
        super().__init__(dim, *args, **kwargs)
        self.grid_attn = attention_layer(dim)

    def attend_grid(self, x: torch.Tensor, grid: list[int]) -> torch.Tensor:
        """``grid_attn``, a (B, C, H, W) module, on the patch tokens of ``x`` (B, P + H*W, C)."""
        prefix, maps = split_patch_grid(x, grid)
        patches = self.grid_attn(maps).flatten(2).transpose(1, 2)  # (B, H*W, C)
        return torch.cat([prefix, patches], 1)

    def forward(self, x: torch.Tensor, grid: list[int] | None = None,
                attn_mask: torch.Tensor | None = None, is_causal: bool = False) -> torch.Tensor:
        gated = x
        if not isinstance(self.grid_attn, nn.Identity):
            if grid is None:
                raise ValueError('this block attends over the patch grid and needs its size; '
                                 'run the model through forward() or forward_features()')
            gated = self.attend_grid(x, grid)
        branch = self.attn(self.norm1(gated), attn_mask=attn_mask, is_causal=is_causal)
        x = x + self.drop_path1(self.ls1(branch))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class GridViT(VisionTransformer):
    """VisionTransformer whose blocks receive the patch grid size of the current input."""

    def __init__(self, *args: Any, attention_layer: AttentionLayer = no_attention,
                 placement: str = 'paper', dynamic_img_size: bool = True,
                 **kwargs: Any) -> None:
        if kwargs.get('patch_drop_rate'):
            raise ValueError('patch_drop_rate drops tokens, so they no longer form the grid '
                             'the attention slot needs; leave it at 0')
        super().__init__(*args, block_fn=partial(GridBlock, attention_layer=attention_layer),
                         dynamic_img_size=dynamic_img_size, **kwargs)

    def forward_features(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None,
                         is_causal: bool = False) -> torch.Tensor:
        x = self.patch_embed(x)  # (B, H/16, W/16, C) with dynamic_img_size, else (B, N, C)
        grid = x.shape[1:3] if self.dynamic_img_size else list(self.patch_embed.grid_size)
        x = self.norm_pre(self.patch_drop(self._pos_embed(x)))  # (B, 1 + H*W/256, C)
        for block in self.blocks:
            if self.grad_checkpointing and not torch.jit.is_scripting():
                x = checkpoint(block, x, grid, attn_mask, is_causal)  # reentrant: positional
            else:
                x = block(x, grid, attn_mask=attn_mask, is_causal=is_causal)
        return self.norm(x)


def last_norm1(model: nn.Module) -> str:
    """The last block's pre-attention norm (its tokens, 14x14 at 224): the default CAM layer."""
    return f'blocks.{len(model.blocks) - 1}.norm1'


def token_layout(name: str, module: nn.Module) -> str:
    """The layout of a layer's output: the patch embedding keeps the grid (dynamic_img_size:
    (B, h, w, C)), blocks and norms give tokens, the grid's attention gives maps."""
    if name == 'patch_embed':
        return NHWC
    if name == 'norm' or (name.startswith('blocks') and '.grid_attn' not in name):
        return TOKENS
    return NCHW


VIT_CFG = default_cfg(first_conv='patch_embed.proj', classifier='head', interpolation='bicubic',
                      crop_pct=0.9, mean=IMAGENET_INCEPTION_MEAN, std=IMAGENET_INCEPTION_STD,
                      min_input_size=(3, 16, 16),
                      paper_name='An image is worth 16x16 words: transformers for image '
                                 'recognition at scale')
SPOT = ('on the patch-token grid in every block, gating the attention branch\'s input; '
        'the class token bypasses')
VIT_FACTS = dict(  # what every variant shares
    spot=SPOT, family='vit', paper_la=dict(heads=16),  # LA: 16 heads on 7x7 cells of 2x2
    cam_layer=last_norm1, cam_layout=token_layout,
    narrow={'embed_dim': 32, 'depth': 2, 'num_heads': 2},
    latency_target=5.0, params_target=False,  # LA in every block
    pretrained_filter=checkpoint_filter_fn)

# name, width, heads, aliases, and where bench la --step times LA's backward (ViT-S only)
for _name, _dim, _heads, _aliases, _step in (('vit_tiny', 192, 3, (), None),
                                             ('vit_small', 384, 6, (), 'paper'),
                                             ('vit_base', 768, 12, ('vit',), None)):
    register_arch(ArchSpec(
        _name, GridViT, dict(patch_size=16, embed_dim=_dim, depth=12, num_heads=_heads),
        VIT_CFG, aliases=_aliases, step_placement=_step, **VIT_FACTS))

register_arch(ArchSpec(
    'vit_paper', GridViT,
    dict(patch_size=16, embed_dim=384, depth=6, num_heads=6, mlp_ratio=4.0, pos_drop_rate=0.1,
         attn_drop_rate=0.1, proj_drop_rate=0.1, norm_layer=nn.LayerNorm),
    {**VIT_CFG, 'mean': IMAGENET_DEFAULT_MEAN, 'std': IMAGENET_DEFAULT_STD, 'crop_pct': 1.0,
     'interpolation': 'bilinear'},
    **VIT_FACTS))
