"""loosen.explain: maps of the image's size for every backbone and method; the target
layer registry; LA's gate recorded only when asked, and then changing nothing."""
import gc
import subprocess
import sys

import numpy as np
import pytest
import torch

import loosen
from loosen.attention.la import LA
from loosen.data import write_synthetic
from loosen.data.sky import FOV_RADIUS
from loosen.data.synth import render_frame
from loosen.errors import LoosenError
from loosen.explain import fov_mask, mass_share, record_la
from loosen.explain.la_maps import la_modules
from loosen.explain.regions import synthetic_frame
from loosen.explain.targets import cam_target

SIZE = 64
# small variants of every backbone: the classes and target layers of the full models
SMALL = {
    'alexnet': dict(fc_dim=32),
    'zfnet': dict(fc_dim=32),
    'resnet34': dict(layers=(1, 1, 1, 1)),
    'mobilenetv1': dict(channel_multiplier=0.25),
    'vit_tiny': dict(depth=2),
    'rmt_t': dict(depths=(1, 1, 1, 1), embed_dims=(32, 32, 64, 64), num_heads=(2, 2, 4, 4)),
}
CAM_METHODS = ['gradcam', 'gradcam++', 'eigencam', 'layercam']  # scorecam: one model below


@pytest.fixture(scope='module')
def models():
    torch.manual_seed(0)
    return {arch: loosen.create_model(arch, 'la', num_classes=3, **kw).eval()
            for arch, kw in SMALL.items()}


@pytest.fixture(scope='module')
def images():
    return torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


def _check(maps, batch):
    assert maps.shape == (batch, SIZE, SIZE) and maps.dtype == np.float32
    assert np.isfinite(maps).all()


@pytest.mark.parametrize('arch', SMALL)
def test_every_method_gives_finite_maps_of_the_image_size(models, images, arch):
    model = models[arch]
    for method in [*CAM_METHODS, 'la']:
        maps = loosen.explain(model, images, method=method)
        _check(maps, 2)
        if method != 'la':  # pytorch-grad-cam scales each map to [0, 1]
            assert maps.min() >= 0 and maps.max() <= 1 + 1e-6
    gate = loosen.explain(model, images, method='la')
    assert ((gate > 0) & (gate < 1)).all()  # a sigmoid


def test_scorecam_on_one_small_model(models, images):
    maps = loosen.explain(models['mobilenetv1'], images[:1], method='scorecam', target_class=2)
    _check(maps, 1)
    assert maps.max() > 0  # some channel raised the class score


def test_a_single_image_gives_a_single_map(models, images):
    assert loosen.explain(models['resnet34'], images[0]).shape == (SIZE, SIZE)


def test_the_class_asked_for_changes_a_gradient_map(models, images):
    model = models['resnet34']
    maps = [loosen.explain(model, images, 'gradcam++', target_class=k) for k in range(3)]
    assert not np.allclose(maps[0], maps[1]) or not np.allclose(maps[1], maps[2])


@pytest.mark.parametrize('arch, layer, grid', [
    ('vit_tiny', 'blocks.1.norm1', (4, 4)),      # tokens: class token dropped, grid restored
    ('vit_tiny', 'patch_embed', (4, 4)),         # channels-last (B, h, w, C)
    ('vit_tiny', 'blocks.0.grid_attn', (4, 4)),  # LA's own output, channels-first
    ('rmt_t', 'layers.1', (4, 4)),               # a channels-last stage, stride 16
    ('rmt_t', 'act', (2, 2)),                    # the head's map, after LA
    ('mobilenetv1', 'blocks.3', (4, 4)),         # the default: LA's stage, stride 16
])
def test_target_layers_give_channels_first_maps(models, images, arch, layer, grid):
    model = models[arch]
    target = cam_target(model, layer, (SIZE, SIZE))
    seen = {}
    handle = target.module.register_forward_hook(
        lambda m, i, o: seen.update(map=target.reshape(o)))  # returns None: output kept
    with torch.no_grad():
        model(images)
    handle.remove()
    assert seen['map'].shape[0] == 2 and tuple(seen['map'].shape[2:]) == grid
    _check(loosen.explain(model, images, layer=layer), 2)


def test_default_layers_per_arch(models):
    names = {arch: cam_target(m, None, (SIZE, SIZE)).name for arch, m in models.items()}
    assert names == {'alexnet': 'features.11', 'zfnet': 'features.12', 'resnet34': 'layer3',
                     'mobilenetv1': 'blocks.3', 'vit_tiny': 'blocks.1.norm1', 'rmt_t': 'act'}


