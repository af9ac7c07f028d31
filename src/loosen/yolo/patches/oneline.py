"""Bad input met inside upstream code ends in loosen's one line: a check run before an
upstream function, an upstream error turned into a ``LoosenError``, and the exit of a
plain upstream command (``yolov5 train``, ``yolo predict``) on one.

Those commands have no ``main`` of loosen's around them to catch a ``LoosenError``, so the
interpreter's last stop, ``sys.excepthook``, prints it (``loosen: error: ...``, no
traceback); raising ``SystemExit`` there sets exit code 2. Every other exception goes to
the hook that was there before.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType

from ...errors import LoosenError
from ...patches.wrap import MARK


def check_first(check: Callable[..., object]) -> Callable[[Callable], Callable]:
    """``make`` for ``wrap``: ``check(*args, **kwargs)`` (raising on bad input), then the
    original with the same arguments."""
    def make(original: Callable) -> Callable:
        def checked(*args, **kwargs):
            check(*args, **kwargs)
            return original(*args, **kwargs)
        return checked
    return make


def as_one_line(kind: type[Exception],
                say: Callable[..., str | LoosenError | None]) -> Callable[[Callable], Callable]:
    """``make`` for ``wrap``: an error of ``kind`` from the original becomes the LoosenError
    ``say(error, *args, **kwargs)`` gives (a line, or the error itself); None re-raises it."""
    def make(original: Callable) -> Callable:
        def call(*args, **kwargs):
            try:
                return original(*args, **kwargs)
            except kind as error:
                said = say(error, *args, **kwargs)
                if said is None:
                    raise
                raise (said if isinstance(said, LoosenError) else LoosenError(said)) from None
        return call
    return make


def one_line_errors() -> None:
    """An uncaught LoosenError prints one line and exits 2; idempotent."""
    previous = sys.excepthook
    if getattr(previous, MARK, False):
        return

    def excepthook(kind: type[BaseException], error: BaseException,
                   trace: TracebackType | None) -> None:
        if isinstance(error, LoosenError):
            print(f'loosen: error: {error}', file=sys.stderr)
            raise SystemExit(2)
        previous(kind, error, trace)

    setattr(excepthook, MARK, True)
    sys.excepthook = excepthook
