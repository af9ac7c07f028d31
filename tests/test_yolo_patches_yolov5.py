"""Each YOLOv5 patch on its own: what breaks without it, fixed, offline, and only where
meant (checkpoint and export defaults change for YOLOv5's own call sites alone)."""
from __future__ import annotations

import argparse
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from loosen.errors import LoosenError
from loosen.patches import callers
from loosen.yolo.patches import yolov5

pytest.importorskip('yolov5')


@pytest.fixture(autouse=True)
def installed(tmp_path, monkeypatch):
    monkeypatch.setenv('LOOSEN_CACHE', str(tmp_path / 'cache'))
    yolov5.install()


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError('network blocked by the test')
    monkeypatch.setattr(socket.socket, 'connect', refuse)
    monkeypatch.setattr(socket, 'getaddrinfo', refuse)


def run_as_if_in(folder: Path, source: str, namespace: dict) -> dict:
    """Execute ``source`` as code from a file under ``folder`` (an upstream call site)."""
    exec(compile(source, str(folder / 'call_site.py'), 'exec'), namespace)
    return namespace


def test_install_is_idempotent():
    from yolov5.models import yolo
    from yolov5.utils import general
    parse, check_file, load = yolo.parse_model, general.check_file, torch.load
    yolov5.install()
    assert (yolo.parse_model, general.check_file, torch.load) == (parse, check_file, load)
    assert not getattr(yolo.parse_model.__wrapped__, '__loosen_patch__', False)


def test_names_reach_modules_that_imported_them_before():
    import yolov5.train
    from yolov5.utils import general
    assert yolov5.train.check_file is general.check_file
    assert general.check_file.__loosen_patch__


def test_checkpoints_load_whole_models_only_for_yolov5(tmp_path):
    path = tmp_path / 'ckpt.pt'
    torch.save({'opt': argparse.Namespace(epochs=3)}, path)  # not a plain-weights file
    got = run_as_if_in(yolov5.package_root(), 'ckpt = torch.load(path)',
                       {'torch': torch, 'path': path})
    assert got['ckpt']['opt'].epochs == 3
    with pytest.raises(Exception, match='weights_only'):
        torch.load(path)  # everyone else keeps torch's safe default


def test_defaults_apply_to_the_named_folder_only(tmp_path):
    seen = []
    call = callers.default_for(lambda **kw: seen.append(kw), tmp_path, dynamo=False)
    run_as_if_in(tmp_path, 'call()', {'call': call})
    run_as_if_in(tmp_path, 'call(dynamo=True)', {'call': call})
    call()
    assert seen == [{'dynamo': False}, {'dynamo': True}, {}]
    assert torch.onnx.export.__loosen_patch__ == str(yolov5.package_root())


def test_defaults_reach_callers_through_a_linked_folder(tmp_path):
    """A virtualenv reached through a symbolic link runs its files under the link's path,
    while the package's folder is named resolved."""
    real, link = tmp_path / 'real', tmp_path / 'link'
    real.mkdir()
    link.symlink_to(real)
    seen = []
    call = callers.default_for(lambda **kw: seen.append(kw), real, weights_only=False)
    run_as_if_in(link, 'call()', {'call': call})
    assert seen == [{'weights_only': False}]


def test_trapz_is_trapezoid():
    x = np.linspace(0, 1, 11)
    assert np.trapz(x ** 2, x) == pytest.approx(np.trapezoid(x ** 2, x))


def test_font_getsize_measures_text():
    from PIL import ImageFont
    font = ImageFont.truetype(str(yolov5.bundled_font()), 20)
    wide, narrow = font.getsize('spot 0.91'), font.getsize('i')
    left, _, right, bottom = font.getbbox('spot 0.91')
    assert wide == (right - left, bottom) and wide[0] > narrow[0] > 0


def test_check_font_serves_a_bundled_font_offline(tmp_path, monkeypatch, no_network):
    from yolov5.utils import general
    monkeypatch.setattr(general, 'CONFIG_DIR', tmp_path / 'config')
    general.check_font('Arial.ttf')
    served = tmp_path / 'config' / 'Arial.ttf'
    assert served.read_bytes() == yolov5.bundled_font().read_bytes()


def test_local_weights_never_ask_the_hub(tmp_path, monkeypatch, no_network):
    from yolov5.utils import downloads
    weights = tmp_path / 'runs' / 'best.pt'
    weights.parent.mkdir()
    weights.write_bytes(b'')
    monkeypatch.chdir(tmp_path)
    assert downloads.attempt_download_from_hub('runs/best.pt') is None


def test_check_file_finds_models_hyps_and_synthetic_sets():
    from yolov5.utils.general import check_file, check_yaml
    model = Path(check_yaml('yolov5s_la.yaml'))
    assert yaml.safe_load(model.read_text())['backbone'][9] == [-1, 1, 'LA', []]
    hyp = Path(check_yaml('data/hyps/hyp.scratch-low.yaml'))
    assert hyp == yolov5.package_root() / 'data' / 'hyps' / 'hyp.scratch-low.yaml'
    spec = yaml.safe_load(Path(check_file('synthetic:images=5,size=64')).read_text())
    assert len(list(Path(spec['path'], spec['val']).glob('*.png'))) == 1
    assert check_file('synthetic:images=5,size=64') == check_file('synthetic:size=64,images=5')


def test_dataset_with_missing_paths_is_refused_not_downloaded(tmp_path, no_network):
    from yolov5.utils.general import check_dataset
    spec = tmp_path / 'set.yaml'
    spec.write_text(yaml.safe_dump({'path': str(tmp_path), 'train': 'images/train',
                                    'val': 'images/val', 'names': ['a'],
                                    'download': 'https://example.com/set.zip'}))
    with pytest.raises(LoosenError, match=r'missing train: .*images/train; val: .*images/val'):
        check_dataset(str(spec))