def test_bad_method_and_layer_name_the_options(models, images):
    with pytest.raises(LoosenError, match='gradcam'):
        loosen.explain(models['resnet34'], images, method='gradcam+')
    with pytest.raises(LoosenError, match='layer4'):
        loosen.explain(models['resnet34'], images, layer='layer5')
    with pytest.raises(LoosenError, match='not a feature map'):
        loosen.explain(models['resnet34'], images, layer='fc')
    plain = loosen.create_model('resnet34', None, num_classes=3, layers=(1, 1, 1, 1))
    with pytest.raises(LoosenError, match='no LA module'):
        loosen.explain(plain, images, method='la')


def _tensors() -> int:
    return sum(isinstance(o, torch.Tensor) for o in gc.get_objects())


def test_recording_la_is_off_by_default_and_changes_nothing(models, images):
    model = models['vit_tiny']  # an LA module in every block
    modules = la_modules(model).values()
    assert len(modules) == 2
    state = [dict(vars(m)) for m in modules]
    with torch.no_grad():
        before = model(images)
        gc.collect()
        kept = _tensors()
        again = model(images)
        del again
        gc.collect()
        assert _tensors() == kept  # nothing is kept by a forward pass
        with record_la(model) as gates:
            assert all(len(m._forward_hooks) == 1 for m in modules)
            inside = model(images)
        after = model(images)
    assert torch.equal(before, inside) and torch.equal(before, after)  # bit-identical
    assert sorted(gates) == ['blocks.0.grid_attn', 'blocks.1.grid_attn']
    assert all(g.shape == (2, 16, 4, 4) for g in gates.values())  # (B, heads, grid)
    # off again: no hooks anywhere, no new attributes on LA modules
    assert all(not m._forward_hooks for m in model.modules())
    assert [dict(vars(m)) for m in modules] == state
    del gates, inside, after
    gc.collect()
    with torch.no_grad():
        model(images)
    gc.collect()
    assert _tensors() == kept


def test_the_recorded_gate_is_the_one_la_applies():
    torch.manual_seed(0)
    la = LA(heads=4).eval()
    x = torch.randn(2, 8, 6, 6)
    model = torch.nn.Sequential(la)
    with torch.no_grad(), record_la(model) as gates:
        y = model(x)
    gate = gates['0']  # y = x * S + x, each head's S scaling its two channels
    assert torch.allclose(y, x * (1 + gate.repeat_interleave(2, 1)), atol=1e-6)


def test_mass_share_counts_the_map_above_its_minimum():
    maps = np.zeros((3, 10, 10), np.float32)
    maps[0, :5] = 1                # all mass in the top half
    maps[1] = 0.5
    maps[1, :5, :5] = 1.5          # an offset map: only what is above 0.5 counts
    maps[2] = 0.7                  # flat: no mass, even with rounding noise
    maps[2, 0, 0] = np.nextafter(np.float32(0.7), np.float32(1))
    top = np.zeros((10, 10), bool)
    top[:5] = True
    share = mass_share(maps, top)
    assert share[0] == 1 and share[1] == 1 and np.isnan(share[2])
    left = np.zeros((10, 10), bool)
    left[:, :5] = True
    assert mass_share(maps[:1], left)[0] == pytest.approx(0.5)


def test_the_field_of_view_is_the_cameras_circle():
    mask = fov_mask(200, 200)
    assert mask.mean() == pytest.approx(np.pi / 4 * FOV_RADIUS ** 2, abs=0.005)
    assert mask[100, 100] and not mask[0, 0] and not mask[0, 199]
    rows, cols = np.nonzero(~mask & (render_frame('arc', 0, 200) > 0))
    # the generator's sky outside it is dark, but for the circle's 1-px soft edge
    assert np.hypot(rows + 0.5 - 100, cols + 0.5 - 100).max() < FOV_RADIUS * 100 + 1


def test_synthetic_frames_are_known_by_their_files(tmp_path):
    write_synthetic(tmp_path / 'set', 2, 48, 3, ['arc', 'hotspot'], split={'val': 1.0})
    frame = synthetic_frame(tmp_path / 'set' / 'val' / 'hotspot' / 'hotspot_00001.png')
    assert (frame.name, frame.index, frame.size, frame.seed) == ('hotspot', 1, 48, 3)
    pixels = render_frame('hotspot', 1, 48, 3)
    structure = frame.structure(48, 48)
    assert 0 < structure.mean() < 0.2  # the spot, not the sky
    assert structure.flat[pixels.argmax()]  # the frame's brightest pixel is in it
    assert frame.structure(96, 96).shape == (96, 96)
    other = tmp_path / 'elsewhere' / 'hotspot' / 'hotspot_00001.png'
    other.parent.mkdir(parents=True)
    other.write_bytes(b'')
    assert synthetic_frame(other) is None


def test_import_loosen_leaves_explain_for_first_use():
    code = ('import sys, loosen; assert "loosen.explain" not in sys.modules; '
            'assert callable(loosen.explain); import loosen.explain.cli; '
            'assert callable(loosen.explain) and loosen.explain.explain is not None')
    subprocess.run([sys.executable, '-c', code], check=True)
