"""Memory layout of (B, C, H, W) maps, for modules whose fastest order of work depends on it."""
import torch


def channels_innermost(x: torch.Tensor) -> bool:
    """True for channels-last maps and ViT's token grids: C is the stride-1 dimension."""
    return x.stride(1) == 1 and x.shape[1] > 1
