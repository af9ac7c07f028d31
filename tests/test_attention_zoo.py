"""Every registered attention module under one contract, plus each module's own property."""
from __future__ import annotations

import math
import re

import pytest
import torch
from timm.layers import create_attn
from torch import nn

from loosen import create_attention, list_attentions
from loosen.attention import get_attention
from loosen.errors import LoosenError

C = 32  # a width every module takes at its defaults (LA's 16 heads, GCSA's 4, LESA's 8)
NAMES = list_attentions()


def randomized(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter a clearly non-default value, so wrong wiring shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return module


def build(name: str, channels: int = C, seed: int = 0, **kwargs) -> nn.Module:
    """Attention ``name`` for ``channels`` channels, with randomized parameters."""
    return randomized(create_attention(name, channels, **kwargs), seed)


def inputs(*shape: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


# ---- the contract every registered name passes --------------------------------------------

@pytest.mark.parametrize('name', NAMES)
def test_gradient_reaches_input_and_every_parameter(name):
    module = build(name)
    x = inputs(2, C, 9, 11).requires_grad_(True)
    y = module(x)
    assert y.shape == x.shape
    params = dict(module.named_parameters())
    grads = torch.autograd.grad(y.square().sum(), [x, *params.values()])
    assert grads[0].abs().sum() > 0
    dead = [n for n, g in zip(params, grads[1:], strict=True) if not g.abs().sum() > 0]
    assert not dead, f'{name}: no gradient reaches {dead}'


@pytest.mark.parametrize('name', NAMES)
def test_any_resolution_keeps_the_shape(name):
    # batch 2: BatchNorm needs more than one value per channel in training
    module = create_attention(name, C)
    for h, w in [(1, 1), (1, 3), (3, 1), (2, 2), (5, 9), (13, 7)]:
        y = module(inputs(2, C, h, w))
        assert y.shape == (2, C, h, w), (h, w)
        assert torch.isfinite(y).all(), (h, w)


@pytest.mark.parametrize('name', NAMES)
def test_deterministic_in_eval_mode(name):
    module = build(name).eval()
    x = inputs(2, C, 7, 6)
    with torch.no_grad():
        assert torch.equal(module(x), module(x))


@pytest.mark.parametrize('name', NAMES)
def test_state_dict_round_trip(name):
    trained = build(name, seed=0)
    trained(inputs(2, C, 6, 5, seed=3))  # moves any BatchNorm running statistics
    fresh = build(name, seed=7)
    fresh.load_state_dict(trained.state_dict())
    x = inputs(2, C, 6, 5)
    with torch.no_grad():
        torch.testing.assert_close(fresh.eval()(x), trained.eval()(x), rtol=0, atol=0)


@pytest.mark.parametrize('name', NAMES)
def test_bfloat16_forward_follows_float32(name):
    module = create_attention(name, C).eval()
    x = inputs(2, C, 7, 9)
    with torch.no_grad():
        want = module(x)
        got = module.to(torch.bfloat16)(x.to(torch.bfloat16))
    assert got.dtype == torch.bfloat16 and got.shape == x.shape
    scale = want.abs().max().item()
    torch.testing.assert_close(got.float(), want, rtol=0.05, atol=0.05 * scale)


@pytest.mark.parametrize('name', NAMES)
def test_channels_first_so_timm_hooks_take_the_factory(name):
    factory = get_attention(name).factory
    module = create_attn(factory, C)  # timm calls attn_layer(channels, **kwargs)
    assert type(module) is type(create_attention(name, C))
    assert module(inputs(2, C, 4, 4)).shape == (2, C, 4, 4)


@pytest.mark.parametrize('name', [n for n in NAMES if n != 'la'])  # LA's string is in words
@pytest.mark.parametrize('channels', [32, 64, 256])
def test_documented_parameter_formula_matches_the_count(name, channels):
    spec = get_attention(name)
    formula = spec.params.split(';')[0]
    namespace = {'C': channels, 'log2': math.log2, 'max': max, 'int': int, 'round': round,
                 'abs': abs}
    expected = eval(formula, {'__builtins__': {}}, namespace)
    module = create_attention(name, channels)
    assert sum(p.numel() for p in module.parameters()) == expected, spec.params


@pytest.mark.parametrize('name', [n for n in NAMES if n != 'la'])  # LA cites in its module
def test_docstring_cites_the_registered_paper_in_its_first_line(name):
    spec = get_attention(name)
    first_line = (spec.factory.__doc__ or '').strip().splitlines()[0]
    years = re.findall(r'\b(?:19|20)\d\d\b', first_line)
    assert years and all(y in spec.paper for y in years), (first_line, spec.paper)


# ---- errors ----------------------------------------------------------------------------------

def test_unknown_name_fails_listing_every_known_name():
    with pytest.raises(LoosenError, match=r"unknown attention 'cbma'; did you mean 'cbam'") as err:
        create_attention('cbma', C)
    assert all(name in str(err.value) for name in NAMES)


@pytest.mark.parametrize('name, module', [('gcsa', 'GCSA'), ('lesa', 'LESA')])
def test_heads_that_do_not_divide_channels_fail_naming_c_heads_and_a_fix(name, module):
    with pytest.raises(LoosenError, match=rf'{module} .*C=30 .*heads=4; use heads=3 or 5'):
        create_attention(name, 30, heads=4)


def test_lesa_needs_two_channels_per_head():
    with pytest.raises(LoosenError, match=r'C=8 with heads=8 gives 1; pass heads=4 or fewer'):
        create_attention('lesa', 8)
