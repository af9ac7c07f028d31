"""Ultralytics' patches: offline (no DNS probe, auto-install or telemetry), loosen's names
in tasks.py without replacing Ultralytics' own, bare model names found."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from loosen.yolo.patches import ultralytics as patch

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


def test_unreadable_images_keep_pils_error_after_ultralytics(tmp_path):
    """After ultralytics is imported (it wraps PIL.Image.open for HEIF files), a file that is
    not an image still raises PIL's UnidentifiedImageError, which loosen's readers report."""
    import ultralytics.utils.patches  # noqa: F401  (applies ultralytics' Image.open)
    from PIL import Image, UnidentifiedImageError

    from loosen.yolo.patches import ultralytics as patch

    bad = tmp_path / 'frame.png'
    bad.write_bytes(b'not an image at all')
    patch.install()
    with pytest.raises(UnidentifiedImageError):
        Image.open(bad)


def test_importing_yolov5_after_loosen_keeps_pils_open():
    """YOLOv5 imports ultralytics' PIL patches; loosen's hook gives PIL its own open back
    (in a fresh process, as a user's script would run)."""
    import subprocess
    import sys

    code = ('import loosen, yolov5.models.yolo, ultralytics.utils.patches as up; '
            'from PIL import Image; print(Image.open is up._image_open)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == 'True'
