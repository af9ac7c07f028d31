"""The ``loosen`` command: one subcommand per concern, each defined beside its code.

Every entry of ``COMMANDS`` names a module with ``add_parser(subparsers)``, which
adds its subcommand and sets ``run`` (a function of the parsed arguments that
returns the exit code). Input errors raise ``LoosenError``: one line, exit code 2.
A command line naming a command imports that command's module only, so a command
starts as fast as its own imports allow (``loosen --help`` imports them all).
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
    'run': 'loosen.run',
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``command`` (a key of ``COMMANDS``), or of every command (None)."""
    parser = argparse.ArgumentParser(
        prog='loosen', description='Loosen Attention for vision models: train, test, compare.')
    parser.add_argument('--version', action='version', version=f'loosen {__version__}')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)
    modules = [COMMANDS[command]] if command in COMMANDS else COMMANDS.values()
    for module in dict.fromkeys(modules):  # each module once
        importlib.import_module(module).add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; bad input prints one line ``loosen: error: ...`` and returns 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else None  # options come after the command
    args = build_parser(command).parse_args(argv)
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
