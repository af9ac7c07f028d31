"""Command-line flags: the seed's three styles and loosen's own, onto one ``EngineConfig``.

The paper's release had three scripts with three flag styles; users know them as written:

- classification: ``--model_name --num_classes --batch_size --epochs --learning_rate
  --data_root --save_path`` (test: ``--log_dir --img_size``);
- RMT (DeiT style): ``--data-path --model --output_dir --batch-size --lr --weight-decay
  --drop-path --input-size --num-workers --early-conv --conv-pos --model-ema
  --distillation-type none --mixup --cutmix --smoothing --seed --amp`` (test: ``--resume
  --device --output-dir``);
- ViT: ``--data-root-train --data-root-val --img-size --patch-size --in-channels
  --embed-dim --depth --n-heads --mlp-ratio --dropout --log-dir --save-path`` (test:
  ``--data-root-test``).

Each flag is one option with the spellings of every style, so the styles mix freely and
one engine serves them all. Flags a model has no use for are kept as notes.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import yaml

from ..data import SPLITS
from ..errors import LoosenError
from .config import (
    BALANCE,
    BEST_METRICS,
    COMPILE,
    COMPILE_MODES,
    DEFAULT_MODEL,
    NORMS,
    EngineConfig,
)
from .recipes import RECIPES, recipe_under

# flag dest -> the constructor argument of the seed's ViT flags
ARCH_FLAGS = {'patch_size': 'patch_size', 'in_channels': 'in_chans', 'embed_dim': 'embed_dim',
              'depth': 'depth', 'n_heads': 'num_heads', 'mlp_ratio': 'mlp_ratio'}
VIT_DEFAULT = 'vit_base_la'  # what the ViT command line (which names no model) trains
# seed flags with nothing left to switch: flag -> why
NO_OP_FLAGS = {
    'early_conv': 'RMT here always has its convolutional stem (and other models none)',
    'conv_pos': 'RMT here always has its convolutional position encoding (and other models '
                'none)',
}
COMMANDS = ('train', 'test', 'predict')
KEEP_UNSET = {'model', 'data', 'output_dir', 'device'}  # None means "decide from the rest"


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a flag's default unless it says nothing (None, off, empty) or the help
    already spells it out."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        says_nothing = action.default is None or action.default is False or \
            action.default == [] or action.default is argparse.SUPPRESS
        if says_nothing or 'default' in (action.help or ''):
            return action.help
        return super()._get_help_string(action)


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition('=')
    if not sep or not key:
        raise argparse.ArgumentTypeError(f'{text!r} is not KEY=VALUE (e.g. channel_multiplier=0.5)')
    return key.strip(), yaml.safe_load(value)


def add_model_flags(parser: argparse.ArgumentParser, command: str) -> None:
    group = parser.add_argument_group('model')
    group.add_argument('--model', '--model_name', '--model-name', dest='model', default=None,
                       help='e.g. mobilenetv1_la, resnet34_plain, MobileNet_LA, RMT_S_LA '
                            f'(train default: {DEFAULT_MODEL}; {VIT_DEFAULT} with ViT flags; '
                            'test: the checkpoint\'s)')
    group.add_argument('--model-kwargs', nargs='+', type=_key_value, default=[],
                       metavar='KEY=VALUE', help='constructor options, e.g. channel_multiplier=0.5'
                       + ('' if command == 'train' else " (checked against the checkpoint's)"))
    if command == 'predict':  # the checkpoint says the rest
        return
    group.add_argument('--num_classes', '--num-classes', '--nb-classes', dest='num_classes',
                       type=int, help='checked against the class folders')
    group.add_argument('--dropout', '--drop', dest='dropout', type=float)
    group.add_argument('--drop-path', '--drop_path', dest='drop_path', type=float)
    vit = parser.add_argument_group('ViT architecture (other models note and ignore them)')
    for flags, dest, kind in ((('--patch-size',), 'patch_size', int),
                              (('--in-channels',), 'in_channels', int),
                              (('--embed-dim',), 'embed_dim', int),
                              (('--depth',), 'depth', int),
                              (('--n-heads', '--num-heads'), 'n_heads', int),
                              (('--mlp-ratio',), 'mlp_ratio', float)):
        vit.add_argument(*flags, dest=dest, type=kind)
    rmt = parser.add_argument_group('RMT / DeiT flags')
    for dest in NO_OP_FLAGS:
        rmt.add_argument(f'--{dest.replace("_", "-")}', dest=dest, action='store_true')
    if command == 'train':
        group.add_argument('--pretrained', help='local weights (.pth, .safetensors) for the '
                                                'plain part; nothing is downloaded')
        rmt.add_argument('--distillation-type', default='none',
                         choices=('none', 'soft', 'hard'))


def add_data_flags(parser: argparse.ArgumentParser, command: str) -> None:
    if command == 'predict':  # images come as PATHs, sized as the checkpoint says
        group = parser.add_argument_group('data')
        _add_loader_flags(group)
        return
    group = parser.add_argument_group('data (no path given: the synthetic aurora set)')
    group.add_argument('--data', help="'synthetic', or a folder with train/ val/ [test/]")
    group.add_argument('--data_root', '--data-root', '--data-path', '--data_path', '--data-dir',
                       dest='data_root', help='a folder with train/<class>/ and val/<class>/ '
                                              '(test: or one folder of class folders)')
    for split in ('train', 'val', 'test'):
        group.add_argument(f'--data-root-{split}', f'--data_root_{split}', dest=f'{split}_dir',
                           help=f'the {split} split: a folder of class folders')
    group.add_argument('--img_size', '--img-size', '--input-size', '--input_size',
                       dest='img_size', type=int, help='square input size (default: the '
                                                       "model's, 224)")
    _add_loader_flags(group)
    group.add_argument('--cache-mb', type=int, help='keep decoded images in memory up to '
                                                    'this many MB (0: decode every epoch)')
    group.add_argument('--synthetic-per-class', type=int,
                       help='synthetic training frames per class (val and test: a quarter)')
    group.add_argument('--synthetic-seed', type=int)
    group.add_argument('--synthetic-classes', type=lambda t: [c for c in t.split(',') if c],
                       help='comma-separated synthetic classes (default: the four YRS ones)')
    if command != 'train':
        return
    aug = parser.add_argument_group('preprocessing and augmentation (timm transforms)')
    aug.add_argument('--norm', choices=NORMS,
                     help="normalise by the training images' mean/std, the model's or ImageNet's")
    aug.add_argument('--crop-pct', type=float)
    aug.add_argument('--crop-mode', help="timm's eval crop: 'center', 'squash', 'border'")
    aug.add_argument('--augment', action=argparse.BooleanOptionalAction,
                     help='--no-augment: train on the eval transform (no crops, flips, jitter)')
    aug.add_argument('--scale', type=float, nargs=2, metavar=('MIN', 'MAX'))
    aug.add_argument('--hflip', type=float)
    aug.add_argument('--vflip', type=float)
    aug.add_argument('--color-jitter', type=float, help='brightness and contrast jitter')
    aug.add_argument('--aa', dest='auto_augment', help="timm auto-augment, e.g. 'rand-m9-mstd0.5'")
    aug.add_argument('--reprob', type=float, help='random-erase probability')
    aug.add_argument('--remode', help="random-erase fill: 'const', 'rand', 'pixel'")
    aug.add_argument('--balance', choices=BALANCE,
                     help='class imbalance: weigh the loss, or draw classes equally often')


def _add_loader_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument('--batch_size', '--batch-size', '-b', dest='batch_size', type=int,
                       help='per process')
    group.add_argument('--num-workers', '--num_workers', '-j', dest='num_workers', type=int,
                       help='loader processes per training process')
    group.add_argument('--skip-bad-images', '--skip-bad', dest='skip_bad_images',
                       action='store_true', help='leave unreadable images out (and count '
                                                 'them) instead of stopping')


def add_train_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group('optimisation (timm optimizers and schedulers)')
    group.add_argument('--recipe', choices=tuple(RECIPES),
                       help="the paper's training recipe (flags set to other values than "
                            "loosen's defaults win over it): " + '; '.join(
                                f'{r.name}: {r.summary}' for r in RECIPES.values()))
    group.add_argument('--epochs', type=int)
    group.add_argument('--lr', '--learning_rate', '--learning-rate', dest='lr', type=float)
    group.add_argument('--weight-decay', '--weight_decay', '--wd', dest='weight_decay',
                       type=float)
    group.add_argument('--opt', help="any timm optimizer ('adamw', 'sgd'...)")
    group.add_argument('--momentum', type=float)
    group.add_argument('--sched', help="timm scheduler, 'none', or 'plateau' (lr x --decay-rate "
                                       "after --patience-epochs without a better --best-metric)")
    group.add_argument('--decay-rate', type=float)
    group.add_argument('--patience-epochs', type=int)
    group.add_argument('--warmup-epochs', type=int)
    group.add_argument('--warmup-lr', type=float)
    group.add_argument('--min-lr', type=float)
    group.add_argument('--smoothing', type=float)
    group.add_argument('--mixup', type=float, help='mixup alpha')
    group.add_argument('--cutmix', type=float, help='cutmix alpha')
    group.add_argument('--mixup-prob', type=float)
    group.add_argument('--mixup-switch-prob', type=float)
    group.add_argument('--model-ema', action=argparse.BooleanOptionalAction)
    group.add_argument('--model-ema-decay', type=float)
    group.add_argument('--amp', action='store_true', help='mixed precision (CUDA only)')
    group.add_argument('--channels-last', action='store_true', help='(CUDA only)')
    group.add_argument('--seed', type=int)
    group.add_argument('--patience', type=int, help='stop after this many epochs without a '
                                                    'better --best-metric')
    group.add_argument('--best-metric', choices=tuple(BEST_METRICS))
    out = parser.add_argument_group('outputs')
    out.add_argument('--save_path', '--save-path', dest='save_path',
                     help='the best checkpoint (default: best.pth in the run directory)')
    out.add_argument('--resume', help="a run's last.pth: continue that run in its directory")
    out.add_argument('--overwrite', action='store_true',
                     help='start again in --output-dir itself, even when it holds a run')
    out.add_argument('--export-weights', metavar='FILE.safetensors',
                     help='also write the best weights as safetensors, for sharing')


def add_common_flags(parser: argparse.ArgumentParser, command: str) -> None:
    if command != 'predict':
        where = ('; a new run never overwrites one: it goes to <dir>2, <dir>3... (as YOLOv5\'s '
                 'exp2)') if command == 'train' else ''
        parser.add_argument('--output_dir', '--output-dir', '--log_dir', '--log-dir', '--out',
                            dest='output_dir', help=f'run directory (default: runs/{command}/'
                                                    f'<model>{where})')
    parser.add_argument('--device', help="'cpu', 'cuda', 'cuda:0' (default: cuda if present)")
    parser.add_argument('--compile', nargs='?', const='on', choices=COMPILE,
                        help='run the model through torch.compile (inductor); auto: eager '
                             'with a note when it cannot compile; a bare --compile is on')
    parser.add_argument('--compile-mode', choices=COMPILE_MODES, help="torch.compile's mode")
    parser.add_argument('--progress', action=argparse.BooleanOptionalAction, default=None,
                        help='progress bars (default: on a terminal)')


def add_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """Every flag of ``command`` ('train', 'test' or 'predict'); defaults from EngineConfig."""
    if command == 'predict':
        parser.add_argument('paths', nargs='+', metavar='PATH', help='images or folders of them')
    add_model_flags(parser, command)
    add_data_flags(parser, command)
    if command == 'train':
        add_train_flags(parser)
    else:
        parser.add_argument('--checkpoint', '--save_path', '--save-path', '--resume',
                            '--weights', dest='checkpoint', required=command == 'predict',
                            help='a checkpoint of loosen train (best.pth) or exported '
                                 '.safetensors')
    if command == 'test':
        parser.add_argument('--split', choices=SPLITS,
                            help='default: test/ when the data has it, else val/')
        parser.add_argument('--mistakes', type=int, help='most confident mistakes to list')
    if command == 'predict':
        parser.add_argument('--top-k', type=int, help='classes per image in the CSV')
        parser.add_argument('--output', default='predictions.csv', help='the CSV to write')
    add_common_flags(parser, command)
    defaults = EngineConfig()
    for action in parser._actions:
        if action.default is None and action.dest in KEEP_UNSET:
            continue
        if action.default is None and hasattr(defaults, action.dest):
            action.default = getattr(defaults, action.dest)


def _data_source(args: argparse.Namespace) -> dict[str, Any]:
    """'synthetic' unless a path is given; ``--data DIR`` is ``--data-path DIR``."""
    paths = {k: getattr(args, k, None) for k in ('data_root', 'train_dir', 'val_dir', 'test_dir')}
    data = getattr(args, 'data', None)
    if data not in (None, 'synthetic'):
        if paths['data_root']:
            raise LoosenError(f'--data {args.data} and --data-path {paths["data_root"]}: give '
                              'the folder once')
        paths['data_root'] = data
    if data == 'synthetic' and any(paths.values()):
        raise LoosenError('--data synthetic and a data path: leave out one of them')
    return {'data': 'folder' if any(paths.values()) else 'synthetic', **paths}


def config_from_args(args: argparse.Namespace, command: str) -> tuple[EngineConfig, list[str]]:
    """The engine config of parsed flags, and notes on flags that change nothing."""
    from ..timm_plugins import resolve_model_name  # timm: only once a command runs

    values = vars(args)
    fields = EngineConfig.__dataclass_fields__
    config = EngineConfig(**{k: v for k, v in values.items()
                             if k in fields and v is not None and k not in ('data', 'model')})
    config.__dict__.update(_data_source(args))
    kwargs = dict(args.model_kwargs)
    kwargs.update({ARCH_FLAGS[k]: values[k] for k in ARCH_FLAGS if values.get(k) is not None})
    config.model_kwargs = kwargs
    if args.model:
        config.model = resolve_model_name(args.model)
    elif command == 'train':
        config.model = VIT_DEFAULT if any(values.get(k) is not None for k in ARCH_FLAGS) \
            else DEFAULT_MODEL
    else:
        config.model = None
    config.scale = tuple(config.scale)
    if values.get('recipe'):
        config = recipe_under(config, values['recipe'])
    notes = [f'--{k.replace("_", "-")}: {why}; nothing to change'
             for k, why in NO_OP_FLAGS.items() if values.get(k)]
    if values.get('distillation_type', 'none') != 'none':
        raise LoosenError(f'--distillation-type {args.distillation_type} needs a teacher model, '
                          'which loosen does not train with; use --distillation-type none')
    return config, notes


def parse(command: str, argv: Sequence[str]) -> tuple[EngineConfig, list[str]]:
    """``argv`` of ``command`` -> (config, notes); the tests' and scripts' way in."""
    parser = argparse.ArgumentParser(prog=f'loosen {command}', allow_abbrev=False,
                                     formatter_class=DefaultsFormatter)
    add_flags(parser, command)
    return config_from_args(parser.parse_args(list(argv)), command)
