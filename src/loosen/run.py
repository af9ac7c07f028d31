"""``loosen run SCRIPT.py ARGS...``: an upstream script, unchanged, with loosen's models.

timm's ``train.py``, ``validate.py``, ``inference.py`` and ``benchmark.py`` (and YOLOv5's,
and Ultralytics') run as ``python SCRIPT.py ARGS...`` would run them, in this process,
after ``loosen.patches.hook.install()``: timm knows every ``{arch}_{attention}`` the
moment the script imports it. ``-m MODULE`` runs a module as ``python -m`` does.
``python -m loosen.run SCRIPT.py ARGS...`` is the same without the ``loosen`` command,
so it also runs under ``torchrun --nproc_per_node N -m loosen.run SCRIPT.py ARGS...``.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .commands import summary
from .errors import LoosenError
from .patches.hook import install
from .patches.launch import run_target


def run_script(target: str, argv: Sequence[str], module: bool = False) -> int:
    """Run ``target`` (a script, or a module with ``module``) with loosen's hook installed."""
    if not module and not Path(target).is_file():
        raise LoosenError(f'no script {target}; give the path of an upstream script, e.g. '
                          "timm's train.py, or -m MODULE")
    return run_target(target, argv, module=module, setup=[install])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('-m', dest='module', action='store_true',
                        help='TARGET is a module name, run as python -m does')
    parser.add_argument('target', metavar='TARGET', help='the script (or module) to run')
    parser.add_argument('args', nargs=argparse.REMAINDER, metavar='ARGS',
                        help="the script's own arguments, passed unchanged")


def run(args: argparse.Namespace) -> int:
    return run_script(args.target, args.args, args.module)


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        'run', help=summary('run'),
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.set_defaults(run=run)


if __name__ == '__main__':
    from .cli import main

    sys.exit(main(['run', *sys.argv[1:]]))
