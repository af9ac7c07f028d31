"""YOLOv5's own scripts on LA, end to end, each step a fresh process with sockets blocked:
train from scratch (killed after its first epoch, then --resume), val, detect and ONNX
export of best.pt; onnxruntime gives PyTorch's output. ``api.train_val`` resumes the
killed run and reads a finished one back."""
from __future__ import annotations

import signal
import subprocess

import numpy as np
import pytest
import torch

from loosen.yolo.api import train_command, train_val
from yolo_helpers import offline_env, run_yolo

pytestmark = pytest.mark.slow  # among the slowest files: run first (conftest.py)

pytest.importorskip('yolov5')

DATA = 'synthetic:images=10,size=128,seed=3'
COMMON = ['--img', '128', '--device', 'cpu']


# YOLOv5 writes last.pt, then best.pt (always, in epoch 0): the process is killed right
# after that, so the kill lands after its first epoch whatever the machine's speed (a
# parent polling for last.pt can miss epoch 0 on a busy machine and catch the finished run)
KILL_AFTER_FIRST_EPOCH = '''
import os, signal, torch
_save = torch.save
def _save_then_die(obj, f, *args, **kwargs):
    _save(obj, f, *args, **kwargs)
    if os.path.basename(str(f)) == 'best.pt':
        os.kill(os.getpid(), signal.SIGKILL)
torch.save = _save_then_die
'''


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """A yolov5n_la run killed after epoch 1 of 2, then finished by ``api.train_val``."""
    root = tmp_path_factory.mktemp('yolo')
    env = offline_env(root)
    out = root / 'runs' / 'la'
    settings = dict(epochs=2, imgsz=128, batch=4, seed=0, out=out)
    command = train_command('yolov5n_la.yaml', DATA, device='cpu', workers=0, **settings)
    killing = offline_env(root, KILL_AFTER_FIRST_EPOCH, folder='killed_after_epoch_0')
    done = subprocess.run([*command, '--hyp', 'data/hyps/hyp.scratch-low.yaml'], env=killing,
                          cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    killed = torch.load(out / 'weights' / 'last.pt', map_location='cpu', weights_only=False)
    first_epoch = (out / 'results.csv').read_text()
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        result = train_val('yolov5n_la.yaml', DATA, **settings)  # resumes the killed run
        again = train_val('yolov5n_la.yaml', DATA, **settings)   # finished: read back
    return {'root': root, 'env': env, 'out': out, 'killed_epoch': killed['epoch'],
            'first_epoch': first_epoch, 'result': result, 'again': again}


def test_killed_run_resumes_to_the_end(run):
    out = run['out']
    assert run['killed_epoch'] == 0  # killed after its first epoch, optimizer still inside
    rows = (out / 'results.csv').read_text()
    assert rows.startswith(run['first_epoch'])  # resumed: epoch 0 kept, not trained again
    assert len(rows.strip().splitlines()) == 1 + 2  # header, epoch 0, epoch 1
    finished = torch.load(out / 'weights' / 'last.pt', map_location='cpu', weights_only=False)
    assert finished['epoch'] == -1 and finished['optimizer'] is None  # stripped: finished
    model = finished['model']
    la = model.model[9]
    assert type(la).__name__ == 'LA' and la.heads == 16
    assert model.yaml['backbone'][9] == [-1, 1, 'LA', []]  # stored as written


def test_train_val_reports_best_pt(run):
    result, again = run['result'], run['again']
    assert result['weights'] == str(run['out'] / 'weights' / 'best.pt')
    best = torch.load(result['weights'], map_location='cpu', weights_only=False)
    assert result['params'] == sum(p.numel() for p in best['model'].parameters())
    assert result['gflops'] is None or 0.01 < result['gflops'] < 1  # yolov5n at 128 px
    assert all(0 <= result[k] <= 1 for k in ('map50', 'map50_95', 'precision', 'recall'))
    assert result['map50_95'] <= result['map50']
    assert result['seconds'] > again['seconds']  # the second call trained nothing
    assert result['cpu_seconds'] > 1 > again['cpu_seconds'] == 0
    costs = ('seconds', 'cpu_seconds')
    assert {k: v for k, v in again.items() if k not in costs} == {
        k: v for k, v in result.items() if k not in costs}


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
    from loosen.yolo.patches import yolov5
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
