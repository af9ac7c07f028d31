"""Backbones as timm plugins: every name builds and trains, LA sits where the paper puts it."""
import math

import pytest
import timm
import torch
from PIL import Image
from timm.data import create_transform, resolve_data_config

import loosen
from loosen import LA
from loosen.errors import LoosenError
from loosen.models import (
    attention_keys,
    get_arch,
    list_archs,
    list_models,
    parse_model_name,
    resolve_model_name,
)

# reduced widths and depths: the sweep is about wiring, not size
RMT_TINY = dict(embed_dims=(16, 32, 32, 64), depths=(1, 1, 1, 1), num_heads=(2, 2, 4, 4),
                projection=64)
VIT_TINY = dict(embed_dim=32, depth=2, num_heads=2)
TINY = {
    'alexnet': dict(fc_dim=32),
    'zfnet': dict(fc_dim=32),
    'resnet34': dict(layers=(1, 1, 1, 1), channels=(16, 32, 32, 64)),
    'mobilenetv1': dict(channel_multiplier=0.25, depth_multiplier=0.5),
    'vit_tiny': VIT_TINY, 'vit_small': VIT_TINY, 'vit_base': VIT_TINY, 'vit_paper': VIT_TINY,
    'rmt_t': RMT_TINY, 'rmt_s': RMT_TINY,
}
REFERENCE_PARAMS = {'resnet34': 21.8e6, 'mobilenetv1': 4.2e6, 'vit_base': 86e6,
                    'rmt_s': 27e6, 'rmt_t': 14e6, 'vit_paper': 11.4e6}


def la_params(heads: int) -> int:
    """DESIGN.md section 1: 2*heads*hidden + hidden + heads + 3 at hidden=1."""
    return 2 * heads + 1 + heads + 3


def la_inputs(model: torch.nn.Module) -> list[tuple[int, ...]]:
    """Record the (C, H, W) each LA module of ``model`` sees in the next forward passes."""
    seen: list[tuple[int, ...]] = []
    for m in model.modules():
        if isinstance(m, LA):
            m.register_forward_hook(lambda mod, args, out: seen.append(tuple(args[0].shape[1:])))
    return seen


def tiny(name: str, **kwargs) -> torch.nn.Module:
    arch, _ = parse_model_name(name)
    return timm.create_model(name, num_classes=4, **{**TINY[arch], **kwargs})


def test_every_arch_has_a_tiny_config_and_the_paper_names_exist():
    assert set(list_archs()) == set(TINY)
    names = set(timm.list_models('*_la'))
    for name in ('alexnet_la', 'zfnet_la', 'resnet34_la', 'mobilenetv1_la', 'vit_base_la',
                 'rmt_s_la', 'rmt_t_la', 'vit_small_la', 'vit_tiny_la'):
        assert name in names
    assert set(list_models()) == {f'{a}_{t}' for a in list_archs()
                                  for t in ['plain', *loosen.list_attentions()]}


@pytest.mark.parametrize('name', list_models())
def test_every_registered_model_trains_a_step_at_64(name):
    torch.manual_seed(0)
    model = tiny(name).train()
    out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 4)
    out.square().mean().backward()
    for key, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), key


PAPER_SPOTS = {  # the (C, H, W) at the attention's input at 224, DESIGN.md section 3
    'alexnet_la': [(128, 6, 6)],
    'zfnet_la': [(512, 27, 27)],
    'resnet34_la': [(256, 14, 14)],
    'mobilenetv1_la': [(512, 14, 14)],
    'vit_base_la': [(768, 14, 14)] * 12,
    'vit_small_la': [(384, 14, 14)] * 12,
    'vit_paper_la': [(384, 14, 14)] * 6,
    'rmt_s_la': [(1024, 8, 8)],  # the release resizes RMT's 7x7 map to 8x8 for LA
    'rmt_t_la': [(1024, 8, 8)],
}
PAPER_HEADS = {'alexnet': 32, 'zfnet': 16, 'resnet34': 16, 'mobilenetv1': 32, 'rmt': 32,
               'vit': 16}  # LA heads in the release, per backbone


