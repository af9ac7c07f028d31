"""``loosen data preview``: a sheet of sample frames, one row per class.

Works on any split or flat image folder (synthetic or real); the frames are a seeded
random pick per class, so two sheets of the same folder match.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..errors import LoosenError
from .folder import open_image
from .tree import Frame, collect_frames


def pick(frames: list[Frame], per_class: int, seed: int) -> dict[str, list[Frame]]:
    """Up to ``per_class`` frames of each class, seeded, in name order."""
    by_class: dict[str, list[Frame]] = defaultdict(list)
    for frame in frames:
        by_class[frame.cls].append(frame)
    rng = np.random.default_rng(seed)
    picked = {}
    for cls in sorted(by_class):
        group = by_class[cls]
        chosen = rng.choice(len(group), size=min(per_class, len(group)), replace=False)
        picked[cls] = [group[i] for i in sorted(chosen)]
    return picked


def preview(root: str | Path, out: str | Path, per_class: int = 6, seed: int = 0,
            split: str | None = None, tile: float = 1.6) -> Path:
    """Write a PNG sheet of ``per_class`` frames per class from ``root`` (one ``split``,
    or all); returns the sheet's path."""
    frames = collect_frames(root)
    if split:
        frames = [f for f in frames if f.split == split]
        if not frames:
            raise LoosenError(f'no images in split {split!r} of {root}; omit --split or name '
                              'one of its splits')
    counts: dict[str, int] = defaultdict(int)
    for frame in frames:
        counts[frame.cls] += 1
    picked = pick(frames, per_class, seed)
    rows, cols = len(picked), max(len(v) for v in picked.values())
    fig = Figure(figsize=(cols * tile, rows * tile + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False)
    for row, (cls, group) in enumerate(picked.items()):
        for col, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_frame_on(False)
            if col < len(group):
                ax.imshow(np.asarray(open_image(group[col].path)), interpolation='lanczos')
                ax.set_title(group[col].name, fontsize=6)
        axes[row, 0].set_ylabel(f'{cls}\n({counts[cls]})', fontsize=9)
    fig.suptitle(f'{Path(root).name}: {len(frames)} images' + (f' in {split}' if split else ''),
                 fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out
