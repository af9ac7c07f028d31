"""Writing a result (a benchmark's, a comparison's): the markdown report and the same table as
CSV, side by side."""
from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path


def write_report(out: Path, stem: str, markdown: str,
                 records: Sequence[Mapping[str, object]]) -> None:
    """Write ``out/stem.md`` and ``out/stem.csv`` (one row per record, keys as columns)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f'{stem}.md').write_text(markdown)
    with (out / f'{stem}.csv').open('w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    print(f'wrote {out / stem}.md and {out / stem}.csv')
