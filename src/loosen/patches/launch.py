"""Run an upstream script or module as ``python`` would, after loosen's set-up.

Shared by every launcher (``loosen run``, ``loosen yolo ...``): the set-up functions
register models or install patches in this process, then the target runs in it as
``__main__`` with its own arguments, unchanged.
"""
from __future__ import annotations

import importlib
import os
import runpy
import sys
from collections.abc import Callable, Iterable, Sequence


def exit_code(code: object) -> int:
    """The process exit code ``sys.exit(code)`` would give (a message prints, exits 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def run_target(target: str, argv: Sequence[str], *, module: bool = False,
               setup: Iterable[Callable[[], None]] = ()) -> int:
    """Run ``target`` (a script path, or a module name when ``module``) with ``argv``.

    A module target may also name a console-script entry point, ``package.module:function``
    (Ultralytics' ``yolo`` is ``ultralytics.cfg:entrypoint``): the function is called.

    ``sys.argv`` and ``sys.path[0]`` are what ``python target argv...`` would see, and
    are restored afterwards; the target's ``sys.exit`` becomes the returned code.
    """
    for step in setup:
        step()
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [target, *argv]
    if not module:
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
    try:
        if module and ':' in target:
            name, _, function = target.partition(':')
            result = getattr(importlib.import_module(name), function)()
            return exit_code(result) if isinstance(result, int) else 0
        if module:
            runpy.run_module(target, run_name='__main__', alter_sys=True)
        else:
            runpy.run_path(target, run_name='__main__')
    except SystemExit as stop:
        return exit_code(stop.code)
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return 0
