"""Ultralytics' patches: offline (no DNS probe, auto-install or telemetry), loosen's names
in tasks.py without replacing Ultralytics' own, bare model names found."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from loosen.patches import ultralytics as patch

pytest.importorskip('ultralytics')


@pytest.fixture(autouse=True)
def installed(tmp_path, monkeypatch):
    monkeypatch.setenv('LOOSEN_CACHE', str(tmp_path / 'cache'))
    patch.install()


def test_offline_before_and_after_ultralytics_is_imported():
    import os

    import ultralytics.utils as utils
    from ultralytics.utils import checks, events
    assert os.environ['YOLO_OFFLINE'] == '1' and os.environ['YOLO_AUTOINSTALL'] == 'false'
    assert utils.ONLINE is False and checks.AUTOINSTALL is False
    assert events.events.enabled is False
    utils.ONLINE = True  # as if ultralytics had been imported before loosen, online
    try:
        patch.offline_state()
        assert utils.ONLINE is False
    finally:
        utils.ONLINE = False


def test_install_is_idempotent_and_keeps_upstream_names():
    from ultralytics.nn import modules, tasks
    parse = tasks.parse_model
    patch.install()
    assert tasks.parse_model is parse and tasks.C3 is modules.C3 and tasks.Detect is modules.Detect
    assert tasks.LA.attention == 'la'


def test_model_files_by_bare_name():
    from ultralytics.utils.checks import check_yaml
    rendered = yaml.safe_load(Path(check_yaml('yolo11n_la.yaml')).read_text())
    assert rendered['backbone'][9] == [-1, 1, 'LA', []]
    assert rendered['backbone'][10][2] == 'SPPF'