def paper_heads(arch: str) -> int:
    return next(h for prefix, h in PAPER_HEADS.items() if arch.startswith(prefix))


@pytest.mark.parametrize('name', sorted(PAPER_SPOTS))
def test_paper_models_at_224_put_la_where_the_paper_does(name):
    torch.manual_seed(0)
    model = timm.create_model(name, num_classes=4).eval()
    seen = la_inputs(model)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 4) and torch.isfinite(out).all()
    assert seen == PAPER_SPOTS[name]
    heads = {m.heads for m in model.modules() if isinstance(m, LA)}
    assert heads == {paper_heads(name)}


def meta_model(name: str, **kwargs) -> torch.nn.Module:
    with torch.device('meta'):
        return timm.create_model(name, **kwargs)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('arch', sorted(REFERENCE_PARAMS))
def test_plain_parameter_counts_match_the_reference_sizes(arch):
    count = n_params(meta_model(f'{arch}_plain'))  # 1000 classes
    assert abs(count / REFERENCE_PARAMS[arch] - 1) < 0.03, count


@pytest.mark.parametrize('arch', list_archs())
def test_la_model_differs_from_plain_by_exactly_its_la_modules(arch):
    plain, la = meta_model(f'{arch}_plain'), meta_model(f'{arch}_la')
    plain_sd, la_sd = plain.state_dict(), la.state_dict()
    assert set(la_sd) - set(plain_sd) == attention_keys(la)
    assert set(plain_sd) <= set(la_sd)
    assert all(la_sd[k].shape == v.shape for k, v in plain_sd.items())
    slots = get_arch(arch).kwargs.get('depth', 1)  # ViTs: one per block
    assert n_params(la) - n_params(plain) == slots * la_params(paper_heads(arch))


@pytest.mark.parametrize('ours, theirs', [
    ('resnet34_plain', 'resnet34'), ('mobilenetv1_plain', 'mobilenetv1_100'),
    ('vit_base_plain', 'vit_base_patch16_224'), ('vit_small_plain', 'vit_small_patch16_224')])
def test_plain_models_keep_the_keys_of_timms_own_model(ours, theirs):
    mine, ref = meta_model(ours).state_dict(), meta_model(theirs).state_dict()
    assert {k: v.shape for k, v in mine.items()} == {k: v.shape for k, v in ref.items()}


@pytest.mark.parametrize('arch, size, spot', [
    ('vit_base', (48, 80), (3, 5)), ('rmt_s', (96, 64), (4, 2)), ('resnet34', (100, 70), (7, 5)),
    ('mobilenetv1', (72, 56), (5, 4)), ('alexnet', (100, 70), (2, 1)),
    ('zfnet', (70, 90), (7, 10))])
def test_any_input_size_the_arch_admits(arch, size, spot):
    model = tiny(f'{arch}_la').eval()
    seen = la_inputs(model)
    with torch.no_grad():
        assert model(torch.randn(1, 3, *size)).shape == (1, 4)
    assert {s[1:] for s in seen} == {spot}


@pytest.mark.parametrize('arch', list_archs())
def test_timm_data_config_transform_and_head_helpers_work(arch):
    model = tiny(f'{arch}_la').eval()
    cfg = resolve_data_config({}, model=model)
    assert cfg['input_size'] == (3, 224, 224)
    assert cfg['mean'] == model.pretrained_cfg['mean'] and cfg['std'] == model.pretrained_cfg['std']
    image = Image.new('RGB', (300, 260), (40, 200, 90))
    x = create_transform(**cfg)(image).unsqueeze(0)
    assert x.shape == (1, 3, 224, 224)
    with torch.no_grad():
        features = model.forward_features(x)
        assert torch.allclose(model.forward_head(features), model(x), atol=1e-5)
        assert model.forward_head(features, pre_logits=True).shape == (1, model.head_hidden_size)
    assert model.get_submodule(model.pretrained_cfg['first_conv']).in_channels == 3
    model.reset_classifier(7)
    assert model.get_classifier() is model.get_submodule(model.pretrained_cfg['classifier'])
    with torch.no_grad():
        assert model(x).shape == (1, 7)


