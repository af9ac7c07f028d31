"""``loosen bench`` prints nothing about profilers or GPUs a CPU machine lacks: kineto's
``USDT``/``STAGE`` lines and its GPU probe, inductor's CUDA-runtime warning. A fresh
process, as a user runs it: a tiny ``bench la`` (it profiles memory) with LA compiled."""
import subprocess
import sys

import torch

from yolo_helpers import offline_env

CHATTER = ('USDT', 'STAGE:', 'profiler_start', 'profiler_stop', 'gpuGetDeviceCount',
           'No CUDA runtime', 'kineto', 'CUPTI')


def test_bench_la_says_nothing_about_profilers_or_absent_gpus(tmp_path):
    assert not torch.cuda.is_available()  # what the test is about: a CPU machine
    env = offline_env(tmp_path)
    env.pop('KINETO_LOG_LEVEL', None)
    done = subprocess.run(
        [sys.executable, '-m', 'loosen', 'bench', 'la', '--shapes', '2x32x6x6', '--rounds', '1',
         '--budget', '1', '--threads', '1', '--compile', '--latency-archs',
         '--out', str(tmp_path / 'out')], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / 'out' / 'la.md').is_file()  # it did profile: peak MB in the table
    assert 'peak MB' in done.stdout
    noise = [line for line in (done.stderr + done.stdout).splitlines()
             if any(word in line for word in CHATTER)]
    assert not noise, noise
