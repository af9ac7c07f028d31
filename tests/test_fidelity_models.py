"""The backbones at ``placement='paper'`` are the paper's release models (docs/paper-fidelity.md).

Parameter counts are written from the release's layer lists, shapes and heads from its
text (DESIGN.md section 3); the ViT block's oracle is written from its description.
"""
from __future__ import annotations

import math

import pytest
import timm
import torch
import torch.nn.functional as F
from timm.models._efficientnet_blocks import DepthwiseSeparableConv

import loosen
from loosen import LA
from loosen.attention.cbam import SpatialGate
from loosen.attention.gcsa import GCSA
from loosen.models import list_archs
from test_attention_zoo import randomized
from test_models import TINY, la_inputs, la_params, meta_model, n_params, tiny


def conv(cin: int, cout: int, k: int) -> int:
    return cin * cout * k * k + cout


def linear(fan_in: int, fan_out: int) -> int:
    return fan_in * fan_out + fan_out


def vit_params(dim: int, depth: int, classes: int = 1000, patches: int = 196) -> int:
    block = 4 * dim + linear(dim, 3 * dim) + linear(dim, dim) + linear(dim, 4 * dim) \
        + linear(4 * dim, dim)
    return conv(3, dim, 16) + dim + (patches + 1) * dim + depth * block + 2 * dim \
        + linear(dim, classes)


PLAIN_PARAMS = {  # 1000 classes, from the release's layer lists
    'alexnet': conv(3, 48, 11) + conv(48, 128, 5) + conv(128, 192, 3) + conv(192, 192, 3)
    + conv(192, 128, 3) + linear(128 * 6 * 6, 2048) + linear(2048, 2048) + linear(2048, 1000),
    'zfnet': conv(3, 96, 7) + conv(96, 256, 5) + conv(256, 512, 3) + conv(512, 1024, 3)
    + conv(1024, 512, 3) + linear(512 * 13 * 13, 4096) + linear(4096, 4096)
    + linear(4096, 1000),
    'vit_paper': vit_params(384, 6),
}
# arch: (LA heads, window, the (C, H, W) LA sees at 224, cells per side, LA modules)
RELEASE_LA = {
    'alexnet': (32, 2, (128, 6, 6), 3, 1),
    'zfnet': (16, 3, (512, 27, 27), 9, 1),
    'resnet34': (16, 2, (256, 14, 14), 7, 1),
    'mobilenetv1': (32, 2, (512, 14, 14), 7, 1),
    'vit_paper': (16, 2, (384, 14, 14), 7, 6),
    'rmt_s': (32, 2, (1024, 8, 8), 4, 1),
}
# parts the attention's spot does not depend on, made small so the test runs fast
REDUCED = {'alexnet': dict(fc_dim=8), 'zfnet': dict(fc_dim=8),
           'resnet34': dict(layers=(1, 1, 1, 1)),
           'rmt_s': dict(embed_dims=(16, 32, 32, 64), depths=(1, 1, 1, 1), num_heads=(2, 2, 4, 4))}


def test_plain_parameter_counts_are_the_releases():
    for arch, count in PLAIN_PARAMS.items():
        assert n_params(meta_model(f'{arch}_plain')) == count, arch
    assert PLAIN_PARAMS['zfnet'] == 386_548_840  # the total the release's ZFNet file notes
    for ours, theirs in (('resnet34', 'resnet34'), ('mobilenetv1', 'mobilenetv1_100')):
        assert n_params(meta_model(f'{ours}_plain')) == n_params(meta_model(theirs))