def test_rmt_feature_pyramid_is_its_stage_maps_then_the_attended_head_map():
    model = tiny('rmt_t_la').eval()
    x = torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        final, maps = model.forward_intermediates(x)
        assert torch.equal(final, model.forward_features(x))  # the LA-resized 4x2 map
        assert torch.equal(maps[-1], final)
        # each stage's map before its down-sampling, NCHW at 1/4, 1/8, 1/16, 1/32
        stage_in = model.patch_embed(x)
        for i, layer in enumerate(model.layers):
            stage = layer.forward_blocks(stage_in)
            assert torch.equal(maps[i], stage.permute(0, 3, 1, 2))
            stage_in = layer(stage_in)
        assert [tuple(m.shape[1:]) for m in maps] == [
            (16, 24, 16), (32, 12, 8), (32, 6, 4), (64, 3, 2), (64, 4, 2)]
        assert [len(model.forward_intermediates(x, indices=i, intermediates_only=True))
                for i in (1, [0, 2], None)] == [1, 2, 5]
        assert torch.equal(model.forward_intermediates(x, [1], intermediates_only=True)[0], maps[1])
        pyramid = tiny('rmt_t_la', features_only=True).eval()
        pyramid.model.load_state_dict(model.state_dict())  # timm wraps the whole model
        assert pyramid.feature_info.channels() == [16, 32, 32, 64, 64]
        assert pyramid.feature_info.reduction() == [4, 8, 16, 32, 32]
        assert all(torch.equal(a, b) for a, b in zip(pyramid(x), maps, strict=True))


@pytest.mark.parametrize('arch, blocks', [('resnet34', 16), ('mobilenetv1', 13)])
def test_block_placement_puts_one_module_in_every_block(arch, blocks):
    model = meta_model(f'{arch}_la', placement='block')
    slots = [m for m in model.modules() if isinstance(m, LA)]
    assert len(slots) == blocks
    holders = [m for m in model.modules() if isinstance(getattr(m, 'se', None), LA)]
    assert len(holders) == blocks  # timm's SE spot of each block
    assert n_params(model) - n_params(meta_model(f'{arch}_plain')) == blocks * la_params(16)
    # and it trains, though timm's blocks add their shortcut to LA's output in place
    small = tiny(f'{arch}_la', placement='block')
    small(torch.randn(2, 3, 64, 64)).sum().backward()


def test_la_output_may_be_modified_in_place_as_timm_blocks_do():
    model = tiny('resnet34_la', placement='block')
    model(torch.randn(2, 3, 64, 64)).sum().backward()


@pytest.mark.parametrize('arch', ['alexnet', 'zfnet', 'vit_base', 'rmt_s'])
def test_unsupported_placement_is_a_clear_error(arch):
    with pytest.raises(LoosenError, match=f"{arch} does not support placement='block'.*'paper'"):
        loosen.create_model(arch, placement='block')


def test_unknown_placement_lists_the_supported_ones():
    with pytest.raises(LoosenError, match=r"placement='blok'.*'paper', 'block'"):
        loosen.create_model('resnet34', placement='blok')


def test_la_heads_fit_narrow_widths_unless_given():
    model = tiny('mobilenetv1_la', placement='block')  # the first block has 8 channels
    heads = [m.heads for m in model.modules() if isinstance(m, LA)]
    assert heads[0] == 8 and set(heads[1:]) == {16}
    with pytest.raises(ValueError, match='divisible by heads'):
        tiny('mobilenetv1_la', attn_kwargs={'heads': 24})


