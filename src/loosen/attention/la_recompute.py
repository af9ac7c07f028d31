"""LA's training fast path: a backward that keeps only the coarse statistics.

Plain autograd keeps LA's per-pixel maps for backward and routes the max pooling's
gradient through ``amax``'s backward, several passes over the input. This function
keeps x and the (B, P, heads, Hc, Wc) volume statistics, recomputes the small gate
graph in backward, spreads the mean's gradient evenly over each volume and sends
the max's gradient to each volume's arg-max, in about three passes over the input.
It calls la_functional's steps only. ``loosen bench la --step`` measures what it buys
a whole training step.
"""
import torch
from torch.autograd.function import once_differentiable

from .la_functional import enhance, gate, input_bwd, split, volumes
from .layout import channels_innermost


class RecomputedLA(torch.autograd.Function):
    """LA whose backward keeps only x and the coarse statistics, and recomputes the gate.

    ``apply(x, (heads, window, pools, upsample, residual), w1, b1, w2, b2, fuse_w, fuse_b)``
    with the arguments of la_functional's ``volumes``, ``gate`` and ``enhance``.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, options: tuple[int, int, list[str], str, bool],
                *weights: torch.Tensor | None) -> torch.Tensor:
        heads, window, pools, upsample, residual = options
        innermost = channels_innermost(x)
        with torch.no_grad():
            stats = volumes(x, heads, window, pools)
            s = gate(stats, *weights, [x.shape[2], x.shape[3]], upsample, innermost)
            # a fresh tensor, not a view: blocks may add their shortcut to it in place
            out = enhance(x, s, heads, residual, out=torch.empty_like(x))
        ctx.options = options
        ctx.save_for_backward(x, stats, *weights)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, stats, *weights = ctx.saved_tensors
        heads, window, pools, upsample, residual = ctx.options
        trains = ctx.needs_input_grad[2:]
        b, c, h, w = x.shape
        with torch.enable_grad():
            coarse = stats.detach().requires_grad_(True)
            leaves = [None if t is None else t.detach().requires_grad_(need)
                      for t, need in zip(weights, trains, strict=True)]
            s = gate(coarse, *leaves, [h, w], upsample, channels_innermost(x))  # (B, heads, H, W)
        groups = split(x, heads)
        grads = grad.reshape(groups.shape)
        grad_gate = (grads * groups).sum(2)  # each head's map scaled all its channels
        trained = [t for t, need in zip(leaves, trains, strict=True) if need]
        found = list(torch.autograd.grad(s, [coarse, *trained], grad_gate))
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = input_bwd(groups, grads, s.detach(), stats, found[0], window, pools,
                               residual).reshape(b, c, h, w)
        by_weight = iter(found[1:])
        return (grad_x, None, *(next(by_weight) if need else None for need in trains))