@pytest.mark.parametrize('arch', sorted(RELEASE_LA))
def test_la_heads_window_cells_and_input_at_224_are_the_releases(arch):
    heads, window, spot, cells, slots = RELEASE_LA[arch]
    assert n_params(meta_model(f'{arch}_la')) - n_params(meta_model(f'{arch}_plain')) \
        == slots * la_params(heads)
    torch.manual_seed(0)
    model = timm.create_model(f'{arch}_la', num_classes=4, **REDUCED.get(arch, {})).eval()
    seen = la_inputs(model)
    with torch.no_grad():
        model(torch.randn(1, 3, 224, 224))
    assert seen == [spot] * slots
    for la in (m for m in model.modules() if isinstance(m, LA)):
        assert (la.heads, la.window) == (heads, window)
        assert math.ceil(spot[1] / window) == math.ceil(spot[2] / window) == cells


@pytest.mark.parametrize('arch', ['alexnet', 'zfnet', 'resnet34', 'mobilenetv1'])
def test_comparison_modules_sit_at_las_spot(arch):
    model = timm.create_model(f'{arch}_sa', num_classes=4, **REDUCED.get(arch, {})).eval()
    seen: list[tuple[int, ...]] = []
    for module in model.modules():
        if isinstance(module, SpatialGate):
            module.register_forward_hook(lambda m, a, out: seen.append(tuple(a[0].shape[1:])))
    with torch.no_grad():
        model(torch.randn(1, 3, 224, 224))
    assert seen == [RELEASE_LA[arch][2]]


def test_mobilenet_keeps_one_512_block_after_la():
    model = tiny('mobilenetv1_la', channel_multiplier=1.0, depth_multiplier=1.0)
    stage = model.blocks[3]
    names = [name for name, _ in stage.named_children()]
    assert names == ['0', '1', '2', '3', '4', 'attention', '5']  # LA after the 10th block
    after = stage.get_submodule('5')
    assert isinstance(after, DepthwiseSeparableConv) and after.conv_dw.stride == (1, 1)
    assert after.conv_dw.in_channels == after.conv_pw.out_channels == 512
    assert model.blocks[4][0].conv_pw.out_channels == 1024
    assert isinstance(model.bn1.act, torch.nn.ReLU)  # the release's ReLU, not ReLU6


def test_rmt_resizes_its_7x7_map_bilinearly_to_8x8_for_la_only():
    model = tiny('rmt_s_la').eval()
    norm_out: list[torch.Tensor] = []
    la_in: list[torch.Tensor] = []
    model.norm.register_forward_hook(lambda m, a, out: norm_out.append(out))
    model.attention.register_forward_hook(lambda m, a, out: la_in.append(a[0]))
    with torch.no_grad():
        model(torch.randn(1, 3, 224, 224))
    assert norm_out[0].shape[2:] == (7, 7) and la_in[0].shape[2:] == (8, 8)
    expected = F.interpolate(norm_out[0], size=(8, 8), mode='bilinear', align_corners=False)
    torch.testing.assert_close(la_in[0], expected)
    other = tiny('rmt_s_sa').eval()
    seen: list[tuple[int, ...]] = []
    other.attention.register_forward_hook(lambda m, a, out: seen.append(a[0].shape[2:]))
    with torch.no_grad():
        other(torch.randn(1, 3, 224, 224))
    assert seen == [(7, 7)]


