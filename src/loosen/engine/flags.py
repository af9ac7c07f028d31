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
one engine serves them all. Architecture flags a model has no use for are kept as notes.

Defaults live in ``EngineConfig`` only. A flag whose ``dest`` is a config field shows
that field's default in ``--help`` and is left out of the parsed namespace unless typed,
so what was typed always wins: over the recipe (``--recipe``), over the resumed run's
settings (``--resume``), over the defaults, whatever its value. Adding a flag: give
``EngineConfig`` the field (its default, or ``unset('what None means')``), then
``group.add_argument('--name', help=...)`` with no ``default`` in the ``add_*_flags`` of
each command that uses it.
"""
from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ..data import SPLITS
from ..errors import LoosenError
from .config import (
    BALANCE,
    BEST_METRICS,
    COMPILE,
    COMPILE_MODES,
    DATA_PATHS,
    DEFAULT_MODEL,
    MAY_CHANGE_ON_RESUME,
    NORMS,
    EngineConfig,
    flag_name,
)
from .recipes import RECIPES, apply_recipe

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
COMMANDS = ('train', 'test', 'predict', 'compare')
TRAINING = ('train', 'compare')  # commands that train (compare: each of its --models)
FIELDS = {f.name: f for f in dataclasses.fields(EngineConfig)}
CHECKED = " (checked against the checkpoint's; default: not checked)"
COMPARE_DIR = 'runs/compare'  # where loosen compare writes without --output-dir


def spelled(value: Any) -> str:
    """A default as one would type it."""
    if isinstance(value, bool):
        return 'on' if value else 'off'
    if isinstance(value, float):
        return f'{value:g}'
    if isinstance(value, (tuple, list)):
        return (' ' if isinstance(value, tuple) else ',').join(map(spelled, value))
    if isinstance(value, dict):
        return ' '.join(f'{k}={v}' for k, v in value.items()) or 'none'
    return 'none' if value is None else str(value)


def shown_default(action: argparse.Action) -> str | None:
    """What ``--help`` says a flag defaults to: ``EngineConfig``'s field (what None means,
    for a field that is None unless given), else the parser's own default."""
    if action.required or (action.default is argparse.SUPPRESS and action.dest not in FIELDS):
        return None
    if action.dest in FIELDS:
        value = getattr(EngineConfig(), action.dest)
        return FIELDS[action.dest].metadata.get('unset', 'none') if value is None \
            else spelled(value)
    return spelled(action.default)


