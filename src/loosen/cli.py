"""The ``loosen`` command: one subcommand per concern, each defined beside its code.

Every entry of ``COMMANDS`` names a module with ``add_parser(subparsers)``, which
adds its subcommand and sets ``run`` (a function of the parsed arguments that
returns the exit code). Input errors raise ``LoosenError``: one line, exit code 2.
A command line naming a command imports that command's module only, so a command
starts as fast as its own imports allow; ``loosen --help`` imports none of them.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NamedTuple

from . import __version__
from .errors import LoosenError


class Command(NamedTuple):
    """A subcommand: the module that defines it, and the line ``loosen --help`` shows."""

    module: str
    summary: str


COMMANDS: dict[str, Command] = {
    'bench': Command('loosen.bench.cli', 'measure speed, memory and accuracy'),
    'data': Command('loosen.data.cli', 'make, import, split, check and preview data'),
    'train': Command('loosen.engine.cli',
                     'train a classifier on an image folder (or the synthetic aurora set)'),
    'test': Command('loosen.engine.cli', 'evaluate a checkpoint on a labelled split'),
    'predict': Command('loosen.engine.cli',
                       'classify image files or folders with a checkpoint: top-k classes to a CSV'),
    'compare': Command('loosen.engine.compare',
                       'train and test several models alike, report side by side'),
    'demo': Command('loosen.engine.compare',
                    'the main job on built-in data: LA vs plain MobileNet on synthetic aurora'),
    'explain': Command('loosen.explain.cli', 'maps of where a trained model looks, over the sky'),
    'yolo': Command('loosen.yolo.cli', 'detection: YOLOv5 and Ultralytics with LA'),
    'run': Command('loosen.run',
                   "run an upstream script (timm's train.py...) with loosen's models"),
}


def summary(command: str) -> str:
    """The one-line help of ``command``, for its module's ``add_parser``."""
    return COMMANDS[command].summary


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser of ``command`` (a key of ``COMMANDS``; its module is imported), or,
    for anything else, the index of commands, which imports nothing."""
    parser = argparse.ArgumentParser(
        prog='loosen', description='Loosen Attention for vision models: train, test, compare.')
    parser.add_argument('--version', action='version', version=f'loosen {__version__}')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)
    if command in COMMANDS:
        importlib.import_module(COMMANDS[command].module).add_parser(commands)
    else:
        for name, entry in COMMANDS.items():
            commands.add_parser(name, help=entry.summary)
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