def vit_block_oracle(block: torch.nn.Module, x: torch.Tensor,
                     grid: tuple[int, int]) -> torch.Tensor:
    """The release's block: LA on the patch grid gates the attention branch's input only,
    ``x = x + attn(norm1(cat(cls, LA(patches))))``, then ``x = x + mlp(norm2(x))``."""
    b, n, c = x.shape
    heads = block.attn.num_heads
    maps = x[:, 1:].transpose(1, 2).reshape(b, c, *grid)
    gated = torch.cat([x[:, :1], block.grid_attn(maps).flatten(2).transpose(1, 2)], 1)
    t = F.layer_norm(gated, (c,), block.norm1.weight, block.norm1.bias, block.norm1.eps)
    q, k, v = F.linear(t, block.attn.qkv.weight, block.attn.qkv.bias) \
        .reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
    weights = (q @ k.transpose(-2, -1) / math.sqrt(c // heads)).softmax(-1)
    mixed = (weights @ v).transpose(1, 2).reshape(b, n, c)
    x = x + F.linear(mixed, block.attn.proj.weight, block.attn.proj.bias)
    t = F.layer_norm(x, (c,), block.norm2.weight, block.norm2.bias, block.norm2.eps)
    hidden = F.gelu(F.linear(t, block.mlp.fc1.weight, block.mlp.fc1.bias))
    return x + F.linear(hidden, block.mlp.fc2.weight, block.mlp.fc2.bias)


def test_vit_block_gates_only_the_attention_branch_input():
    torch.manual_seed(0)
    model = timm.create_model('vit_paper_la', num_classes=4, embed_dim=32, depth=1,
                              num_heads=2).eval()
    block = model.blocks[0]
    randomized(block.grid_attn)
    x = torch.randn(2, 1 + 12, 32)
    with torch.no_grad():
        out = block(x, (3, 4))
        torch.testing.assert_close(out, vit_block_oracle(block, x, (3, 4)))
        maps = x[:, 1:].transpose(1, 2).reshape(2, 32, 3, 4)
        gated = torch.cat([x[:, :1], block.grid_attn(maps).flatten(2).transpose(1, 2)], 1)
        replaced = timm.models.vision_transformer.Block.forward(block, gated)
    assert not torch.allclose(out, replaced, atol=1e-3)  # the old wiring: gated residual too


def test_vit_paper_is_the_releases_vit_and_the_seed_vit_keeps_its_size():
    model = meta_model('vit_paper_la')
    assert (model.embed_dim, len(model.blocks), model.blocks[0].attn.num_heads) == (384, 6, 6)
    assert model.blocks[0].mlp.fc1.out_features == 4 * 384
    assert model.pos_drop.p == model.blocks[0].attn.attn_drop.p == 0.1
    assert model.blocks[0].norm1.eps == 1e-5  # PyTorch's LayerNorm, as released
    assert model.pretrained_cfg['mean'] == (0.485, 0.456, 0.406)
    base = meta_model('vit_base_la')
    assert (base.embed_dim, len(base.blocks), base.blocks[0].attn.num_heads) == (768, 12, 12)


@pytest.mark.parametrize('arch', list_archs())
def test_gcsa_heads_per_backbone_are_the_releases(arch):
    model = tiny(f'{arch}_gcsa')
    heads = {m.heads for m in model.modules() if isinstance(m, GCSA)}
    assert heads == ({4} if arch.startswith('vit') else {1})


def test_resnet_attention_is_kaiming_initialised_and_no_branch_starts_at_zero():
    torch.manual_seed(0)
    model = loosen.create_model('resnet34', 'gcsa', **TINY['resnet34'])
    qkv = next(m for m in model.modules() if isinstance(m, GCSA)).qkv.weight
    expected = math.sqrt(2 / qkv.shape[0])  # Kaiming normal, fan-out, ReLU gain
    assert abs(qkv.std().item() / expected - 1) < 0.05  # PyTorch's default would be ~0.71x
    for attention in ('plain', 'la', 'gcsa'):  # zero_init_last off for every variant
        model = loosen.create_model('resnet34', attention, **TINY['resnet34'])
        assert all(bool((block.bn2.weight == 1).all()) for stage in
                   (model.layer1, model.layer2, model.layer3, model.layer4)
                   for block in stage if hasattr(block, 'bn2'))


@pytest.mark.parametrize('arch', ['alexnet', 'zfnet'])
def test_alexnet_and_zfnet_end_in_their_classifier_unlike_the_release(arch):
    model = tiny(f'{arch}_la').eval()
    assert (model.head.in_features, model.head.out_features) == (TINY[arch]['fc_dim'], 4)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([-1.0, 2.0, -3.0, 4.0]))
        logits = model(torch.randn(2, 3, 64, 64))
    # the release returns the 2048/4096 ReLU outputs instead (never negative)
    torch.testing.assert_close(logits, model.head.bias.expand(2, 4))
