"""``loosen predict``: classify image files or folders with a checkpoint, top-k to CSV.

Folders are searched recursively for images. An unreadable image stops the run with its
name before the CSV is written, or, with ``--skip-bad-images``, is listed and left out.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset

from ..data import open_image
from ..data.folder import is_image_file
from ..errors import LoosenError
from .checkpoint import load_checkpoint
from .compile import maybe_compile
from .config import EngineConfig
from .data import make_transform, shrink
from .evaluate import infer
from .report import write_rows
from .runtime import setup_runtime
from .test import check_given, restore_model


def find_images(paths: Sequence[str | Path]) -> list[Path]:
    """Image files among ``paths`` and inside the folders among them, sorted per folder."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob('*') if p.is_file() and is_image_file(p))
        elif path.is_file():
            found.append(path)
        else:
            raise LoosenError(f'{path} does not exist; give image files or folders of them')
    if not found:
        raise LoosenError(f'no images in {", ".join(map(str, paths))}; looked for image files '
                          '(.png, .jpg, .tif, ...) in folders and their subfolders')
    return found


class ImageFiles(Dataset):
    """Items ``(transform(image), 0)``, or ``(zeros, 1)`` for a file that cannot be read,
    so one bad file does not kill a loader worker; ``problem(i)`` says what is wrong.
    Images are decoded as in training: shrunk to ``side``, then transformed."""

    def __init__(self, files: list[Path], transform: Callable, shape: Sequence[int],
                 side: int) -> None:
        self.files, self.transform, self.shape, self.side = files, transform, tuple(shape), side

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        try:
            image = shrink(open_image(self.files[index]), self.side)
        except LoosenError:
            return torch.zeros(self.shape), 1
        return self.transform(image), 0

    def problem(self, index: int) -> str:
        try:
            open_image(self.files[index])
        except LoosenError as error:
            return str(error)
        return 'unreadable'


@dataclass
class PredictResult:
    output: Path
    rows: list[dict[str, object]]
    skipped: list[str] = field(default_factory=list)


def predict(config: EngineConfig, paths: Sequence[str | Path], output: str | Path,
            progress: bool | None = None) -> PredictResult:
    """Top-``config.top_k`` classes and probabilities of every image in ``paths``."""
    runtime, _ = setup_runtime(config)
    try:
        checkpoint = load_checkpoint(config.checkpoint)
        check_given(config, checkpoint, config.checkpoint)
        files = find_images(paths)
        model = maybe_compile(restore_model(checkpoint, config.checkpoint, runtime),
                              config.compile, config.compile_mode, checkpoint['model'],
                              note=lambda text: print(f'note: {text}'))
        data_cfg = checkpoint['data_config']
        dataset = ImageFiles(files, make_transform(data_cfg, None, training=False),
                             data_cfg['input_size'], data_cfg['decode_side'])
        logits, bad = infer(model, dataset, config.batch_size, config.num_workers, runtime,
                            'predict', progress)
    finally:
        runtime.close()
    broken = set(bad.nonzero().flatten().tolist())
    if broken and not config.skip_bad_images:
        raise LoosenError(f'{dataset.problem(min(broken))} [{len(broken)} unreadable of '
                          f'{len(files)}; --skip-bad-images leaves them out]')
    classes = checkpoint['classes']
    k = min(config.top_k, len(classes))
    probs, top = logits.softmax(1).topk(k, 1)
    rows = []
    for i, path in enumerate(files):
        if i in broken:
            continue
        row: dict[str, object] = {'path': str(path)}
        for rank in range(k):
            row[f'top{rank + 1}'] = classes[int(top[i, rank])]
            row[f'p{rank + 1}'] = round(float(probs[i, rank]), 6)
        rows.append(row)
    output = Path(output)
    if runtime.main:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_rows(output, rows, None if rows else ['path'])
    return PredictResult(output, rows, [str(files[i]) for i in sorted(broken)])
