"""Weights in and out of the timm plugins: local pretrained files, fresh processes, ONNX."""
import logging
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import timm
import torch
from safetensors.torch import save_file

import loosen
from loosen import LA
from loosen.errors import LoosenError
from loosen.export import export_onnx
from loosen.models import load_pretrained

RESNET_TINY = dict(layers=(1, 1, 1, 1), channels=(16, 32, 32, 64))


def trained_plain(num_classes: int) -> dict[str, torch.Tensor]:
    """A resnet34_plain state dict whose every tensor differs from a fresh init."""
    torch.manual_seed(5)
    model = loosen.create_model('resnet34', 'plain', num_classes=num_classes, **RESNET_TINY)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.add_(torch.rand_like(t) + 0.5)
    return model.state_dict()


def la_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if '.mlp.' in k or '.fuse.' in k}


@pytest.mark.parametrize('suffix', ['.pth', '.safetensors'])
def test_pretrained_loads_the_plain_part_and_leaves_la_at_init(tmp_path, suffix, caplog):
    saved = trained_plain(num_classes=10)
    path = tmp_path / f'plain{suffix}'
    if suffix == '.pth':
        torch.save(saved, path)
    else:
        save_file(saved, str(path))
    torch.manual_seed(0)
    fresh = loosen.create_model('resnet34', 'la', **RESNET_TINY)
    torch.manual_seed(0)
    with caplog.at_level(logging.INFO, logger='loosen'):
        model = loosen.create_model('resnet34', 'la', pretrained=str(path), **RESNET_TINY)
    assert f'pretrained: loaded {len(saved) - 2}/{len(saved)} tensors' in caplog.text
    state = model.state_dict()
    for key, value in saved.items():
        if not key.startswith('fc.'):  # 10 classes in the file, 4 in the model
            assert torch.equal(state[key], value), key
    assert state['fc.weight'].shape == (4, 64)
    init = la_state(fresh)
    assert init and all(torch.equal(state[k], v) for k, v in init.items())


def test_load_report_names_every_kind_of_key(tmp_path):
    saved = trained_plain(num_classes=10)
    saved['extra.weight'] = torch.ones(3)
    path = tmp_path / 'w.pth'
    torch.save({'state_dict': saved}, path)  # a training checkpoint is unwrapped
    model = loosen.create_model('resnet34', 'la', **RESNET_TINY)
    report = load_pretrained(model, path)
    assert report.classifier == ['fc.bias', 'fc.weight']
    assert report.unexpected == ['extra.weight']
    assert report.missing == []
    assert report.attention == sorted(k for k in model.state_dict() if k.startswith('layer3.1.'))
    assert len(report.attention) == 6  # mlp.0, mlp.2 and fuse: weight and bias each
    assert 'unexpected in the weights (ignored): extra.weight' in report.summary()


def test_attention_weights_in_the_file_are_ignored(tmp_path):
    trained = loosen.create_model('resnet34', 'la', **RESNET_TINY)
    with torch.no_grad():
        for m in trained.modules():
            if isinstance(m, LA):
                m.fuse.weight.fill_(3.0)
    path = tmp_path / 'la.pth'
    torch.save(trained.state_dict(), path)
    model = loosen.create_model('resnet34', 'la', **RESNET_TINY)
    before = la_state(model)
    report = load_pretrained(model, path)
    assert report.unexpected == [] and report.missing == []
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())


def test_weights_of_another_width_or_a_missing_file_are_clear_errors(tmp_path):
    path = tmp_path / 'wide.pth'
    torch.save(loosen.create_model('resnet34', 'plain').state_dict(), path)
    with pytest.raises(LoosenError, match=r"layer1.0.conv1.weight is \[64, 64, 3, 3\], the "
                                          r"model's \[16, 64, 3, 3\].*hold loosen's resnet34 \("):
        loosen.create_model('resnet34', pretrained=str(path), **RESNET_TINY)
    with pytest.raises(LoosenError, match='no weights file at'):
        loosen.create_model('resnet34', pretrained=str(tmp_path / 'none.pth'))
    (tmp_path / 'junk.pth').write_text('not a checkpoint')
    with pytest.raises(LoosenError, match='cannot read weights'):
        loosen.create_model('resnet34', pretrained=str(tmp_path / 'junk.pth'))


RELOAD = {  # name -> constructor kwargs, one per architecture family
    'resnet34_la': RESNET_TINY,
    'mobilenetv1_la': dict(channel_multiplier=0.25, depth_multiplier=0.5),
    'alexnet_cbam': dict(fc_dim=32),
    'zfnet_la': dict(fc_dim=32),
    'vit_tiny_la': dict(depth=2),
    'rmt_t_la': dict(embed_dims=(16, 32, 32, 64), depths=(1, 1, 1, 1), num_heads=(2, 2, 4, 4),
                     projection=64),
}

CHILD = textwrap.dedent('''
    import sys, torch, timm
    import loosen  # registers the models with timm
    for name, kwargs in torch.load(sys.argv[1], weights_only=False).items():
        model = timm.create_model(name, num_classes=4, **kwargs).eval()
        model.load_state_dict(torch.load(sys.argv[2] + name + '.pth'))  # strict
        x, y = torch.load(sys.argv[2] + name + '.io')
        with torch.no_grad():
            assert torch.allclose(model(x), y, atol=1e-5), name
        print('reloaded', name)
''')


def test_state_dicts_reload_into_timm_create_model_in_a_fresh_process(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    for name, kwargs in RELOAD.items():
        model = timm.create_model(name, num_classes=4, **kwargs).eval()
        torch.save(model.state_dict(), tmp_path / f'{name}.pth')
        with torch.no_grad():
            torch.save((x, model(x)), tmp_path / f'{name}.io')
    torch.save(RELOAD, tmp_path / 'names')
    done = subprocess.run([sys.executable, '-c', CHILD, str(tmp_path / 'names'), f'{tmp_path}/'],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split('\n')[:-1] == [f'reloaded {n}' for n in RELOAD]


@pytest.mark.parametrize('name', ['resnet34_la', 'mobilenetv1_la'])
def test_paper_cnns_export_to_onnx_and_agree_with_pytorch(tmp_path, name):
    ort = pytest.importorskip('onnxruntime')
    torch.manual_seed(0)
    model = timm.create_model(name, num_classes=4).eval()
    path = export_onnx(model, torch.randn(1, 3, 64, 64), tmp_path / f'{name}.onnx')
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    for shape in [(1, 3, 64, 64), (2, 3, 96, 80)]:  # dynamic batch and size
        x = torch.randn(shape)
        with torch.no_grad():
            expected = model(x).numpy()
        (got,) = session.run(None, {'x': x.numpy()})
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