class DefaultsFormatter(argparse.HelpFormatter):
    """Every flag's help ends with its default (see ``shown_default``), unless the help
    spells it out itself, or says that the flag is required."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ''
        if action.required and action.option_strings:
            return f'{text} (required)'.lstrip()
        shown = shown_default(action)
        if not action.option_strings or 'default:' in text or shown is None:
            return text
        return f'{text} (default: {shown.replace("%", "%%")})'.lstrip()


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition('=')
    if not sep or not key:
        raise argparse.ArgumentTypeError(f'{text!r} is not KEY=VALUE (e.g. channel_multiplier=0.5)')
    return key.strip(), yaml.safe_load(value)


def add_model_flags(parser: argparse.ArgumentParser, command: str) -> None:
    group = parser.add_argument_group('model')
    checked = '' if command in TRAINING else CHECKED
    if command == 'train':
        group.add_argument('--model', '--model_name', '--model-name', dest='model',
                           help='e.g. mobilenetv1_la, resnet34_plain, MobileNet_LA, RMT_S_LA '
                                f'(default: {DEFAULT_MODEL}; {VIT_DEFAULT} with ViT flags)')
    elif command != 'compare':  # compare takes --models
        group.add_argument('--model', '--model_name', '--model-name', dest='model',
                           help='e.g. mobilenetv1_la' + checked)
    group.add_argument('--model-kwargs', nargs='+', type=_key_value, metavar='KEY=VALUE',
                       help='constructor options, e.g. channel_multiplier=0.5' + checked)
    if command == 'predict':  # the checkpoint says the rest
        return
    if command in TRAINING:
        group.add_argument('--pretrained', metavar='FILE|timm:TAG',
                           help='weights for the plain part: a local .pth/.safetensors, or '
                                'timm:TAG (e.g. timm:resnet34.a1_in1k) from the Hugging Face '
                                'cache, fetched only when this machine is online')
        group.add_argument('--pretrained-partial', action='store_true',
                           help='accept --pretrained weights that fit fewer than half of the '
                                "model's tensors, or some in other shapes (left at init)")
        group.add_argument('--num_classes', '--num-classes', '--nb-classes', dest='num_classes',
                           type=int, help='checked against the class folders')
    group.add_argument('--dropout', '--drop', dest='dropout', type=float,
                       help='classifier dropout' + checked)
    group.add_argument('--drop-path', '--drop_path', dest='drop_path', type=float,
                       help='stochastic depth rate' + checked)
    vit = parser.add_argument_group('ViT architecture' + (
        ' (other models note and ignore them)' if command in TRAINING else ''))
    for flags, dest, kind, what in ((('--patch-size',), 'patch_size', int, 'patch size'),
                                    (('--in-channels',), 'in_channels', int, 'input channels'),
                                    (('--embed-dim',), 'embed_dim', int, 'token width'),
                                    (('--depth',), 'depth', int, 'blocks'),
                                    (('--n-heads', '--num-heads'), 'n_heads', int, 'heads'),
                                    (('--mlp-ratio',), 'mlp_ratio', float, 'MLP width ratio')):
        vit.add_argument(*flags, dest=dest, type=kind,
                         help=what + (checked or " (default: the model's)"))
    if command not in TRAINING:
        return
    rmt = parser.add_argument_group('RMT / DeiT flags')
    for dest in NO_OP_FLAGS:
        rmt.add_argument(f'--{dest.replace("_", "-")}', dest=dest, action='store_true',
                         help='accepted as the seed wrote it; changes nothing')
    rmt.add_argument('--distillation-type', default='none', choices=('none', 'soft', 'hard'),
                     help='only none: loosen trains without a teacher')


def add_data_flags(parser: argparse.ArgumentParser, command: str) -> None:
    if command == 'predict':  # images come as PATHs, sized as the checkpoint says
        group = parser.add_argument_group('data')
        _add_loader_flags(group)
        return
    training = command in TRAINING
    group = parser.add_argument_group(
        'data (no path given: ' + ('the synthetic aurora set)' if training
                                   else "the checkpoint's own data)"))
    theirs = '' if training else " (default: the checkpoint's)"
    group.add_argument('--data', help="'synthetic', or a folder with train/ val/ [test/]"
                                      + theirs)
    group.add_argument('--data_root', '--data-root', '--data-path', '--data_path', '--data-dir',
                       dest='data_root', help='a folder with train/<class>/ and val/<class>/'
                       + ('' if training else ' [test/<class>/], or one folder of class '
                                              'folders') + theirs)
    for split in ('train', 'val', 'test') if training else ('val', 'test'):
        group.add_argument(f'--data-root-{split}', f'--data_root_{split}', dest=f'{split}_dir',
                           help=f'the {split} split: a folder of class folders')
    group.add_argument('--img_size', '--img-size', '--input-size', '--input_size',
                       dest='img_size', type=int, help='square input size' + (
                           '' if training else " (default: the checkpoint's)"))
    _add_loader_flags(group)
    group.add_argument('--cache-mb', type=int, help='keep decoded images in memory up to '
                                                    'this many MB (0: decode every epoch)')
    if not training:  # test takes the synthetic set's settings from the checkpoint
        return
    group.add_argument('--synthetic-per-class', type=int,
                       help='synthetic training frames per class (val and test: a quarter)')
    group.add_argument('--synthetic-seed', type=int, help="the synthetic set's seed")
    group.add_argument('--synthetic-classes', type=lambda t: [c for c in t.split(',') if c],
                       help='comma-separated synthetic classes')
    aug = parser.add_argument_group('preprocessing and augmentation (timm transforms)')
    aug.add_argument('--norm', choices=NORMS,
                     help="normalise by the training images' mean/std, the model's or ImageNet's")
    aug.add_argument('--crop-pct', type=float, help='eval crop: the share of the image kept')
    aug.add_argument('--crop-mode', help="timm's eval crop: 'center', 'squash', 'border'")
    aug.add_argument('--augment', action=argparse.BooleanOptionalAction,
                     help='--no-augment: train on the eval transform (no crops, flips, jitter)')
    aug.add_argument('--scale', type=float, nargs=2, metavar=('MIN', 'MAX'),
                     help='random-resized-crop area, as shares of the image')
    aug.add_argument('--hflip', type=float, help='horizontal flip probability')
    aug.add_argument('--vflip', type=float, help='vertical flip probability')
    aug.add_argument('--color-jitter', type=float, help='brightness and contrast jitter')
    aug.add_argument('--aa', dest='auto_augment', help="timm auto-augment, e.g. 'rand-m9-mstd0.5'")
    aug.add_argument('--reprob', type=float, help='random-erase probability')
    aug.add_argument('--remode', help="random-erase fill: 'const', 'rand', 'pixel'")
    aug.add_argument('--balance', choices=BALANCE,
                     help='class imbalance: weigh the loss, or draw classes equally often')


def _add_loader_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument('--batch_size', '--batch-size', '-b', dest='batch_size', type=int,
                       help='images per batch and process')
    group.add_argument('--num-workers', '--num_workers', '-j', dest='num_workers', type=int,
                       help='loader processes per process, by default from the CPU count')
    group.add_argument('--skip-bad-images', '--skip-bad', dest='skip_bad_images',
                       action='store_true', help='leave unreadable images out (and count '
                                                 'them) instead of stopping')


def add_train_flags(parser: argparse.ArgumentParser, command: str) -> None:
    group = parser.add_argument_group('optimisation (timm optimizers and schedulers)')
    group.add_argument('--recipe', choices=tuple(RECIPES),
                       help="the paper's training recipe (flags typed beside it win, whatever "
                            'their value): ' + '; '.join(
                                f'{r.name}: {r.summary}' for r in RECIPES.values()))
    group.add_argument('--epochs', type=int, help='passes over the training set (with '
                                                  '--resume: more extend the run)')
    group.add_argument('--lr', '--learning_rate', '--learning-rate', dest='lr', type=float,
                       help='peak learning rate')
    group.add_argument('--weight-decay', '--weight_decay', '--wd', dest='weight_decay',
                       type=float, help='weight decay')
    group.add_argument('--opt', help="any timm optimizer ('adamw', 'sgd'...)")
    group.add_argument('--momentum', type=float, help='SGD momentum')
    group.add_argument('--sched', help="timm scheduler, 'none', or 'plateau' (lr x --decay-rate "
                                       "after --patience-epochs without a better --best-metric)")
    group.add_argument('--decay-rate', type=float, help='plateau: the lr factor')
    group.add_argument('--patience-epochs', type=int,
                       help='plateau: epochs without a better --best-metric')
    group.add_argument('--warmup-epochs', type=int, help='epochs of linear warm-up')
    group.add_argument('--warmup-lr', type=float, help='lr at the start of the warm-up')
    group.add_argument('--min-lr', type=float, help='lr floor of the schedule')
    group.add_argument('--smoothing', type=float, help='label smoothing')
    group.add_argument('--mixup', type=float, help='mixup alpha (0: off)')
    group.add_argument('--cutmix', type=float, help='cutmix alpha (0: off)')
    group.add_argument('--mixup-prob', type=float, help='share of batches mixed')
    group.add_argument('--mixup-switch-prob', type=float,
                       help='share of mixed batches that use cutmix when both are on')
    group.add_argument('--model-ema', action=argparse.BooleanOptionalAction,
                       help='evaluate and keep an exponential moving average of the weights')
    group.add_argument('--model-ema-decay', type=float, help='EMA decay per update')
    group.add_argument('--amp', action='store_true', help='mixed precision (CUDA only)')
    group.add_argument('--channels-last', action='store_true',
                       help='channels-last memory format (CUDA only)')
    group.add_argument('--seed', type=int, help='seed of the weights, data order and '
                                                'augmentation')
    group.add_argument('--patience', type=int, help='stop after this many epochs without a '
                                                    'better --best-metric')
    group.add_argument('--best-metric', choices=tuple(BEST_METRICS),
                       help='validation metric that picks the best checkpoint')
    if command != 'train':  # compare writes each model's run under its own folder
        return
    out = parser.add_argument_group('outputs')
    out.add_argument('--save_path', '--save-path', dest='save_path',
                     help='the best checkpoint')
    out.add_argument('--resume', metavar='LAST.pth',
                     help='continue the run of this last.pth, as it was set up; flags given '
                          'beside it may change only ' + ', '.join(
                              flag_name(name) for name in MAY_CHANGE_ON_RESUME)
                          + ' (--epochs: more extend the run)')
    out.add_argument('--overwrite', action='store_true',
                     help='start again in --output-dir itself, even when it holds a run')
    out.add_argument('--export-weights', metavar='FILE.safetensors',
                     help='also write the best weights as safetensors, for sharing')


def add_eval_flags(parser: argparse.ArgumentParser, command: str) -> None:
    group = parser.add_argument_group('checkpoint')
    group.add_argument('--checkpoint', '--save_path', '--save-path', '--weights',
                       dest='checkpoint', required=command == 'predict',
                       help='a checkpoint of loosen train (best.pth) or exported .safetensors')
    if command == 'test':  # the seed's RMT test line names the checkpoint --resume
        group.add_argument('--resume', dest='seed_resume', help=argparse.SUPPRESS)
        group.add_argument('--split', choices=SPLITS, help='the split to evaluate')
        group.add_argument('--mistakes', type=int, help='most confident mistakes to list')
    else:
        group.add_argument('--top-k', type=int, help='classes per image in the CSV')
        group.add_argument('--output', default='predictions.csv', help='the CSV to write')


def add_common_flags(parser: argparse.ArgumentParser, command: str) -> None:
    if command != 'predict':
        where = {'train': "; a new run never overwrites one: it goes to <dir>2, <dir>3... (as "
                          "YOLOv5's exp2); with --resume: the checkpoint's folder",
                 'compare': '; each model in <dir>/<model>'}.get(command, '')
        default = COMPARE_DIR if command == 'compare' else \
            EngineConfig(model='<model>').run_dir(command)
        parser.add_argument('--output_dir', '--output-dir', '--log_dir', '--log-dir', '--out',
                            dest='output_dir',
                            help=f'run directory (default: {default}{where})')
    parser.add_argument('--device', help="'cpu', 'cuda', 'cuda:0'")
    parser.add_argument('--compile', nargs='?', const='on', choices=COMPILE,
                        help='run the model through torch.compile (inductor); auto: eager '
                             'with a note when it cannot compile; a bare --compile is on')
    parser.add_argument('--compile-mode', choices=COMPILE_MODES, help="torch.compile's mode")
    parser.add_argument('--progress', action=argparse.BooleanOptionalAction, default=None,
                        help='progress bars (default: on a terminal)')


def add_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """Every flag of ``command`` (one of ``COMMANDS``), and only those it uses. The flags of
    config fields default to ``argparse.SUPPRESS``: the namespace holds what was typed."""
    if command == 'predict':
        parser.add_argument('paths', nargs='+', metavar='PATH', help='images or folders of them')
    add_model_flags(parser, command)
    add_data_flags(parser, command)
    if command in TRAINING:
        add_train_flags(parser, command)
    else:
        add_eval_flags(parser, command)
    add_common_flags(parser, command)
    for action in parser._actions:
        if action.dest in FIELDS:
            if action.default not in (None, False, argparse.SUPPRESS):
                raise TypeError(f'{action.option_strings[0]}: its default is EngineConfig.'
                                f'{action.dest}; give add_argument no default')
            action.default = argparse.SUPPRESS


def _data_source(values: dict[str, Any]) -> dict[str, Any]:
    """The data settings typed: {} for none, else 'synthetic' or 'folder' and every path
    (``--data DIR`` is ``--data-path DIR``)."""
    paths = {k: values.get(k) for k in DATA_PATHS}
    data = values.get('data')
    if data is None and not any(paths.values()):
        return {}
    if data not in (None, 'synthetic'):
        if paths['data_root']:
            raise LoosenError(f'--data {data} and --data-path {paths["data_root"]}: give '
                              'the folder once')
        paths['data_root'] = data
    if data == 'synthetic' and any(paths.values()):
        raise LoosenError('--data synthetic and a data path: leave out one of them')
    return {'data': 'folder' if any(paths.values()) else 'synthetic', **paths}


def _base(typed: dict[str, Any], command: str) -> EngineConfig:
    """What typed flags apply to: the resumed run's config, the recipe, or the defaults."""
    if typed.get('resume'):
        from .checkpoint import read_run_config  # torch: only once a command runs
        base = EngineConfig.from_dict(read_run_config(typed['resume']))
        return dataclasses.replace(base, output_dir=str(Path(typed['resume']).parent),
                                   overwrite=False)
    if typed.get('recipe'):
        return apply_recipe(EngineConfig(), typed['recipe'])
    return EngineConfig() if command in TRAINING else EngineConfig(model=None)


