"""Pretrained weights across the attention slot: a checkpoint of an upstream YAML (no slot)
loads into loosen's YAMLs with every tensor of the same module and shape, Detect included,
and only the attention at its init; upstream's own "Transferred N/M" line says so.

The layer map is checked on the YAMLs themselves; each load through an entry point
(``loosen yolo train``, plain ``yolov5 train``, ``loosen yolo ultralytics train``,
``YOLO(...).load``) runs in a fresh process with sockets blocked, from a checkpoint the
test saves as the framework saves one, every tensor filled with values no init gives.
A probe keeps the model's state right after the pretrained load and stops the run when
the optimizer is built: that is the model before its first step.
"""
from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from loosen.yolo.models import render
from loosen.yolo.patches import transfer
from yolo_helpers import offline_env, run_yolo

DATA = 'synthetic:images=4,size=64,seed=3'
BIN = Path(sys.executable).parent

# kept after the pretrained load (load_state_dict with strict=False on a YOLO model), then
# the run stops where the optimizer is built, before any step
PROBE = '''
import os, sys, torch
_load = torch.nn.Module.load_state_dict
def _load_and_keep(self, state_dict, strict=True, assign=False):
    result = _load(self, state_dict, strict, assign)
    if not strict and hasattr(self, 'yaml'):
        torch.save({k: v.clone() for k, v in self.state_dict().items()}, os.environ['PROBE'])
    return result
torch.nn.Module.load_state_dict = _load_and_keep
_init = torch.optim.Optimizer.__init__
def _stop(self, *args, **kwargs):
    if os.path.exists(os.environ['PROBE']):
        sys.stdout.flush()
        raise SystemExit(0)
    _init(self, *args, **kwargs)
torch.optim.Optimizer.__init__ = _stop
'''


def upstream_yaml(framework: str, name: str) -> dict:
    if framework == 'yolov5':
        import yolov5
        path = Path(yolov5.__file__).parent / 'models' / name
    else:
        import ultralytics
        path = Path(ultralytics.__file__).parent / 'cfg' / 'models' / '11' / name
    return yaml.safe_load(path.read_text())


def loosen_yaml(name: str) -> dict:
    return yaml.safe_load(render(name))


# the layer map, read off the YAMLs


def test_layers_after_the_slot_move_one_on_detect_included():
    plan = transfer.align(upstream_yaml('yolov5', 'yolov5n.yaml'), loosen_yaml('yolov5n_la.yaml'))
    assert plan.problem is None
    assert plan.index == {**{i: i for i in range(9)}, **{i: i + 1 for i in range(9, 25)}}
    assert [(b.index, b.module) for b in plan.at_init] == [(9, 'LA')]
    back = transfer.align(loosen_yaml('yolov5n_la.yaml'), upstream_yaml('yolov5', 'yolov5n.yaml'))
    assert back.index == {j: i for i, j in plan.index.items()} and back.at_init == ()


def test_yolo11_and_the_plain_slot_map_the_same_way():
    plan = transfer.align(upstream_yaml('ultralytics', 'yolo11.yaml'),
                          loosen_yaml('yolo11n_plain.yaml'))
    assert plan.index == {**{i: i for i in range(9)}, **{i: i + 1 for i in range(9, 24)}}
    assert plan.at_init == ()  # nn.Identity holds nothing


def test_same_yaml_maps_onto_itself_and_slots_fill_only_their_own_module():
    same = transfer.align(loosen_yaml('yolov5n_la.yaml'), loosen_yaml('yolov5n_la.yaml'))
    assert same.identity and len(same.index) == 26 and same.at_init == ()
    other = transfer.align(loosen_yaml('yolov5n_la.yaml'), loosen_yaml('yolov5n_cbam.yaml'))
    assert 9 not in other.index and [b.module for b in other.at_init] == ['CBAM']


def test_another_network_names_the_first_layer_that_disagrees():
    plan = transfer.align(upstream_yaml('ultralytics', 'yolo11.yaml'),
                          loosen_yaml('yolov5nu_la.yaml'))
    assert plan.problem == ("the checkpoint's layer 0 (Conv [64, 3, 2]) where this model has "
                            'layer 0 (Conv [64, 6, 2, 2])')


