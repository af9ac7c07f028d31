"""The synthetic all-sky aurora generator: determinism, balance, camera geometry, and
classes that a linear model on pixels cannot separate but a small CNN can."""
import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from loosen.cli import main
from loosen.data import CORE_CLASSES, SKY_CLASSES, SyntheticAurora, render_frame, write_synthetic
from loosen.data.sky import sky_geometry
from loosen.errors import LoosenError


def _tree_digest(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_frames(tmp_path):
    first = write_synthetic(tmp_path / 'a', per_class=4, size=48, seed=3)
    second = write_synthetic(tmp_path / 'b', per_class=4, size=48, seed=3)
    other = write_synthetic(tmp_path / 'c', per_class=4, size=48, seed=4)
    assert _tree_digest(first) == _tree_digest(second)
    pngs = [k for k in _tree_digest(first) if k.endswith('.png')]
    assert len(pngs) == 16
    differ = [k for k in pngs if _tree_digest(first)[k] != _tree_digest(other)[k]]
    assert differ == pngs


def test_frame_depends_only_on_seed_class_and_index():
    alone = SyntheticAurora(3, size=40, seed=0, classes=['radial', 'arc'])
    full = SyntheticAurora(5, size=40, seed=0)
    radial_2 = np.asarray(alone[2][0])
    assert np.array_equal(radial_2, np.asarray(full[2 * 5 + 2][0]))
    assert np.array_equal(radial_2[..., 0], render_frame('radial', 2, 40, 0))


def test_write_synthetic_balances_classes_and_splits(tmp_path):
    root = write_synthetic(tmp_path / 's', per_class=10, size=32, seed=0,
                           split={'train': 0.6, 'val': 0.2, 'test': 0.2})
    for split, n in (('train', 6), ('val', 2), ('test', 2)):
        assert sorted(p.name for p in (root / split).iterdir()) == sorted(CORE_CLASSES)
        for cls in CORE_CLASSES:
            assert len(list((root / split / cls).glob('*.png'))) == n
    rows = (root / 'labels.csv').read_text().splitlines()
    assert rows[0] == 'name,class,split,time_utc' and len(rows) == 41
    with Image.open(root / 'train' / 'arc' / 'arc_00000.png') as image:
        assert image.mode == 'L' and image.size == (32, 32)


def test_dataset_api_for_the_engine():
    ds = SyntheticAurora(per_class=3, size=56, seed=1, transform=lambda im: im.size)
    assert ds.classes == list(CORE_CLASSES)
    assert ds.targets == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert len(ds) == 12 and ds[4] == ((56, 56), 1) and ds[-1][1] == 3
    image, label = SyntheticAurora(1, size=40)[0]
    assert image.mode == 'RGB' and image.size == (40, 40) and label == 0
    with pytest.raises(IndexError):
        ds[12]


def test_optional_classes_and_bad_names():
    assert {'diffuse', 'cloudy', 'clear'} <= set(SKY_CLASSES)
    ds = SyntheticAurora(2, size=40, classes=['clear', 'cloudy', 'diffuse'])
    assert [ds[i][1] for i in range(len(ds))] == [0, 0, 1, 1, 2, 2]
    with pytest.raises(LoosenError, match="did you mean 'radial'"):
        SyntheticAurora(2, classes=['arc', 'radail'])
    with pytest.raises(LoosenError, match='two or more different'):
        SyntheticAurora(2, classes=['arc', 'arc'])


def test_frames_look_like_an_all_sky_camera():
    size = 96
    geom = sky_geometry(size)
    frames = np.stack([render_frame(c, j, size) for c in CORE_CLASSES for j in range(6)])
    outside = geom.rim == 0
    assert outside.mean() > 0.2 and (frames[:, outside] == 0).all()  # dark beyond the circle
    inside = frames[:, geom.r < 0.95].astype(float)
    assert 10 < np.median(inside) < 80          # a dark sky, not a blank or a white frame
    assert inside.min(axis=1).min() > 0          # sky glow everywhere inside
    # brightening toward the horizon (slant path), as in the real frames
    assert frames[:, (geom.r > 0.8) & (geom.r < 0.95)].mean() > frames[:, geom.r < 0.3].mean()
    # within-class variety: no two frames of a class alike
    arcs = frames[:6].reshape(6, -1).astype(float)
    assert min(np.abs(a - b).mean() for i, a in enumerate(arcs) for b in arcs[i + 1:]) > 2


def test_hotspots_saturate_and_radial_rays_converge_on_the_magnetic_zenith():
    size = 128
    hot = np.stack([render_frame('hotspot', j, size) for j in range(12)])
    arc = np.stack([render_frame('arc', j, size) for j in range(12)])
    assert (hot.reshape(12, -1).max(1) > 200).mean() > 0.5
    # rays: around the zenith, intensity varies along azimuth far more than along radius
    radial = np.stack([render_frame('radial', j, size) for j in range(8)]).astype(float)
    ring = radial[:, size // 2 - 40, 24:size - 24]           # a chord across the rays
    column = radial[:, 20:size // 2 - 30, size // 2]           # along one ray's direction
    assert np.abs(np.diff(ring, axis=1)).mean() > np.abs(np.diff(column, axis=1)).mean()
    assert hot.mean() > 0 and arc.mean() > 0


def _pixels(ds):
    frames = np.stack([np.asarray(ds[i][0])[..., 0] for i in range(len(ds))])
    return frames.astype(np.float32) / 255, np.array(ds.targets)


def _train_small_cnn(x, y, epochs=12):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 5, 2, 2), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, 2, 1), torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 3, 2, 1), torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
        torch.nn.AdaptiveMaxPool2d(1), torch.nn.Flatten(), torch.nn.Linear(32, 4))
    steps = epochs * ((len(x) + 31) // 32)
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, 4e-3, total_steps=steps)
    xt, yt = torch.tensor(x)[:, None], torch.tensor(y)
    order = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=order)
        for i in range(0, len(xt), 32):
            batch = perm[i:i + 32]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xt[batch]), yt[batch]).backward()
            opt.step()
            schedule.step()
    return net.eval()


