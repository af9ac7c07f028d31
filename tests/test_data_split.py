"""Honest splits: whole time blocks per split, stratified fractions, seeded subsampling,
and the ``loosen data split`` command on a tree of timed frames."""
import itertools
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from loosen.cli import main
from loosen.data import stratified_split, subsample, time_block_split
from loosen.data.labels import read_labels, time_from_name
from loosen.data.split import (
    edge_gap,
    parse_fractions,
    proportional_counts,
    split_frames,
    split_with_gap,
    time_blocks,
)
from loosen.data.tree import collect_frames
from loosen.errors import LoosenError

FRACTIONS = {'train': 0.7, 'val': 0.15, 'test': 0.15}


def _night(frames=2000, seed=0):
    """Frames every 10 s over ~5.5 hours, classes in runs as aurora changes slowly."""
    rng = np.random.default_rng(seed)
    start = datetime(2003, 12, 21, 3, 0, tzinfo=timezone.utc)
    times = [start + timedelta(seconds=10 * i) for i in range(frames)]
    runs = np.repeat(rng.choice(['arc', 'drapery', 'radial', 'hotspot'], frames // 50,
                                p=[0.55, 0.2, 0.2, 0.05]), 50)
    return list(runs), times


def test_no_time_block_lands_in_two_splits():
    labels, times = _night()
    splits = time_block_split(labels, times, FRACTIONS, minutes=20, seed=1)
    where = defaultdict(set)
    for block, split in zip(time_blocks(times, 20), splits, strict=True):
        where[block].add(split)
    assert len(where) == 17 and all(len(s) == 1 for s in where.values())
    share = Counter(splits)
    assert set(share) == set(FRACTIONS)
    assert share['train'] / len(labels) == pytest.approx(0.7, abs=0.08)
    for cls in set(labels):  # every class divided near the fractions, as blocks allow
        in_train = sum(1 for c, s in zip(labels, splits, strict=True) if c == cls and s == 'train')
        assert in_train / labels.count(cls) == pytest.approx(0.7, abs=0.2)
    assert splits == time_block_split(labels, times, FRACTIONS, minutes=20, seed=1)


def test_blocks_follow_the_clock_and_too_few_blocks_is_an_error():
    t = datetime(2003, 12, 21, 4, 19, 59, tzinfo=timezone.utc)
    assert time_blocks([t, t + timedelta(seconds=1)], 20) == [
        time_blocks([t], 20)[0], time_blocks([t], 20)[0] + 1]
    labels, times = _night(frames=100)
    with pytest.raises(LoosenError, match='use a shorter --block-minutes'):
        time_block_split(labels, times, FRACTIONS, minutes=60)


def test_stratified_split_divides_each_class_exactly():
    labels = ['a'] * 20 + ['b'] * 10 + ['c'] * 7
    splits = stratified_split(labels, FRACTIONS, seed=0)
    counts = Counter(zip(labels, splits, strict=True))
    assert [counts['a', s] for s in FRACTIONS] == [14, 3, 3]
    assert [counts['b', s] for s in FRACTIONS] == [7, 2, 1]  # ties: the earlier split
    assert [counts['c', s] for s in FRACTIONS] == [5, 1, 1]
    assert splits != stratified_split(labels, FRACTIONS, seed=1)


def test_subsample_is_stratified_seeded_and_exact():
    labels = ['arc'] * 600 + ['radial'] * 300 + ['hotspot'] * 100
    kept = subsample(labels, 400, seed=3)
    assert len(kept) == len(set(kept)) == 400 and kept == sorted(kept)
    assert Counter(labels[i] for i in kept) == {'arc': 240, 'radial': 120, 'hotspot': 40}
    assert kept == subsample(labels, 400, seed=3) and kept != subsample(labels, 400, seed=4)
    with pytest.raises(LoosenError, match='between 1 and the 1000'):
        subsample(labels, 4000)


@given(st.integers(0, 500), st.lists(st.floats(0.01, 10), min_size=1, max_size=5))
def test_proportional_counts_always_sum_to_the_total(total, weights):
    counts = proportional_counts(total, dict(enumerate(weights)))
    assert sum(counts.values()) == total
    for k, w in enumerate(weights):
        assert abs(counts[k] - total * w / sum(weights)) < 1


def test_parse_fractions():
    assert parse_fractions('train=3,val=1') == {'train': 0.75, 'val': 0.25}
    for bad in ('train', 'train=x', 'train=-1,val=2', ''):
        with pytest.raises(LoosenError, match=r'train=0\.7,val=0\.15,test=0\.15'):
            parse_fractions(bad)


