"""``loosen demo`` / ``loosen compare`` reports, and the pipeline benchmark's measurement."""
import json

import pytest

from loosen.bench.pipeline import time_case
from loosen.cli import main
from loosen.data import write_synthetic
from loosen.engine.config import EngineConfig
from loosen.engine.report import read_rows
from loosen.engine.train import prepare

DEMO = ['demo', '--per-class', '16', '--size', '32', '--epochs', '1', '--width', '0.25',
        '--num-workers', '0']


def test_demo_trains_both_models_alike_and_reports_side_by_side(tmp_path):
    out = tmp_path / 'demo'
    assert main([*DEMO, '--out', str(out)]) == 0
    report = (out / 'report.md').read_text()
    assert 'A small synthetic run' in report
    assert '| `mobilenetv1_la` | `mobilenetv1_plain` |' in report
    rows = {r['model']: r for r in read_rows(out / 'report.csv')}
    assert set(rows) == {'mobilenetv1_la', 'mobilenetv1_plain'}
    for model, row in rows.items():
        tested = json.loads((out / model / 'test' / 'metrics.json').read_text())
        assert float(row['macro_f1']) == pytest.approx(tested['macro_f1'], abs=1e-6)
        assert f'{tested["accuracy"]:.4f}' in report
        assert (out / model / 'curves.png').is_file()
        assert f'({model}/test/confusion_matrix.png)' in report
    # LA adds its parameters and nothing else: 100 at the release's 32 heads in MobileNet
    assert int(rows['mobilenetv1_la']['params']) - int(rows['mobilenetv1_plain']['params']) == 100

    stamp = (out / 'data' / 'synthetic.json').stat().st_mtime_ns
    assert main([*DEMO, '--out', str(out)]) == 0  # runs again over itself, data reused
    assert (out / 'data' / 'synthetic.json').stat().st_mtime_ns == stamp


def test_compare_refuses_a_model_twice_before_training(tmp_path, capsys):
    code = main(['compare', '--models', 'MobileNet_LA', 'mobilenetv1_la', '--output-dir',
                 str(tmp_path / 'cmp')])
    assert code == 2 and 'twice' in capsys.readouterr().err
    assert not (tmp_path / 'cmp').exists()


def test_pipeline_bench_times_the_same_batches_both_ways(tmp_path):
    data = write_synthetic(tmp_path / 'data', per_class=8, size=32,
                           split={'train': 0.5, 'val': 0.5})
    prepared = prepare(EngineConfig(data='folder', data_root=str(data), img_size=32,
                                    model_kwargs={'channel_multiplier': 0.25}, batch_size=4))
    found = time_case(prepared, images=12, workers=0, rounds=1)
    assert found['images'] == 12  # three full batches, once through the loader, once in memory
    assert found['model_img_s'] > 0 and found['pipeline_img_s'] > 0
    # img/s are rounded to 0.1 and the cost to 1e-4: it lies within what that rounding allows
    model, pipeline, half, cost_half = found['model_img_s'], found['pipeline_img_s'], 0.05, 5e-5
    assert 1 - (pipeline + half) / (model - half) - cost_half <= found['cost'] <= \
        1 - (pipeline - half) / (model + half) + cost_half
