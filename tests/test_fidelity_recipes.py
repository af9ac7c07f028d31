"""The paper's training recipes (``--recipe``): the release's settings, applied by the engine.

The expected values are the release's, as the issue and docs/paper-fidelity.md state them.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch
import yaml
from PIL import Image
from timm.data import IMAGENET_DEFAULT_MEAN
from timm.data.auto_augment import RandAugment
from timm.data.random_erasing import RandomErasing
from timm.data.transforms import RandomResizedCropAndInterpolation, ResizeKeepRatio
from torchvision import transforms as T

from loosen.cli import main
from loosen.engine.config import EngineConfig
from loosen.engine.data import data_config, make_transform
from loosen.engine.flags import parse
from loosen.engine.recipes import RECIPES, apply_recipe, recipe_for
from loosen.engine.runtime import Runtime
from loosen.engine.train import Trainer
from loosen.errors import LoosenError
from loosen.models import list_archs
from test_models import tiny

pytestmark = pytest.mark.slow  # among the slowest files: run first (conftest.py)

RELEASE = {  # recipe: the release's settings (EngineConfig fields)
    'paper-cnn': dict(opt='adam', lr=8e-5, weight_decay=0.0, sched='plateau', decay_rate=0.5,
                      patience_epochs=10, epochs=200, batch_size=128, scale=(0.08, 1.0),
                      hflip=0.5, vflip=0.0, color_jitter=0.0, auto_augment=None, reprob=0.0,
                      norm='imagenet', best_metric='accuracy', crop_pct=0.875),
    'paper-vit': dict(opt='adamw', lr=8e-4, weight_decay=0.05, sched='cosine', min_lr=1e-6,
                      warmup_epochs=0, epochs=300, batch_size=128, augment=False,
                      norm='imagenet', best_metric='accuracy'),
    'paper-rmt': dict(opt='adamw', lr=2e-4, weight_decay=0.05, sched='cosine', warmup_epochs=10,
                      min_lr=1e-6, epochs=300, batch_size=128, model_ema=True,
                      model_ema_decay=0.99996 ** 0.25,  # DeiT scales the decay by batch/512
                      mixup=0.8, cutmix=1.0, smoothing=0.1,
                      auto_augment='rand-m9-mstd0.5-inc1', color_jitter=0.4, reprob=0.25,
                      drop_path=0.15, norm='imagenet', best_metric='accuracy'),
}


@pytest.mark.parametrize('name', sorted(RELEASE))
def test_each_recipe_holds_the_releases_settings(name):
    config = apply_recipe(EngineConfig(), name)
    assert config.recipe == name
    assert {k: getattr(config, k) for k in RELEASE[name]} == RELEASE[name]
    assert config.balance == 'none'  # the release's plain cross-entropy, no class weights


def test_the_vit_recipe_carries_the_releases_dropout():
    config = apply_recipe(EngineConfig(model_kwargs={'attn_drop_rate': 0.0}), 'paper-vit')
    assert config.model_kwargs == {'pos_drop_rate': 0.1, 'attn_drop_rate': 0.0,
                                   'proj_drop_rate': 0.1}  # the config's own options win


def test_apply_recipe_returns_a_new_config_and_defaults_stay_loosens():
    mine = EngineConfig()
    applied = apply_recipe(mine, 'paper-cnn')
    assert applied is not mine and mine == EngineConfig()
    assert (mine.recipe, mine.norm, mine.opt) == (None, 'dataset', 'adamw')
    with pytest.raises(LoosenError, match="unknown recipe 'paper-cn'; did you mean 'paper-cnn'"):
        apply_recipe(mine, 'paper-cn')


@pytest.mark.parametrize('arch', list_archs())
def test_recipe_for_every_arch_is_the_one_the_paper_used(arch):
    expected = ('paper-vit' if arch.startswith('vit') else
                'paper-rmt' if arch.startswith('rmt') else 'paper-cnn')
    assert recipe_for(arch) == expected
    assert recipe_for(f'{arch}_la') == expected
    assert recipe_for('MobileNet') == 'paper-cnn' and set(RECIPES) == set(RELEASE)


def test_command_line_flags_win_over_the_recipe():
    config, _ = parse('train', ['--recipe', 'paper-cnn', '--epochs', '3', '--batch-size', '16'])
    assert (config.recipe, config.epochs, config.batch_size, config.opt) == \
        ('paper-cnn', 3, 16, 'adam')
    plain, _ = parse('train', [])
    assert plain == EngineConfig(num_workers=plain.num_workers, scale=plain.scale)


def test_plateau_halves_the_lr_after_patience_epochs_without_better_accuracy_and_resumes():
    config = dataclasses.replace(apply_recipe(EngineConfig(), 'paper-cnn'), patience_epochs=2)
    net = torch.nn.Linear(3, 4)
    runtime = Runtime(torch.device('cpu'))
    trainer = Trainer(config, net, 4, runtime, updates_per_epoch=1)
    lrs = []
    for accuracy in (0.5, 0.6, 0.6, 0.6):
        trainer.end_epoch(accuracy)
        lrs.append(trainer.lr)
    assert lrs == [8e-5] * 4  # two epochs without a better accuracy: still patient
    state = trainer.state(full=True)
    resumed = Trainer(config, torch.nn.Linear(3, 4), 4, runtime, updates_per_epoch=1)
    resumed.load_state(state)
    resumed.end_epoch(0.6)  # the third: the counter came back with the checkpoint
    assert resumed.lr == pytest.approx(4e-5)
    with pytest.raises(LoosenError, match='--sched plateau has no warm-up'):
        dataclasses.replace(config, warmup_epochs=2).check()


def steps(transform) -> list:
    return [*transform.head.transforms, *transform.tail.transforms]


def recipe_transforms(name: str, arch: str) -> tuple[list, list, dict]:
    config = apply_recipe(EngineConfig(), name)
    cfg = data_config(config, tiny(f'{arch}_plain'), side=256, stats=None)
    return (steps(make_transform(cfg, config, training=True)),
            steps(make_transform(cfg, None, training=False)), cfg)


def test_cnn_recipe_crops_and_flips_only_with_imagenet_statistics():
    train, val, cfg = recipe_transforms('paper-cnn', 'resnet34')
    assert tuple(cfg['mean']) == IMAGENET_DEFAULT_MEAN
    crop = next(s for s in train if isinstance(s, RandomResizedCropAndInterpolation))
    assert crop.size == (224, 224) and crop.scale == (0.08, 1.0)
    flips = [type(s) for s in train if 'Flip' in type(s).__name__]
    assert flips == [T.RandomHorizontalFlip]
    assert not any(isinstance(s, (RandAugment, RandomErasing)) for s in train)
    resize = next(s for s in val if isinstance(s, (T.Resize, ResizeKeepRatio)))
    assert resize.size in (256, [256], (256, 256))  # Resize(256) + CenterCrop(224)


def test_vit_recipe_trains_on_the_squashed_image_without_augmentation():
    train, val, _ = recipe_transforms('paper-vit', 'vit_paper')
    assert [type(s) for s in train] == [type(s) for s in val]
    image = Image.new('RGB', (300, 200), (10, 120, 30))
    image.paste((200, 20, 20), (0, 0, 30, 200))  # a left strip a center crop would cut
    config = apply_recipe(EngineConfig(), 'paper-vit')
    cfg = data_config(config, tiny('vit_paper_plain'), side=256, stats=None)
    transform = make_transform(cfg, config, training=True)
    x = transform(image)
    assert x.shape == (3, 224, 224) and torch.equal(x, transform(image))
    assert x[0, :, :5].mean() > x[0, :, -5:].mean()  # the strip survived: squashed, not cut


def test_rmt_recipe_uses_randaugment_and_pixel_random_erasing():
    train, _, cfg = recipe_transforms('paper-rmt', 'rmt_s')
    assert any(isinstance(s, RandAugment) for s in train)
    erase = next(s for s in train if isinstance(s, RandomErasing))
    assert erase.probability == 0.25 and erase.mode == 'pixel'
    assert cfg['interpolation'] == 'bicubic' and cfg['crop_pct'] == 0.875


def test_train_runs_the_cnn_recipe_end_to_end(tmp_path):
    code = main(['train', '--recipe', 'paper-cnn', '--model', 'mobilenetv1_la',
                 '--model-kwargs', 'channel_multiplier=0.25', '--img-size', '32',
                 '--batch-size', '8', '--epochs', '2', '--num-workers', '0',
                 '--synthetic-per-class', '8', '--output-dir', str(tmp_path)])
    assert code == 0
    saved = yaml.safe_load((tmp_path / 'config.yaml').read_text())
    assert (saved['recipe'], saved['opt'], saved['sched'], saved['lr']) == \
        ('paper-cnn', 'adam', 'plateau', 8e-5)
    lrs = [line.split(',')[1] for line in
           (tmp_path / 'metrics.csv').read_text().splitlines()[1:]]
    assert [float(lr) for lr in lrs] == [8e-5, 8e-5]