def test_a_linear_model_on_pixels_does_not_solve_it_a_small_cnn_does_better():
    from sklearn.linear_model import LogisticRegression

    x_train, y_train = _pixels(SyntheticAurora(150, size=64, seed=0))
    x_test, y_test = _pixels(SyntheticAurora(60, size=64, seed=1))

    def pooled(x):  # 8x8 mean-pooled pixels, standardised on train
        return x.reshape(len(x), 8, 8, 8, 8).mean((2, 4)).reshape(len(x), -1)

    mean, std = pooled(x_train).mean(0), pooled(x_train).std(0) + 1e-3
    linear = LogisticRegression(C=0.1, max_iter=1000).fit((pooled(x_train) - mean) / std, y_train)
    linear_acc = linear.score((pooled(x_test) - mean) / std, y_test)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same numbers on every machine
    try:
        net = _train_small_cnn(x_train, y_train)
        with torch.no_grad():
            cnn_acc = (net(torch.tensor(x_test)[:, None]).argmax(1).numpy() == y_test).mean()
    finally:
        torch.set_num_threads(threads)
    assert 0.3 < linear_acc < 0.6     # above chance (0.25): the classes differ, not linearly
    assert cnn_acc > linear_acc + 0.12 and cnn_acc > 0.62


def test_synth_command_writes_the_tree_and_rejects_a_full_folder(tmp_path, capsys):
    out = tmp_path / 'sky'
    assert main(['data', 'synth', str(out), '--per-class', '3', '--size', '32',
                 '--classes', 'arc,clear', '--split', 'train=2,val=1']) == 0
    assert 'wrote 6 images' in capsys.readouterr().out
    assert len(list((out / 'train' / 'clear').glob('*.png'))) == 2
    assert main(['data', 'synth', str(out), '--per-class', '3']) == 2
    assert 'not empty' in capsys.readouterr().err


def test_a_split_with_no_frames_gets_no_folders_so_check_and_train_accept_it(tmp_path, capsys):
    out = tmp_path / 'sky'
    assert main(['data', 'synth', str(out), '--per-class', '6', '--size', '32',
                 '--classes', 'arc,clear', '--split', 'train=0.5,val=0.5,test=0']) == 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ['train', 'val']
    assert main(['data', 'check', str(out)]) == 0
    capsys.readouterr()
    assert main(['train', '--data-path', str(out), '--model', 'mobilenetv1_plain',
                 '--img-size', '32', '--epochs', '1', '--batch-size', '2', '--num-workers', '0',
                 '--output-dir', str(tmp_path / 'run'), '--no-progress']) == 0
    assert (tmp_path / 'run' / 'best.pth').is_file()
    # frames to predict on or explain: val/ alone, no empty train/ folders
    only_val = write_synthetic(tmp_path / 'frames', 2, 32, classes=['arc', 'clear'],
                               split={'train': 0.1, 'val': 0.9})
    assert sorted(p.name for p in only_val.iterdir() if p.is_dir()) == ['val']
    assert len(list((only_val / 'val' / 'arc').glob('*.png'))) == 2