def test_a_head_wired_to_other_layers_is_another_network():
    rewired = loosen_yaml('yolov5n_la.yaml')
    rewired['head'][2][0] = [-1, 7]  # Concat takes the stride-32 conv instead of layer 6
    plan = transfer.align(upstream_yaml('yolov5', 'yolov5n.yaml'), rewired)
    assert plan.problem == ("the checkpoint's layer 12 (Concat [1]) takes layers [11, 6], this "
                            "model's layer 13 (Concat [1]) takes [12, 7]")


def test_another_width_names_the_first_tensor_that_disagrees():
    pytest.importorskip('yolov5')
    from loosen.yolo.bench import build
    small, nano = build('yolov5s.yaml'), build('yolov5n_la.yaml')
    moved = transfer.transfer_state(small.state_dict(), small.yaml, nano.state_dict(), nano.yaml)
    assert moved.misfit.startswith(
        'the checkpoint is another width or depth: layer 0 (Conv [64, 6, 2, 2]): '
        'model.0.conv.weight is (32, 3, 6, 6) in the checkpoint, (16, 3, 6, 6) in this model')


# loads through the entry points, each in a fresh process


def scramble(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every floating tensor but the anchors set to values no init gives (positive, so
    running variances stay valid)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict(keep_vars=True).items():
            if tensor.dtype.is_floating_point and 'anchor' not in name:
                tensor.copy_(torch.rand(tensor.shape, generator=g) + 0.5)
    return model


def saved(model: torch.nn.Module, path: Path) -> dict[str, torch.Tensor]:
    """Save as both frameworks save a finished run (the model in half precision); returns
    the tensors a loader reads back from it."""
    torch.save({'model': copy.deepcopy(model).half(), 'optimizer': None, 'epoch': -1}, path)
    return dict(copy.deepcopy(model).half().float().state_dict())


def probe_env(root: Path) -> dict[str, str]:
    env = offline_env(root, PROBE, folder='probe')
    env['PROBE'] = str(root / 'loaded.pt')
    return env


def transferred(output: str) -> tuple[int, int]:
    counts = re.findall(r'Transferred (\d+)/(\d+) items', output)
    assert len(counts) == 1, output[-3000:]
    return int(counts[0][0]), int(counts[0][1])


def assert_moved(source: dict, loaded: dict, index: dict[int, int],
                 left: tuple[str, ...] = ()) -> None:
    """Each tensor of checkpoint layer i is the model's tensor of layer index[i], Detect
    included; ``left``: keys the loader leaves out by design (anchors, class outputs)."""
    moved = transfer.renamed(source, index)
    kept = [k for k in moved if not k.startswith(left)]
    for key in kept:
        torch.testing.assert_close(loaded[key], moved[key], rtol=0, atol=0, msg=key)
    detect = max(index.values())
    assert sum(k.startswith(f'model.{detect}.') for k in kept) >= 6


@pytest.fixture(scope='module')
def yolov5n_checkpoint(tmp_path_factory):
    """Upstream ``yolov5n.yaml`` for a 3-class set, saved as YOLOv5 saves a finished run."""
    pytest.importorskip('yolov5')
    from loosen.yolo.bench import build
    model = scramble(build('yolov5n.yaml', nc=3), seed=1)
    path = tmp_path_factory.mktemp('v5') / 'yolov5n_upstream.pt'
    return path, saved(model, path), model.yaml


@pytest.mark.parametrize('entry, cfg', [('loosen', 'yolov5n_la.yaml'),
                                        ('loosen', 'yolov5n_cbam.yaml'),
                                        ('yolov5', 'yolov5n_la.yaml')])
def test_yolov5_train_transfers_every_tensor_but_the_attention(entry, cfg, yolov5n_checkpoint,
                                                               tmp_path):
    path, source, source_yaml = yolov5n_checkpoint
    env = probe_env(tmp_path)
    args = ['train', '--cfg', cfg, '--weights', str(path), '--data', DATA, '--epochs', '1',
            '--img', '64', '--batch-size', '2', '--device', 'cpu', '--workers', '0',
            '--project', str(tmp_path / 'runs'), '--name', 'ft']
    if entry == 'loosen':
        done = run_yolo(args, env, tmp_path)
    else:  # the plain upstream command: loosen comes in through the start-up hook
        done = subprocess.run([sys.executable, str(BIN / 'yolov5'), *args], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = torch.load(tmp_path / 'loaded.pt')
    attention = len(loaded) - len(source)  # LA: 6 tensors, CBAM's: 3
    assert attention == {'yolov5n_la.yaml': 6, 'yolov5n_cbam.yaml': 3}[cfg]
    # every source tensor but the anchors, which train.py leaves out when --cfg is given
    assert transferred(done.stdout + done.stderr) == (len(source) - 1, len(loaded))
    assert_moved(source, loaded, transfer.align(source_yaml, loosen_yaml(cfg)).index,
                 left=('model.25.anchors',))
    assert 'checkpoint layers 9-24 -> 10-25 across the attention slot' in done.stdout + done.stderr


def test_a_checkpoint_of_the_same_yaml_loads_unchanged(tmp_path):
    pytest.importorskip('yolov5')
    from loosen.yolo.bench import build
    model = scramble(build('yolov5n_la.yaml', nc=3), seed=2)
    path = tmp_path / 'la.pt'
    source = saved(model, path)
    done = run_yolo(['train', '--cfg', 'yolov5n_la.yaml', '--weights', str(path), '--data', DATA,
                     '--img', '64', '--device', 'cpu', '--workers', '0',
                     '--project', str(tmp_path / 'runs')], probe_env(tmp_path), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = torch.load(tmp_path / 'loaded.pt')
    assert transferred(done.stdout + done.stderr) == (len(source) - 1, len(source))  # anchors
    assert 'loosen:' not in done.stdout + done.stderr  # nothing moved, nothing to say
    assert_moved(source, loaded, {i: i for i in range(26)}, left=('model.25.anchors',))


@pytest.fixture(scope='module')
def yolo11n_checkpoint(tmp_path_factory):
    pytest.importorskip('ultralytics')
    from loosen.yolo.patches import ultralytics
    ultralytics.install()
    from ultralytics.nn.tasks import DetectionModel
    root = tmp_path_factory.mktemp('u11')
    model = scramble(DetectionModel('yolo11n.yaml', nc=3, verbose=False), seed=3)
    path = root / 'yolo11n_upstream.pt'
    return path, saved(model, path), model.yaml


@pytest.mark.parametrize('entry', ['loosen', 'yolo'])
def test_yolo_train_pretrained_transfers_every_tensor_but_la(entry, yolo11n_checkpoint, tmp_path):
    path, source, source_yaml = yolo11n_checkpoint
    args = ['train', 'model=yolo11n_la.yaml', f'pretrained={path}', f'data={DATA}', 'epochs=1',
            'imgsz=64', 'batch=2', 'workers=0', 'device=cpu', 'plots=False', 'amp=False',
            f'project={tmp_path / "runs"}', 'name=ft']
    env = probe_env(tmp_path)
    if entry == 'loosen':
        done = run_yolo(['ultralytics', *args], env, tmp_path)
    else:  # the plain upstream command: loosen comes in through the start-up hook
        done = subprocess.run([sys.executable, str(BIN / 'yolo'), *args], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = torch.load(tmp_path / 'loaded.pt')
    assert len(loaded) - len(source) == 6  # LA's tensors
    assert transferred(done.stdout + done.stderr) == (len(source), len(loaded))
    assert_moved(source, loaded, transfer.align(source_yaml, loosen_yaml('yolo11n_la.yaml')).index)


LOAD_SCRIPT = '''
import sys, torch
from ultralytics import YOLO
model = YOLO('yolo11n_la.yaml').load(sys.argv[1])
torch.save(model.model.state_dict(), sys.argv[2])
'''


def test_yolo_load_transfers_every_tensor_but_la(yolo11n_checkpoint, tmp_path):
    """``YOLO(yaml).load(pt)`` in a plain script: loosen arrives through the start-up hook."""
    path, source, source_yaml = yolo11n_checkpoint
    done = subprocess.run([sys.executable, '-c', LOAD_SCRIPT, str(path), str(tmp_path / 'l.pt')],
                          env=offline_env(tmp_path), cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = torch.load(tmp_path / 'l.pt')
    # the YAML's 80 classes: Detect's class outputs stay behind (3 convs, weight and bias)
    assert transferred(done.stdout + done.stderr) == (len(source) - 6, len(loaded))
    assert_moved(source, loaded, transfer.align(source_yaml, loosen_yaml('yolo11n_la.yaml')).index,
                 left=tuple(f'model.24.cv3.{b}.2.' for b in range(3)))
