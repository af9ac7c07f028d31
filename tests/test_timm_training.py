"""Every ``{arch}_la`` trains with the features timm's ``train.py`` turns on.

``--grad-checkpointing`` (same gradients as without, LA's recomputing backward included,
reentrant and not), ``--channels-last`` (same outputs and gradients), ``--model-ema``,
``--aug-repeats`` (timm's ``RepeatAugSampler``), ``--torchcompile`` (compiled outputs
match eager) and ``features_only=True`` (a pyramid LA is part of). timm's ``train.py``
is not in its distribution, so a script written here does what those flags make it do,
importing only timm and torch, and runs through ``loosen run`` in a fresh process with
the network blocked.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import timm.layers
import torch

from loosen import LA
from loosen.data import write_synthetic
from test_models import TINY
from yolo_helpers import offline_env

pytestmark = pytest.mark.slow  # among the slowest files: run first (conftest.py)

ARCHS = sorted(TINY)
PYRAMIDS = [a for a in ARCHS if not a.startswith('vit')]  # the CNNs and RMT
SIZE = 64  # AlexNet's smallest input is 63
# what --torchcompile builds with inductor: a few seconds when its cache under /tmp is
# warm, a minute or more cold; ViT has LA in every block (test_la compiles alexnet_la)
COMPILED = ['vit_tiny_la']

# what timm's train.py does with those flags, cut to the steps they change
UPSTREAM_TRAIN = '''
import argparse, json, math, os
import timm, torch
from timm.data import create_dataset, create_loader, resolve_data_config
from timm.data.distributed_sampler import RepeatAugSampler
from timm.optim import create_optimizer_v2
from timm.utils import ModelEmaV3

parser = argparse.ArgumentParser()
parser.add_argument('--model', nargs='+', required=True)
parser.add_argument('--model-kwargs', type=json.loads, default={})  # per model name
parser.add_argument('--data-dir', required=True)
parser.add_argument('--img-size', type=int, default=64)
parser.add_argument('--batch-size', type=int, default=4)
parser.add_argument('--grad-checkpointing', action='store_true')
parser.add_argument('--channels-last', action='store_true')
parser.add_argument('--model-ema', action='store_true')
parser.add_argument('--aug-repeats', type=float, default=0)
parser.add_argument('--torchcompile', nargs='?', const='inductor')
args = parser.parse_args()

distributed = bool(args.aug_repeats)  # timm's loader repeats augmentations only when distributed
if distributed:
    torch.distributed.init_process_group('gloo', rank=0, world_size=1,
                                         init_method='file://' + os.path.abspath('store'))
dataset = create_dataset('', root=args.data_dir, split='train', is_training=True)
for name in args.model:
    torch.manual_seed(0)
    model = timm.create_model(name, num_classes=len(dataset.reader.class_to_idx), drop_rate=0.0,
                              **args.model_kwargs.get(name, {}))
    if args.grad_checkpointing:
        model.set_grad_checkpointing(enable=True)
    data_config = resolve_data_config({'img_size': args.img_size}, model=model)
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = create_optimizer_v2(model, opt='sgd', lr=0.01, momentum=0.9)
    model_ema = ModelEmaV3(model, decay=0.5) if args.model_ema else None
    eager = model
    if args.torchcompile:
        model = torch.compile(model, backend=args.torchcompile)
    loader = create_loader(dataset, input_size=data_config['input_size'],
                           batch_size=args.batch_size, is_training=True, use_prefetcher=False,
                           num_aug_repeats=args.aug_repeats, distributed=distributed,
                           interpolation=data_config['interpolation'], mean=data_config['mean'],
                           std=data_config['std'], num_workers=0)
    losses, weights, compile_diff, repeats = [], [], 0.0, True
    model.train()
    for step, (images, target) in enumerate(loader):
        if args.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        if args.aug_repeats:  # each image twice in a row, augmented twice
            r = int(args.aug_repeats)
            repeats &= isinstance(loader.sampler, RepeatAugSampler)
            repeats &= bool((target.view(-1, r) == target.view(-1, r)[:, :1]).all())
            repeats &= not torch.equal(images[0], images[1])
        output = model(images)
        if args.torchcompile and step == 0:
            with torch.no_grad():
                compile_diff = (output - eager(images)).abs().max().item()
        loss = torch.nn.functional.cross_entropy(output, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if model_ema is not None:
            model_ema.update(model, step=step + 1)  # train.py's num_updates
        losses.append(loss.item())
        weights.append([p.detach().clone() for p in eager.parameters()])
    ema = 'off'
    if model_ema is not None:  # update 1 copies the weights, update 2 averages at decay 0.5
        averaged = list(model_ema.module.parameters())
        expected = [(a + b) / 2 for a, b in zip(*weights)]
        with torch.no_grad():
            finite = torch.isfinite(model_ema.module.eval()(images)).all()
        ema = 'ok' if (finite and all(map(torch.allclose, averaged, expected))
                       and not all(map(torch.equal, averaged, weights[-1]))) else 'bad'
    print('trained', name, len(losses), all(map(math.isfinite, losses)), ema, repeats,
          f'{compile_diff:.3g}', flush=True)
if distributed:
    torch.distributed.destroy_process_group()
'''


@pytest.fixture(scope='module')
def frames(tmp_path_factory) -> Path:
    """A tiny four-class ImageFolder: two frames per class."""
    return write_synthetic(tmp_path_factory.mktemp('frames') / 'set', per_class=2, size=SIZE,
                           split={'train': 1.0}) / 'train'


def train_upstream(tmp_path: Path, frames: Path, models: list[str],
                   *flags: str) -> list[list[str]]:
    """Run ``UPSTREAM_TRAIN`` through ``loosen run`` offline; its lines about each model."""
    script = tmp_path / 'train.py'
    script.write_text(UPSTREAM_TRAIN)
    kwargs = {m: TINY[m.rsplit('_', 1)[0]] for m in models}
    done = subprocess.run(
        [sys.executable, '-m', 'loosen.cli', 'run', str(script), '--model', *models,
         '--model-kwargs', json.dumps(kwargs), '--data-dir', str(frames.parent),
         '--img-size', str(SIZE), *flags],
        env=offline_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line.split() for line in done.stdout.splitlines() if line.startswith('trained')]
    assert [line[1] for line in lines] == models
    return lines


def test_train_flags_on_every_la_model_through_loosen_run(tmp_path, frames):
    """--grad-checkpointing --channels-last --model-ema --aug-repeats 2, two steps each."""
    models = [f'{a}_la' for a in ARCHS]
    for line in train_upstream(tmp_path, frames, models, '--grad-checkpointing',
                               '--channels-last', '--model-ema', '--aug-repeats', '2'):
        # two steps (8 frames, batch 4), finite losses, EMA averaged, each frame repeated
        assert line[2:6] == ['2', 'True', 'ok', 'True'], line


def test_torchcompile_matches_eager_and_trains(tmp_path, frames):
    """--torchcompile (inductor) with the other flags: the first compiled training forward
    equals eager within 1e-4, and two compiled steps train with finite losses."""
    for line in train_upstream(tmp_path, frames, COMPILED, '--torchcompile',
                               '--grad-checkpointing', '--channels-last', '--model-ema'):
        assert line[2:5] == ['2', 'True', 'ok'], line
        assert float(line[6]) < 1e-4, line


def tiny(arch: str, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return timm.create_model(f'{arch}_la', num_classes=4, **TINY[arch], **kwargs)


def gradients(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Output and parameter gradients of one training forward and backward (seeded, so
    dropout and drop-path draw the same masks every time)."""
    model.zero_grad()
    torch.manual_seed(1)
    out = model(x)
    out.square().sum().backward()
    return out.detach(), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


