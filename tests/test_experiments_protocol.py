"""``loosen bench accuracy --split``: the paper's random frame split next to loosen's time
blocks. A random re-split of a frame sequence leaks and the blocks re-split does not,
every module of a split kind and seed trains and tests on the same files, ``given`` grids
keep their keys, and the report gives the leak counts, the gap and both rankings."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import yaml

from loosen.cli import build_parser, main
from loosen.data import write_synthetic
from loosen.data.labels import LabelRow, format_time, read_labels, write_labels
from loosen.data.tree import collect_frames
from loosen.experiments.cells import cell_row
from loosen.experiments.cli import spec_from_args
from loosen.experiments.regimes import write_subset
from loosen.experiments.spec import Cell, GridSpec

SMOKE = ['bench', 'accuracy', '--preset', 'smoke', '--threads', '1', '--no-progress']
START = datetime(2003, 12, 21, 3, 0, tzinfo=timezone.utc)
FRAMES, STEP = 240, 30  # two hours of frames 30 s apart: six 20-minute blocks


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv('LOOSEN_CACHE', str(tmp_path / 'cache'))


@pytest.fixture(scope='module')
def night(tmp_path_factory) -> Path:
    """A split tree of a frame sequence: arc and radial in 10-minute runs, times in
    labels.csv, train/val given at random (the grid pools them)."""
    root = tmp_path_factory.mktemp('night') / 'sky'
    write_synthetic(root, FRAMES // 2, 32, seed=0, classes=['arc', 'radial'],
                    split={'train': 0.7, 'val': 0.3})
    left = {c: [f for f in collect_frames(root) if f.cls == c] for c in ('arc', 'radial')}
    rows = []
    for k in range(FRAMES):
        frame = left[('arc', 'radial')[(k // 20) % 2]].pop()
        rows.append(LabelRow(frame.name, frame.cls, frame.split,
                             format_time(START + timedelta(seconds=STEP * k))))
    write_labels(root / 'labels.csv', rows)
    return root


def _spec(night: Path, out: Path, *flags: str) -> GridSpec:
    return spec_from_args(build_parser('bench').parse_args(
        [*SMOKE, '--data', str(night), '--archs', 'mobilenetv1', '--out', str(out), *flags]))


def _leaked_by_brute_force(subset: Path, seconds: float = 60) -> dict[str, int]:
    """The oracle: val/test frames of a subset with a train frame within ``seconds``."""
    rows = read_labels(subset / 'labels.csv')
    times = {s: [datetime.fromisoformat(r.time_utc.replace('Z', '+00:00')).timestamp()
                 for r in rows if r.split == s] for s in ('train', 'val', 'test')}
    return {s: sum(any(abs(t - u) <= seconds for u in times['train']) for t in times[s])
            for s in ('val', 'test')}


def test_a_random_resplit_leaks_and_the_blocks_resplit_does_not(night, tmp_path):
    spec = _spec(night, tmp_path / 'g', '--split', 'random,blocks', '--train-sizes', '1000',
                 '--seeds', '0,1')
    spec.root.mkdir()
    infos = {}
    for cell in spec.cells():
        infos[cell.split, cell.seed] = info = write_subset(spec, cell)
        assert info['used'] == info['available'] < 1000  # every pooled train frame
        assert info['leaked'] == _leaked_by_brute_force(spec.subset_dir(cell))
    for seed in (0, 1):
        random, blocks = infos['random', seed], infos['blocks', seed]
        # the whole sequence is pooled and split 60/20/20, whatever the data's own split
        assert random['used'] + sum(random['frames'].values()) == FRAMES
        assert random['frames'] == {'val': 48, 'test': 48} and random['dropped'] == 0
        # nearly every random val/test frame has a train frame 30 s away
        assert all(random['leaked'][s] >= 0.8 * random['frames'][s] for s in ('val', 'test'))
        assert blocks['leaked'] == {'val': 0, 'test': 0} and blocks['dropped'] > 0
        assert blocks['used'] + sum(blocks['frames'].values()) + blocks['dropped'] == FRAMES
    # each seed draws its own split
    names = {key: sorted(p.name for p in (spec.root / 'subsets' / f'n1000_s{key[1]}_{key[0]}'
                                          / 'test').rglob('*.png')) for key in infos}
    assert names['random', 0] != names['random', 1] and names['blocks', 0] != names['blocks', 1]


def test_given_grids_keep_their_keys_folders_and_columns(night, tmp_path):
    spec = _spec(night, tmp_path / 'g', '--seeds', '0')
    assert spec.splits == ['given'] and not spec.split_axis
    assert [c.key for c in spec.cells()] == ['mobilenetv1_plain_n24_s0', 'mobilenetv1_la_n24_s0']
    assert spec.subset_dir(spec.cells()[0]).name == 'n24_s0'
    assert 'split' not in cell_row(spec.cells()[0])
    assert spec.reported_split('given') == 'val' and spec.reported_split('random') == 'test'
    # a grid.json written before the split axis loads as a given grid
    old = {k: v for k, v in spec.to_dict().items() if k != 'splits'}
    spec.root.mkdir()
    (spec.root / 'grid.json').write_text(json.dumps(old))
    assert GridSpec.load(spec.root).cells() == spec.cells()
    resplit = Cell('mobilenetv1', 'la', 24, 0, 'random')
    assert resplit.key == 'mobilenetv1_la_n24_s0_random' and resplit.regime == 'n24_s0_random'


def test_bad_splits_are_one_line_and_write_nothing(night, tmp_path, capsys):
    out = tmp_path / 'g'
    assert main([*SMOKE, '--split', 'random,blocs', '--data', str(night), '--out', str(out)]) == 2
    assert "unknown split 'blocs'" in capsys.readouterr().err
    assert main([*SMOKE, '--split', 'blocks', '--out', str(out)]) == 2
    assert 'capture times' in capsys.readouterr().err
    assert main([*SMOKE, '--split', 'random', '--data', str(night), '--archs', 'yolov5n',
                 '--out', str(out)]) == 2
    assert 'detection' in capsys.readouterr().err and not out.exists()


def _train_files(cell_dir: Path) -> list[str]:
    root = Path(yaml.safe_load((cell_dir / 'train' / 'config.yaml').read_text())['data_root'])
    return sorted(str(p.relative_to(root)) for p in (root / 'train').rglob('*.png'))


def _test_files(cell_dir: Path) -> list[str]:
    return sorted(pd.read_csv(cell_dir / 'test' / 'predictions.csv')['id'])


def test_the_split_grid_reports_leaks_gap_and_rankings(night, tmp_path):
    out = tmp_path / 'g'
    assert main([*SMOKE, '--data', str(night), '--archs', 'mobilenetv1', '--split',
                 'random,blocks', '--train-sizes', '30', '--epochs', '1', '--jobs', '2',
                 '--out', str(out)]) == 0
    rows = pd.read_csv(out / 'results.csv')
    assert len(rows) == 8 and set(rows['status']) == {'done'}
    cells = out / 'cells'
    for split in ('random', 'blocks'):
        for seed in (0, 1):
            plain, la = (cells / f'mobilenetv1_{t}_n30_s{seed}_{split}' for t in ('plain', 'la'))
            assert _train_files(plain) == _train_files(la) and len(_train_files(la)) == 30
            assert _test_files(plain) == _test_files(la)
            assert all(f'/n30_s{seed}_{split}/test/' in name for name in _test_files(la))
        assert _train_files(cells / f'mobilenetv1_la_n30_s0_{split}') != \
            _train_files(cells / f'mobilenetv1_la_n30_s1_{split}')
    report = (out / 'report.md').read_text()
    assert '## What the split does' in report
    leaks = {line.split('|')[1].strip(): line for line in report.splitlines()
             if line.startswith(('| random |', '| blocks |')) and '%' in line}
    assert '| 0 of 80 (0.0 %) | 0 of 80 (0.0 %) |' in leaks['blocks']
    assert '| 0 of' not in leaks['random']
    # the gap is the difference of the two splits' means over seeds, per module
    mean = rows.groupby(['split', 'attention'])['score'].mean()
    for attention in ('plain', 'la'):
        gap = mean['random', attention] - mean['blocks', attention]
        (line,) = [r for r in report.splitlines() if r.startswith(f'| 30 | mobilenetv1 | '
                                                                     f'{attention} |')]
        assert float(line.split('|')[6]) == pytest.approx(gap, abs=0.01)
    assert '| size | attention | random | blocks |' in report  # the rankings side by side
    for part in ('## random split, 30 training images', '## blocks split, 30 training images',
                 '**random split:**', '**blocks split:**', '](random_radar_30.png)'):
        assert part in report
    assert (out / 'blocks_radar_30.png').stat().st_size > 0
