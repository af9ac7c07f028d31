"""Perceptual hashes of frames, for near-duplicates whose capture time is unknown.

The hash is imagehash's DCT hash (``phash``: 64 bits from the lowest 8x8 frequencies
of the frame shrunk to 32x32 gray), so noise, resizing and re-encoding move it by a
few bits while a different sky moves it by many. Bits differing (the Hamming
distance) measure how alike two frames are.

Hashes are cached per file, keyed by the file's path, size and modification time, in
one JSON file per image folder under ``$LOOSEN_CACHE/phash/`` (see
``loosen.cache.cache_dir``), not inside the folder: ``data check`` must work on
folders it cannot or should not write to (a shared or archived data set, a read-only
copy in CI), and leaves the folder it checks exactly as it was.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import atomic_write
from ..cache import cache_dir

HASH_BITS = 64
ALGORITHM = 'phash64'  # in the cache file's name: another hash never reads these


def phash(image: Image.Image) -> int:
    """The 64-bit DCT hash of ``image`` as an int (bit 63 = the hash's first bit)."""
    import imagehash  # scipy and PyWavelets: only when a hash is needed

    bits = imagehash.phash(image).hash.reshape(-1)
    return int.from_bytes(np.packbits(bits).tobytes(), 'big')


class HashCache:
    """Hashes of the files under ``root``, kept between runs; thread-safe for ``get`` and
    ``put`` (plain dict updates), saved by ``save`` in one atomic write."""

    def __init__(self, root: Path):
        self.root = Path(os.path.abspath(root))
        key = hashlib.blake2b(str(self.root).encode(), digest_size=8).hexdigest()
        self.file = cache_dir() / 'phash' / f'{ALGORITHM}-{key}.json'
        self.entries: dict[str, list] = {}  # relative path -> [size, mtime_ns, hash hex]
        self.changed = False
        try:
            found = json.loads(self.file.read_text())
            if found.get('root') == str(self.root):
                self.entries = found['files']
        except (OSError, ValueError, KeyError, AttributeError):
            pass  # no cache yet, or a damaged one: hashes are recomputed

    def _key(self, path: Path) -> tuple[str, int, int]:
        stat = path.stat()
        return os.path.relpath(os.path.abspath(path), self.root), stat.st_size, stat.st_mtime_ns

    def get(self, path: Path) -> int | None:
        """The cached hash of ``path``, or None when absent or the file has changed."""
        name, size, mtime = self._key(path)
        entry = self.entries.get(name)
        if entry and entry[0] == size and entry[1] == mtime:
            return int(entry[2], 16)
        return None

    def put(self, path: Path, value: int) -> None:
        name, size, mtime = self._key(path)
        self.entries[name] = [size, mtime, f'{value:016x}']
        self.changed = True

    def save(self) -> Path | None:
        """Write the cache if anything changed; the cache file, or None when unchanged."""
        if not self.changed:
            return None
        text = json.dumps({'root': str(self.root), 'files': self.entries})
        atomic_write(self.file, lambda temp: Path(temp).write_text(text))
        self.changed = False
        return self.file
