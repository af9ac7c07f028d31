"""``loosen bench yolo``'s cost part on a tiny input: LA adds exactly its 52 parameters to
YOLOv5's own model, and the report says whether the targets are met."""
from __future__ import annotations

import pytest

from loosen.bench.yolo import bench_cost, check_runs, cost_markdown, difference, seed_table
from loosen.errors import LoosenError

pytest.importorskip('yolov5')


def test_cost_rows_compare_with_yolov5s_own_model():
    rows = bench_cost('n', ['la'], image=64, rounds=1, budget=5)
    plain, la = rows
    assert (plain['model'], la['model']) == ('yolov5n.yaml', 'yolov5n_la.yaml')
    assert la['params'] - plain['params'] == 52
    assert la['params_pct'] == pytest.approx(100 * 52 / plain['params'])
    assert plain['ms'] > 0 and plain['ms_pct'] == 0 and la['gflops'] >= plain['gflops']
    text = cost_markdown(rows, 64, 1)
    assert f"LA: parameters {la['params_pct']:+.4f}% (target < 0.01%: met)" in text


def result(map50: float, map50_95: float) -> dict:
    return {'map50': map50, 'map50_95': map50_95, 'params': 10, 'seconds': 2.0,
            'cpu_seconds': 1.5}


def test_seed_table_pairs_by_seed_against_plain():
    rows = seed_table({'plain': [result(0.50, 0.20), result(0.60, 0.30), result(0.70, 0.25)],
                       'la': [result(0.52, 0.21), result(0.621, 0.31), result(0.719, 0.27)]})
    plain, la = rows
    assert plain['map50'] == pytest.approx(0.6) and plain['map50_std'] == pytest.approx(0.1)
    assert 'map50_gain' not in plain
    # per-seed differences 0.020, 0.021, 0.019: mean 0.02, sd 0.001, t(0.975, 2) = 4.303
    half = 4.302653 * 0.001 / 3 ** 0.5
    assert la['map50_gain'] == pytest.approx(0.02)
    assert (la['map50_low'], la['map50_high']) == pytest.approx((0.02 - half, 0.02 + half))
    assert la['map50_exceeds_noise']  # [+0.0175, +0.0225] leaves out zero
    assert not la['map50_95_exceeds_noise']  # 0.01, 0.01, 0.02: [-0.001, +0.028] holds 0
    assert la['seconds'] == 6.0 and la['cpu_seconds'] == 4.5
    text = difference(la, 'map50')
    assert text.startswith('+0.020 [') and text.endswith('exceeds seed noise')


def test_runs_of_another_plan_are_refused(tmp_path):
    plan = {'budget': {'epochs': 5}, 'seeds': [0, 1]}
    check_runs(tmp_path / 'runs', plan)
    check_runs(tmp_path / 'runs', plan)  # the same plan: its runs are read back
    with pytest.raises(LoosenError, match=r'another detection plan \(seeds differ\)'):
        check_runs(tmp_path / 'runs', {**plan, 'seeds': [0, 1, 2]})
