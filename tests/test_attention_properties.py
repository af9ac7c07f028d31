"""One property per attention module: what makes each the module its paper describes."""
from __future__ import annotations

import math

import pytest
import torch
from timm.layers import EcaModule
from timm.layers.cbam import CbamModule
from torch import nn

from loosen import LA, create_attention
from loosen.attention import get_attention
from loosen.attention.fsa import reflect_pad
from loosen.attention.lma import lma_kernel_size
from loosen.attention.mlca import mlca_kernel_size
from test_attention_zoo import build, inputs, randomized


def assert_same_function(ours: nn.Module, reference: nn.Module, x: torch.Tensor) -> None:
    ours.load_state_dict(reference.state_dict())
    torch.testing.assert_close(ours(x), reference(x), rtol=1e-6, atol=1e-6)


def test_la_is_the_foundation_la():
    assert get_attention('la').factory is LA
    assert isinstance(create_attention('la', 64, heads=8), LA)


def test_ca_equals_timms_channel_branch_and_cbam_runs_sa_after_ca():
    timm_cbam = randomized(CbamModule(32))
    x = inputs(2, 32, 9, 7)
    assert_same_function(create_attention('ca', 32), timm_cbam.channel, x)
    # cbam is the channel branch, then the spatial branch (the release's, without BatchNorm:
    # tests/test_fidelity_modules.py)
    cbam = build('cbam')
    ca, sa = create_attention('ca', 32), create_attention('sa', 32)
    ca.load_state_dict(cbam.channel.state_dict())
    sa.load_state_dict(cbam.spatial.state_dict())
    torch.testing.assert_close(cbam(x), sa(ca(x)))


def test_psca_sums_the_channel_and_spatial_branches_applied_to_x():
    psca = build('psca')
    ca, sa = create_attention('ca', 32), create_attention('sa', 32)
    ca.load_state_dict(psca.channel.state_dict())
    sa.load_state_dict(psca.spatial.state_dict())
    x = inputs(2, 32, 6, 9)
    torch.testing.assert_close(psca(x), ca(x) + sa(x))
    assert not torch.allclose(psca(x), sa(ca(x)))  # parallel, not in sequence


@pytest.mark.parametrize('name, timm_class', [
    ('se', 'SEModule'), ('eca', 'EcaModule'), ('coord', 'CoordAttn'),
    ('gc', 'GlobalContext'), ('ela', 'EfficientLocalAttn'),
])
def test_timm_modules_are_wrapped_not_rewritten(name, timm_class):
    module = create_attention(name, 64)
    assert type(module).__name__ == timm_class and type(module).__module__.startswith('timm.')


def test_simam_has_no_parameters_and_gates_outliers_more():
    simam = create_attention('simam', 32)
    assert list(simam.parameters()) == []
    x = inputs(1, 1, 6, 6)
    gate = (simam(x) / x).flatten()
    distance = (x - x.mean()).square().flatten()
    order = distance.argsort()
    assert torch.all(gate[order].diff() >= -1e-6)  # farther from the mean, larger gate
    one = inputs(2, 3, 1, 1)
    torch.testing.assert_close(simam(one), one * torch.sigmoid(torch.tensor(0.5)))


@pytest.mark.parametrize('channels, k', [(64, 3), (128, 5), (256, 5), (512, 5)])
def test_mlca_kernel_size_follows_seed_004(channels, k):
    # seed 004: t = int(abs(log(C, 2) + b) / gamma) with b=1, gamma=2; odd t kept, even t + 1
    t = int(abs(math.log(channels, 2) + 1) / 2)
    assert (t if t % 2 else t + 1) == k == mlca_kernel_size(channels)
    module = create_attention('mlca', channels)
    assert module.conv.kernel_size == module.conv_local.kernel_size == (k,)


