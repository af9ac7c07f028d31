"""``loosen bench yolo``: the cost part on a tiny input (LA adds exactly its 52 parameters to
YOLOv5's own model, and the report says whether the targets are met); the detect part's
statistics (mean ± std over seeds, the difference from plain paired by seed), its cache
of runs, and the whole part on a tiny budget."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from loosen.errors import LoosenError
from loosen.yolo.bench import bench_cost, check_runs, cost_markdown, difference, seed_table
from yolo_helpers import offline_env

pytestmark = pytest.mark.slow  # among the slowest files: run first (conftest.py)

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
    return {'map50': map50, 'map50_95': map50_95, 'params': 10, 'train_seconds': 2.0,
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


def test_detect_pretrains_then_fine_tunes_every_variant_from_it(tmp_path):
    """The whole detect part on a tiny budget, in a fresh process with sockets blocked:
    upstream yolov5n.yaml pretrained, plain and LA fine-tuned from its best.pt; the same
    command again reads every run back; another budget on the same runs is refused."""
    env = offline_env(tmp_path)
    command = [sys.executable, '-m', 'loosen', 'bench', 'yolo', '--parts', 'detect',
               '--pretrain-data', 'synthetic:images=6,size=64,seed=5', '--pretrain-epochs', '1',
               '--data', 'synthetic:images=5,size=64,seed=6', '--epochs', '1', '--img', '64',
               '--batch', '2', '--seeds', '0', '--detect-attentions', 'plain', 'la',
               '--runs', str(tmp_path / 'runs'), '--out', str(tmp_path / 'out')]
    first = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True,
                           timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    best = tmp_path / 'runs' / 'pretrain' / 'weights' / 'best.pt'
    grid = tmp_path / 'runs' / 'finetune'  # a grid of the protocol: its cells, its results
    for attention in ('plain', 'la'):
        row = json.loads((grid / 'cells' / f'yolov5n_{attention}_n4_s0' / 'result.json')
                         .read_text())
        assert row['status'] == 'done' and row['train_images'] == 4  # all of the 5 frames' train
        run = grid / 'cells' / f'yolov5n_{attention}_n4_s0' / 'detect'
        opt = yaml.safe_load((run / 'opt.yaml').read_text())
        assert Path(opt['cfg']).name == f'yolov5n_{attention}.yaml'  # resolved in the cache
        assert opt['weights'] == str(best)
        assert opt['noplots'] and (run / 'weights' / 'last.pt').exists()
    report = (tmp_path / 'out' / 'yolo.md').read_text()
    report_time = (tmp_path / 'out' / 'yolo.md').stat().st_mtime
    assert 'fine-tuned from upstream yolov5n.yaml pretrained on synthetic:images=6' in report
    assert '| yolov5n_la.yaml |' in report and '(one seed: no noise estimate)' in report
    again = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True,
                           timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    def scores(text: str) -> list[list[str]]:  # model, params, mAPs and differences
        return [line.split('|')[1:7] for line in text.splitlines()
                if line.startswith('| yolov5n_')]
    assert len(scores(report)) == 2 and scores(again.stdout) == scores(report)
    trained_again = [run for run in (tmp_path / 'runs').rglob('results.csv')
                     if run.stat().st_mtime > report_time]
    assert not trained_again  # every run was read back
    other = subprocess.run([*command, '--epochs', '2'], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert other.returncode == 2
    assert other.stderr.strip().splitlines()[-1].endswith(
        'holds runs of another detection plan (budget differ); give another --runs or remove '
        'that folder')
