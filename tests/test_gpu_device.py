"""The GPU check's one call on the lent GPU machine, as far as a CPU machine can check it:
the carried wheels' requirements check (on a tiny fake wheel set, installed by pip with
no index), the module hider that runs the CPU check as that machine would, the device
script end to end (one part, on the CPU, offline), and an interrupted check leaving no
part running. No download: about 30 s in all."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from loosen.bench import gpu_wheels
from loosen.bench.gpu_wheels import CARRIED, NEVER_CARRIED, Wheel, check, hide, normalize
from yolo_helpers import offline_env

pytestmark = pytest.mark.slow  # among the slowest files: run first (conftest.py)

ROOT = Path(__file__).resolve().parents[1]
PIP_TARGET = [sys.executable, '-m', 'pip', 'install', '--quiet', '--no-index', '--no-deps',
              '--disable-pip-version-check', '--target']


def fake_wheel(folder: Path, name: str, version: str, requires: list[str] = ()) -> Path:
    """A pure-Python wheel of one empty module, with ``requires`` as its Requires-Dist."""
    info = f'{name}-{version}.dist-info'
    meta = '\n'.join(['Metadata-Version: 2.1', f'Name: {name}', f'Version: {version}',
                      *(f'Requires-Dist: {r}' for r in requires)]) + '\n'
    files = {f'{name}/__init__.py': '', f'{info}/METADATA': meta,
             f'{info}/WHEEL': 'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n'
                              'Tag: py3-none-any\n'}
    files[f'{info}/RECORD'] = ''.join(f'{f},,\n' for f in [*files, f'{info}/RECORD'])
    path = folder / f'{name}-{version}-py3-none-any.whl'
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, 'w') as whl:
        for file, text in files.items():
            whl.writestr(file, text)
    return path


def pip_install(wheels: list[Path], site: Path) -> None:
    subprocess.run([*PIP_TARGET, str(site), *map(str, wheels)], check=True, timeout=120)


def test_check_meets_each_requirement_or_names_what_is_unmet(tmp_path):
    wheels = [fake_wheel(tmp_path / 'w', 'alpha', '1.0', [
        'beta>=2', 'tqdm', 'opencv-python>=4', 'polars>=0.20', 'numpy<2', 'absent-one',
        'gamma; extra == "dev"', 'delta; python_version < "3.8"',
        'epsilon; platform_system == "Windows"', 'beta<3; python_version >= "3.12"']),
        fake_wheel(tmp_path / 'w', 'beta', '2.1'), fake_wheel(tmp_path / 'w', 'stray', '0.1')]
    pip_install(wheels, tmp_path / 'site')
    carried = [Wheel('alpha', '1.0', 'x'), Wheel('Beta', '2.1', 'x'), Wheel('zeta', '1', 'x'),
               Wheel('nvidia-cublas', '13', 'x')]
    device = {'numpy': '2.5.2', 'tqdm': None, 'opencv-python-headless': None}
    found = {f.about: f for f in check(tmp_path / 'site', carried, device,
                                       substitutes={'opencv-python': 'opencv-python-headless'},
                                       left_out={'polars': 'not imported'})}
    unmet = {about: f.how for about, f in found.items() if not f.met}
    assert unmet == {
        'zeta': f'pinned 1, not in {tmp_path / "site"}',
        'nvidia-cublas': 'never carried: the machine has its own CUDA build',
        'stray': f'in {tmp_path / "site"} but not pinned',
        'alpha needs numpy<2': "on the machine, 2.5.2: doesn't fit: carry one that does",
        'alpha needs absent-one': 'MISSING: neither carried nor on the machine'}
    assert found['alpha needs beta>=2'].how == 'carried 2.1'
    assert found['alpha needs beta<3'].met  # its marker read as on the machine: Python 3.12
    assert found['alpha needs tqdm'].how == 'on the machine (version not known)'
    assert 'opencv-python-headless instead' in found['alpha needs opencv-python>=4'].how
    assert found['alpha needs polars>=0.20'].how == 'left out: not imported'
    assert not [a for a in found if re.search('gamma|delta|epsilon', a)]  # extras, markers


def test_the_pins_are_what_make_gpu_wheels_downloads(capsys):
    names = [normalize(w.name) for w in CARRIED]
    assert len(set(names)) == len(names)  # one version of each, or pip stops the install
    assert not [n for n in names if NEVER_CARRIED.match(n)]
    for flag, sdist in (('--binary', False), ('--sdist', True)):
        assert gpu_wheels.main(['pins', flag]) == 0
        assert capsys.readouterr().out.split() == [w.pin for w in CARRIED if w.sdist == sdist]
    dry = subprocess.run(['make', '-n', 'gpu-wheels', 'PYTHON=python3', 'PY312=py312'],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    download, build, install, checked = (
        next(line for line in dry.splitlines() if word in line)
        for word in ('pip download', 'pip wheel', 'py312 -m pip install', 'gpu_wheels check'))
    assert '--only-binary=:all: --python-version 3.12 --implementation cp' in download
    assert 'pins --binary' in dry and 'pins --sdist' in build
    assert '--platform manylinux_2_17_x86_64' in download and '--no-index' in install
    assert 'build/gpu-site' in checked


def test_hide_makes_what_the_machine_lacks_unimportable(tmp_path):
    allowed = [d.metadata['Name'] for d in metadata.distributions()
               if normalize(d.metadata['Name']) != 'pyyaml']
    hide(tmp_path, allowed)
    env = {**os.environ, 'PYTHONPATH': str(tmp_path)}
    code = 'import tqdm\ntry:\n    import yaml\nexcept ModuleNotFoundError as e:\n    print(e)'
    done = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "No module named 'yaml' (hidden: the GPU machine lacks it)"


def test_the_device_script_brings_back_what_the_device_tool_can(tmp_path):
    wheels = tmp_path / 'wheels'
    fake_wheel(wheels, 'carried_probe', '1.0', ['tqdm'])
    out, site = tmp_path / 'out', tmp_path / 'site'
    env = {**offline_env(tmp_path), 'OUT': str(out), 'PYTHON': sys.executable,
           'WHEELS': str(wheels), 'SITE': str(site), 'RUN': str(tmp_path / 'run'),
           'GPU_FLAGS': '--device cpu --tiny --parts env', 'OMP_NUM_THREADS': '1'}
    done = subprocess.run(['bash', 'scripts/gpu-check.sh'], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert (site / 'carried_probe-1.0.dist-info').is_dir()
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob('*') if p.is_file())
    assert files == ['log.txt', 'parts/env.txt', 'report.md', 'results.json']
    assert all(re.fullmatch(r'[\w.-]+(/[\w.-]+){0,2}', f) for f in files)  # <= 2 folders down
    log = (out / 'log.txt').read_text()
    assert 'carried-probe: in' in log and 'unmet' in log  # the check ran, named the stray
    assert 'env: done' in log and log.rstrip().endswith('results.json')
    assert '## Machine\n\nStatus: done.' in (out / 'report.md').read_text()
    assert (out / 'parts' / 'env.txt').read_text().startswith('{\n "part": "env"')


def test_an_interrupted_check_leaves_no_part_running(tmp_path):
    psutil = pytest.importorskip('psutil')  # there with loosen[yolo]
    main = subprocess.Popen([sys.executable, '-m', 'loosen', 'bench', 'gpu', '--device', 'cpu',
                             '--tiny', '--parts', 'la', '--out', str(tmp_path)],
                            env=offline_env(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline, parts = time.monotonic() + 120, []
    while main.poll() is None and time.monotonic() < deadline and not any(
            'part_main' in ' '.join(p.cmdline()) for p in parts):  # the la part, started
        time.sleep(0.05)
        parts = psutil.Process(main.pid).children(recursive=True)
    time.sleep(0.5)  # main back in its wait for the part
    assert parts and main.poll() is None
    main.send_signal(signal.SIGINT)  # what scripts/gpu-check.sh's timeout sends
    _, err = main.communicate(timeout=30)
    assert main.returncode == 130 and 'loosen: interrupted' in err
    _, alive = psutil.wait_procs(parts, timeout=10)
    left = [p.cmdline() for p in alive]
    for process in alive:  # not left behind by a failure
        process.kill()
    assert not left
