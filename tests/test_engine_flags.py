"""The seed's three command-line styles (../shared/seeds/000_*.txt) onto one engine config."""
import argparse
import dataclasses
import shlex

import pytest

from loosen.cli import build_parser, subparser
from loosen.engine.config import EngineConfig
from loosen.engine.flags import FIELDS, parse
from loosen.engine.model import model_kwargs
from loosen.errors import LoosenError

# the seed README's command lines, as written (line continuations and quotes included)
SEED_CLASSIFICATION_TRAIN = r'''
    --model_name AlexNet_LA \
    --num_classes 4 \
    --batch_size 128 \
    --epochs 200 \
    --learning_rate 0.0001 \
    --data_root "/path/to/dataset" \
    --save_path "best_model.pth"
'''
SEED_CLASSIFICATION_TEST = r'''
    --data_root "/path/to/your/dataset" \
    --model_name "resnet34_LA" \
    --save_path "/path/to/model_weights.pth" \
    --log_dir "./logs" \
    --img_size 224 \
    --batch_size 32
'''
SEED_RMT_TRAIN = r'''
    --data-path "/path/to/dataset" \
    --model RMT_S_LA \
    --output_dir "./output" \
    --batch-size 128 \
    --epochs 300 \
    --lr 8e-4 \
    --weight-decay 0.05 \
    --drop-path 0.2 \
    --input-size 224 \
    --num-workers 10 \
    --early-conv \
    --conv-pos \
    --model-ema \
    --distillation-type none \
    --mixup 0.8 \
    --cutmix 1.0 \
    --smoothing 0.1 \
    --seed 42 \
    --amp
'''
SEED_RMT_TEST = r'''
    --resume /models/aurora_rmt.pth \
    --data-path /datasets/aurora/test_set \
    --model RMT_S_LA \
    --input-size 224 \
    --device cuda:0 \
    --num-workers 8 \
    --output-dir ./test_logs
'''
SEED_VIT_TRAIN = r'''
    --data-root-train /path/to/train_data \
    --data-root-val /path/to/val_data \
    --img-size 224 \
    --patch-size 16 \
    --in-channels 3 \
    --embed-dim 768 \
    --depth 12 \
    --n-heads 12 \
    --mlp-ratio 4.0 \
    --dropout 0.1 \
    --batch-size 64 \
    --epochs 100 \
    --lr 3e-4 \
    --weight-decay 0.05 \
    --log-dir ./logs \
    --save-path ./checkpoints/best_model.pth \
'''
SEED_VIT_TEST = r'''
    --data-root-test /path/to/test_data \
    --img-size 224 \
    --patch-size 16 \
    --in-channels 3 \
    --embed-dim 768 \
    --depth 12 \
    --n-heads 12 \
    --mlp-ratio 4.0 \
    --dropout 0.1 \
    --batch-size 64 \
    --log-dir ./logs \
    --save-path ./checkpoints/best_model.pth \
'''


def seed(command: str, text: str):
    """Parse as a shell would: backslash-newline continues the line."""
    return parse(command, shlex.split(text.replace('\\\n', ' ')))


def changed(config: EngineConfig) -> dict:
    """Fields that differ from the defaults."""
    default = EngineConfig()
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
            if getattr(config, f.name) != getattr(default, f.name)}


def test_classification_train_line():
    config, notes = seed('train', SEED_CLASSIFICATION_TRAIN)
    assert changed(config) == {'model': 'alexnet_la', 'num_classes': 4, 'batch_size': 128,
                               'epochs': 200, 'lr': 1e-4, 'data': 'folder',
                               'data_root': '/path/to/dataset', 'save_path': 'best_model.pth'}
    assert notes == []
    assert str(config.best_path()) == 'best_model.pth'
    assert str(config.last_path()) == 'runs/train/alexnet_la/last.pth'


def test_rmt_train_line_and_its_no_op_flags():
    config, notes = seed('train', SEED_RMT_TRAIN)
    assert changed(config) == {
        'model': 'rmt_s_la', 'data': 'folder', 'data_root': '/path/to/dataset',
        'output_dir': './output', 'batch_size': 128, 'epochs': 300, 'lr': 8e-4,
        'drop_path': 0.2, 'img_size': 224, 'num_workers': 10, 'model_ema': True,
        'mixup': 0.8, 'cutmix': 1.0, 'smoothing': 0.1, 'seed': 42, 'amp': True}
    assert [n.split(':')[0] for n in notes] == ['--early-conv', '--conv-pos']
    kwargs, model_notes = model_kwargs(config)
    assert kwargs == {'drop_path_rate': 0.2}  # RMT takes drop-path; its pos table needs no size
    assert model_notes == []


