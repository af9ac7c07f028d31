"""LA against its loop-form oracle, and its contract: shapes, dtypes, options, errors."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from loosen import LA
from loosen.attention.checks import divisors_near
from loosen.attention.la import RECOMPUTE_MIN_NUMEL
from loosen.attention.la_reference import la_loops

pytestmark = pytest.mark.slow  # among the slowest files: run first (conftest.py)


def randomize(la: LA, seed: int = 0) -> LA:
    """Give every parameter a clearly non-default value, so a wrong weight shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in la.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return la


def outputs_and_grads(fn, la: LA, x: torch.Tensor, grad: torch.Tensor):
    x = x.detach().clone().requires_grad_(True)
    y = fn(x)
    found = torch.autograd.grad(y, [x, *la.parameters()], grad)
    return y.detach(), found


def assert_matches_oracle(la: LA, shape, seed: int = 0, channels_last: bool = False) -> None:
    """Output and every gradient equal the loop form's; ``channels_last`` feeds LA a
    channels-last input (it pools the cells before the groups then)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    grad = torch.randn(shape, generator=gen)
    y, grads = outputs_and_grads(la, la, x, grad)
    y_ref, grads_ref = outputs_and_grads(lambda t: la_loops(la, t), la, x, grad)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    names = ['x'] + [n for n, _ in la.named_parameters()]
    for name, got, want in zip(names, grads, grads_ref, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5, msg=f'gradient of {name}')


# The release's hard-coded shapes (16 heads on 14x14, 32 on 8x8, 16 on 4x4, cells of 2x2)
# and odd ones where the last row and column of cells are cut.
@pytest.mark.parametrize('shape, heads', [
    ((2, 256, 14, 14), 16),
    ((2, 512, 8, 8), 32),
    ((2, 64, 4, 4), 16),
    ((2, 32, 13, 7), 16),
    ((3, 48, 5, 9), 8),
])
@pytest.mark.parametrize('recompute', [True, False])
def test_matches_loop_oracle(shape, heads, recompute):
    assert_matches_oracle(randomize(LA(heads=heads, recompute=recompute)), shape)
    assert_matches_oracle(randomize(LA(heads=heads, recompute=recompute)), shape,
                          channels_last=True)
    assert_matches_oracle(LA(heads=heads, recompute=recompute), shape, seed=1)  # default init


@pytest.mark.parametrize('pool', ['avgmax', 'avg', 'max'])
@pytest.mark.parametrize('upsample', ['bilinear', 'nearest', 'bicubic'])
@pytest.mark.parametrize('residual', [True, False])
def test_ablation_options_match_oracle(pool, upsample, residual):
    la = randomize(LA(heads=8, pool=pool, upsample=upsample, residual=residual))
    assert_matches_oracle(la, (2, 32, 9, 6))


@settings(max_examples=40, deadline=None)
@given(
    batch=st.integers(1, 3),
    heads=st.sampled_from([1, 2, 4, 8]),
    per_head=st.integers(1, 3),
    h=st.integers(1, 11),
    w=st.integers(1, 11),
    window=st.integers(1, 4),
    hidden=st.integers(1, 3),
    pool=st.sampled_from(['avgmax', 'avg', 'max']),
    upsample=st.sampled_from(['bilinear', 'nearest', 'bicubic']),
    residual=st.booleans(),
    recompute=st.booleans(),
    channels_last=st.booleans(),
)
def test_property_random_shapes_and_options(batch, heads, per_head, h, w, window, hidden, pool,
                                            upsample, residual, recompute, channels_last):
    la = randomize(LA(heads=heads, window=window, hidden=hidden, pool=pool, upsample=upsample,
                      residual=residual, recompute=recompute), seed=h * 31 + w)
    assert_matches_oracle(la, (batch, heads * per_head, h, w), seed=batch,
                          channels_last=channels_last)


@pytest.mark.parametrize('recompute', [True, False])
@pytest.mark.parametrize('pool', ['avgmax', 'avg', 'max'])
@pytest.mark.parametrize('memory_format', [torch.contiguous_format, torch.channels_last])
def test_gradcheck_float64(recompute, pool, memory_format):
    la = randomize(LA(heads=4, pool=pool, recompute=recompute)).double()
    x = torch.randn(2, 8, 5, 7, dtype=torch.float64).contiguous(memory_format=memory_format)
    assert torch.autograd.gradcheck(la, (x.requires_grad_(True),))


def test_parameters_are_52_named_as_the_release():
    la = LA()
    shapes = {n: tuple(p.shape) for n, p in la.named_parameters()}
    assert shapes == {
        'mlp.0.weight': (1, 16, 1, 1), 'mlp.0.bias': (1,),
        'mlp.2.weight': (16, 1, 1, 1), 'mlp.2.bias': (16,),
        'fuse.weight': (1, 2, 1, 1), 'fuse.bias': (1,),
    }
    assert sum(p.numel() for p in la.parameters()) == 52


@pytest.mark.parametrize('heads, hidden', [(1, 1), (8, 2), (32, 4)])
def test_parameter_count_formula_is_independent_of_channels(heads, hidden):
    expected = 2 * heads * hidden + hidden + heads + 3
    for channels in (heads, heads * 3, heads * 64):
        la = LA(channels, heads=heads, hidden=hidden)
        assert sum(p.numel() for p in la.parameters()) == expected


@pytest.mark.parametrize('pool, fuse_params', [('avgmax', 3), ('avg', 0), ('max', 0)])
def test_parameter_count_formula_per_pooling(pool, fuse_params):
    heads, hidden = 8, 2
    la = LA(heads=heads, hidden=hidden, pool=pool)
    assert sum(p.numel() for p in la.parameters()) == 2 * heads * hidden + hidden + heads + \
        fuse_params
    assert ('fuse.weight' in la.state_dict()) == (fuse_params > 0)


def test_max_only_is_the_releases_mlp_upsample_sigmoid_without_fuse():
    # the release's max-only LA: S = sigmoid(up(mlp(M))), y = x * S + x; nothing to fuse
    la = randomize(LA(heads=4, pool='max'))
    x = torch.randn(2, 8, 6, 4)
    peaks = torch.nn.functional.max_pool2d(x.view(2, 4, 2, 6, 4).amax(2), 2)  # (2, 4, 3, 2)
    with torch.no_grad():
        gate = torch.sigmoid(torch.nn.functional.interpolate(
            la.mlp(peaks), size=(6, 4), mode='bilinear', align_corners=False))
    torch.testing.assert_close(la.attention_map(x), gate)
    groups = x.view(2, 4, 2, 6, 4)
    torch.testing.assert_close(la(x), (groups * gate[:, :, None] + groups).view(2, 8, 6, 4))


@pytest.mark.parametrize('shape', [(1, 16, 1, 1), (2, 16, 1, 5), (3, 32, 2, 1), (1, 16, 3, 3)])
def test_maps_smaller_than_a_window_and_tiny_sizes(shape):
    assert_matches_oracle(randomize(LA()), shape)


def test_edge_cells_are_pooled_not_dropped():
    # A spike in the last, cut row of cells must change the output there.
    la = randomize(LA(heads=1, window=4))
    x = torch.zeros(1, 1, 6, 6)
    spiked = x.clone()
    spiked[0, 0, 5, 5] = 10.0
    gate = la.attention_map(x)
    gate_spiked = la.attention_map(spiked)
    assert not torch.allclose(gate[..., 4:, 4:], gate_spiked[..., 4:, 4:])


def test_dtypes_agree_with_float32():
    la = randomize(LA(heads=4))
    x = torch.randn(2, 16, 9, 7)
    y = la(x)
    torch.testing.assert_close(la.double()(x.double()).float(), y, rtol=1e-5, atol=1e-5)
    la_bf16 = randomize(LA(heads=4)).to(torch.bfloat16)
    y_bf16 = la_bf16(x.to(torch.bfloat16))
    assert y_bf16.dtype == torch.bfloat16
    torch.testing.assert_close(y_bf16.float(), y, rtol=3e-2, atol=3e-2)


def test_bfloat16_backward_runs():
    la = LA(heads=4).to(torch.bfloat16)
    x = torch.randn(2, 16, 6, 6, dtype=torch.bfloat16, requires_grad=True)
    la(x).float().sum().backward()
    assert x.grad.dtype == torch.bfloat16 and torch.isfinite(x.grad.float()).all()


def test_channels_last_input_keeps_layout_and_values():
    la = randomize(LA(heads=4))
    x = torch.randn(2, 16, 10, 6)
    xc = x.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    y = la(xc)
    assert y.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y, la(x))
    y.sum().backward()
    xp = x.clone().requires_grad_(True)
    la(xp).sum().backward()
    torch.testing.assert_close(xc.grad, xp.grad)


def test_recompute_keeps_less_for_backward_than_plain_autograd():
    from loosen.bench.timing import saved_bytes

    x = torch.randn(2, 64, 16, 16, requires_grad=True)
    fast, plain = LA(heads=16, recompute=True), LA(heads=16, recompute=False)
    kept_fast = saved_bytes(lambda: fast(x), x, *fast.parameters())
    kept_plain = saved_bytes(lambda: plain(x), x, *plain.parameters())
    assert 0 < kept_fast < kept_plain
    # what it keeps is the coarse statistics: 2 pools x B x heads x 8 x 8 cells, float32
    assert kept_fast == 2 * 2 * 16 * 8 * 8 * 4


def test_default_recomputes_from_a_size_on():
    la = LA(heads=16)
    for numel, recomputes in ((RECOMPUTE_MIN_NUMEL // 2, False), (RECOMPUTE_MIN_NUMEL, True)):
        x = torch.randn(2, 64, numel // 128, 1, requires_grad=True)
        assert (type(la(x).grad_fn).__name__ == 'RecomputedLABackward') is recomputes
    with torch.no_grad():
        assert la(torch.randn(2, 64, RECOMPUTE_MIN_NUMEL // 128, 1)).grad_fn is None


def test_ties_share_the_max_gradient_without_inflating_it():
    # After a ReLU whole volumes are zero: every value ties for the max.
    la = randomize(LA(heads=2, pool='max', residual=False, recompute=True))
    x = torch.relu(torch.randn(1, 4, 6, 6) - 1.5).requires_grad_(True)
    grad = torch.randn(1, 4, 6, 6)
    (fast,) = torch.autograd.grad(la(x), x, grad)
    la.recompute = False
    (plain,) = torch.autograd.grad(la(x), x, grad)
    # the gradient reaching each volume is the same, however ties share it
    cells = torch.nn.functional.avg_pool2d(fast.view(1, 2, 2, 6, 6).sum(2), 2)
    cells_plain = torch.nn.functional.avg_pool2d(plain.view(1, 2, 2, 6, 6).sum(2), 2)
    torch.testing.assert_close(cells, cells_plain, rtol=1e-5, atol=1e-6)


def test_double_backward_needs_plain_autograd():
    x = torch.randn(1, 8, 4, 4, requires_grad=True)
    plain = LA(heads=4, recompute=False)
    (g,) = torch.autograd.grad(plain(x).square().sum(), x, create_graph=True)
    g.sum().backward()  # works: plain autograd is twice differentiable
    fast = LA(heads=4, recompute=True)
    (g,) = torch.autograd.grad(fast(x).square().sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match=r'once_differentiable|twice'):
        g.sum().backward()


@pytest.mark.parametrize('recompute', [True, False])
def test_frozen_parameters_still_pass_gradient_to_the_input(recompute):
    la = LA(heads=4, recompute=recompute).requires_grad_(False)
    x = torch.randn(1, 8, 4, 4, requires_grad=True)
    la(x).sum().backward()
    assert x.grad is not None and all(p.grad is None for p in la.parameters())


def test_torchscript_matches_eager():
    la = randomize(LA(heads=4)).eval()
    scripted = torch.jit.script(la)
    for shape in [(2, 16, 7, 5), (1, 16, 8, 8), (1, 16, 1, 1)]:
        x = torch.randn(shape)
        torch.testing.assert_close(scripted(x), la(x))
    with pytest.raises(Exception, match='divisible by heads'):
        scripted(torch.randn(1, 10, 4, 4))


def test_torch_compile_matches_eager():
    la = randomize(LA(heads=4, recompute=False))
    compiled = torch.compile(la, dynamic=False)
    x = torch.randn(2, 16, 7, 6, requires_grad=True)
    y = compiled(x)
    torch.testing.assert_close(y, la(x))
    (g,) = torch.autograd.grad(y.sum(), x)
    (g_ref,) = torch.autograd.grad(la(x).sum(), x)
    torch.testing.assert_close(g, g_ref)


def test_whole_model_compiles_in_one_graph_for_inference_and_training():
    from loosen.models import create_model

    model = create_model('alexnet', 'la', num_classes=4).eval()
    x = torch.randn(2, 3, 96, 96)
    compiled = torch.compile(model, backend='aot_eager', fullgraph=True)  # no graph break
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-5)
    model.train()
    compiled(x).sum().backward()  # in training LA takes plain autograd inside the graph
    la = next(m for m in model.modules() if isinstance(m, LA))
    assert la.mlp[0].weight.grad is not None


def test_onnx_export_with_dynamic_size_agrees(tmp_path):
    ort = pytest.importorskip('onnxruntime')
    from loosen.export import export_onnx

    la = randomize(LA(heads=8))
    path = export_onnx(la, torch.randn(2, 32, 13, 7), tmp_path / 'la.onnx', opset=17)
    import onnx

    assert onnx.load(str(path)).opset_import[0].version == 17
    session = ort.InferenceSession(str(path))
    for shape in [(2, 32, 13, 7), (1, 32, 14, 14), (3, 32, 1, 1), (1, 32, 5, 9)]:
        x = torch.randn(shape)
        (y,) = session.run(None, {'x': x.numpy()})
        torch.testing.assert_close(torch.from_numpy(y), la(x), rtol=1e-5, atol=1e-5)


def test_channels_not_divisible_by_heads_names_the_fix():
    with pytest.raises(ValueError, match=r'C=100 .*heads=16.*heads=10 or 20'):
        LA(100, heads=16)
    with pytest.raises(ValueError, match=r'C=24 .*heads=16.*heads=12 or 24'):
        LA(heads=16)(torch.randn(1, 24, 4, 4))


def test_divisors_near():
    assert divisors_near(100, 16) == [10, 20]
    assert divisors_near(8, 16) == [8]
    assert divisors_near(7, 2) == [1, 7]


@pytest.mark.parametrize('bad', [torch.randn(16, 4, 4), torch.randn(1, 16, 2, 4, 4)])
def test_non_4d_input_is_a_clear_error(bad):
    with pytest.raises(ValueError, match='4-D'):
        LA()(bad)


@pytest.mark.parametrize('kwargs, match', [
    ({'pool': 'mean'}, 'pool'),
    ({'upsample': 'linear'}, 'upsample'),
    ({'heads': 0}, 'heads'),
    ({'window': 0}, 'window'),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LA(**kwargs)


@pytest.mark.parametrize('recompute', [True, False])
def test_output_may_be_modified_in_place(recompute):
    # timm's residual blocks add their shortcut to the attention output in place
    la = randomize(LA(heads=4, recompute=recompute))
    x = torch.randn(2, 8, 6, 6, requires_grad=True)
    y = la(x)
    y += 1.0
    (grad,) = torch.autograd.grad(y.sum(), x)
    (expected,) = torch.autograd.grad((la_loops(la, x) + 1.0).sum(), x)
    torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-5)
