"""Files written whole or not at all: checkpoints, grid results, rendered model YAMLs."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


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
