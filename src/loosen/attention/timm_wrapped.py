"""Attention modules timm ships, registered under the names the comparison uses.

Nothing is re-implemented. ``se`` and ``eca`` are set to the paper's release (SE without
biases at C/16, ECA with kernel 3); ``coord``, ``gc`` and ``ela`` are extras at timm's
defaults (the release has none of them: its "CA" is CBAM's channel branch).
"""
from __future__ import annotations

from timm.layers import EcaModule, GlobalContext, SEModule
from timm.layers.coord_attn import CoordAttn, EfficientLocalAttn

from .registry import register_attention


@register_attention('se', paper='Hu et al., Squeeze-and-Excitation Networks, CVPR 2018',
                    params='2*C*max(1, C//16); two bias-free layers C -> C/16 -> C')
def se(channels: int, reduction: int = 16, **kwargs) -> SEModule:
    """Squeeze-and-excitation (Hu et al., CVPR 2018) as released: x * sigmoid(mlp(gap(x))).

    The release's MLP is two bias-free linear layers C -> C//16 -> C; timm's SEModule
    with ``bias=False`` and that width computes exactly this (its 1x1 convs on the pooled
    vector are linear layers). timm's own default (biases, width rounded to 8) differs.
    """
    kwargs.setdefault('bias', False)
    return SEModule(channels, rd_channels=max(1, channels // reduction), **kwargs)


@register_attention('eca', paper='Wang et al., ECA-Net: Efficient Channel Attention, CVPR 2020',
                    params='3; one bias-free 1-D kernel of size 3 (kernel_size=None: k(C) odd, '
                           'max(int((log2(C) + 1)/2) | 1, 3))')
def eca(channels: int, kernel_size: int | None = 3, **kwargs) -> EcaModule:
    """Efficient channel attention (Wang et al., CVPR 2020): timm's EcaModule.

    A 1-D convolution across the pooled channels. Kernel 3, the release's; ``None``
    sizes it from log2(C) as the ECA paper (and timm's default) does.
    """
    if kernel_size is None:
        return EcaModule(channels, **kwargs)
    return EcaModule(None, kernel_size=kernel_size, **kwargs)  # channels=None: fixed kernel


@register_attention('coord', paper='Hou et al., Coordinate Attention for Efficient Mobile '
                                   'Network Design, CVPR 2021',
                    params='(3*C + 2)*max(8, 8*((C + 96)//192)); '
                           'the reduced width is C/24 rounded to a multiple of 8, at least 8')
def coord(channels: int, **kwargs) -> CoordAttn:
    """Coordinate attention (Hou et al., CVPR 2021): timm's CoordAttn.

    Strip pooling along H and along W, a shared 1x1 bottleneck, one gate per axis.
    """
    return CoordAttn(channels, **kwargs)


@register_attention('gc', paper='Cao et al., GCNet: Non-local Networks Meet Squeeze-Excitation '
                                'Networks and Beyond, ICCVW 2019',
                    params='(2*C + 3)*max(1, (C + 4)//8) + 2*C + 1; '
                           'the reduced width is C/8 rounded')
def gc(channels: int, **kwargs) -> GlobalContext:
    """Global context block (Cao et al., ICCVW 2019): timm's GlobalContext.

    Softmax-pooled context through a LayerNorm bottleneck, gating the channels.
    """
    return GlobalContext(channels, **kwargs)


@register_attention('ela', paper='Xu and Wan, ELA: Efficient Local Attention for Deep '
                                 'Convolutional Neural Networks, arXiv 2403.01123 (2024)',
                    params='18*C; two depthwise 7-tap 1-D convs and two GroupNorms')
def ela(channels: int, **kwargs) -> EfficientLocalAttn:
    """Efficient local attention (Xu and Wan, 2024): timm's EfficientLocalAttn.

    Strip pooling, depthwise 1-D convolutions and GroupNorm per axis, no channel reduction.
    """
    return EfficientLocalAttn(channels, **kwargs)
