"""The ``loosen`` command: one subcommand per concern, each defined beside its code.

Every entry of ``COMMANDS`` names a module with ``add_parser(subparsers)``, which
adds its subcommand and sets ``run`` (a function of the parsed arguments that
returns the exit code). Input errors raise ``LoosenError``: one line, exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .errors import LoosenError

COMMANDS: dict[str, str] = {
    'bench': 'loosen.bench.cli',
    'data': 'loosen.data.cli',
    'train': 'loosen.engine.cli',  # one module, several subcommands: train, test, predict...
    'test': 'loosen.engine.cli',
    'predict': 'loosen.engine.cli',
    'compare': 'loosen.engine.compare',  # and demo
    'explain': 'loosen.explain.cli',
    'yolo': 'loosen.yolo.cli',
}


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog='loosen', description='Loosen Attention for vision models: train, test, compare.')
    parser.add_argument('--version', action='version', version=f'loosen {__version__}')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)
    for module in dict.fromkeys(COMMANDS.values()):  # each module once
        importlib.import_module(module).add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; bad input prints one line ``loosen: error: ...`` and returns 2."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except LoosenError as error:
        print(f'loosen: error: {error}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('loosen: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