def test_other_modules_take_the_releases_heads_at_the_paper_spot_and_their_own_per_block():
    gcsa = loosen.create_attention('gcsa', 64)
    model = loosen.create_model('resnet34', 'gcsa', **TINY['resnet34'])
    assert [m.heads for m in model.modules() if type(m) is type(gcsa)] == [1]  # the release's
    model = loosen.create_model('resnet34', 'gcsa', placement='block', **TINY['resnet34'])
    assert {m.heads for m in model.modules() if type(m) is type(gcsa)} == {gcsa.heads} == {4}


@pytest.mark.parametrize('seed, name', [
    ('AlexNet_LA', 'alexnet_la'), ('resnet34_LA', 'resnet34_la'), ('zfnet_LA', 'zfnet_la'),
    ('MobileNet_LA', 'mobilenetv1_la'), ('ViT_LA', 'vit_base_la'), ('RMT_S_LA', 'rmt_s_la'),
    ('rmt_t_la', 'rmt_t_la'), ('ResNet34_plain', 'resnet34_plain'), ('vit-small-cbam',
                                                                      'vit_small_cbam')])
def test_seed_names_resolve(seed, name):
    assert resolve_model_name(seed) == name
    assert loosen.resolve_model_name is resolve_model_name


def test_aliases_build_the_same_architecture():
    assert parse_model_name('MobileNet_LA') == ('mobilenetv1', 'la')
    assert parse_model_name('vit_plain') == ('vit_base', None)
    model = loosen.create_model('MobileNet', 'plain', **TINY['mobilenetv1'])
    assert model.pretrained_cfg['architecture'] == 'mobilenetv1_plain'


@pytest.mark.parametrize('name, suggestion', [
    ('resnet43_la', 'resnet34_la'), ('resnet34_lla', 'resnet34_la'),
    ('alexnt_cbam', 'alexnet_cbam'), ('rmt_x_la', 'rmt_s_la')])
def test_unknown_model_names_suggest_close_ones(name, suggestion):
    with pytest.raises(LoosenError, match=f"unknown model '{name}'; did you mean.*'{suggestion}'"):
        resolve_model_name(name)


def test_create_model_rejects_unknown_arch_and_attention_with_suggestions():
    with pytest.raises(LoosenError, match="unknown architecture 'alexnt'; did you mean 'alexnet'"):
        loosen.create_model('alexnt')
    with pytest.raises(LoosenError, match="unknown attention 'cbma'; did you mean 'cbam'"):
        loosen.create_model('resnet34', 'cbma')


def test_default_num_classes_is_four_and_plain_means_no_attention():
    model = loosen.create_model('resnet34', 'plain', **TINY['resnet34'])
    assert model.num_classes == 4 and not attention_keys(model)
    assert not any(isinstance(m, LA) for m in model.modules())


def test_la_changes_the_output_of_the_same_plain_weights():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    torch.manual_seed(1)
    plain = tiny('resnet34_plain').eval()
    torch.manual_seed(1)
    la = tiny('resnet34_la').eval()
    la.load_state_dict(plain.state_dict(), strict=False)
    with torch.no_grad():
        a, b = plain(x), la(x)
    assert torch.isfinite(b).all() and not torch.allclose(a, b)  # LA is in the path


def test_mobilenet_classifier_starts_near_chance_with_few_classes():
    # timm's EfficientNet init would give a 4-class loss of ~4.9 in train mode
    torch.manual_seed(0)
    model = tiny('mobilenetv1_la').train()
    x = torch.randn(16, 3, 64, 64)
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(model(x), torch.randint(0, 4, (16,)))
    assert abs(loss.item() - math.log(4)) < 0.3
    model.reset_classifier(3)
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(model(x), torch.randint(0, 3, (16,)))
    assert abs(loss.item() - math.log(3)) < 0.3
