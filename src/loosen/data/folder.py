"""Image folders as users have them: ``root/{train,val,test}/<class>/<image>``.

``open_image`` is the one reader every loader uses. Sky cameras write 8-bit and
16-bit PNG, TIFF and FITS-like float arrays; all come out as 8-bit RGB:

- 8-bit and palette images: as they are (grayscale copied into three channels);
- integers deeper than 8 bits: divided by the full scale of the smallest bit depth
  of 10, 12, 14 or 16 that holds the image's maximum (a 12-bit camera in a 16-bit
  PNG is not four stops too dark);
- floats (float TIFF, ``.npy``): values already in [0, 1] are taken as they are;
  anything else is stretched from its minimum to its 99.9th percentile; NaN and
  infinities (masked corners) become black;
- EXIF orientation is applied.

Unreadable or truncated files raise ``LoosenError`` naming the file, or, with
``skip_bad``, are left out and counted.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..errors import LoosenError

SPLITS = ('train', 'val', 'test')
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.pgm', '.ppm',
                    '.gif', '.npy')
_BIT_DEPTHS = (8, 10, 12, 14, 16)
_READ_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def is_image_file(path: str | Path) -> bool:
    """An image by its extension, and not a hidden file (``._x.png`` from macOS is none)."""
    name = os.path.basename(path)
    return not name.startswith('.') and name.lower().endswith(IMAGE_EXTENSIONS)


def to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale an integer or float array of any depth to uint8 by the rules above."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.integer) and array.size and array.min() >= 0:
        top = int(array.max())
        bits = next((b for b in _BIT_DEPTHS if top < 2 ** b), int(top).bit_length())
        return np.round(array.astype(np.float64) * (255 / (2 ** bits - 1))).astype(np.uint8)
    values = array.astype(np.float64)
    finite = np.isfinite(values)
    values[~finite] = 0
    if not finite.any():
        return np.zeros(array.shape, np.uint8)
    lo, hi = values[finite].min(), np.percentile(values[finite], 99.9)
    if lo >= 0 and values[finite].max() <= 1:
        lo, hi = 0.0, 1.0
    scaled = (values - lo) * (255 / max(hi - lo, 1e-12))
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def _array_to_rgb(array: np.ndarray) -> Image.Image:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) of any dtype -> RGB."""
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        return Image.fromarray(to_uint8(array), 'L').convert('RGB')
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        return Image.fromarray(to_uint8(array[..., :3]), 'RGB')
    raise ValueError(f'array of shape {array.shape} is not an image (H, W) or (H, W, 3)')


def _pil_to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ('I', 'I;16', 'I;16B', 'I;16L', 'I;16N', 'F'):
        return _array_to_rgb(np.asarray(image))
    return image.convert('RGB')


def open_image(path: str | Path) -> Image.Image:
    """Read any supported image as 8-bit RGB (see the module notes for the scaling)."""
    path = Path(path)
    try:
        if path.suffix.lower() == '.npy':
            return _array_to_rgb(np.load(path, allow_pickle=False))
        with Image.open(path) as image:
            image.load()  # decode it all now: truncated files fail here, not mid-training
            return _pil_to_rgb(ImageOps.exif_transpose(image))
    except FileNotFoundError:
        raise LoosenError(f'image {path} does not exist; check the path') from None
    except _READ_ERRORS as error:
        reason = ' '.join(str(error).split()) or type(error).__name__
        raise LoosenError(f'cannot read image {path} ({reason}); re-export or delete it, or '
                          'skip unreadable images with --skip-bad (skip_bad=True)') from error


def find_splits(root: str | Path) -> list[str]:
    """Which of train/val/test exist under ``root``, in that order."""
    return [s for s in SPLITS if (Path(root) / s).is_dir()]


def class_folders(folder: Path) -> list[str]:
    """Class folder names in ``folder``, sorted as torchvision sorts them; hidden ones
    (``.ipynb_checkpoints``) are not classes."""
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith('.'))


def scan_split(root: Path, split: str, classes: list[str] | None = None, partial: bool = False
               ) -> tuple[list[str], list[tuple[str, int]]]:
    """Classes and (path, label) samples of ``root/split``, with every problem that would
    break training raised as a one-line LoosenError naming the fix. ``classes`` fixes the
    labels; with ``partial`` (evaluating a model) some of them may have no folder."""
    folder = Path(root) / split
    if not folder.is_dir():
        have = ', '.join(f'{s}/' for s in find_splits(root)) or 'no train/, val/ or test/'
        raise LoosenError(f'no {split}/ folder in {root} (it has {have}); put images in '
                          f'{folder}/<class>/')
    found = class_folders(folder)
    if not found:
        raise LoosenError(f'{folder} has no class folders; put images in {folder}/<class>/')
    if classes is None:
        classes = found
    missing = [c for c in classes if c not in found]
    if missing and not partial:
        raise LoosenError(f'{folder} has no folder for class(es) {", ".join(missing)} that '
                          f'training has; add {folder}/{missing[0]}/ with images of that class')
    extra = [c for c in found if c not in classes]
    if extra:
        raise LoosenError(f'{folder}/{extra[0]} is not a class of the training split '
                          f'({", ".join(classes)}); rename or remove it, or add it to training')
    from torchvision.datasets.folder import make_dataset  # torchvision only when reading

    samples = make_dataset(str(folder), {c: i for i, c in enumerate(classes)},
                           is_valid_file=is_image_file, allow_empty=True)
    counts = np.bincount([label for _, label in samples], minlength=len(classes))
    empty = [c for c, n in zip(classes, counts, strict=True) if n == 0 and c in found]
    if empty:
        raise LoosenError(f'class folder {folder / empty[0]} has no images (looked for '
                          f'{", ".join(IMAGE_EXTENSIONS)}); add images or delete the folder')
    return list(classes), samples


class ImageFolderSplit:
    """One split of an image folder: items are ``(RGB image or transform(image), label)``
    (a map-style dataset for torch's DataLoader, without importing torch).

    ``classes`` (e.g. the training split's) fixes the labels, so every split agrees;
    a split missing one of them is an error. With ``skip_bad`` every image is decoded
    once up front and the unreadable ones are left out (``skipped`` counts them,
    ``bad`` lists (path, reason)); without it the first bad image raises.
    """

    def __init__(self, root: str | Path, split: str, transform: Callable | None = None,
                 classes: list[str] | None = None, skip_bad: bool = False,
                 partial: bool = False):
        self.root, self.split, self.transform = Path(root), split, transform
        self.classes, samples = scan_split(self.root, split, classes, partial)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.bad: list[tuple[str, str]] = []
        if skip_bad:
            kept = []
            for path, label in samples:
                try:
                    open_image(path)
                    kept.append((path, label))
                except LoosenError as error:
                    self.bad.append((path, str(error)))
            samples = kept
            if not samples:
                raise LoosenError(f'no readable images in {self.root / split}; '
                                  f'first problem: {self.bad[0][1]}')
        self.samples = samples
        self.targets = [label for _, label in samples]
        self.skipped = len(self.bad)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        image = open_image(path)
        return (self.transform(image) if self.transform else image), label
