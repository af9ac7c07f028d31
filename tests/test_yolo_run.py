"""YOLOv5's own scripts on LA, end to end, each step a fresh process with sockets blocked:
train from scratch (killed after its first epoch, then --resume), val, detect and ONNX
export of best.pt; onnxruntime gives PyTorch's output."""
from __future__ import annotations

import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from yolo_helpers import offline_env, popen_yolo, run_yolo

pytest.importorskip('yolov5')

DATA = 'synthetic:images=10,size=128,seed=3'
COMMON = ['--img', '128', '--device', 'cpu']


def wait_for_checkpoint(path: Path, proc, timeout: float = 400) -> None:
    """Until ``path`` is a complete zip archive (torch.save is not atomic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, 'training ended before its first checkpoint'
        try:
            if path.exists() and zipfile.ZipFile(path).testzip() is None:
                return
        except (zipfile.BadZipFile, OSError):
            pass
        time.sleep(0.5)
    raise AssertionError(f'no {path} after {timeout} s')


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """A yolov5n_la run killed after epoch 1 of 2, then resumed to the end."""
    root = tmp_path_factory.mktemp('yolo')
    env = offline_env(root)
    out = root / 'runs' / 'la'
    train = ['train', '--cfg', 'yolov5n_la.yaml', '--data', DATA, '--weights', '',
             '--epochs', '2', '--batch-size', '4', '--workers', '0', '--project',
             str(out.parent), '--name', out.name, '--hyp', 'data/hyps/hyp.scratch-low.yaml',
             *COMMON]
    proc = popen_yolo(train, env, root)
    last = out / 'weights' / 'last.pt'
    try:
        wait_for_checkpoint(last, proc)
    finally:
        proc.kill()
        proc.wait()
    killed = torch.load(last, map_location='cpu', weights_only=False)
    resumed = run_yolo(['train', '--resume', str(last)], env, root)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return {'root': root, 'env': env, 'out': out, 'killed_epoch': killed['epoch'],
            'log': resumed.stdout + resumed.stderr}


def test_killed_run_resumes_to_the_end(run):
    out = run['out']
    assert run['killed_epoch'] == 0  # killed after its first epoch, optimizer still inside
    assert 'Resuming training from' in run['log']
    rows = (out / 'results.csv').read_text().strip().splitlines()
    assert len(rows) == 1 + 2  # header, epoch 0 (before the kill), epoch 1 (after)
    finished = torch.load(out / 'weights' / 'last.pt', map_location='cpu', weights_only=False)
    assert finished['epoch'] == -1 and finished['optimizer'] is None  # stripped: finished
    model = finished['model']
    la = model.model[9]
    assert type(la).__name__ == 'LA' and la.heads == 16
    assert model.yaml['backbone'][9] == [-1, 1, 'LA', []]  # stored as written


def test_val_of_best(run):
    done = run_yolo(['val', '--weights', str(run['out'] / 'weights' / 'best.pt'), '--data',
                     DATA, '--batch-size', '4', '--task', 'val', '--save-json', '--project',
                     str(run['root'] / 'val'), '--name', 'v', *COMMON], run['env'], run['root'])
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'mAP50-95' in done.stdout + done.stderr
    assert (run['root'] / 'val' / 'v' / 'best_predictions.json').exists()


def test_detect_with_best(run):
    images = next((run['root'] / 'cache' / 'synth_det').glob('*')) / 'images' / 'val'
    done = run_yolo(['detect', '--weights', str(run['out'] / 'weights' / 'best.pt'),
                     '--source', str(images), '--conf-thres', '0.0001', '--save-txt',
                     '--project', str(run['root'] / 'detect'), '--name', 'd', *COMMON],
                    run['env'], run['root'])
    assert done.returncode == 0, done.stderr[-3000:]
    drawn = sorted(p.name for p in (run['root'] / 'detect' / 'd').glob('*.png'))
    assert drawn == sorted(p.name for p in images.glob('*.png')) and drawn


def test_onnx_export_matches_pytorch(run):
    best = run['out'] / 'weights' / 'best.pt'
    done = run_yolo(['export', '--weights', str(best), '--include', 'onnx', *COMMON],
                    run['env'], run['root'])
    assert done.returncode == 0, done.stderr[-3000:]
    onnxruntime = pytest.importorskip('onnxruntime')
    from loosen.patches import yolov5
    yolov5.install()
    from yolov5.models.experimental import attempt_load
    from yolov5.models.yolo import Detect
    model = attempt_load(str(best), device='cpu', fuse=True).eval()
    for module in model.modules():
        if isinstance(module, Detect):
            module.export = True  # as export.py sets it: one output tensor
    x = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x)[0].numpy()
    session = onnxruntime.InferenceSession(str(best.with_suffix('.onnx')))
    (got,) = session.run(None, {'images': x.numpy()})
    assert got.shape == expected.shape == (1, 3 * (16 * 16 + 8 * 8 + 4 * 4), 8)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)
