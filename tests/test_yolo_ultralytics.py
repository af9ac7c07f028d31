"""Ultralytics trains its YOLO11 with LA for one epoch through its own ``yolo`` command
(a fresh process, sockets blocked), and a fresh process reloads the weights to validate."""
from __future__ import annotations

import pytest

from yolo_helpers import offline_env, run_yolo

pytest.importorskip('ultralytics')

DATA = 'synthetic:images=10,size=128,seed=3'
COMMON = ['imgsz=128', 'batch=4', 'workers=0', 'device=cpu', 'plots=False', 'amp=False']


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp('ultra')
    env = offline_env(root)
    done = run_yolo(['ultralytics', 'train', 'model=yolo11n_la.yaml', f'data={DATA}',
                     'epochs=1', f'project={root / "runs"}', 'name=t', *COMMON], env, root)
    assert done.returncode == 0, done.stderr[-3000:]
    return root, env, root / 'runs' / 't' / 'weights' / 'best.pt'


def test_one_epoch_of_yolo11n_la(trained):
    root, _, best = trained
    assert best.exists() and (root / 'runs' / 't' / 'results.csv').exists()
    import torch

    from loosen.yolo.patches import ultralytics
    ultralytics.install()
    model = torch.load(best, map_location='cpu', weights_only=False)['model']
    assert type(model.model[9]).__name__ == 'LA' and model.model[9].heads == 16
    assert model.yaml['backbone'][9] == [-1, 1, 'LA', []]  # stored as written


def test_reloads_in_a_fresh_process(trained):
    root, env, best = trained
    done = run_yolo(['ultralytics', 'val', f'model={best}', f'data={DATA}', 'imgsz=128',
                     'batch=4', 'workers=0', 'device=cpu', 'plots=False',
                     f'project={root / "val"}', 'name=v'], env, root)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'mAP50-95' in done.stdout + done.stderr
