"""``loosen bench accuracy``: the smoke grid writes every output, a killed grid resumes
where it stopped, Ray gives the local executor's numbers, and the report's statistics
and radar plot say what they should."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loosen.cli import build_parser, main
from loosen.data import write_synthetic
from loosen.errors import LoosenError
from loosen.experiments.cli import header, spec_from_args
from loosen.experiments.radar import INNER, OUTER, radar_data, radar_figure
from loosen.experiments.regimes import reported_split, write_subset
from loosen.experiments.spec import GridSpec
from loosen.experiments.statistics import gains, paired_gain

pytestmark = pytest.mark.slow  # among the slowest files: run first (conftest.py)

SMOKE = ['bench', 'accuracy', '--preset', 'smoke', '--threads', '1', '--no-progress']
TIMES = ('train_seconds', 'wall_seconds')  # the only columns that may differ between runs


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as f:
        return {row['key']: row for row in csv.DictReader(f)}


@pytest.fixture(scope='module')
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp('smoke')
    assert main([*SMOKE, '--out', str(out), '--jobs', '2']) == 0
    return out


def test_smoke_preset_writes_every_output(smoke):
    for name in ('results.csv', 'report.md', 'radar_24.png', 'gain.png', 'heatmap.png',
                 'grid.json'):
        assert (smoke / name).stat().st_size > 0, name
    rows = _rows(smoke / 'results.csv')
    assert sorted(rows) == sorted(f'{a}_{t}_n24_s{s}' for a in ('mobilenetv1', 'alexnet')
                                  for t in ('plain', 'la') for s in (0, 1))
    for row in rows.values():
        assert row['status'] == 'done'
        assert 0 <= float(row['accuracy']) <= 1 and 0 <= float(row['macro_f1']) <= 1
        assert {'f1_arc', 'f1_drapery', 'f1_hotspot', 'f1_radial', 'balanced_accuracy',
                'loss', 'params', 'train_seconds'} <= set(row)
        assert int(row['images_seen']) == 2 * 24  # 2 epochs of 24 images in batches of 8
        assert int(row['scored_epoch']) == 2  # the presets' select: the last epoch
    # the attention module is the only difference: LA adds its parameters, at AlexNet's
    # release spot 32 heads: 2*32*1 + 1 + 32 + 3 = 100
    for seed in (0, 1):
        assert (int(rows[f'alexnet_la_n24_s{seed}']['params'])
                - int(rows[f'alexnet_plain_n24_s{seed}']['params'])) == 100
    report = (smoke / 'report.md').read_text()
    for part in ('Mean ± std over 2 seeds', 'Gain over plain', 'Ranking', '## Which differences '
                 'are real', '![radar 24](radar_24.png)', '8 done, 0 failed'):
        assert part in report
    # every cell of a seed trained on the same subset: one folder per (size, seed)
    assert sorted(p.name for p in (smoke / 'subsets').iterdir()) == ['n24_s0', 'n24_s1']


def test_ray_executor_gives_the_local_numbers(smoke, tmp_path, monkeypatch):
    ray = pytest.importorskip('ray')
    monkeypatch.setenv('RAY_worker_niceness', '0')  # Ray's default 15 starves on a busy machine
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        out = tmp_path / 'ray'
        assert main([*SMOKE, '--archs', 'mobilenetv1', '--seeds', '0', '--executor', 'ray',
                     '--out', str(out)]) == 0
    finally:
        ray.shutdown()
    found, local = _rows(out / 'results.csv'), _rows(smoke / 'results.csv')
    assert sorted(found) == ['mobilenetv1_la_n24_s0', 'mobilenetv1_plain_n24_s0']
    for key, row in found.items():  # the test loss too: every weight ended the same
        assert {k: v for k, v in row.items() if k not in TIMES} == \
            {k: v for k, v in local[key].items() if k not in TIMES}
    # ... and that is no accident of a constant: the module changes the loss
    assert found['mobilenetv1_la_n24_s0']['loss'] != found['mobilenetv1_plain_n24_s0']['loss']


def test_a_killed_grid_resumes_without_redoing_finished_cells(tmp_path):
    out = tmp_path / 'grid'
    args = [*SMOKE, '--archs', 'alexnet', '--seeds', '0', '--epochs', '3', '--out', str(out)]
    second = out / 'cells' / 'alexnet_la_n24_s0'
    proc = subprocess.Popen([sys.executable, '-m', 'loosen.cli', *args], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (second / 'train' / 'last.pth').is_file() and proc.poll() is None:
            assert time.monotonic() < deadline, 'the grid never reached its second cell'
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    first = out / 'cells' / 'alexnet_plain_n24_s0' / 'result.json'
    assert first.is_file() and not (second / 'result.json').is_file()
    stamp = first.stat().st_mtime_ns
    assert main(args) == 0
    assert first.stat().st_mtime_ns == stamp  # finished: not run again
    log = (second / 'train' / 'train.log').read_text()
    assert 'resumed' in log  # continued from its last checkpoint
    rows = _rows(out / 'results.csv')
    assert rows['alexnet_la_n24_s0']['status'] == 'done'
    assert rows['alexnet_la_n24_s0']['epochs'] == '3'
    assert len((second / 'train' / 'metrics.csv').read_text().splitlines()) == 1 + 3


def test_a_failed_cell_is_recorded_with_its_error_and_the_grid_goes_on(tmp_path):
    out = tmp_path / 'grid'
    # 24 training images cannot fill one batch of 64: both cells fail inside the engine
    assert main([*SMOKE, '--archs', 'mobilenetv1', '--seeds', '0', '--batch-size', '64',
                 '--out', str(out)]) == 1
    rows = _rows(out / 'results.csv')
    assert sorted(rows) == ['mobilenetv1_la_n24_s0', 'mobilenetv1_plain_n24_s0']
    for key, row in rows.items():
        assert row['status'] == 'failed' and 'batch-size 64' in row['error']
        assert f'failed: `{key}`: LoosenError: --batch-size 64' in (out / 'report.md').read_text()


def test_radar_has_one_axis_per_arch_and_one_polygon_per_attention():
    archs, attentions = ['resnet34', 'alexnet', 'vit_small'], ['plain', 'cbam', 'la']
    values = {('resnet34', 'plain'): 55.0, ('resnet34', 'cbam'): 56.0, ('resnet34', 'la'): 57.1,
              ('alexnet', 'plain'): 50.0, ('alexnet', 'cbam'): 54.0, ('alexnet', 'la'): 55.3,
              ('vit_small', 'plain'): 90.0, ('vit_small', 'cbam'): 91.0, ('vit_small', 'la'): 92.1}
    means = pd.DataFrame([{'arch': a, 'attention': t, 'mean': v} for (a, t), v in values.items()])
    radar = radar_data(means, archs, attentions)
    assert radar.values.shape == (3, 3) and radar.values[2, 1] == 55.3
    # each axis on its own scale: the lowest value near the centre, the highest near the rim
    radii = radar.radii
    assert np.all((radii > INNER) & (radii < OUTER))
    assert np.all(radii.argmax(0) == 2) and np.all(radii.argmin(0) == 0)
    fig = radar_figure(radar, '4000 training images', 'caption text')
    ax = fig.axes[0]
    names = [t.get_text() for t in ax.texts if t.get_fontweight() == 'bold']
    assert names == archs  # each axis's block of values starts with its name
    _, labels = ax.get_legend_handles_labels()
    assert labels == attentions
    assert sorted(t.get_text() for t in ax.texts if t.get_text().split(' ')[0] in attentions
                  ) == sorted(f'{t} {v:.1f}' for (_, t), v in values.items())  # one seed
    assert any('caption text' in t.get_text() for t in fig.texts)


def test_gain_is_paired_by_seed_with_a_t_interval():
    found = paired_gain(np.array([1.0, 2.0, 3.0]))
    # mean 2, sd 1, t(0.975, 2) = 4.3027: half-width 4.3027 / sqrt(3) = 2.4841; t = 3.4641
    assert found['gain'] == pytest.approx(2.0)
    assert found['low'] == pytest.approx(2 - 2.4841, abs=1e-3)
    assert found['high'] == pytest.approx(2 + 2.4841, abs=1e-3)
    assert found['p'] == pytest.approx(0.0742, abs=1e-3)
    # pairing: plain and la differ a lot across seeds but la is always 1 point above
    frame = pd.DataFrame([{'size': 10, 'arch': 'a', 'attention': t, 'seed': s, 'status': 'done',
                           'score': base + (t == 'la')}
                          for s, base in enumerate([40.0, 60.0, 80.0]) for t in ('plain', 'la')])
    row = gains(frame).iloc[0]
    assert row['gain'] == pytest.approx(1.0) and row['exceeds_noise']


def test_fewer_training_images_than_asked_uses_them_all_and_val_is_the_test_set(tmp_path):
    data = write_synthetic(tmp_path / 'data', 10, 32, classes=['arc', 'clear'],
                           split={'train': 0.6, 'val': 0.4, 'test': 0})
    assert reported_split(data) == 'val'
    args = build_parser('bench').parse_args([*SMOKE, '--data', str(data), '--archs', 'mobilenetv1',
                                      '--train-sizes', '8,100', '--out', str(tmp_path / 'g')])
    spec = spec_from_args(args)
    assert spec.test_split == 'val'
    small, large = (next(c for c in spec.cells() if c.size == n) for n in (8, 100))
    assert write_subset(spec, small) == {'requested': 8, 'available': 12, 'used': 8,
                                         'per_class': {'arc': 4, 'clear': 4}}
    assert write_subset(spec, large)['used'] == 12
    assert len(list((spec.subset_dir(large) / 'train').rglob('*.png'))) == 12
    assert len(list((spec.subset_dir(large) / 'val').rglob('*.png'))) == 8


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / 'g'
    assert main([*SMOKE, '--archs', 'resnet43', '--out', str(out)]) == 2
    assert "unknown arch 'resnet43'" in capsys.readouterr().err and not out.exists()
    assert main([*SMOKE, '--attentions', 'la,cbamm', '--out', str(out)]) == 2
    assert 'cbam' in capsys.readouterr().err and not out.exists()
    spec = spec_from_args(build_parser('bench').parse_args([*SMOKE, '--out', str(out)]))
    spec.root.mkdir()
    spec.save()
    spec.epochs = 5
    with pytest.raises(LoosenError, match='other epochs'):
        spec.save()
    assert GridSpec.load(out).epochs == 2


def test_det_weights_name_the_checkpoint_every_yolo_cell_fine_tunes_from(tmp_path, capsys):
    out = tmp_path / 'g'
    assert main([*SMOKE, '--archs', 'yolov5n', '--det-weights', 'yolov5n.pt', '--out',
                 str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'yolov5n.pt' in err and 'never downloads' in err
    assert not out.exists()
    weights = tmp_path / 'yolov5n.pt'
    weights.write_bytes(b'')
    args = build_parser('bench').parse_args([*SMOKE, '--archs', 'yolov5n', '--det-weights',
                                             str(weights), '--out', str(out)])
    spec = spec_from_args(args)
    assert spec.det_weights == str(weights.resolve())
    assert f'YOLOv5 cells from {weights.resolve()}' in header(spec, [], 0.0)


def test_paper_preset_trains_each_backbone_with_its_recipe(tmp_path):
    from loosen.engine.config import EngineConfig
    from loosen.engine.recipes import apply_recipe, recipe_for
    from loosen.experiments.cells import engine_config

    args = build_parser('bench').parse_args(['bench', 'accuracy', '--preset', 'paper', '--archs',
                                      'resnet34', '--out', str(tmp_path / 'g')])
    spec = spec_from_args(args)
    cell = spec.cells()[0]
    config = engine_config(spec, cell)
    recipe = apply_recipe(EngineConfig(model='resnet34_plain'), recipe_for('resnet34'))
    assert (config.epochs, config.lr, config.opt) == (recipe.epochs, recipe.lr, recipe.opt)
    assert config.seed == cell.seed and config.img_size == 224


def test_detection_cells_report_map(tmp_path):
    out = tmp_path / 'det'
    assert main([*SMOKE, '--archs', 'yolov5n', '--seeds', '0', '--epochs', '1', '--out',
                 str(out)]) == 0
    rows = _rows(out / 'results.csv')
    assert sorted(rows) == ['yolov5n_la_n24_s0', 'yolov5n_plain_n24_s0']
    for row in rows.values():
        assert row['status'] == 'done' and 0 <= float(row['map50']) <= 1
        assert int(row['train_images']) == 24


def test_select_best_scores_the_best_epoch_and_never_on_the_split_it_picked_on(tmp_path, capsys):
    only_val = write_synthetic(tmp_path / 'data', 10, 32, classes=['arc', 'clear'],
                               split={'train': 0.6, 'val': 0.4, 'test': 0})
    for flags in (['--data', str(only_val)], ['--archs', 'yolov5n']):  # both report on val/
        out = tmp_path / 'refused'
        assert main([*SMOKE, *flags, '--select', 'best', '--out', str(out)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and not out.exists()
        assert '--select last' in err and 'loosen data split' in err
    out = tmp_path / 'best'
    assert main([*SMOKE, '--archs', 'mobilenetv1', '--attentions', 'la', '--seeds', '0',
                 '--epochs', '3', '--select', 'best', '--out', str(out)]) == 0
    for row in _rows(out / 'results.csv').values():
        history = pd.read_csv(out / 'cells' / row['key'] / 'train' / 'metrics.csv')
        best = history.loc[history['val_macro_f1'].idxmax(), 'epoch']
        assert int(row['scored_epoch']) == best and row['status'] == 'done'
    assert GridSpec.load(out).select == 'best'
    assert 'of the epoch best on val/' in (out / 'report.md').read_text()


def test_a_grid_written_before_select_resumes_as_last(tmp_path):
    spec = spec_from_args(build_parser('bench').parse_args([*SMOKE, '--out', str(tmp_path)]))
    spec.save()
    old = {k: v for k, v in spec.to_dict().items() if k != 'select'}
    (tmp_path / 'grid.json').write_text(json.dumps(old))
    spec.save()  # the same budget: no refusal
    assert GridSpec.load(tmp_path).select == 'last'
