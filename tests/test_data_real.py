"""The real YRS set (skipped when absent): ``data check`` reads every image and finds
only the near-duplicates at its time blocks' edges, the folders load with the engine's
classes, its splits are whole time blocks, and the synthetic frames match its statistics."""
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from loosen.data import CORE_CLASSES, ImageFolderSplit, check_tree, open_image, render_frame
from loosen.data.labels import parse_time, read_labels, time_from_name
from loosen.data.split import time_blocks
from loosen.data.stats import sky_statistics
from loosen.data.tree import collect_frames

REAL = Path(os.environ.get('LOOSEN_YRS_DIR')
            or Path(__file__).resolve().parents[1].parent / 'shared' / 'data' / 'yrs-aurora')
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f'no YRS set at {REAL} '
                                '(set LOOSEN_YRS_DIR)')
README_COUNTS = {'train': {'arc': 602, 'drapery': 112, 'radial': 224, 'hotspot': 34},
                 'val': {'arc': 218, 'drapery': 82, 'radial': 86, 'hotspot': 16}}


def test_check_reads_every_image_and_finds_only_the_leaks_at_block_edges():
    report = check_tree(REAL)
    (error,) = report.errors  # frames 10 s apart on either side of a block edge
    assert error.startswith('20 of 402 val frames (5.0%) have a train frame within 60 s')
    for leak in report.leaks[0].leaks:  # each within a minute of a 20-minute block edge
        into_block = time_from_name(leak.frame.stem).timestamp() % 1200
        assert min(into_block, 1200 - into_block) <= 60 and leak.seconds <= 60
    assert len(report.images) == 1374 and not any(i.error for i in report.images)
    assert {(i.size, i.mode) for i in report.images} == {((440, 440), 'L')}
    assert {s: dict(c) for s, c in report.counts.items()} == README_COUNTS


def test_splits_load_with_one_class_order():
    train = ImageFolderSplit(REAL, 'train')
    val = ImageFolderSplit(REAL, 'val', classes=train.classes)
    assert train.classes == ['arc', 'drapery', 'hotspot', 'radial']
    assert (len(train), len(val)) == (972, 402)
    image, label = val[len(val) - 1]
    assert image.mode == 'RGB' and image.size == (440, 440) and label == 3


def test_the_real_split_keeps_every_20_minute_block_whole():
    rows = read_labels(REAL / 'labels.csv')
    assert len(rows) == 1374
    where = defaultdict(set)
    for row in rows:
        where[time_blocks([parse_time(row.time_utc)], 20)[0]].add(row.split)
    assert all(len(s) == 1 for s in where.values())


def test_synthetic_frames_match_the_real_statistics():
    frames = collect_frames(REAL)
    real = []
    for cls in CORE_CLASSES:  # 25 frames per class, spread over the night
        paths = sorted(f.path for f in frames if f.cls == cls)
        real += [np.asarray(open_image(p).convert('L').resize((128, 128), Image.BILINEAR))
                 for p in paths[::len(paths) // 25][:25]]
    synthetic = [render_frame(c, j, 128) for c in CORE_CLASSES for j in range(25)]
    ours, theirs = sky_statistics(synthetic), sky_statistics(real)
    assert ours['outside mean'] == 0 and theirs['outside mean'] < 0.05  # dark beyond the circle
    compared = ['inside mean', 'inside std', 'p5', 'p25', 'p50', 'p75', 'p95', 'p99',
                *(k for k in ours if k.startswith(('glow', 'S(')))]
    ratios = {k: ours[k] / theirs[k] for k in compared}
    assert all(0.75 < r < 1.3 for r in ratios.values()), ratios