def config_from_args(args: argparse.Namespace, command: str) -> tuple[EngineConfig, list[str]]:
    """The engine config of parsed flags, and notes on flags that change nothing."""
    from ..models import resolve_model_name  # timm: only once a command runs
    from .model import CONFIG_KWARGS

    values = vars(args)
    typed = {k: v for k, v in values.items() if k in FIELDS}
    typed.update(_data_source(values))
    if typed.get('model'):
        typed['model'] = resolve_model_name(typed['model'])
    arch = {ARCH_FLAGS[k]: values[k] for k in ARCH_FLAGS if values.get(k) is not None}
    notes = [f'--{k.replace("_", "-")}: {why}; nothing to change'
             for k, why in NO_OP_FLAGS.items() if values.get(k)]
    if values.get('seed_resume'):
        if 'checkpoint' in typed:
            raise LoosenError('--resume and --checkpoint both name the checkpoint to test; '
                              'give --checkpoint only')
        typed['checkpoint'] = values['seed_resume']
        notes.append('--resume: taken as --checkpoint, as in the seed\'s RMT test line '
                     '(loosen test evaluates; only loosen train resumes)')
    base = _base(typed, command)
    kwargs = {**base.model_kwargs, **dict(typed.pop('model_kwargs', []))}
    if command in TRAINING:
        typed['arch_flags'] = {**base.arch_flags, **arch}
        if arch and 'model' not in typed and not typed.get('resume'):
            typed['model'] = VIT_DEFAULT
    else:  # test and predict check these against the checkpoint
        kwargs.update(arch)
        kwargs.update({CONFIG_KWARGS[k]: typed.pop(k) for k in ('dropout', 'drop_path')
                       if k in typed})
    config = dataclasses.replace(base, **typed, model_kwargs=kwargs)
    config.scale = tuple(config.scale)
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
