"""Datasets, transforms, samplers and loaders of the engine.

Data is an image folder (``data_root/{train,val,test}/<class>/``, or one folder of class
folders per split, as the ViT command line gives them) or, when no path is given, the
built-in synthetic aurora set. Every image is decoded once before anything is written,
so an unreadable file stops the run at the start with its name, or, with
``--skip-bad-images``, is left out and counted. Decoding brings each image down to
``decode_side`` pixels (shorter side; enough that the largest training crop is not
upsampled) and, when the split fits in ``--cache-mb``, keeps it in memory: a small
set is decoded once per run instead of once per epoch. Test and predict decode the
same way, from the checkpoint's data config.

Transforms come from timm (``resolve_data_config`` + ``create_transform``), with
defaults chosen for all-sky frames: the full circle is kept (``crop_pct=1``), crops
are mild (60-100 % of the area), both flips are allowed (the sky has no up or down),
and by default the images are normalised by the training set's own mean and std
(sky frames are dark: mean about 0.15, std 0.14, far from ImageNet's).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from timm.data import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    create_transform,
    resolve_data_config,
)
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
from torchvision.transforms import Compose, Normalize

from ..data import ImageFolderSplit, SyntheticAurora, find_splits
from ..data.folder import class_folders
from ..errors import LoosenError
from ..models import get_arch, parse_model_name
from .config import EngineConfig

SYNTHETIC_SEED_OFFSET = {'train': 0, 'val': 1, 'test': 2}  # a different sky for each split
STATS_IMAGES = 200   # images the normalisation statistics are taken from
STATS_SIZE = 64      # ... each brought to this size first


def decode_side(img_size: int, scale: Sequence[float]) -> int:
    """The shorter side images are decoded to: the smallest training crop (``scale[0]`` of
    the area) still has ``img_size`` pixels across."""
    return math.ceil(img_size / math.sqrt(max(min(scale), 0.05)))


def shrink(image: Image.Image, side: int) -> Image.Image:
    """``image`` with its shorter side brought down to ``side`` (never up), kept as 8-bit
    grayscale when its three channels are equal (a third of the memory)."""
    if min(image.size) > side:
        w, h = image.size
        ratio = side / min(w, h)
        image = image.resize((max(side, round(w * ratio)), max(side, round(h * ratio))),
                             Image.BICUBIC, reducing_gap=3.0)
    r, g, b = image.split()
    return r if r.tobytes() == g.tobytes() == b.tobytes() else image


class Decoded(Dataset):
    """The images of ``base`` (items ``(PIL image, label)``), checked and shrunk once.

    Unreadable images raise their LoosenError, or with ``skip_bad`` are left out
    (``bad`` lists (id, problem)). While the shrunk images fit in ``budget`` bytes they are
    kept (``cached``); past it they are dropped and decoded again on every access.
    Items are ``(transform(image), label)``, the image 8-bit grayscale or RGB as it was
    (see ``GrayFirst``), or ``(RGB image, label)`` without a transform.
    """

    def __init__(self, base: Dataset, ids: list[str], side: int, budget: int,
                 skip_bad: bool) -> None:
        self.base, self.side, self.transform = base, side, None
        self.classes = list(base.classes)
        self.keep: list[int] = []
        self.bad: list[tuple[str, str]] = []
        images: list[Image.Image] | None = []
        used = 0
        for index in range(len(base)):
            try:
                image = shrink(base[index][0], side)
            except LoosenError as error:
                if not skip_bad:
                    raise
                self.bad.append((ids[index], str(error)))
                continue
            self.keep.append(index)
            if images is not None:
                used += len(image.getbands()) * image.size[0] * image.size[1]
                if used <= budget:
                    images.append(image)
                else:
                    images = None
        if not self.keep:
            raise LoosenError(f'no readable images among {len(base)}; first problem: '
                              f'{self.bad[0][1]}')
        self.images = images
        self.targets = [base.targets[i] for i in self.keep]
        self.ids = [ids[i] for i in self.keep]

    @property
    def cached(self) -> bool:
        return self.images is not None

    def __len__(self) -> int:
        return len(self.keep)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        if self.images is not None:
            image = self.images[index]
        else:
            image = shrink(self.base[self.keep[index]][0], self.side)
        if self.transform is None:
            return image.convert('RGB'), self.targets[index]
        return self.transform(image), self.targets[index]


@dataclass
class Split:
    """One split: its images, one name per image (for reports) and where they came from."""

    name: str
    dataset: Decoded
    source: str

    @property
    def ids(self) -> list[str]:
        return self.dataset.ids

    @property
    def classes(self) -> list[str]:
        return self.dataset.classes

    @property
    def targets(self) -> list[int]:
        return self.dataset.targets


def default_img_size(config: EngineConfig) -> int:
    """``--img-size``, else the input size of the model's timm config (224 for all here)."""
    if config.img_size:
        return config.img_size
    arch, _ = parse_model_name(config.model)
    return int(get_arch(arch).cfg['input_size'][-1])


