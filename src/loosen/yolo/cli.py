"""``loosen yolo``: YOLOv5's own train/val/detect/export and Ultralytics' ``yolo`` command,
run in this process after loosen's patches, with their arguments unchanged.

    loosen yolo train --cfg yolov5s_la.yaml --data synthetic --weights '' --img 640
    python -m loosen.yolo train ...        (the same; torchrun -m loosen.yolo for DDP)
    loosen yolo ultralytics train model=yolo11n_la.yaml data=synthetic epochs=1
    loosen yolo models [--show NAME]
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..commands import summary
from ..errors import LoosenError
from .scripts import SCRIPTS, run_script


def show_models(args: argparse.Namespace) -> int:
    from .models import catalogue, render
    if args.show:
        print(render(args.show), end='')
        return 0
    for name, model in catalogue().items():
        if args.framework in (None, model.family.framework):
            print(f'{name:<24} {model.family.framework:<12} {model.attention}')
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser('yolo', help=summary('yolo'),
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='yolo_command', metavar='ACTION', required=True)
    for action, (module, _) in SCRIPTS.items():
        # '+' as the only prefix: every -x/--y goes to the upstream script, --help included
        p = sub.add_parser(action, help=f'run {module} with its own arguments',
                           prefix_chars='+', add_help=False)
        p.add_argument('argv', nargs='*')
        p.set_defaults(run=lambda args, action=action: run_script(action, args.argv))
    p = sub.add_parser('models', help="list loosen's model YAMLs")
    p.add_argument('--framework', choices=('yolov5', 'ultralytics'), help='only these')
    p.add_argument('--show', metavar='NAME', help='print one rendered YAML')
    p.set_defaults(run=show_models)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m loosen.yolo ACTION ARGS...``: bad input prints one line and returns 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SCRIPTS:
        print(f'usage: python -m loosen.yolo {{{",".join(SCRIPTS)}}} ARGS...', file=sys.stderr)
        return 2
    try:
        return run_script(argv[0], argv[1:])
    except LoosenError as error:
        print(f'loosen: error: {error}', file=sys.stderr)
        return 2