def _timed_tree(root, labels, times):
    for k, (cls, t) in enumerate(zip(labels, times, strict=True)):
        folder = root / cls
        folder.mkdir(parents=True, exist_ok=True)
        name = t.strftime('N%Y%m%dG%H%M%S')
        Image.fromarray(np.full((4, 4), k % 256, np.uint8)).save(folder / f'{name}.png')
    return root


def test_split_command_writes_time_blocks_links_and_a_fixed_train_size(tmp_path, capsys):
    labels, times = _night(frames=600)
    src = _timed_tree(tmp_path / 'flat', labels, times)
    out = tmp_path / 'split'
    assert main(['data', 'split', str(src), str(out), '--block-minutes', '10',
                 '--train-size', '300', '--seed', '2']) == 0
    assert 'wrote ' in capsys.readouterr().out
    rows = read_labels(out / 'labels.csv')
    assert Counter(r.split for r in rows)['train'] == 300
    blocks = defaultdict(set)
    for row in rows:
        moment = time_from_name(row.name)
        assert row.time_utc == moment.strftime('%Y-%m-%dT%H:%M:%SZ')
        blocks[time_blocks([moment], 10)[0]].add(row.split)
        image = out / row.split / row.cls / f'{row.name}.png'
        assert image.stat().st_ino == (src / row.cls / image.name).stat().st_ino  # hard link
    assert all(len(s) == 1 for s in blocks.values())


def test_split_command_needs_times_unless_stratified_is_asked_for(tmp_path, capsys):
    src = tmp_path / 'untimed'
    for cls in ('a', 'b'):
        (src / cls).mkdir(parents=True)
        for i in range(10):
            Image.fromarray(np.full((4, 4), i, np.uint8)).save(src / cls / f'{cls}{i}.png')
    assert main(['data', 'split', str(src), str(tmp_path / 'o1')]) == 2
    assert '--method stratified' in capsys.readouterr().err
    assert main(['data', 'split', str(src), str(tmp_path / 'o2'), '--method', 'stratified',
                 '--split', 'train=0.8,val=0.2', '--copy']) == 0
    rows = read_labels(tmp_path / 'o2' / 'labels.csv')
    assert Counter((r.cls, r.split) for r in rows) == {('a', 'train'): 8, ('a', 'val'): 2,
                                                       ('b', 'train'): 8, ('b', 'val'): 2}
    copied = tmp_path / 'o2' / 'train' / 'a'
    assert all(p.stat().st_nlink == 1 for p in copied.iterdir())


def _close_pairs(times, splits, minutes):
    """Every pair of frames of different splits within ``minutes``: the oracle."""
    return [(i, j) for i in range(len(times)) for j in range(i) if splits[i] != splits[j]
            and abs((times[i] - times[j]).total_seconds()) <= minutes * 60]


def test_the_gap_leaves_no_two_splits_within_it_and_takes_from_the_larger():
    labels, times = _night(frames=600)
    splits = time_block_split(labels, times, FRACTIONS, minutes=10, seed=0)
    assert _close_pairs(times, splits, 1)  # whole blocks still meet at their edges
    order = ['train', 'val', 'test']
    drop = edge_gap(times, splits, 1, order)
    kept = [k for k, d in enumerate(drop) if not d]
    assert not _close_pairs([times[k] for k in kept], [splits[k] for k in kept], 1)
    # a block edge every 10 min, 6 frames within 1 min on one side of each: train's
    dropped = Counter(s for s, d in zip(splits, drop, strict=True) if d)
    edges = sum(a != b for a, b in itertools.pairwise(splits))
    assert set(dropped) <= {'train', 'val'} and sum(dropped.values()) == 6 * edges > 0
    assert edge_gap(times, splits, 0, order) == [False] * 600
    with pytest.raises(LoosenError, match='must be 0 or more'):
        edge_gap(times, splits, -1, order)


def test_split_frames_drops_the_gap_before_sizing_train(tmp_path):
    labels, times = _night(frames=600)
    src = _timed_tree(tmp_path / 'flat', labels, times)
    frames = collect_frames(src)
    kept, dropped = split_with_gap(frames, 'time', FRACTIONS, 10, seed=0, gap_minutes=1)
    assert dropped and not {f.path for f in kept} & {f.path for f in dropped}
    assert len(kept) + len(dropped) == 600
    sized = split_frames(frames, 'time', FRACTIONS, 10, seed=0, train_size=200, gap_minutes=1)
    assert Counter(f.split for f in sized)['train'] == 200
    assert {f.path for f in sized} <= {f.path for f in kept}
    no_gap = split_frames(frames, 'time', FRACTIONS, 10, seed=0)  # the library's default
    assert sorted((f.path, f.split) for f in no_gap) == sorted(
        (f.path, f.split) for f in kept + dropped)
