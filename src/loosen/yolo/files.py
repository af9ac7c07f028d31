"""What a file argument of the upstream scripts may name, and the one line that says it
names nothing: what was looked for and where, the close names, and where to put the file
(loosen never downloads)."""
from __future__ import annotations

import difflib
import itertools
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import LoosenError
from .data import is_synthetic, synthetic_set
from .models import resolve

# sources a user names on purpose: upstream fetches them, loosen leaves them be
REMOTE = ('http://', 'https://', 'rtsp://', 'rtmp://', 'tcp://', 'grpc://', 'gs://', 'ul://',
          'clearml://')
SCAN = 5000  # entries of a folder read for close names (a folder of frames can be huge)


class NotDownloaded(LoosenError, ConnectionError):
    """A file upstream would have downloaded. Also a ConnectionError, so that upstream code
    that carries on offline (Ultralytics' AMP check fetches yolo26n.pt) still does."""


def is_remote(text: str) -> bool:
    return str(text).lower().startswith(REMOTE)


def resolve_file(name: str, root: Path) -> str | None:
    """A loosen model YAML by bare name, a synthetic set, or a path relative to the
    upstream package ``root`` (the seed's ``data/hyps/hyp.scratch-low.yaml``); None
    when the name is none of these (upstream then searches as it always does)."""
    if not name or Path(name).exists():
        return None
    if is_synthetic(name):
        return str(synthetic_set(name))
    model = resolve(name)
    if model is not None:
        return str(model)
    packaged = root / name
    return str(packaged) if packaged.is_file() else None


def nearest_folder(path: Path) -> Path:
    """The deepest folder on the way to ``path`` that exists."""
    return next(parent for parent in path.parents if parent.is_dir())


def entries(folder: Path) -> list[str]:
    with os.scandir(folder) as scan:
        return [entry.name for entry in itertools.islice(scan, SCAN)]


def similarity(name: str, other: str) -> float:
    """difflib's ratio of two names without their suffixes (a shared ``.yaml`` makes any two
    names look alike); 0 for a file of another suffix."""
    (stem, suffix), (other_stem, other_suffix) = os.path.splitext(name), os.path.splitext(other)
    if suffix and other_suffix and suffix.lower() != other_suffix.lower():
        return 0.0
    return difflib.SequenceMatcher(None, stem, other_stem).ratio()


def close_names(text: str, known: Iterable[str] = ()) -> list[str]:
    """Up to three names close to ``text``, spelled as it is: entries of the deepest folder on
    its way that exists, and ``known`` names (loosen's and upstream's, as a user types them)."""
    path = Path(text)
    folder = nearest_folder(path.absolute())
    sought = path.absolute().relative_to(folder).parts[0]
    spell = (lambda name: str(folder / name)) if path.is_absolute() else (
        lambda name: os.path.relpath(folder / name))
    scored = {spell(name): similarity(sought, name) for name in entries(folder)}
    scored.update((name, similarity(text, name)) for name in known)
    ranked = sorted(scored, key=lambda name: (-scored[name], name))
    return [name for name in ranked[:3] if scored[name] >= 0.6]


def not_found(subject: str, what: str, text: str, places: Sequence[Path] = (), *,
              known: Iterable[str] = (), elsewhere: str = '', fix: str = '') -> str:
    """One line for ``subject`` (``'--weights yolov5s.pt'``), whose ``text`` names no ``what``.

    ``places`` are the other paths looked at besides ``text`` itself (where the file
    belongs), ``elsewhere`` the searches made, in words (``', nor among ...'``), ``known``
    the names it may have meant; ``fix`` is said after where to put the file.
    """
    target = Path(text).absolute()
    folder = nearest_folder(target)
    gap = '' if folder == target.parent else (
        f' ({folder / target.relative_to(folder).parts[0]} does not exist)')
    looked = ' or '.join(str(p.absolute()) for p in [target, *places])
    close = close_names(text, known)
    hint = f'; close names: {", ".join(close)}' if close else ''
    fix = f'; {fix}' if fix else ''
    return (f'{subject}: no {what} at {looked}{gap}{elsewhere}{hint}; loosen never downloads: '
            f'put the file at {target} or give its path{fix}')
