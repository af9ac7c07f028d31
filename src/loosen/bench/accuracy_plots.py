"""``loosen bench accuracy-plots DIR``: draw a finished grid's figures again from its
``results.csv`` and ``grid.json`` alone, without training or the data.

A grid's folder keeps its cells' runs only while it is being made; a folder that was
copied for keeping (``docs/results/accuracy/*``) has the table and the settings, and
that is all the radars, the heatmap and the gain plot are drawn from.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pandas as pd

from ..errors import LoosenError
from .accuracy_report import write_figures
from .grid import GridSpec

NEEDED = ('arch', 'attention', 'size', 'seed', 'status', 'score')


def load_results(folder: Path) -> tuple[GridSpec, pd.DataFrame]:
    """The grid's settings (its ``out`` set to ``folder``) and its rows."""
    table, settings = folder / 'results.csv', folder / 'grid.json'
    for path in (table, settings):
        if not path.is_file():
            raise LoosenError(f'{path} is missing: give the folder of a grid that '
                              '`loosen bench accuracy` wrote')
    frame = pd.read_csv(table)
    missing = [c for c in NEEDED if c not in frame]
    if missing:
        raise LoosenError(f'{table} has no column {", ".join(missing)}: write it again with '
                          '`loosen bench accuracy` on the grid\'s folder')
    spec = dataclasses.replace(GridSpec.load(folder), out=str(folder.resolve()))
    return spec, frame


def run(args: argparse.Namespace) -> int:
    spec, frame = load_results(Path(args.folder))
    written = write_figures(spec, frame, args.common_scale)
    print(f'drew {", ".join(p.name for p in written)} in {spec.root} from {len(frame)} rows '
          'of results.csv')
    return 0


def add_parser(benches: argparse._SubParsersAction) -> None:
    p = benches.add_parser('accuracy-plots', help='draw a finished accuracy grid\'s radars, '
                           'heatmap and gain plot again from its results.csv',
                           description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('folder', metavar='DIR', help='a grid\'s folder: results.csv and grid.json')
    p.add_argument('--common-scale', action='store_true', help='one scale for every radar '
                   'axis (default: each axis its own, as in the paper)')
    p.set_defaults(run=run)
