"""Near-duplicates across splits: ``loosen data check`` finds frames close in time (or,
without a time, in perceptual hash) across splits, a random split of a frame sequence
fails it, and ``loosen data split``'s gap at block edges passes it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from loosen.cli import main
from loosen.data import check_tree, render_frame, write_synthetic
from loosen.data.folder import SPLITS
from loosen.data.labels import LabelRow, format_time, read_labels, write_labels
from loosen.data.leakage import LeakFrame, find_leaks, nearest_hash, nearest_time, pair_leaks
from loosen.data.phash import HashCache, phash
from loosen.data.split import split_with_gap
from loosen.data.tree import collect_frames
from yolo_helpers import offline_env

START = datetime(2003, 12, 21, 3, 0, tzinfo=timezone.utc)
REAL = Path(os.environ.get('LOOSEN_YRS_DIR')
            or Path(__file__).resolve().parents[1].parent / 'shared' / 'data' / 'yrs-aurora')


def hamming(a: int, b: int) -> int:
    """Bits in which two hashes differ: the oracle."""
    return bin(a ^ b).count('1')


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv('LOOSEN_CACHE', str(tmp_path / 'cache'))


def _sequence(root: Path, frames: int = 120, size: int = 32) -> Path:
    """A night of ``frames`` synthetic frames 10 s apart, arc and radial in 5-minute runs;
    the times in labels.csv (the frames' names carry none)."""
    per_class = frames // 2
    write_synthetic(root, per_class, size, seed=0, classes=['arc', 'radial'],
                    split={'train': 1})
    rows, seen = [], {'arc': 0, 'radial': 0}
    for k in range(frames):
        cls = ('arc', 'radial')[(k // 30) % 2]
        name = f'{cls}_{seen[cls]:05d}'
        seen[cls] += 1
        rows.append(LabelRow(name, cls, 'train', format_time(START + timedelta(seconds=10 * k))))
    write_labels(root / 'labels.csv', rows)
    return root


def _leaks_by_brute_force(root: Path, seconds: float = 60) -> dict[tuple[str, str], int]:
    """The oracle: for each (earlier, later) pair of splits, the later frames with an
    earlier frame within ``seconds``, every pair compared."""
    rows = read_labels(root / 'labels.csv')
    times = {s: [datetime.fromisoformat(r.time_utc.replace('Z', '+00:00')).timestamp()
                 for r in rows if r.split == s] for s in SPLITS}
    return {(a, b): sum(any(abs(t - u) <= seconds for u in times[a]) for t in times[b])
            for i, a in enumerate(SPLITS) for b in SPLITS[i + 1:] if times[a] and times[b]}


def test_a_random_split_of_a_frame_sequence_fails_check_with_the_leak_count(tmp_path, capsys):
    src = _sequence(tmp_path / 'night')
    out = tmp_path / 'random'
    assert main(['data', 'split', str(src), str(out), '--method', 'stratified',
                 '--split', 'train=0.7,val=0.3', '--gap-minutes', '0']) == 0
    capsys.readouterr()
    expected = _leaks_by_brute_force(out)[('train', 'val')]
    assert expected == 36  # every val frame: its neighbours 10-60 s away are mostly train
    assert main(['data', 'check', str(out)]) == 1
    text = capsys.readouterr().out
    assert f'train/val: {expected} of 36 val frames have a train frame within 60 s' in text
    assert f'error: {expected} of 36 val frames (100.0%) have a train frame within 60 s' in text
    assert main(['data', 'check', str(out), '--leak-seconds', '5']) == 0  # 10 s apart: not 5


def test_the_output_of_data_split_passes_and_without_its_gap_the_block_edges_leak(
        tmp_path, capsys):
    src = _sequence(tmp_path / 'night')
    gapped, edges = tmp_path / 'gapped', tmp_path / 'edges'
    split = ['--split', 'train=0.6,val=0.2,test=0.2', '--block-minutes', '4']
    assert main(['data', 'split', str(src), str(edges), *split, '--gap-minutes', '0']) == 0
    capsys.readouterr()
    leaks = _leaks_by_brute_force(edges)
    assert sum(leaks.values()) > 0  # the block edges leak
    assert main(['data', 'check', str(edges)]) == 1
    capsys.readouterr()

    assert main(['data', 'split', str(src), str(gapped), *split]) == 0  # the default gap
    said = capsys.readouterr().out.splitlines()[-1]
    dropped = 120 - len(read_labels(gapped / 'labels.csv'))
    assert dropped > 0 and said.startswith(f'dropped {dropped} frames within 1 min of another '
                                           'split (--gap-minutes): arc ')
    assert sum(int(n.split()[-1]) for n in said.split(': ')[1].split(', ')) == dropped
    assert set(_leaks_by_brute_force(gapped).values()) == {0}
    assert main(['data', 'check', str(gapped)]) == 0
    text = capsys.readouterr().out
    assert 'train/val: 0 of' in text and 'ok: ready to train' in text


def _frame_tree(root: Path, frames: dict[str, np.ndarray], times: dict[str, datetime | None]
                ) -> Path:
    """``frames`` ('split/class/name' -> pixels) as a tree, with ``times`` in labels.csv."""
    rows = []
    for key, pixels in frames.items():
        split, cls, name = key.split('/')
        (root / split / cls).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / split / cls / f'{name}.png')
        rows.append(LabelRow(name, cls, split, format_time(times.get(key))))
    write_labels(root / 'labels.csv', rows)
    return root


def _noisy(pixels: np.ndarray, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 2, pixels.shape)
    return np.clip(pixels + noise, 0, 255).astype(np.uint8)


def test_the_time_window_catches_two_frames_10_s_apart_and_no_more(tmp_path):
    a, b, c = (render_frame('arc', j, 32) for j in range(3))
    t = START + timedelta(hours=1)
    tree = _frame_tree(tmp_path / 'sky', {
        'train/arc/a': a, 'train/radial/c': c, 'val/arc/b': b, 'val/radial/far': _noisy(a)},
        {'train/arc/a': t, 'train/radial/c': t + timedelta(minutes=30),
         'val/arc/b': t + timedelta(seconds=10), 'val/radial/far': t + timedelta(minutes=10)})
    report = check_tree(tree, max_leak=1)
    (pair,) = report.leaks
    assert (pair.earlier, pair.later, pair.frames, pair.by_time, pair.by_hash) == (
        'train', 'val', 2, True, False)  # every frame timed: no hash compared, so the
    # copy of a, 10 minutes later, is not a leak
    (leak,) = pair.leaks
    assert (leak.frame.name, leak.other.name, leak.seconds, leak.distance) == (
        'b.png', 'a.png', 10.0, None)
    assert report.ok  # 50% leaks, allowed by max_leak=1
    assert check_tree(tree, leak_seconds=9).leaks[0].leaks == []
    assert not check_tree(tree).ok  # 1 of 2 > 1%
    assert {i.phash for i in report.images} == {None}  # nothing hashed


def test_the_hash_catches_a_copy_with_noise_and_not_another_frame(tmp_path):
    frames = {f'train/arc/arc_{j}': render_frame('arc', j, 64) for j in range(3)}
    frames |= {'train/radial/arc_3': render_frame('arc', 3, 64),
               'val/arc/copy': _noisy(frames['train/arc/arc_2']),
               'val/radial/other': render_frame('arc', 9, 64)}
    tree = _frame_tree(tmp_path / 'sky', frames, {})  # no times: names carry none either
    report = check_tree(tree, max_leak=1)
    assert report.ok  # 1 of 2, allowed by max_leak=1
    (pair,) = report.leaks
    assert (pair.by_time, pair.by_hash, pair.frames) == (False, True, 2)
    (leak,) = pair.leaks
    assert (leak.frame.name, leak.other.name, leak.seconds) == ('copy.png', 'arc_2.png', None)
    hashes = {i.path.stem: i.phash for i in report.images}
    assert leak.distance == hamming(hashes['copy'], hashes['arc_2']) <= 4
    assert min(hamming(hashes['other'], hashes[f'arc_{j}']) for j in range(4)) > 4


def test_a_frame_with_no_time_falls_back_to_the_hash(tmp_path):
    train = {f'train/arc/arc_{j}': render_frame('arc', j, 64) for j in range(3)}
    train['train/radial/radial_0'] = render_frame('radial', 0, 64)
    t = START + timedelta(hours=2)
    times = {key: t + timedelta(hours=j) for j, key in enumerate(train)}
    frames = train | {
        'val/arc/untimed': _noisy(train['train/arc/arc_0'], 1),  # no time: compared by hash
        'val/radial/timed': _noisy(train['train/arc/arc_1'], 2)}  # 30 min from arc_1
    times['val/radial/timed'] = t + timedelta(hours=1, minutes=30)
    report = check_tree(_frame_tree(tmp_path / 'sky', frames, times), max_leak=1)
    assert report.ok
    (pair,) = report.leaks
    assert pair.by_time and pair.by_hash
    assert [(leak.frame.stem, leak.other.stem, leak.seconds) for leak in pair.leaks] == [
        ('untimed', 'arc_0', None)]
    hashed = {i.path.stem for i in report.images if i.phash is not None}
    assert hashed == {'untimed', 'arc_0', 'arc_1', 'arc_2', 'radial_0'}  # train, for untimed


def test_hashes_are_cached_per_file_and_recomputed_when_the_file_changes(tmp_path):
    tree = write_synthetic(tmp_path / 'sky', per_class=3, size=32, seed=0,
                           classes=['arc', 'radial'], split={'train': 2, 'val': 1})
    first = check_tree(tree)
    assert first.ok and first.leaks[0].leaks == []
    cache = HashCache(tree)
    assert cache.file.parent == tmp_path / 'cache' / 'phash' and len(cache.entries) == 6
    # the cache is read: a forged entry makes val's arc frame a copy of a train frame
    val, train = tree / 'val' / 'arc' / 'arc_00002.png', tree / 'train' / 'arc' / 'arc_00000.png'
    cache.put(val, cache.get(train))
    cache.save()
    (leak,) = check_tree(tree, max_leak=1).leaks[0].leaks
    assert (leak.frame, leak.other, leak.distance) == (val, train, 0)
    os.utime(val, ns=(1, 1))  # the file changed: its hash is computed again
    assert check_tree(tree).ok
    assert json.loads(cache.file.read_text())['files']['val/arc/arc_00002.png'][1] == 1


def test_nearest_time_and_hash_agree_with_every_pair_compared():
    rng = np.random.default_rng(0)
    ordered = np.sort(rng.uniform(0, 1000, 200))
    query = rng.uniform(-50, 1050, 300)
    gap, index = nearest_time(query, ordered)
    every = np.abs(query[:, None] - ordered[None, :])
    assert np.allclose(gap, every.min(1)) and np.allclose(every[np.arange(300), index], gap)
    refs = rng.integers(0, 2 ** 63, 500, dtype=np.uint64)
    query = rng.integers(0, 2 ** 63, 70, dtype=np.uint64)
    bits, index = nearest_hash(query, refs)
    oracle = [[hamming(int(q), int(r)) for r in refs] for q in query]
    assert bits.tolist() == [min(row) for row in oracle]
    assert all(oracle[k][j] == bits[k] for k, j in enumerate(index))


def test_each_later_split_is_searched_against_every_earlier_one():
    frames = [LeakFrame(Path('t'), 'train', 0.0), LeakFrame(Path('v'), 'val', 100.0),
              LeakFrame(Path('x'), 'test', 130.0), LeakFrame(Path('y'), 'test', 50.0)]
    found = {(p.earlier, p.later): [leak.frame.name for leak in p.leaks]
             for p in find_leaks(frames, SPLITS)}
    assert found == {('train', 'val'): [], ('train', 'test'): ['y'], ('val', 'test'): ['x', 'y']}
    # the closest first: y is 50 s from v, x 30 s
    assert [leak.seconds for leak in pair_leaks(frames[1:2], frames[2:]).leaks] == [30, 50]


def test_the_check_options_are_validated(tmp_path, capsys):
    tree = _sequence(tmp_path / 'night', frames=8)
    with pytest.raises(SystemExit, match='2'):
        main(['data', 'check', str(tree), '--max-leak', 'lots'])
    assert 'is not a share like 1% or 0.01' in capsys.readouterr().err
    assert main(['data', 'check', str(tree), '--hash-distance', '65']) == 2
    assert 'must be >= 0 and 0..64' in capsys.readouterr().err


def test_the_check_hashes_offline_into_loosen_cache(tmp_path):
    tree = write_synthetic(tmp_path / 'sky', per_class=2, size=32, seed=0,
                           classes=['arc', 'radial'], split={'train': 1, 'val': 1})
    Image.fromarray(_noisy(render_frame('arc', 0, 32))).save(tree / 'val' / 'arc' / 'copy.png')
    env = offline_env(tmp_path)
    done = subprocess.run([sys.executable, '-m', 'loosen.cli', 'data', 'check', str(tree),
                           '--max-leak', '40%'], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'train/val: 1 of 3 val frames have a train frame within hash distance 4' in done.stdout
    (line,) = [line for line in done.stdout.splitlines() if 'copy.png' in line]
    assert line.startswith('  val/arc/copy.png  hash distance ')
    assert line.endswith(' from  train/arc/arc_00000.png')
    assert len(list((tmp_path / 'cache' / 'phash').glob('phash64-*.json'))) == 1


needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f'no YRS set at {REAL} '
                                '(set LOOSEN_YRS_DIR)')


def _leaked(frames) -> int:
    leak_frames = [LeakFrame(f.path, f.split, f.time.timestamp()) for f in frames]
    (pair,) = find_leaks(leak_frames, SPLITS)
    return len(pair.leaks)


@needs_real
def test_the_real_split_leaks_at_its_block_edges_and_the_gap_closes_them():
    frames = collect_frames(REAL)
    assert _leaked(frames) == 20  # of 402 val frames: what `data check` says of it
    kept, dropped = split_with_gap(frames, 'keep', gap_minutes=1)
    assert _leaked(kept) == 0 and len(dropped) == 17
    assert {f.split for f in dropped} == {'train'}  # the larger split gives them up
    random, _ = split_with_gap(frames, 'stratified', {'train': 0.7, 'val': 0.3})
    assert _leaked(random) == 412  # every val frame of a random split has a train neighbour


def test_phash_of_an_image_is_its_imagehash_bits():
    import imagehash

    image = Image.fromarray(render_frame('radial', 0, 64))
    assert f'{phash(image):016x}' == str(imagehash.phash(image))


def test_import_yrs_makes_the_same_gap(tmp_path, capsys):
    frames, lines = tmp_path / 'frames', []
    frames.mkdir()
    for k in range(96):  # 16 minutes of frames 10 s apart: 8 of arc, then 8 of drapery
        name = (START + timedelta(seconds=10 * k)).strftime('N%Y%m%dG%H%M%S')
        Image.fromarray(render_frame('arc', k, 16)).save(frames / f'{name}.png')
        lines.append(f'{name} {1 + k // 48}')
    (tmp_path / 'labels.txt').write_text('\n'.join(lines) + '\n')
    out = tmp_path / 'tree'
    assert main(['data', 'import-yrs', str(tmp_path / 'labels.txt'), str(frames), str(out),
                 '--split', 'train=0.5,val=0.5', '--block-minutes', '4']) == 0
    said = capsys.readouterr().out.splitlines()[-1]
    dropped = 96 - len(read_labels(out / 'labels.csv'))
    assert dropped > 0 and said.startswith(f'dropped {dropped} frames within 1 min')
    assert set(_leaks_by_brute_force(out).values()) == {0}
