"""``loosen bench``: cost and accuracy benchmarks, each a subcommand of its own module.

Every bench starts with ``quiet_probes``: nothing about profilers or GPUs the machine
lacks reaches the terminal.
"""
from __future__ import annotations

import argparse
import importlib

from ..commands import summary
from ..quiet import quiet_probes

BENCHES: dict[str, str] = {
    'la': 'loosen.bench.la',
    'cost': 'loosen.bench.cost',
    'attention': 'loosen.bench.attention',
    'data': 'loosen.bench.data',
    'pipeline': 'loosen.bench.pipeline',
    'yolo': 'loosen.yolo.bench',  # with the rest of the YOLO integration
    'accuracy': 'loosen.experiments.cli',  # the comparison protocol, a command of bench
    'accuracy-plots': 'loosen.experiments.cli',
    'gpu': 'loosen.bench.gpu',
}


def add_parser(commands: argparse._SubParsersAction) -> None:
    quiet_probes()
    parser = commands.add_parser('bench', help=summary('bench'),
                                 description=__doc__)
    benches = parser.add_subparsers(dest='bench', metavar='BENCH', required=True)
    for module in dict.fromkeys(BENCHES.values()):
        importlib.import_module(module).add_parser(benches)