def test_vit_train_line_trains_vit_base_with_its_architecture():
    config, notes = seed('train', SEED_VIT_TRAIN)
    assert changed(config) == {
        'model': 'vit_base_la', 'data': 'folder', 'train_dir': '/path/to/train_data',
        'val_dir': '/path/to/val_data', 'img_size': 224, 'dropout': 0.1, 'batch_size': 64,
        'epochs': 100, 'lr': 3e-4, 'output_dir': './logs',
        'save_path': './checkpoints/best_model.pth',
        'arch_flags': {'patch_size': 16, 'in_chans': 3, 'embed_dim': 768, 'depth': 12,
                       'num_heads': 12, 'mlp_ratio': 4.0}}
    kwargs, model_notes = model_kwargs(config)
    assert kwargs == {'patch_size': 16, 'embed_dim': 768, 'depth': 12, 'num_heads': 12,
                      'mlp_ratio': 4.0, 'drop_rate': 0.1, 'img_size': 224}
    assert model_notes == [] and notes == []


def test_three_styles_of_the_same_run_give_the_same_config():
    classification = seed('train', '--model_name MobileNet_LA --num_classes 4 --batch_size 16 '
                                    '--epochs 7 --learning_rate 3e-4 --data_root /d '
                                    '--save_path /o/best.pth --img_size 96 --log_dir /o')
    rmt = seed('train', '--data-path /d --model mobilenetv1_la --nb-classes 4 --batch-size 16 '
                        '--epochs 7 --lr 3e-4 --input-size 96 --output_dir /o '
                        '--save-path /o/best.pth')
    vit = seed('train', '--data-root-train /d/train --data-root-val /d/val --model MobileNet_LA '
                        '--num-classes 4 --img-size 96 --batch-size 16 --epochs 7 '
                        '--lr 3e-4 --log-dir /o --save-path /o/best.pth')
    assert classification == rmt
    vit_config = vit[0]
    assert (vit_config.train_dir, vit_config.val_dir, vit_config.data_root) == (
        '/d/train', '/d/val', None)
    vit_config.train_dir = vit_config.val_dir = None
    vit_config.data_root = '/d'
    assert vit_config == classification[0]


def test_test_lines_of_every_style():
    classification, _ = seed('test', SEED_CLASSIFICATION_TEST)
    assert (classification.checkpoint, classification.model, classification.output_dir,
            classification.img_size, classification.batch_size, classification.data_root) == (
        '/path/to/model_weights.pth', 'resnet34_la', './logs', 224, 32, '/path/to/your/dataset')
    rmt, _ = seed('test', SEED_RMT_TEST)
    assert (rmt.checkpoint, rmt.data_root, rmt.model, rmt.device, rmt.num_workers,
            rmt.output_dir) == ('/models/aurora_rmt.pth', '/datasets/aurora/test_set',
                                'rmt_s_la', 'cuda:0', 8, './test_logs')
    vit, _ = seed('test', SEED_VIT_TEST)
    assert (vit.checkpoint, vit.test_dir, vit.model, vit.output_dir) == (
        './checkpoints/best_model.pth', '/path/to/test_data', None, './logs')
    assert vit.model_kwargs['embed_dim'] == 768


def test_flags_a_model_does_not_take_are_noted_not_fatal():
    config, _ = parse('train', ['--model', 'resnet34_la', '--patch-size', '16', '--dropout',
                                '0.2', '--img-size', '64'])
    kwargs, notes = model_kwargs(config)
    assert kwargs == {'drop_rate': 0.2}
    assert notes == ["resnet34_la has no option 'patch_size' (=16); ignored"]


def test_data_source_defaults_to_synthetic():
    assert parse('train', [])[0].data == 'synthetic'
    assert parse('train', ['--data', 'synthetic'])[0].data == 'synthetic'
    config, _ = parse('train', ['--data', '/somewhere'])
    assert (config.data, config.data_root) == ('folder', '/somewhere')


@pytest.mark.parametrize('argv, words', [
    (['--distillation-type', 'hard'], 'teacher'),
    (['--data', 'synthetic', '--data-path', '/d'], 'leave out one'),
    (['--model', 'mobilenet_lx'], "did you mean 'mobilenetv1_la'"),
    (['--in-channels', '1'], '--in-channels 3'),
])
def test_flags_that_cannot_work_are_one_line_errors(argv, words):
    with pytest.raises(LoosenError) as error:
        model_kwargs(parse('train', argv)[0])
    assert words in str(error.value)
    assert '\n' not in str(error.value)


