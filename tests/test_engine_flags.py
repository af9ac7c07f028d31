"""The seed's three command-line styles (../shared/seeds/000_*.txt) onto one engine config."""
import dataclasses
import shlex

import pytest

from loosen.cli import main
from loosen.engine.config import EngineConfig
from loosen.engine.flags import parse
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
        'model_kwargs': {'patch_size': 16, 'in_chans': 3, 'embed_dim': 768, 'depth': 12,
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


def _help(capsys, command):
    with pytest.raises(SystemExit):
        main([command, '--help'])
    return capsys.readouterr().out


def test_each_command_shows_only_its_flags_and_no_empty_defaults(capsys):
    helps = {command: _help(capsys, command) for command in ('train', 'test', 'predict')}
    for text in helps.values():
        assert '(default: None)' not in text and '(default: [])' not in text
        assert 'model:' in text and 'data' in text  # still grouped
    for unused in ('--patch-size', '--synthetic-per-class', '--data-root-train', '--cache-mb',
                   '--img_size', '--num_classes'):
        assert unused not in helps['predict'], unused
    assert '--patch-size' in helps['test'] and '--data-root-test' in helps['test']
    assert '--epochs' in helps['train'] and '--epochs' not in helps['test']
    assert '--top-k TOP_K         classes per image in the CSV (default: 3)' in helps['predict']
    assert '(default: cuda if present)' in helps['predict']  # spelled out once, not twice
    assert 'default: 0)' in helps['train'] or 'default: 1)' in helps['train']  # --num-workers
