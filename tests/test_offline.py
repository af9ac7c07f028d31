"""Every classification entry point runs with the network blocked (the YOLO ones have their
own offline tests): train, test, predict, explain, a timm script through ``loosen run``,
and the accuracy grid's smoke preset, each in a fresh process whose sockets refuse to
connect anywhere but this machine."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from yolo_helpers import offline_env

pytestmark = pytest.mark.slow  # among the slowest files: run first (conftest.py)

SCRIPT = '''
import sys, timm, torch
model = timm.create_model(sys.argv[1], num_classes=2, pretrained=False)
loss = model(torch.randn(2, 3, 64, 64)).logsumexp(1).mean()
loss.backward()
print('trained one step')
'''


def loosen(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run([sys.executable, '-m', 'loosen.cli', *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_entry_points_run_with_the_network_blocked(tmp_path):
    env = offline_env(tmp_path)
    probe = subprocess.run([sys.executable, '-c', 'import socket; socket.create_connection('
                            '("192.0.2.1", 80), timeout=1)'], env=env, capture_output=True,
                           text=True)
    assert 'network blocked by the loosen test' in probe.stderr  # the blocker is in force
    run = tmp_path / 'run'
    loosen(['train', '--model', 'mobilenetv1_la', '--model-kwargs', 'channel_multiplier=0.25',
            '--img-size', '32', '--synthetic-classes', 'arc,clear', '--synthetic-per-class', '8',
            '--epochs', '1', '--batch-size', '4', '--num-workers', '0', '--no-progress',
            '--output-dir', str(run)], env, tmp_path)
    assert 'accuracy' in loosen(['test', '--checkpoint', str(run / 'best.pth')], env, tmp_path)
    frames = tmp_path / 'frames'
    loosen(['data', 'synth', str(frames), '--per-class', '2', '--size', '32', '--classes',
            'arc,clear', '--split', 'val=1'], env, tmp_path)
    loosen(['predict', '--checkpoint', str(run / 'best.pth'), str(frames / 'val')], env,
           tmp_path)
    loosen(['explain', '--checkpoint', str(run / 'best.pth'), '--images', str(frames / 'val'),
            '--out', str(tmp_path / 'maps'), '--method', 'gradcam', 'la'], env, tmp_path)
    assert list((tmp_path / 'maps').glob('*.npy'))
    script = tmp_path / 'upstream_train.py'
    script.write_text(SCRIPT)
    assert 'trained one step' in loosen(['run', str(script), 'resnet34_la'], env, tmp_path)
    loosen(['bench', 'accuracy', '--preset', 'smoke', '--archs', 'alexnet', '--seeds', '0',
            '--jobs', '1', '--out', str(tmp_path / 'grid')], env, tmp_path)
    assert (tmp_path / 'grid' / 'results.csv').is_file()