def assert_same(first: dict, second: dict) -> None:
    """The same gradients up to float32 summation order (which another memory format or
    thread count changes): within 1e-4 of each tensor's largest entry."""
    assert first.keys() == second.keys() and first
    for name in first:
        scale = first[name].abs().max().item()
        torch.testing.assert_close(second[name], first[name], rtol=1e-4,
                                   atol=max(1e-5, 1e-4 * scale), msg=name)


@pytest.mark.parametrize('reentrant', [False, True], ids=['non_reentrant', 'reentrant'])
@pytest.mark.parametrize('arch', ARCHS)
def test_grad_checkpointing_gives_the_same_gradients(arch, reentrant, monkeypatch):
    """The blocks are recomputed in backward (more forward calls), LA's recomputing
    backward runs inside that, and every gradient is what it is without checkpointing."""
    monkeypatch.setattr(timm.layers.config, '_USE_REENTRANT_CKPT', reentrant)
    model = tiny(arch, attn_kwargs={'recompute': True}).train()  # tiny maps: forced
    x = torch.randn(2, 3, SIZE, SIZE)
    calls = {'modules': 0, 'la_recompute': 0}

    def count(*_):
        calls['modules'] += 1

    recompute = LA._forward_recompute

    def counted_recompute(self, x):
        calls['la_recompute'] += 1
        return recompute(self, x)

    monkeypatch.setattr(LA, '_forward_recompute', counted_recompute)
    with torch.nn.modules.module.register_module_forward_hook(count):
        out, plain = gradients(model, x)
        without = dict(calls)
        model.set_grad_checkpointing(True)
        out_ckpt, checkpointed = gradients(model, x)
    torch.testing.assert_close(out_ckpt, out)
    assert_same(plain, checkpointed)
    assert calls['modules'] - without['modules'] > without['modules']  # recomputed in backward
    assert calls['la_recompute'] > without['la_recompute'] > 0


