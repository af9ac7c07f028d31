"""Files written whole or not at all: checkpoints, grid results, rendered model YAMLs."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: Path, write: Callable[[str], None]) -> Path:
    """Run ``write(temp_path)`` and rename the result over ``path``; on failure nothing
    is left behind and the old ``path`` stays as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    os.close(fd)
    try:
        write(temp)
        with open(temp, 'rb') as f:
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)  # mkstemp makes it private; these files are for sharing
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
    return path


def write_json(path: Path, value: Any) -> None:
    """``value`` as JSON at ``path``, atomically: readers see the old file or the new one."""
    atomic_write(path, lambda temp: Path(temp).write_text(json.dumps(value, indent=1) + '\n'))


def read_json_or_none(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None