def test_mlca_without_its_local_part_is_eca():
    mlca = build('mlca', 64, local_weight=0.0)
    eca = EcaModule(64)  # the same kernel size (3) at C=64
    eca.conv.load_state_dict(mlca.conv.state_dict())
    x = inputs(2, 64, 10, 10)  # 5x5 cells tile 10x10, so the pooled cells average to the GAP
    torch.testing.assert_close(mlca(x), eca(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('channels, k', [
    (2, 1), (16, 1), (32, 3), (64, 3), (256, 5), (1024, 5), (4096, 7),
])
def test_lma_kernel_size_follows_the_release_rule(channels, k):
    assert lma_kernel_size(channels) == k
    assert create_attention('lma', channels).conv_h.kernel_size == (1, k)


def test_lma_gate_is_a_row_gate_times_a_column_gate():
    lma = build('lma', 32)
    x = inputs(2, 32, 6, 8).abs() + 0.5
    gate = (lma(x) / x).double()  # (B, C, H, W): rank one per channel map
    singular = torch.linalg.svdvals(gate)
    assert torch.all(singular[..., 1:] < 1e-5 * singular[..., :1])


def test_nam_weights_channels_by_their_batchnorm_scale_share():
    nam = build('nam', 8).eval()
    gamma, beta = nam.bn.weight.detach(), nam.bn.bias.detach()
    x = inputs(2, 8, 4, 5)
    normed = x / math.sqrt(1 + nam.bn.eps) * gamma[:, None, None] + beta[:, None, None]
    share = (gamma.abs() / gamma.abs().sum())[:, None, None]
    torch.testing.assert_close(nam(x), x * torch.sigmoid(normed * share))


def test_gcsa_has_a_temperature_per_head_acting_on_that_head_only():
    gcsa = build('gcsa', 16, heads=4)
    assert gcsa.temperature.shape == (4, 1, 1)
    with torch.no_grad():  # see the heads' outputs directly
        gcsa.project_out.weight.copy_(torch.eye(16).reshape(16, 16, 1, 1))
        gcsa.project_out.bias.zero_()
    x = inputs(2, 16, 5, 6)
    before = gcsa(x)
    with torch.no_grad():
        gcsa.temperature[1] *= 3
    changed = (gcsa(x) - before).abs().amax((0, 2, 3)) > 1e-6
    assert changed.tolist() == [False] * 4 + [True] * 4 + [False] * 8


def test_fsa_starts_as_identity_and_keeps_only_the_low_bands_of_a_flat_map():
    fsa = create_attention('fsa', 8)
    x = inputs(2, 8, 5, 9)
    torch.testing.assert_close(fsa(x), x)
    randomized(fsa)
    flat = torch.full((1, 8, 4, 3), 2.0)  # no high frequencies along either axis
    scale = fsa.beta + fsa.gamma * fsa.hori_low * fsa.vert_low
    torch.testing.assert_close(fsa(flat), flat * scale)


def test_sam_is_second_order_in_its_input():
    sam = build('sam', 16)
    x = inputs(2, 16, 5, 5)
    torch.testing.assert_close(sam(x), x * sam.fc(x.mean((2, 3)))[:, :, None, None])
    torch.testing.assert_close(sam(3 * x), 9 * sam(x))


def test_lesa_attends_within_windows_and_masks_the_padding():
    lesa = build('lesa', 16, heads=4, window=4).eval()
    x = inputs(1, 16, 6, 6)  # windows: one full 4x4, three cut by the map edge
    with torch.no_grad():
        whole = lesa.binary(x)
        torch.testing.assert_close(whole[..., :4, :4], lesa.binary(x[..., :4, :4]))
        # a cut window attends over its real pixels only, as a map of that size would
        torch.testing.assert_close(whole[..., 4:, 4:], lesa.binary(x[..., 4:, 4:]))
        torch.testing.assert_close(whole[..., :4, 4:], lesa.binary(x[..., :4, 4:]))


@pytest.mark.parametrize('size', [1, 2, 3, 4, 9])
def test_fsa_reflects_like_reflection_pad_and_keeps_reflecting_on_narrow_maps(size):
    x = inputs(1, 2, size, size)
    pos = torch.arange(-3, size + 3)  # a periodic reflection oracle, period 2(size - 1)
    period = max(2 * (size - 1), 1)
    pos = pos.remainder(period)
    want = x.index_select(3, torch.where(pos < size, pos, period - pos))
    got = reflect_pad(x, 3, 3)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    if size > 3:
        torch.testing.assert_close(got, nn.ReflectionPad2d((3, 3, 0, 0))(x), rtol=0, atol=0)
