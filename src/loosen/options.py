"""Command-line flags that several commands share, each defined once: one name, one
meaning, one help wording that names its default.

A command adds the flag with the function of its name (``add_rounds(parser)``) and
passes a default of its own only where its flag means something else in effect (a
pipeline round is a whole pass over the images; a grid's threads are per cell).
"""
from __future__ import annotations

import argparse
from pathlib import Path

ROUNDS = 7  # timing rounds, every contender once a round
BUDGET = 120.0  # seconds one timing gives a slow contender in all


def add_rounds(parser: argparse.ArgumentParser, default: int = ROUNDS) -> None:
    """``--rounds``: how many rounds a timing interleaves its contenders over."""
    parser.add_argument('--rounds', type=int, default=default, metavar='N',
                        help=f'timing rounds, the contenders interleaved; medians kept '
                             f'(default: {default})')


def add_budget(parser: argparse.ArgumentParser, default: float = BUDGET) -> None:
    """``--budget``: the seconds after which a slow contender gets fewer rounds."""
    parser.add_argument('--budget', type=float, default=default, metavar='SECONDS',
                        help=f'seconds a slow contender may take in one timing; it gets '
                             f'fewer rounds (default: {default:g})')


def add_threads(parser: argparse.ArgumentParser, zero: str = 'all') -> None:
    """``--threads``: torch threads, 0 (the default) meaning ``zero``."""
    parser.add_argument('--threads', type=int, default=0, metavar='N',
                        help=f'torch threads, 0 for {zero} (default: 0)')


def add_out(parser: argparse.ArgumentParser, what: str, *, required: bool = False,
            default: str | None = None) -> None:
    """``--out``: the folder a command writes ``what`` to; without it (and no ``default``)
    the command only prints."""
    given = ('required' if required
             else f'default: {default}' if default is not None else 'default: none, print only')
    parser.add_argument('--out', type=Path, metavar='DIR', required=required,
                        default=None if default is None else Path(default),
                        help=f'folder to write {what} in ({given})')