def synthetic_size(config: EngineConfig) -> int:
    return config.synthetic_size or default_img_size(config)


def _synthetic_split(config: EngineConfig, split: str) -> tuple[Dataset, list[str], str]:
    per_class = config.synthetic_per_class
    if split != 'train':
        per_class = max(2, per_class // 4)
    seed = config.synthetic_seed + SYNTHETIC_SEED_OFFSET[split]
    dataset = SyntheticAurora(per_class, synthetic_size(config), seed, config.synthetic_classes)
    ids = [f'synthetic:{split}/{dataset.classes[label]}_{k % per_class:05d}'
           for k, label in enumerate(dataset.targets)]
    return dataset, ids, f'synthetic aurora (seed {seed}, {per_class} per class)'


def split_folder(config: EngineConfig, split: str) -> Path:
    """The folder of class folders that holds ``split``."""
    given = {'train': config.train_dir, 'val': config.val_dir, 'test': config.test_dir}[split]
    if given:
        return Path(given)
    if not config.data_root:
        raise LoosenError(f'no {split} data: give --data-path (a folder with {split}/<class>/) '
                          'or leave out every data path to use the synthetic set')
    root = Path(config.data_root)
    if split == 'test' and root.is_dir() and not find_splits(root) and class_folders(root):
        return root  # a folder of class folders given as the test set
    return root / split


def test_split(config: EngineConfig) -> str:
    """The split ``test`` evaluates: ``--split``, else test/, or val/ when a data root has
    splits but no test/."""
    if config.split:
        return config.split
    if config.data == 'folder' and config.data_root and not config.test_dir:
        splits = find_splits(config.data_root) if Path(config.data_root).is_dir() else []
        if splits and 'test' not in splits:
            return 'val'
    return 'test'


def open_split(config: EngineConfig, split: str, side: int,
               classes: list[str] | None = None, partial: bool = False) -> Split:
    """``split`` of the configured data, decoded to ``side`` (see the module notes).
    ``classes`` (the training split's) fixes the labels; with ``partial`` the folder may
    hold only some of them (a test set of one night)."""
    if config.data == 'synthetic':
        base, ids, source = _synthetic_split(config, split)
    else:
        folder = split_folder(config, split)
        if config.data_root and not Path(config.data_root).is_dir():
            raise LoosenError(f'data folder {config.data_root} does not exist; give a folder '
                              'with train/<class>/ and val/<class>/ images')
        if not folder.is_dir():
            raise LoosenError(f'{split} folder {folder} does not exist; give a folder with '
                              f'{split}/<class>/ images (or one folder of class folders)')
        base = ImageFolderSplit(folder.parent, folder.name, classes=classes, partial=partial)
        ids, source = [path for path, _ in base.samples], str(folder)
    dataset = Decoded(base, ids, side, config.cache_mb * 2**20, config.skip_bad_images)
    if dataset.bad:
        source += f' ({len(dataset.bad)} unreadable images skipped, first: {dataset.bad[0][0]})'
    if not dataset.cached:
        source += f' (more than --cache-mb {config.cache_mb}: decoded every epoch)'
    return Split(split, dataset, source)


def check_num_classes(config: EngineConfig, classes: list[str]) -> None:
    if config.num_classes is not None and config.num_classes != len(classes):
        raise LoosenError(f'--num_classes {config.num_classes} but the data has {len(classes)} '
                          f'classes ({", ".join(classes)}); drop --num_classes or fix the '
                          'class folders')


def normalisation(dataset: Dataset) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of up to ``STATS_IMAGES`` evenly spaced training images."""
    picks = np.linspace(0, len(dataset) - 1, min(len(dataset), STATS_IMAGES)).round()
    transform, dataset.transform = dataset.transform, None
    try:
        pixels = np.stack([
            np.asarray(dataset[int(i)][0].resize((STATS_SIZE, STATS_SIZE)), np.float64) / 255
            for i in np.unique(picks)])  # (N, S, S, 3)
    finally:
        dataset.transform = transform
    mean, std = pixels.mean((0, 1, 2)), pixels.std((0, 1, 2))
    return tuple(round(float(m), 4) for m in mean), tuple(round(float(max(s, 1e-3)), 4)
                                                          for s in std)


def data_config(config: EngineConfig, model: nn.Module, side: int,
                stats: tuple[tuple[float, ...], tuple[float, ...]] | None) -> dict[str, Any]:
    """timm's data config for ``model``, with the image size, crop and normalisation of
    ``config`` (``stats``: the training set's mean and std, used when ``norm='dataset'``)
    and the ``decode_side`` images were shrunk to."""
    size = default_img_size(config)
    args: dict[str, Any] = {'crop_pct': config.crop_pct, 'input_size': (3, size, size)}
    if config.crop_mode:
        args['crop_mode'] = config.crop_mode
    if config.norm == 'dataset' and stats is not None:
        args['mean'], args['std'] = stats
    elif config.norm == 'imagenet':
        args['mean'], args['std'] = IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
    resolved = resolve_data_config(args, model=model)
    return {**{k: list(v) if isinstance(v, tuple) else v for k, v in resolved.items()},
            'decode_side': side}


def make_transform(data_cfg: dict[str, Any], config: EngineConfig | None,
                   training: bool) -> Callable:
    """timm's eval transform for ``data_cfg``, or its training transform with the
    augmentation options of ``config``. Colour jitter is brightness and contrast only:
    saturation does nothing to sky frames but costs a quarter of the transform's time."""
    common = dict(input_size=tuple(data_cfg['input_size']), mean=tuple(data_cfg['mean']),
                  std=tuple(data_cfg['std']), interpolation=data_cfg['interpolation'],
                  crop_pct=data_cfg['crop_pct'], crop_mode=data_cfg.get('crop_mode'))
    if not training or not config.augment:  # no augmentation: train on the eval transform
        return GrayFirst(create_transform(**common))
    timm_transform = create_transform(
        **common, is_training=True, scale=tuple(config.scale), hflip=config.hflip,
        vflip=config.vflip, color_jitter=(config.color_jitter, config.color_jitter, 0.0),
        auto_augment=config.auto_augment, re_prob=config.reprob, re_mode=config.remode)
    return GrayFirst(timm_transform, rgb=bool(config.auto_augment))


class GrayFirst:
    """A timm transform that crops, flips and jitters a grayscale image as one channel and
    copies it into three just before ``Normalize``: a third of the work, the same result
    (``loosen bench pipeline``: half the transform time at 128 px). RGB images, and any
    image when ``rgb`` (auto-augment ops want RGB), go through as three channels."""

    def __init__(self, transform: Compose, rgb: bool = False) -> None:
        steps = transform.transforms
        cut = next(i for i, step in enumerate(steps) if isinstance(step, Normalize))
        self.head, self.tail, self.rgb = Compose(steps[:cut]), Compose(steps[cut:]), rgb

    def __call__(self, image: Image.Image) -> torch.Tensor:
        x = self.head(image.convert('RGB') if self.rgb else image)  # (1 or 3, H, W)
        return self.tail(x.expand(3, -1, -1))

    def __repr__(self) -> str:
        return f'GrayFirst({self.head}, {self.tail})'


def class_weights(targets: list[int], num_classes: int) -> torch.Tensor:
    """``N / (K * count)`` per class: every class weighs the same in the loss in total."""
    counts = np.bincount(targets, minlength=num_classes).astype(np.float64)
    return torch.tensor(len(targets) / (num_classes * np.maximum(counts, 1)), dtype=torch.float)


class BalancedSampler(Sampler[int]):
    """Draws with replacement, every class equally likely. The draw of an epoch depends on
    ``seed`` and the epoch only, and is the same on every rank; each rank takes every
    ``num_replicas``-th index of it, as ``DistributedSampler`` does."""

    def __init__(self, targets: list[int], num_replicas: int = 1, rank: int = 0,
                 seed: int = 0) -> None:
        counts = np.bincount(targets)
        self.weights = torch.tensor(1.0 / counts[targets], dtype=torch.double)
        self.num_replicas, self.rank, self.seed, self.epoch = num_replicas, rank, seed, 0
        self.num_samples = math.ceil(len(targets) / num_replicas)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        draw = torch.multinomial(self.weights, self.num_samples * self.num_replicas,
                                 replacement=True, generator=generator)
        return iter(draw[self.rank::self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples


def make_sampler(split: Split, config: EngineConfig, training: bool, num_replicas: int,
                 rank: int) -> Sampler[int]:
    """Shuffled (training) or in-order shards of ``split`` for this rank."""
    if training and config.balance == 'sampler':
        return BalancedSampler(split.targets, num_replicas, rank, config.seed)
    return DistributedSampler(split.dataset, num_replicas, rank, shuffle=training,
                              seed=config.seed)


def make_loader(dataset: Dataset, batch_size: int, sampler: Sampler[int], num_workers: int,
                training: bool, pin_memory: bool = False) -> DataLoader:
    """Batches of ``dataset`` in ``sampler``'s order. Training drops the last short batch
    (batch norm and mixup need full ones); its generator is reseeded every epoch."""
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                      drop_last=training, pin_memory=pin_memory,
                      generator=torch.Generator() if training else None)
