"""What a file argument of the upstream scripts may name besides a path that exists."""
from __future__ import annotations

from pathlib import Path

from .data import is_synthetic, synthetic_set
from .models import resolve


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
