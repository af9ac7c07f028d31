"""``loosen data import-yrs`` on a small fixture made here: YRS labels (``NAME label``)
and frames whose names carry their time."""
import csv
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image

from loosen.cli import main
from loosen.data import YRS_CLASSES, import_yrs
from loosen.data.split import time_blocks
from loosen.errors import LoosenError


@pytest.fixture
def yrs(tmp_path):
    """Frames every 2 minutes over 4 hours, in nested day/hour folders, and their labels."""
    start = datetime(2003, 12, 21, 3, 0, 1, tzinfo=timezone.utc)
    lines = ['# YRS 4-class labels', '']
    for k in range(120):
        moment = start + timedelta(minutes=2 * k)
        name = moment.strftime('N%Y%m%dG%H%M%S')
        folder = tmp_path / 'frames' / moment.strftime('%Y%m%d') / moment.strftime('%H')
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8), k, np.uint8)).save(folder / f'{name}.png')
        lines.append(f'{name} {1 + (k // 7) % 4}')
    (tmp_path / 'labels.txt').write_text('\n'.join(lines) + '\n')
    return tmp_path


def test_import_writes_a_time_split_tree_and_labels_csv(yrs, capsys):
    out = yrs / 'tree'
    assert main(['data', 'import-yrs', str(yrs / 'labels.txt'), str(yrs / 'frames'), str(out),
                 '--split', 'train=0.75,val=0.25']) == 0
    assert 'wrote 120 images' in capsys.readouterr().out
    with open(out / 'labels.csv', newline='') as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ['name', 'class', 'split', 'time_utc'] and len(rows) == 120
    assert rows[0] == {'name': 'N20031221G030001', 'class': 'arc', 'split': rows[0]['split'],
                       'time_utc': '2003-12-21T03:00:01Z'}
    assert rows[7]['class'] == 'drapery' and rows[21]['class'] == 'hotspot'
    blocks = defaultdict(set)
    for row in rows:
        assert (out / row['split'] / row['class'] / f'{row["name"]}.png').is_file()
        moment = datetime.fromisoformat(row['time_utc'].replace('Z', '+00:00'))
        blocks[time_blocks([moment], 20)[0]].add(row['split'])
    assert len(blocks) == 12 and all(len(s) == 1 for s in blocks.values())
    assert {r['split'] for r in rows} == {'train', 'val'}
    assert set(YRS_CLASSES.values()) == {p.name for p in (out / 'train').iterdir()}


def test_bad_label_lines_name_the_line(yrs):
    (yrs / 'bad.txt').write_text('N20031221G030001 1\nN20031221G030201 7\n')
    with pytest.raises(LoosenError, match=r'bad\.txt:2: .* label 1-4 \(1=arc'):
        import_yrs(yrs / 'bad.txt', yrs / 'frames', yrs / 'out')


def test_missing_frames_stop_the_import_unless_skipped(yrs):
    text = (yrs / 'labels.txt').read_text() + 'N20031222G000000 2\n'
    (yrs / 'more.txt').write_text(text)
    with pytest.raises(LoosenError, match=r'1 of 121 .* N20031222G000000.*--skip-missing'):
        import_yrs(yrs / 'more.txt', yrs / 'frames', yrs / 'out')
    done = import_yrs(yrs / 'more.txt', yrs / 'frames', yrs / 'out', skip_missing=True,
                      fractions={'train': 0.8, 'val': 0.2}, minutes=30)
    assert done.missing == ['N20031222G000000'] and len(done.frames) == 120