@pytest.mark.parametrize('arch', ARCHS)
def test_channels_last_gives_the_same_outputs_and_gradients(arch):
    model = tiny(arch).train()
    last = copy.deepcopy(model).to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, SIZE, SIZE)
    out, grads = gradients(model, x)
    out_last, grads_last = gradients(last, x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out_last, out, rtol=1e-4, atol=1e-5)
    assert_same(grads, grads_last)


@pytest.mark.parametrize('arch', PYRAMIDS)
def test_features_only_pyramid_carries_la_and_checkpoints(arch):
    """features_only=True: NCHW maps as feature_info says, LA's output feeds the pyramid
    (its parameters get gradients from it), and with grad checkpointing (as detection
    and segmentation training run backbones) the gradients are the same."""
    x = torch.randn(2, 3, SIZE, SIZE)
    found = []
    for checkpointing in (False, True):
        pyramid = tiny(arch, features_only=True).train()
        # timm's FeatureGetterNet (RMT's pyramid) has no set_grad_checkpointing: the model has
        set_checkpointing = (getattr(pyramid, 'set_grad_checkpointing', None)
                             or pyramid.model.set_grad_checkpointing)
        set_checkpointing(checkpointing)
        maps = pyramid(x)
        info = pyramid.feature_info
        assert [m.shape[:2] for m in maps] == [(2, c) for c in info.channels()]  # NCHW
        for m, r in zip(maps, info.reduction(), strict=True):  # at most H/r (valid pools)
            assert 0 < m.shape[-1] <= -(-SIZE // r) + 1 and m.shape[-2] == m.shape[-1]
        sum(m.square().mean() for m in maps).backward()
        grads = {n: p.grad for n, p in pyramid.named_parameters() if p.grad is not None}
        la = [n for n, m in pyramid.named_modules() if isinstance(m, LA)]
        assert len(la) == 1 and grads[f'{la[0]}.fuse.weight'].abs().sum() > 0
        found.append(grads)
    assert_same(*found)
