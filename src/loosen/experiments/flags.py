"""The flags every command of the protocol shares (``loosen bench accuracy``, ``loosen
compare``, ``loosen demo``), and the comma-separated lists its axes are given as."""
from __future__ import annotations

import argparse

from .selection import SELECTS


def name_list(text: str) -> list[str]:
    """'a, b,c' -> ['a', 'b', 'c']: an axis of the spec as a flag gives it."""
    return [part.strip() for part in text.split(',') if part.strip()]


def int_list(text: str) -> list[int]:
    """'0,1,2' -> [0, 1, 2]."""
    try:
        return [int(part) for part in name_list(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a comma-separated list of whole '
                                         'numbers, e.g. 4000,10000') from None


def add_protocol_flags(parser: argparse.ArgumentParser, seeds: str, select: str | None) -> None:
    """``--seeds`` (``seeds`` says what they are) and ``--select`` (default ``select``;
    None: the preset's)."""
    parser.add_argument('--seeds', type=int_list, help=f'e.g. 0,1,2: {seeds}; from two seeds '
                        'on the report shows mean ± std and differences paired by seed')
    parser.add_argument('--select', choices=SELECTS, default=select,
                        help="the model scored: 'best', the epoch best on val/ (needs a test/ "
                             "split), or 'last', the model after the last epoch"
                             + ('' if select else " (default: the preset's)"))
