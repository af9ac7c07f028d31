"""The index of ``loosen``'s commands: each command's module and one-line help.

It sits below every layer, so a command module takes its own help line from here
(``summary('bench')``) without importing ``loosen.cli``, the layer above it that
imports the command modules.
"""
from __future__ import annotations

from typing import NamedTuple


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
    'compare': Command('loosen.experiments.compare',
                       'train and test several models alike, report side by side'),
    'demo': Command('loosen.experiments.compare',
                    'the main job on built-in data: LA vs plain MobileNet on synthetic aurora'),
    'explain': Command('loosen.explain.cli', 'maps of where a trained model looks, over the sky'),
    'yolo': Command('loosen.yolo.cli', 'detection: YOLOv5 and Ultralytics with LA'),
    'run': Command('loosen.run',
                   "run an upstream script (timm's train.py...) with loosen's models"),
}


def summary(command: str) -> str:
    """The one-line help of ``command``, for its module's ``add_parser``."""
    return COMMANDS[command].summary
