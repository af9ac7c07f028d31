"""Shared by the YOLO tests: run ``python -m loosen.yolo`` in a fresh process, offline."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / 'src'

# a sitecustomize that makes every internet connection and name lookup fail (local unix
# sockets, which data-loader workers use, still work)
NO_NETWORK = '''
import socket
_connect = socket.socket.connect
def _refuse(*args, **kwargs):
    raise OSError('network blocked by the loosen test')
def _local_only(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        _refuse()
    return _connect(sock, address)
socket.socket.connect = _local_only
socket.socket.connect_ex = _local_only
socket.getaddrinfo = _refuse
'''


def offline_env(root: Path, startup: str = '', folder: str = 'no_network') -> dict[str, str]:
    """Environment for a subprocess: sockets blocked, caches and config dirs under ``root``;
    ``startup`` is more code its sitecustomize runs (in ``root / folder``)."""
    blocker = root / folder
    blocker.mkdir(parents=True, exist_ok=True)
    (blocker / 'sitecustomize.py').write_text(NO_NETWORK + startup)
    env = dict(os.environ)
    env.update(PYTHONPATH=os.pathsep.join([str(blocker), str(SRC)]),
               LOOSEN_CACHE=str(root / 'cache'), YOLOV5_CONFIG_DIR=str(root / 'config'),
               YOLO_CONFIG_DIR=str(root / 'config'), OMP_NUM_THREADS='2',
               PYTHONWARNINGS='ignore')
    return env


def run_yolo(args: list[str], env: dict[str, str], cwd: Path,
             timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'loosen.yolo', *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
