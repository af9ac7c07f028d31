"""Attention modules timm ships, registered under the names the comparison uses.

Each factory builds timm's module at timm's defaults; nothing is re-implemented.
The formulas follow timm's rounding of the reduced width (``make_divisible``).
"""
from __future__ import annotations

from timm.layers import EcaModule, GlobalContext, SEModule
from timm.layers.coord_attn import CoordAttn, EfficientLocalAttn

from .registry import register_attention


@register_attention('se', paper='Hu et al., Squeeze-and-Excitation Networks, CVPR 2018',
                    params='(2*C + 1)*max(8, 8*((C + 64)//128)) + C; '
                           'the reduced width is C/16 rounded to a multiple of 8, at least 8')
def se(channels: int, **kwargs) -> SEModule:
    """Squeeze-and-excitation (Hu et al., CVPR 2018): timm's SEModule, x * sigmoid(mlp(gap(x)))."""
    return SEModule(channels, **kwargs)


@register_attention('eca', paper='Wang et al., ECA-Net: Efficient Channel Attention, CVPR 2020',
                    params='max(int((log2(C) + 1)/2) | 1, 3); one 1-D kernel of odd size k(C)')
def eca(channels: int, **kwargs) -> EcaModule:
    """Efficient channel attention (Wang et al., CVPR 2020): timm's EcaModule.

    A 1-D convolution across the pooled channels, kernel size from log2(C).
    """
    return EcaModule(channels, **kwargs)


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
