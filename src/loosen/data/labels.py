"""``labels.csv``: one row per image (name, class, split, time_utc), and frame times.

The YRS set ships one; ``import-yrs``, ``split`` and ``synth`` write one, so any tree
can be re-split by time later. Frame names carry their time (``N20031221G043541``).
"""
from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import astuple, dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..errors import LoosenError

_TIME_IN_NAME = re.compile(r'(\d{8})\D?(\d{6})')


@dataclass(frozen=True)
class LabelRow:
    name: str        # file name without extension
    cls: str         # 'class' in the file
    split: str
    time_utc: str = ''  # ISO 8601 with Z, or '' when unknown


FIELDS = ('name', 'class', 'split', 'time_utc')


def time_from_name(name: str) -> datetime | None:
    """The UTC time a frame name carries (``...YYYYMMDD?HHMMSS...``), or None."""
    match = _TIME_IN_NAME.search(name)
    if not match:
        return None
    try:
        return datetime.strptime(''.join(match.groups()), '%Y%m%d%H%M%S').replace(
            tzinfo=timezone.utc)
    except ValueError:
        return None


def format_time(moment: datetime | None) -> str:
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ') if moment else ''


def parse_time(text: str) -> datetime | None:
    """A ``time_utc`` cell back to a datetime ('' -> None)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace('Z', '+00:00'))
    except ValueError:
        raise LoosenError(f'time_utc {text!r} in labels.csv is not a time like '
                          '2003-12-21T04:35:41Z; correct it or leave the cell empty') from None


def write_labels(path: Path, rows: list[LabelRow]) -> None:
    with open(path, 'w', newline='') as handle:
        writer = csv.writer(handle, lineterminator='\n')
        writer.writerow(FIELDS)
        writer.writerows(astuple(row) for row in rows)


def read_labels(path: Path) -> list[LabelRow]:
    """Rows of a labels.csv; a missing column is an error naming the expected header."""
    with open(path, newline='') as handle:
        reader = csv.DictReader(handle)
        missing = [f for f in FIELDS[:3] if f not in (reader.fieldnames or [])]
        if missing:
            raise LoosenError(f'{path} lacks column(s) {", ".join(missing)}; its first line '
                              f'must be {",".join(FIELDS)}')
        return [LabelRow(r['name'], r['class'], r['split'], r.get('time_utc') or '')
                for r in reader]



def time_lookup(root: Path) -> Callable[[str], datetime | None]:
    """The capture time of a frame of the tree at ``root``, by the frame's name: its
    ``time_utc`` in ``root/labels.csv`` where filled in, else the time in the name."""
    table: dict[str, datetime | None] = {}
    if (root / 'labels.csv').is_file():
        table = {row.name: parse_time(row.time_utc) for row in read_labels(root / 'labels.csv')}
    return lambda name: table.get(name) or time_from_name(name)
