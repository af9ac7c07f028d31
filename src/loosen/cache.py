"""Where loosen keeps what it can rebuild: rendered model YAMLs, synthetic detection sets,
perceptual hashes of image folders."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$LOOSEN_CACHE``, else ``$XDG_CACHE_HOME/loosen``, else ``~/.cache/loosen``."""
    if os.environ.get('LOOSEN_CACHE'):
        return Path(os.environ['LOOSEN_CACHE'])
    base = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(base) / 'loosen'
