"""The comparison modules as the paper's release has them (docs/paper-fidelity.md).

Each oracle is written from the release's behaviour in words (the issue and DESIGN.md
section 3), never from its code.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import loosen
from loosen import create_attention
from loosen.attention.gcsa import GCSA
from loosen.models.release import GCSA_HEADS as RELEASE_HEADS
from loosen.models.release import SOURCES, provenance
from test_attention_zoo import build, inputs


def norms(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def spatial_gate_oracle(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """x * sigmoid(conv7x7 without bias over [channel mean, channel max]); no batch norm."""
    pooled = torch.stack([x.mean(1), x.max(1).values], 1)
    return x * torch.sigmoid(F.conv2d(pooled, weight, padding=weight.shape[-1] // 2))


def test_sa_is_conv_and_sigmoid_without_batch_norm_in_train_mode():
    sa = build('sa', 32).train()
    assert not norms(sa) and [p.shape for p in sa.parameters()] == [(1, 2, 7, 7)]
    x = inputs(3, 32, 9, 7)
    torch.testing.assert_close(sa(x), spatial_gate_oracle(x, sa.conv.weight))


@pytest.mark.parametrize('name', ['cbam', 'psca'])
def test_cbam_and_psca_spatial_branch_is_the_release_form(name):
    module = build(name, 32).train()
    assert not norms(module)  # timm's SpatialAttn would add one
    x = inputs(2, 32, 6, 5)
    channel = module.channel(x)
    spatial_in = channel if name == 'cbam' else x
    expected = spatial_gate_oracle(spatial_in, module.spatial.conv.weight)
    if name == 'psca':
        expected = expected + channel
    torch.testing.assert_close(module(x), expected)


def test_ca_is_a_bias_free_mlp_at_a_sixteenth_shared_by_avg_and_max():
    ca = build('ca', 64)
    weights = [p for p in ca.parameters()]
    assert [w.shape for w in weights] == [(4, 64, 1, 1), (64, 4, 1, 1)]  # no biases
    w1, w2 = (w.flatten(1) for w in weights)
    x = inputs(2, 64, 5, 6)

    def mlp(v: torch.Tensor) -> torch.Tensor:
        return F.relu(v @ w1.T) @ w2.T

    gate = torch.sigmoid(mlp(x.mean((2, 3))) + mlp(x.amax((2, 3))))
    torch.testing.assert_close(ca(x), x * gate[:, :, None, None])


@pytest.mark.parametrize('channels', [64, 512, 1024])
def test_se_is_two_bias_free_layers_at_reduction_16(channels):
    se = build('se', channels)
    weights = [p for p in se.parameters()]
    assert [w.shape for w in weights] == [(channels // 16, channels, 1, 1),
                                          (channels, channels // 16, 1, 1)]
    w1, w2 = (w.flatten(1) for w in weights)
    x = inputs(2, channels, 3, 4)
    gate = torch.sigmoid(F.relu(x.mean((2, 3)) @ w1.T) @ w2.T)
    torch.testing.assert_close(se(x), x * gate[:, :, None, None])


@pytest.mark.parametrize('channels', [64, 512, 1024])
def test_eca_kernel_is_3_at_every_width(channels):
    eca = build('eca', channels)
    (weight,) = list(eca.parameters())
    assert weight.shape == (1, 1, 3)  # one bias-free kernel of 3; timm's k(C) is 5 at 512
    x = inputs(2, channels, 3, 3)
    pooled = x.mean((2, 3))[:, None, :]  # (B, 1, C): the conv runs across channels
    gate = torch.sigmoid(F.conv1d(pooled, weight, padding=1))[:, 0, :, None, None]
    torch.testing.assert_close(eca(x), x * gate)
    adaptive = create_attention('eca', 512, kernel_size=None)
    assert next(adaptive.parameters()).shape == (1, 1, 5)


def cca_oracle(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per position (i, j): one softmax over its column (itself left out) and its row
    (itself in), the values summed with those weights; y = gamma * out + x."""
    q, k, v = module.query(x), module.key(x), module.value(x)
    out = torch.zeros_like(x)
    _, _, h, w = x.shape
    for i in range(h):
        for j in range(w):
            spots = [(g, j) for g in range(h) if g != i] + [(i, c) for c in range(w)]
            scores = torch.stack([(q[:, :, i, j] * k[:, :, a, b]).sum(1) for a, b in spots], 1)
            weights = scores.softmax(1)  # (B, H + W - 1)
            values = torch.stack([v[:, :, a, b] for a, b in spots], 2)  # (B, C, H + W - 1)
            out[:, :, i, j] = (values * weights[:, None, :]).sum(2)
    return module.gamma * out + x


def test_cca_attends_over_row_and_column_once_each():
    cca = build('cca', 16)
    assert cca.query.out_channels == cca.key.out_channels == 2  # reduction 8
    x = inputs(2, 16, 3, 4)
    torch.testing.assert_close(cca(x), cca_oracle(cca, x))
    fresh = create_attention('cca', 16)
    torch.testing.assert_close(fresh(x), x)  # gamma starts at 0: the identity


def test_lesa_attends_over_the_whole_map_and_lesa_window_within_windows():
    torch.manual_seed(0)
    x = inputs(1, 16, 8, 8)
    far = x.clone()
    far[:, :, 7, 7] += 3.0  # far from (0, 0): outside its window and its 3x3 unary reach
    for name, reaches in (('lesa', True), ('lesa_window', False)):
        module = create_attention(name, 16, heads=4, window=None if reaches else 2).eval()
        changed = not torch.allclose(module(x)[:, :, 0, 0], module(far)[:, :, 0, 0])
        assert changed == reaches, name


def test_global_lesa_equals_one_window_covering_the_map():
    whole = build('lesa', 16, heads=4, reach=4).eval()
    windowed = create_attention('lesa_window', 16, heads=4, window=4).eval()
    windowed.load_state_dict(whole.state_dict())
    x = inputs(2, 16, 4, 4)
    torch.testing.assert_close(whole(x), windowed(x))


def test_gcsa_heads_as_released_per_place():
    assert RELEASE_HEADS == {'cnn': 1, 'rmt': 1, 'vit': 4, 'yolov5': 8}
    assert GCSA(64).heads == 4  # the module's own default (and timm-style block placement)


def test_every_attention_says_where_it_comes_from():
    sources = {name: provenance(name) for name in loosen.list_attentions()}
    assert set(sources.values()) <= set(SOURCES)
    release = {'la', 'ca', 'sa', 'cbam', 'psca', 'fsa', 'gcsa', 'se', 'eca', 'simam', 'nam',
               'cca'}
    assert {n for n, s in sources.items() if s == 'release'} == release
    assert sources['coord'] == 'extra'  # the release's "CA" is CBAM's channel branch
    assert sources['lesa'] == sources['mlca'] == 'seed'
