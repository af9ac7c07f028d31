"""Where rendered model YAMLs and synthetic detection sets are kept, and how they are
written so that several processes (DDP ranks) may race to write the same one."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..atomic import atomic_write
from ..cache import cache_dir

__all__ = ['build_dir_once', 'cache_dir', 'write_text_once']


def write_text_once(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically unless it already holds exactly that."""
    if path.exists() and path.read_text() == text:
        return path
    return atomic_write(path, lambda temp: Path(temp).write_text(text))


def build_dir_once(path: Path, build: Callable[[Path], object]) -> Path:
    """Run ``build(folder)`` into a fresh folder and move it to ``path``, unless it exists.

    A process that loses the race throws its copy away: the winner's is identical.
    """
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=path.parent, prefix=f'.{path.name}.'))
    try:
        build(work / 'set')
        os.replace(work / 'set', path)
    except OSError:
        if not path.exists():
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path
