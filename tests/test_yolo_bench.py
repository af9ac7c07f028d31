"""``loosen bench yolo``'s cost part on a tiny input: LA adds exactly its 52 parameters to
YOLOv5's own model, and the report says whether the targets are met."""
from __future__ import annotations

import pytest

from loosen.bench.yolo import bench_cost, cost_markdown

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
