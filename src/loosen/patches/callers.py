"""Change a library default only for calls made from one upstream package's own files.

``torch.load`` and ``torch.onnx.export`` changed their defaults under YOLOv5; the old
default is given back to YOLOv5's own call sites and nobody else's.
"""
from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path

from .wrap import MARK


def called_from(folder: str, depth: int = 2) -> bool:
    """True when the frame ``depth`` levels up runs a file under ``folder`` (a resolved
    path; the file's own may run through a symbolic link, e.g. a linked virtualenv)."""
    filename = sys._getframe(depth).f_code.co_filename
    return filename.startswith(folder) or os.path.realpath(filename).startswith(folder)


def default_for(function: Callable, folder: Path, **defaults: object) -> Callable:
    """``function`` with ``defaults`` filled in when the caller's file lies under ``folder``."""
    root = os.path.realpath(folder)
    if getattr(function, MARK, None) == root:
        return function

    @functools.wraps(function)
    def call(*args, **kwargs):
        if called_from(root):
            for key, value in defaults.items():
                kwargs.setdefault(key, value)
        return function(*args, **kwargs)

    setattr(call, MARK, root)
    return call
