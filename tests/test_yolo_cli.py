"""``loosen yolo``: the model list, and bad input to YOLOv5's own train.py as one line and
exit code 2 (unknown module, heads that do not divide the width, missing dataset paths)."""
from __future__ import annotations

import pytest
import yaml

from loosen.cli import main
from loosen.yolo.models import list_models, render

pytest.importorskip('yolov5')


def test_models_lists_every_name_and_shows_one(capsys):
    assert main(['yolo', 'models']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list_models()
    assert main(['yolo', 'models', '--show', 'yolov5s_la.yaml']) == 0
    assert capsys.readouterr().out == render('yolov5s_la.yaml')


def test_unknown_model_name_is_one_line(capsys):
    assert main(['yolo', 'models', '--show', 'yolov5s_lla.yaml']) == 2
    err = capsys.readouterr().err.strip()
    assert '\n' not in err and "did you mean 'yolov5s_la.yaml'" in err


def bad_yaml(tmp_path, slot):
    d = yaml.safe_load(render('yolov5n_plain.yaml'))
    d['backbone'][9] = slot
    path = tmp_path / 'bad.yaml'
    path.write_text(yaml.safe_dump(d))
    return path


@pytest.mark.parametrize('case,message', [
    ('module', "unknown module 'LAA' in layer 9 of the model YAML; did you mean LA"),
    ('heads', 'C=256 is not divisible by heads=24; use heads=16 or 32'),
    ('data', 'missing val: '),
])
def test_bad_input_to_train_is_one_line_and_exit_2(case, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('LOOSEN_CACHE', str(tmp_path / 'cache'))
    monkeypatch.chdir(tmp_path)
    cfg = {'module': [-1, 1, 'LAA', []], 'heads': [-1, 1, 'LA', [24]]}.get(case)
    data = 'synthetic:images=5,size=64'
    if case == 'data':
        (tmp_path / 'images' / 'train').mkdir(parents=True)
        data = str(tmp_path / 'data.yaml')
        (tmp_path / 'data.yaml').write_text(yaml.safe_dump(
            {'path': str(tmp_path), 'train': 'images/train', 'val': 'images/val', 'names': ['a']}))
    code = main(['yolo', 'train', '--cfg', str(bad_yaml(tmp_path, cfg or [-1, 1, 'LA', []])),
                 '--data', data, '--weights', '', '--epochs', '1', '--img', '64',
                 '--device', 'cpu', '--workers', '0', '--project', str(tmp_path / 'runs')])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith('loosen: error: ') and message in err[-1]
