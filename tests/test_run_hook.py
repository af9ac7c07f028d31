"""Upstream scripts that import only timm see loosen's models: through ``loosen run``,
``python -m loosen.run`` (also under torchrun), and the start-up hook an install adds.

Every script runs in a fresh interpreter, as a user would start it.
"""
import importlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

import loosen
from loosen.cli import main
from loosen.patches import hook

pytestmark = pytest.mark.slow  # among the slowest files: run first (conftest.py)

ROOT = Path(__file__).resolve().parents[1]
HOOK_PTH = Path(loosen.__file__).parent / 'patches' / 'loosen_hook.pth'

# an upstream-style training script: it has never heard of loosen
UPSTREAM = '''
import sys
import timm
import torch

model = timm.create_model(sys.argv[1], num_classes=3)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
images, labels = torch.randn(2, 3, 64, 64), torch.tensor([0, 2])
before = torch.nn.functional.cross_entropy(model(images), labels)
before.backward()
optimizer.step()
print('trained', sys.argv[1], type(model).__name__, f'{before.item():.4f}')
'''


def _run(args, tmp_path, env=None, timeout=240):
    script = tmp_path / 'train_upstream.py'
    script.write_text(UPSTREAM)
    command = [sys.executable, *[str(script) if a == 'SCRIPT' else a for a in args]]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          cwd=tmp_path, env={**os.environ, 'OMP_NUM_THREADS': '1', **(env or {})})


def _trained(done, model, cls):
    assert done.returncode == 0, done.stderr[-3000:]
    line = done.stdout.strip().splitlines()[-1].split()
    assert line[:3] == ['trained', model, cls]
    assert 0 < float(line[3]) < 20  # a real loss was computed, then stepped


def test_loosen_run_trains_rmt_through_a_script_that_imports_only_timm(tmp_path):
    _trained(_run(['-m', 'loosen.cli', 'run', 'SCRIPT', 'rmt_s_la'], tmp_path), 'rmt_s_la',
             'RMT')


def test_python_m_loosen_run_passes_the_scripts_own_arguments(tmp_path):
    _trained(_run(['-m', 'loosen.run', 'SCRIPT', 'resnet34_eca'], tmp_path), 'resnet34_eca',
             'AttentionResNet')


def test_startup_hook_makes_plain_python_see_the_models(tmp_path):
    """site processes the installed ``loosen_hook.pth`` at start-up; ``addsitedir`` is that
    step for a directory holding a copy of it. ``LOOSEN_HOOK=0`` turns it off."""
    site_dir = tmp_path / 'site'
    site_dir.mkdir()
    shutil.copy(HOOK_PTH, site_dir)
    start = ('import runpy, site, sys; site.addsitedir(sys.argv[1]); sys.argv = sys.argv[2:]; '
             'runpy.run_path(sys.argv[0], run_name="__main__")')
    args = ['-c', start, str(site_dir), 'SCRIPT', 'rmt_s_la']
    _trained(_run(args, tmp_path), 'rmt_s_la', 'RMT')
    off = _run(args, tmp_path, env={'LOOSEN_HOOK': '0'})
    assert off.returncode != 0 and 'Unknown model (rmt_s_la)' in off.stderr


def test_python_m_loosen_run_under_torchrun(tmp_path):
    script = tmp_path / 'ranks.py'
    script.write_text('import os, timm\n'
                      'print("rank", os.environ["RANK"], timm.is_model("mobilenetv1_la"))\n')
    done = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
         '-m', 'loosen.run', str(script)], capture_output=True, text=True, timeout=240,
        env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(line for line in done.stdout.splitlines() if line.startswith('rank')) == \
        ['rank 0 True', 'rank 1 True']


def test_missing_script_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(['run', str(tmp_path / 'nope.py')]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('loosen: error: no script ') and '\n' not in err


@pytest.mark.parametrize('order', ['from loosen import LA; import timm.models',
                                   'import timm; import loosen'])
def test_import_loosen_registers_the_models_whatever_the_order(order):
    """LA's module imports timm's layers, so timm's models can finish importing while
    loosen.attention is half-done: registration waits for it."""
    code = f'{order}; import timm; print(timm.is_model("rmt_s_la"), timm.is_model("zfnet_gcsa"))'
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ['True', 'True']


def test_import_loosen_imports_neither_torch_nor_timm():
    code = 'import sys, loosen; print(sorted({"torch", "timm"} & set(sys.modules)))'
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=60, env={**os.environ, 'LOOSEN_HOOK': '0'})
    assert done.returncode == 0 and done.stdout.strip() == '[]', done.stderr


def test_installer_runs_once_after_its_module_and_absent_installers_are_skipped(
        tmp_path, monkeypatch):
    (tmp_path / 'upstream_for_hook.py').write_text('READY = True\n')
    (tmp_path / 'installer_for_hook.py').write_text(
        'import sys\nCALLS = []\n'
        'def install():\n    CALLS.append(sys.modules["upstream_for_hook"].READY)\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    finder = hook.PostImportFinder({'upstream_for_hook': 'installer_for_hook:install',
                                    'json': 'loosen.patches.no_such_installer:install'})
    monkeypatch.setattr(sys, 'meta_path', [finder, *sys.meta_path])
    importlib.import_module('upstream_for_hook')
    import installer_for_hook  # imported by the finder already
    assert installer_for_hook.CALLS == [True]
    assert finder in sys.meta_path  # still waiting for json's (absent) installer
    assert hook.run_installer('loosen.patches.no_such_installer:install') is False
    monkeypatch.delitem(sys.modules, 'json')
    import json as _json  # noqa: F401
    assert finder not in sys.meta_path  # nothing left to wait for
    assert installer_for_hook.CALLS == [True]


def test_every_installer_names_a_function_of_loosen():
    # run_installer skips a module that does not exist, so a stale name would go unnoticed
    for upstream, target in hook.INSTALLERS.items():
        module, _, function = target.partition(':')
        assert callable(getattr(importlib.import_module(module), function, None)), upstream


def test_an_install_of_this_checkout_puts_the_hook_in_site_packages():
    try:
        dist = importlib.metadata.distribution('loosen')
    except importlib.metadata.PackageNotFoundError:
        pytest.skip('loosen is not installed')
    url = json.loads(dist.read_text('direct_url.json') or '{}').get('url', '')
    if not url or Path(urlparse(url).path).resolve() != ROOT:
        pytest.skip(f'the installed loosen comes from {url or "an index"}, not {ROOT}')
    assert 'loosen_hook.pth' in {str(f) for f in dist.files}