def test_typed_flags_win_over_the_recipe_whatever_their_value():
    """32, 1e-3 and --no-model-ema are loosen's defaults too; typed, they still win."""
    config, _ = parse('train', ['--recipe', 'paper-cnn', '--batch-size', '32', '--lr', '1e-3'])
    assert (config.batch_size, config.lr) == (32, 1e-3)
    assert (config.opt, config.epochs, config.sched) == ('adam', 200, 'plateau')  # the recipe's
    config, _ = parse('train', ['--recipe', 'paper-rmt', '--no-model-ema', '--smoothing', '0'])
    assert (config.model_ema, config.smoothing, config.mixup) == (False, 0.0, 0.8)


def help_entries(parser) -> dict[str, str]:
    """Each flag's entry of ``parser``'s help, by its first option string, on one line."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in parser.format_help().splitlines():
        if line.startswith('  -'):
            current = line.split()[0].rstrip(',')
            entries[current] = [line]
        elif line.startswith('    ') and current:
            entries[current].append(line)
        else:
            current = None
    return {flag: ' '.join(' '.join(lines).split()) for flag, lines in entries.items()}


ENGINE = ('train', 'test', 'predict', 'compare', 'demo')


@pytest.mark.parametrize('command', ENGINE)
def test_every_flag_shows_its_default_from_the_config(command):
    parser = subparser(build_parser(command), [command])[0]
    entries = help_entries(parser)
    flags = [a.option_strings[0] for a in parser._actions
             if a.option_strings and a.help is not argparse.SUPPRESS and a.dest != 'help']
    assert flags and set(flags) <= set(entries)
    for flag in flags:
        assert 'default: ' in entries[flag] or entries[flag].endswith('(required)'), \
            entries[flag]
    for entry in entries.values():
        assert '(default: None)' not in entry and '==SUPPRESS==' not in entry, entry
    defaults = EngineConfig()
    if command in ('train', 'compare'):
        for flag, value in (('--epochs', defaults.epochs), ('--lr', f'{defaults.lr:g}'),
                            ('--best-metric', defaults.best_metric),
                            ('--num-workers', defaults.num_workers)):
            assert entries[flag].endswith(f'(default: {value})'), entries[flag]
        assert "(default: the model's: 224" in entries['--img_size']


def test_parsed_flags_hold_only_what_was_typed():
    """Config flags default to SUPPRESS: the namespace tells typed from default."""
    parser = subparser(build_parser('train'), ['train'])[0]
    assert not set(vars(parser.parse_args(['train'][1:]))) & set(FIELDS)
    assert set(vars(parser.parse_args(['--lr', '1e-3']))) & set(FIELDS) == {'lr'}


def test_each_command_lists_only_the_flags_it_uses():
    flags = {c: {s for a in subparser(build_parser(c), [c])[0]._actions
                 for s in a.option_strings if a.help is not argparse.SUPPRESS} for c in ENGINE}
    training = {'--epochs', '--lr', '--recipe', '--resume', '--synthetic-per-class',
                '--data-root-train', '--pretrained', '--num_classes', '--early-conv', '--amp',
                '--export-weights', '--overwrite'}
    assert training <= flags['train']
    assert not training & flags['test'] and not training & flags['predict']
    assert '--patch-size' in flags['test'] and '--data-root-test' in flags['test']
    for unused in ('--patch-size', '--cache-mb', '--img_size', '--data'):
        assert unused not in flags['predict'], unused
    assert not {'--model', '--save_path', '--resume', '--export-weights', '--overwrite'} & \
        flags['compare']
    compare = ' '.join(subparser(build_parser('compare'), ['compare'])[0].format_help().split())
    assert 'runs/compare' in compare and 'runs/train' not in compare


def test_test_takes_the_seeds_resume_as_its_checkpoint_but_does_not_list_it():
    config, notes = seed('test', SEED_RMT_TEST)
    assert config.checkpoint == '/models/aurora_rmt.pth' and config.resume is None
    assert notes[-1].startswith('--resume: taken as --checkpoint')
    entries = help_entries(subparser(build_parser('test'), ['test'])[0])
    assert '--resume' not in ' '.join(entries)
    assert not any('--resume' in e.split('  ')[0] for e in entries.values())
