"""Errors that mean "the input is wrong": the message names the problem and the fix."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class LoosenError(ValueError):
    """Bad input from a user. The command line prints the message on one line, exit code 2."""


class UnknownNameError(LoosenError, KeyError):
    """An unknown model, attention or other registered name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def unknown_name(kind: str, name: str, known: Iterable[str]) -> UnknownNameError:
    """An error for ``name`` that suggests close matches and lists what ``kind`` knows."""
    known = sorted(known)
    close = difflib.get_close_matches(name.lower(), known, n=3, cutoff=0.6)
    hint = f'; did you mean {" or ".join(repr(c) for c in close)}?' if close else ''
    return UnknownNameError(f'unknown {kind} {name!r}{hint} Known: {", ".join(known)}')
