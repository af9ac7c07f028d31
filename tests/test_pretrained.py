"""Pretrained starts: timm's published weights by tag, the load report, weights that do not
fit, and attention that starts as the identity."""
from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap

import pytest
import timm
import torch
from safetensors.torch import save_file
from timm.models import create_feature_extractor, get_graph_node_names

import loosen
from loosen.attention.start import IdentityStart
from loosen.cli import main
from loosen.engine.flags import parse
from loosen.engine.model import model_kwargs
from loosen.errors import LoosenError
from loosen.models import attention_keys, load_weights
from yolo_helpers import offline_env

# loosen's architecture -> the timm architecture whose published weights fit key for key
# (the README's weights table; RMT's and the other ViTs' sources are outside timm)
TIMM_FITS = {'resnet34': 'resnet34', 'mobilenetv1': 'mobilenetv1_100',
             'vit_tiny': 'vit_tiny_patch16_224', 'vit_small': 'vit_small_patch16_224',
             'vit_base': 'vit_base_patch16_224'}
NARROW = ['--model-kwargs', 'channel_multiplier=0.25']
TINY_RUN = ['--img-size', '32', '--synthetic-classes', 'arc,clear', '--synthetic-per-class', '4',
            '--epochs', '1', '--batch-size', '4', '--num-workers', '0', '--no-progress']
TAG = 'mobilenetv1_100.ra4_e3600_r224_in1k'


def shapes(name: str, **kwargs) -> dict[str, tuple[int, ...]]:
    with torch.device('meta'):
        model = timm.create_model(name, **kwargs)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize('arch', list(TIMM_FITS))
def test_timm_architectures_fit_loosen_plain_models_key_for_key(arch):
    assert shapes(TIMM_FITS[arch]) == shapes(f'{arch}_plain', num_classes=1000)


def write_hub_cache(home, repo: str, tensors: dict[str, torch.Tensor]) -> None:
    """``tensors`` as ``repo``'s model.safetensors in the Hugging Face cache layout."""
    folder = home / 'hub' / f'models--{repo.replace("/", "--")}'
    commit = 'a' * 40
    (folder / 'refs').mkdir(parents=True)
    (folder / 'refs' / 'main').write_text(commit)
    (folder / 'snapshots' / commit).mkdir(parents=True)
    save_file(tensors, str(folder / 'snapshots' / commit / 'model.safetensors'))


CHILD = textwrap.dedent('''
    import sys, torch, loosen
    from safetensors.torch import load_file
    from loosen.cli import main
    tag, absent, weights, out = sys.argv[1:5]
    model = loosen.create_model('mobilenetv1', 'la', num_classes=3, pretrained='timm:' + tag)
    state = model.state_dict()
    same = [k for k, v in load_file(weights).items() if torch.equal(state[k], v)]
    print('equal', len(same))
    print('exit', main(['train', '--model', 'mobilenetv1_la', '--pretrained', 'timm:' + absent,
                        '--output-dir', out, *sys.argv[5:]]))
''')


