"""``loosen demo`` / ``loosen compare`` reports (presets of the comparison protocol: its
scoring rule and its statistics over seeds), and the pipeline benchmark's measurement."""
import json

import numpy as np
import pytest

from loosen.cli import main
from loosen.data import write_synthetic
from loosen.engine.config import EngineConfig
from loosen.engine.report import read_rows

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


def test_compare_refuses_to_score_the_best_epoch_on_val_before_anything_is_written(tmp_path,
                                                                                     capsys):
    data = write_synthetic(tmp_path / 'data', per_class=4, size=32,
                           split={'train': 0.5, 'val': 0.5})
    out = tmp_path / 'cmp'
    code = main(['compare', '--models', 'mobilenetv1_la', 'mobilenetv1_plain', '--data',
                 str(data), '--output-dir', str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and not out.exists()
    assert '--select last' in err and 'loosen data split' in err


def test_demo_over_two_seeds_shows_spread_and_the_paired_difference(tmp_path):
    out = tmp_path / 'demo'
    assert main([*DEMO, '--seeds', '0,1', '--select', 'last', '--out', str(out)]) == 0
    rows = read_rows(out / 'report.csv')
    assert sorted((r['model'], r['seed']) for r in rows) == [
        (m, s) for m in ('mobilenetv1_la', 'mobilenetv1_plain') for s in ('0', '1')]
    for row in rows:
        tested = json.loads((out / row['model'] / f'seed{row["seed"]}' / 'test' /
                             'metrics.json').read_text())
        assert tested['checkpoint'].endswith('last.pth')  # --select last: no pick on val/
        assert float(row['accuracy']) == pytest.approx(tested['accuracy'], abs=1e-6)
    report = (out / 'report.md').read_text()
    accuracy = {(r['model'], r['seed']): float(r['accuracy']) for r in rows}
    la = [accuracy['mobilenetv1_la', s] for s in ('0', '1')]
    plain = [accuracy['mobilenetv1_plain', s] for s in ('0', '1')]
    assert f'{np.mean(la):.4f} ± {np.std(la, ddof=1):.4f}' in report
    gain = 100 * (np.array(la) - np.array(plain)).mean()
    assert '## Over seeds' in report and 'Difference from `mobilenetv1_plain`' in report
    assert f'| `mobilenetv1_la` | {gain:+.2f} ' in report and 'seed noise' in report
    assert 'Scored: the model after the last epoch, on test/.' in report


def test_the_budget_names_the_input_size_the_model_picks():
    from loosen.experiments.compare import _budget

    assert "at each model's default input size" in _budget(EngineConfig(), 10, [0])
    assert 'at 64 px' in _budget(EngineConfig(img_size=64), 10, [0, 1])

