"""The paper's training recipes, as presets over the engine's settings.

The paper trained its CNNs, its ViT and RMT with three different scripts. A recipe
holds what one script set (optimizer, schedule, epochs, batch, preprocessing and
augmentation, regularisation, checkpoint selection), as ``EngineConfig`` values, so
``loosen train --recipe paper-cnn`` reproduces the paper's run while loosen's own
defaults, chosen for sky frames, stay the defaults. Every engine piece a recipe names
is timm's or torch's (``docs/paper-fidelity.md`` lists what each recipe does and where
it had to differ).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import LoosenError, unknown_name
from .config import EngineConfig

# what every recipe shares: ImageNet statistics, plain cross-entropy on the 4 classes (no
# class weights), the best checkpoint by validation accuracy, 224-pixel inputs
COMMON: dict[str, Any] = dict(norm='imagenet', balance='none', best_metric='accuracy',
                              img_size=224, vflip=0.0, patience=None)


@dataclass(frozen=True)
class Recipe:
    """One of the paper's training set-ups.

    Args:
        name: the ``--recipe`` name.
        source: the release's script(s) it comes from.
        summary: the recipe in one line.
        settings: ``EngineConfig`` field -> the release's value.
        model_kwargs: model constructor options the release trained with (dropouts).
    """

    name: str
    source: str
    summary: str
    settings: Mapping[str, Any]
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = {f.name for f in dataclasses.fields(EngineConfig)}
        unknown = set(self.settings) - known
        if unknown:
            raise ValueError(f'recipe {self.name}: {sorted(unknown)} are not EngineConfig fields')
        object.__setattr__(self, 'settings', MappingProxyType({**COMMON, **self.settings}))
        object.__setattr__(self, 'model_kwargs', MappingProxyType(dict(self.model_kwargs)))


RECIPES: dict[str, Recipe] = {recipe.name: recipe for recipe in (
    Recipe(
        'paper-cnn', 'classification/train.py',
        'Adam 8e-5, no weight decay, lr x0.5 after 10 epochs without better val accuracy, '
        '200 epochs, batch 128, RandomResizedCrop 224 + horizontal flip',
        dict(opt='adam', lr=8e-5, weight_decay=0.0, sched='plateau', decay_rate=0.5,
             patience_epochs=10, warmup_epochs=0, min_lr=0.0, epochs=200, batch_size=128,
             scale=(0.08, 1.0), hflip=0.5, color_jitter=0.0, auto_augment=None, reprob=0.0,
             crop_pct=0.875, smoothing=0.0, mixup=0.0, cutmix=0.0, model_ema=False)),
    Recipe(
        'paper-vit', 'vit/train.py with vit/config/config.py',
        'AdamW 8e-4, weight decay 0.05, cosine to 1e-6, 300 epochs, batch 128, dropout 0.1, '
        'images resized to 224 without augmentation',
        dict(opt='adamw', lr=8e-4, weight_decay=0.05, sched='cosine', warmup_epochs=0,
             min_lr=1e-6, epochs=300, batch_size=128, augment=False, crop_pct=1.0,
             crop_mode='squash', smoothing=0.0, mixup=0.0, cutmix=0.0, model_ema=False,
             amp=True),
        dict(pos_drop_rate=0.1, attn_drop_rate=0.1, proj_drop_rate=0.1)),
    Recipe(
        'paper-rmt', 'RMT/main.py (DeiT style), RMT/classfication_release/datasets.py',
        'AdamW 2e-4 (8e-4 x 128/512), weight decay 0.05, 10 warm-up epochs, cosine to 1e-6, '
        '300 epochs, batch 128, EMA 0.99996 ** (128/512), mixup 0.8, cutmix 1.0, smoothing 0.1, '
        'RandAugment m9, colour jitter 0.4, random erasing 0.25, drop path 0.15',
        dict(opt='adamw', lr=8e-4 * 128 / 512, weight_decay=0.05, sched='cosine',
             warmup_epochs=10, warmup_lr=1e-6, min_lr=1e-6, epochs=300, batch_size=128,
             model_ema=True, model_ema_decay=0.99996 ** (128 / 512),  # DeiT: ** (batch/512)
             mixup=0.8, cutmix=1.0, mixup_prob=1.0, mixup_switch_prob=0.5, smoothing=0.1,
             auto_augment='rand-m9-mstd0.5-inc1', color_jitter=0.4, reprob=0.25, remode='pixel',
             drop_path=0.15, scale=(0.08, 1.0), hflip=0.5, crop_pct=0.875)),
)}


def recipe_for(arch: str) -> str:
    """The paper's recipe for ``arch`` (an architecture, alias or model name): its
    family's (``ArchSpec.recipe``): CNNs 'paper-cnn', ``vit_*`` 'paper-vit', ``rmt_*``
    'paper-rmt'."""
    from ..models import get_arch, parse_model_name  # timm: only when asked
    try:
        spec = get_arch(arch)
    except LoosenError:
        spec = get_arch(parse_model_name(arch)[0])  # a model name such as 'resnet34_la'
    return spec.recipe


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; unknown names list the known ones."""
    if name not in RECIPES:
        raise unknown_name('recipe', name, RECIPES)
    return RECIPES[name]


def apply_recipe(config: EngineConfig, name: str) -> EngineConfig:
    """A copy of ``config`` with recipe ``name``'s settings; the config's own model
    options win over the recipe's."""
    recipe = get_recipe(name)
    return dataclasses.replace(config, **recipe.settings, recipe=recipe.name,
                               model_kwargs={**recipe.model_kwargs, **config.model_kwargs})