@pytest.mark.parametrize('hub_offline', [True, False], ids=['HF_HUB_OFFLINE', 'no-network'])
def test_timm_tags_load_from_the_hub_cache_and_name_what_to_fetch(tmp_path, hub_offline):
    torch.manual_seed(0)
    source = timm.create_model(TAG.partition('.')[0])
    with torch.no_grad():
        for value in source.state_dict().values():
            if value.is_floating_point():
                value.add_(torch.rand_like(value))  # unlike any fresh init
    weights = {k: v.contiguous() for k, v in source.state_dict().items()}
    write_hub_cache(tmp_path / 'hf', f'timm/{TAG}', weights)
    save_file(weights, str(tmp_path / 'weights.safetensors'))
    env = offline_env(tmp_path)
    env.update(HF_HOME=str(tmp_path / 'hf'), HF_HUB_DISABLE_TELEMETRY='1')
    env.pop('HF_HUB_CACHE', None)
    env.pop('HF_HUB_OFFLINE', None)
    if hub_offline:
        env['HF_HUB_OFFLINE'] = '1'
    out = tmp_path / 'run'
    done = subprocess.run([sys.executable, '-c', CHILD, TAG, 'resnet34.a1_in1k',
                           str(tmp_path / 'weights.safetensors'), str(out), *TINY_RUN],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f'equal {len(weights) - 2}' in done.stdout  # all but the 1000-class classifier
    assert 'exit 2' in done.stdout and not out.exists()
    errors = [line for line in done.stderr.splitlines() if line.startswith('loosen: error:')]
    assert len(errors) == 1 and 'Traceback' not in done.stderr, done.stderr
    assert 'timm:resnet34.a1_in1k' in errors[0]
    assert 'huggingface-cli download timm/resnet34.a1_in1k' in errors[0]
    assert str(tmp_path / 'hf' / 'hub') in errors[0]


def test_unknown_timm_tags_name_the_close_ones():
    with pytest.raises(LoosenError, match="did you mean resnet34"):
        loosen.create_model('resnet34', pretrained='timm:resnt34.a1_in1k')
    with pytest.raises(LoosenError, match=r"resnet34 has resnet34\.a1_in1k, "):
        loosen.create_model('resnet34', pretrained='timm:resnet34.a9_in1k')


@pytest.fixture
def plain_weights(tmp_path):
    """A trained-looking state dict of a narrow mobilenetv1_plain (2 classes)."""
    torch.manual_seed(3)
    model = loosen.create_model('mobilenetv1', 'plain', num_classes=2, channel_multiplier=0.25)
    with torch.no_grad():
        for value in model.state_dict().values():
            if value.is_floating_point():
                value.add_(0.5)
    path = tmp_path / 'plain.pth'
    torch.save(model.state_dict(), path)
    return path


def test_train_prints_the_load_report(tmp_path, plain_weights, capsys):
    out = tmp_path / 'run'
    code = main(['train', '--model', 'mobilenetv1_la', *NARROW, *TINY_RUN,
                 '--synthetic-classes', 'arc,clear,radial', '--pretrained', str(plain_weights),
                 '--output-dir', str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    for line in (f'pretrained: loaded 162/164 tensors (all but the attention) from '
                 f'{plain_weights}', 'attention at init: 6 tensors (blocks.3.attention.fuse',
                 'classifier reset (another class count): classifier.bias, classifier.weight'):
        assert line in printed
        assert line in (out / 'train.log').read_text()


def fails(argv, capsys, out):
    code = main([*argv, '--output-dir', str(out)])
    error = capsys.readouterr().err
    assert code == 2 and error.startswith('loosen: error: ') and error.count('\n') == 1, error
    assert not out.exists()
    return error


def test_pretrained_that_fits_under_half_the_model_is_an_error_unless_partial(
        tmp_path, plain_weights, capsys):
    other = tmp_path / 'resnet.pth'
    torch.save(loosen.create_model('resnet34', 'plain', layers=(1, 1, 1, 1),
                                   channels=(16, 32, 32, 64)).state_dict(), other)
    error = fails(['train', '--model', 'mobilenetv1_la', *NARROW, *TINY_RUN, '--pretrained',
                   str(other)], capsys, tmp_path / 'run')
    assert "fits 1 of the model's 164 non-attention tensors" in error  # bn1's counter
    assert "seems to hold timm's resnet18 at other widths or depths" in error  # 1 block each
    assert '--pretrained-partial' in error
    stem = {k: v for k, v in torch.load(plain_weights).items() if k.startswith(('conv_stem',
                                                                                 'bn1'))}
    torch.save(stem, tmp_path / 'stem.pth')
    error = fails(['train', '--model', 'mobilenetv1_la', *NARROW, *TINY_RUN, '--pretrained',
                   str(tmp_path / 'stem.pth')], capsys, tmp_path / 'run')
    assert "fits 6 of the model's 164" in error
    assert main(['train', '--model', 'mobilenetv1_la', *NARROW, *TINY_RUN, '--pretrained',
                 str(other), '--pretrained-partial', '--output-dir', str(tmp_path / 'run')]) == 0
    assert 'pretrained: loaded 1/164 tensors' in capsys.readouterr().out


def test_weights_in_another_shape_are_refused_and_named(tmp_path, plain_weights):
    model = loosen.create_model('mobilenetv1', 'la', channel_multiplier=0.5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(LoosenError, match=r"conv_stem.weight is \[8, 3, 3, 3\], the model's "
                                          r"\[16, 3, 3, 3\].*loosen's mobilenetv1 at other"):
        load_weights(model, str(plain_weights))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # untouched
    report = load_weights(model, str(plain_weights), partial=True)
    assert report.mismatched and 'other shapes in the weights' in report.summary()


def test_deit_style_checkpoints_with_their_flags_load(tmp_path, plain_weights):
    """The RMT release saves {'model': ..., 'args': argparse.Namespace, ...}."""
    path = tmp_path / 'release.pth'
    torch.save({'model': torch.load(plain_weights), 'args': argparse.Namespace(lr=1e-3),
                'epoch': 299}, path)
    model = loosen.create_model('mobilenetv1', 'la', num_classes=2, channel_multiplier=0.25)
    assert len(load_weights(model, str(path)).loaded) == 164


def test_vit_weights_at_224_start_a_vit_at_another_size(tmp_path):
    path = tmp_path / 'vit.pth'
    torch.save(loosen.create_model('vit_tiny', 'plain', depth=2).state_dict(), path)
    model = loosen.create_model('vit_tiny', 'la', depth=2, img_size=64)
    report = load_weights(model, str(path))
    assert 'pos_embed' in report.loaded and model.pos_embed.shape == (1, 17, 192)


def test_identity_start_begins_as_the_plain_network(plain_weights):
    kwargs = dict(num_classes=2, channel_multiplier=0.25, pretrained=str(plain_weights))
    plain = loosen.create_model('mobilenetv1', 'plain', **kwargs).eval()
    x = torch.randn(2, 3, 32, 32)
    for attention in ('la', 'cbam'):
        paper = loosen.create_model('mobilenetv1', attention, **kwargs).eval()
        model = loosen.create_model('mobilenetv1', attention, attention_init='identity',
                                    **kwargs).eval()
        assert isinstance(model.blocks[3].attention, IdentityStart)
        assert {'blocks.3.attention.gate'} < attention_keys(model)
        with torch.no_grad():
            assert torch.allclose(model(x), plain(x), atol=1e-5)
            assert not torch.allclose(paper(x), plain(x), atol=1e-3)  # the paper's start
            if attention == 'la':  # the wrapper scripts and traces (timm's feature API)
                assert torch.allclose(torch.jit.script(model)(x), plain(x), atol=1e-5)
                nodes = get_graph_node_names(model)[1]
                traced = create_feature_extractor(model, [nodes[-1]])
                assert torch.allclose(traced(x)[nodes[-1]], plain(x), atol=1e-5)
        model.train()
        model(x).logsumexp(1).mean().backward()
        assert model.blocks[3].attention.gate.grad.abs() > 0  # it learns how much to attend
    with pytest.raises(LoosenError, match="unknown attention_init 'zero'"):
        loosen.create_model('mobilenetv1', 'la', attention_init='zero')


def test_identity_start_is_a_model_option_of_the_engine():
    config, _ = parse('train', ['--model', 'resnet34_la', '--model-kwargs',
                                'attention_init=identity'])
    kwargs, notes = model_kwargs(config)
    assert kwargs == {'attention_init': 'identity'} and notes == []


def test_accuracy_grid_starts_every_cell_from_the_same_weights(tmp_path):
    torch.manual_seed(1)
    weights = tmp_path / 'plain.pth'
    torch.save(loosen.create_model('mobilenetv1', 'plain', channel_multiplier=0.25)
               .state_dict(), weights)
    out = tmp_path / 'grid'
    assert main(['bench', 'accuracy', '--preset', 'smoke', '--pretrained',
                 str(tmp_path / 'no.pth'), '--out', str(out)]) == 2
    assert not out.exists()
    assert main(['bench', 'accuracy', '--preset', 'smoke', '--archs', 'mobilenetv1', '--seeds',
                 '0', '--epochs', '1', '--threads', '1', '--no-progress', '--pretrained',
                 str(weights), '--attention-init', 'identity', '--out', str(out)]) == 0
    assert f'start: {weights}, attention identity' in (out / 'report.md').read_text()
    for attention in ('plain', 'la'):
        cell = out / 'cells' / f'mobilenetv1_{attention}_n24_s0'
        assert f'pretrained: loaded 164/164 tensors (all but the attention) from {weights}' \
            in (cell / 'train' / 'train.log').read_text()
        state = torch.load(cell / 'train' / 'last.pth', weights_only=False)['state_dict']
        assert ('blocks.3.attention.gate' in state) == (attention == 'la')
    rows = (out / 'results.csv').read_text().splitlines()
    assert 'first_train_loss' in rows[0] and 'first_val_loss' in rows[0]


def test_classifier_rows_follow_the_class_names_a_checkpoint_records(tmp_path, plain_weights):
    """loosen train's synthetic set lists arc, drapery, radial, hotspot; a folder sorts them."""
    state = torch.load(plain_weights)
    path = tmp_path / 'best.pth'
    torch.save({'state_dict': state, 'classes': ['radial', 'arc']}, path)
    model = loosen.create_model('mobilenetv1', 'la', num_classes=2, channel_multiplier=0.25)
    report = load_weights(model, str(path), classes=['arc', 'radial'])
    assert report.reordered_from == ['radial', 'arc'] and report.classifier == []
    assert torch.equal(model.classifier.weight, state['classifier.weight'][[1, 0]])
    assert "reordered from the weights' class order: radial, arc" in report.summary()
    report = load_weights(model, str(path), classes=['arc', 'hotspot'])
    assert report.classifier == ['classifier.bias', 'classifier.weight']
    assert "classifier reset (the weights' classes are radial, arc)" in report.summary()
