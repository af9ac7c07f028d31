"""Train, test and predict end to end on tiny synthetic data; resume after a kill."""
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml
from PIL import Image

from loosen.cli import main
from loosen.data import write_synthetic
from loosen.engine.checkpoint import load_checkpoint
from loosen.engine.config import EngineConfig
from loosen.engine.report import read_rows
from loosen.engine.runtime import Runtime
from loosen.engine.train import Trainer, WeightedSoftTargetCrossEntropy

# a tiny MobileNet at 32 px: a few seconds an epoch on two cores
TINY = ['--img-size', '32', '--model-kwargs', 'channel_multiplier=0.25', '--batch-size', '8',
        '--num-workers', '0', '--synthetic-per-class', '16', '--lr', '1e-3']
# enough to learn something in four short epochs: 64 px, no random crops or flips
LEARNS = [*TINY, '--img-size', '64', '--lr', '3e-3', '--scale', '1', '1', '--hflip', '0',
          '--vflip', '0']
EPOCHS = 4


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """One training run on the synthetic set, with exported weights, and its test."""
    root = tmp_path_factory.mktemp('run')
    code = main(['train', *LEARNS, '--epochs', str(EPOCHS), '--output-dir', str(root / 'train'),
                 '--export-weights', str(root / 'model.safetensors')])
    assert code == 0
    code = main(['test', '--checkpoint', str(root / 'train' / 'best.pth'), '--out',
                 str(root / 'test'), '--num-workers', '0'])
    assert code == 0
    return root


def test_training_writes_every_report_and_the_loss_falls(run):
    rows = read_rows(run / 'train' / 'metrics.csv')
    assert [int(r['epoch']) for r in rows] == list(range(1, EPOCHS + 1))
    losses = [float(r['train_loss']) for r in rows]
    assert losses[-1] < 0.9 * losses[0]
    assert all(0 <= float(r['val_macro_f1']) <= 1 for r in rows)
    config = EngineConfig.from_dict(yaml.safe_load((run / 'train' / 'config.yaml').read_text()))
    assert (config.model, config.epochs, config.img_size) == ('mobilenetv1_la', EPOCHS, 64)
    with Image.open(run / 'train' / 'curves.png') as curves:
        assert curves.format == 'PNG' and curves.width > 500
    log = (run / 'train' / 'train.log').read_text()
    assert log.count('epoch ') >= EPOCHS and '*best*' in log
    best, last = (load_checkpoint(run / 'train' / f'{n}.pth') for n in ('best', 'last'))
    assert last['epoch'] == EPOCHS and 'optimizer' in last and 'optimizer' not in best
    assert best['classes'] == ['arc', 'drapery', 'radial', 'hotspot']
    scores = [float(r['val_macro_f1']) for r in rows]
    assert best['epoch'] == 1 + scores.index(max(scores))  # the first epoch with the best score


def _f1(rows, cls):
    """F1 of ``cls`` from prediction rows, by its definition (2TP / (2TP + FP + FN))."""
    tp = sum(r['true'] == cls and r['predicted'] == cls for r in rows)
    fp = sum(r['true'] != cls and r['predicted'] == cls for r in rows)
    fn = sum(r['true'] == cls and r['predicted'] != cls for r in rows)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def test_test_on_data_with_only_some_classes_scores_those_and_names_the_rest(
        run, tmp_path, capsys):
    """A night with only arcs and draperies: predictions over the model's four classes,
    metrics over the two present, the two absent named; a class the model does not know
    is still an error."""
    data = write_synthetic(tmp_path / 'night', per_class=6, size=64, seed=9,
                           split={'train': 0.5, 'test': 0.5})
    for cls in ('radial', 'hotspot'):
        shutil.rmtree(data / 'test' / cls)
    out = tmp_path / 'out'
    assert main(['test', '--checkpoint', str(run / 'train' / 'best.pth'), '--data-path',
                 str(data), '--out', str(out), '--num-workers', '0']) == 0
    metrics = json.loads((out / 'metrics.json').read_text())
    rows = read_rows(out / 'predictions.csv')
    assert metrics['absent_classes'] == ['radial', 'hotspot']
    assert {r['true'] for r in rows} == {'arc', 'drapery'} and len(rows) == 6
    assert all(f'p_{c}' in rows[0] for c in ('arc', 'drapery', 'radial', 'hotspot'))
    f1 = {c: _f1(rows, c) for c in ('arc', 'drapery')}
    assert metrics['per_class_f1'] == pytest.approx(f1)
    assert metrics['macro_f1'] == pytest.approx(sum(f1.values()) / 2)
    recalls = [sum(r['true'] == r['predicted'] == c for r in rows) / 3 for c in f1]
    assert metrics['balanced_accuracy'] == pytest.approx(sum(recalls) / 2)
    report = (out / 'classification_report.txt').read_text()
    assert 'not scored' in report and 'radial, hotspot' in report
    assert 'absent from the data' in (out / 'test.log').read_text()

    (data / 'test' / 'corona').mkdir()
    shutil.copy(next((data / 'test' / 'arc').iterdir()), data / 'test' / 'corona' / 'a.png')
    capsys.readouterr()
    assert main(['test', '--checkpoint', str(run / 'train' / 'best.pth'), '--data-path',
                 str(data), '--out', str(tmp_path / 'out2'), '--num-workers', '0']) == 2
    assert 'corona is not a class' in capsys.readouterr().err


def test_test_reports_parse_and_agree(run):
    out = run / 'test'
    metrics = json.loads((out / 'metrics.json').read_text())
    predictions = read_rows(out / 'predictions.csv')
    assert metrics['images'] == len(predictions) == 16  # a quarter of 16 per class, 4 classes
    correct = sum(int(r['correct']) for r in predictions)
    assert metrics['accuracy'] == pytest.approx(correct / len(predictions))
    for row in predictions:
        probs = [float(row[f'p_{c}']) for c in ('arc', 'drapery', 'radial', 'hotspot')]
        assert sum(probs) == pytest.approx(1, abs=1e-4)
        assert float(row['confidence']) == pytest.approx(max(probs))
    matrix = read_rows(out / 'confusion_matrix.csv')
    assert sum(int(r[c]) for r in matrix for c in ('arc', 'drapery', 'radial', 'hotspot')) == 16
    assert sum(int(r[r['true']]) for r in matrix) == correct
    report = (out / 'classification_report.txt').read_text()
    assert 'precision' in report and 'macro avg' in report and 'hotspot' in report
    mistakes = read_rows(out / 'mistakes.csv')
    assert len(mistakes) == len(predictions) - correct
    assert all(m['true'] != m['predicted'] for m in mistakes)
    confidences = [float(m['confidence']) for m in mistakes]
    assert confidences == sorted(confidences, reverse=True)
    with Image.open(out / 'confusion_matrix.png') as figure:
        assert figure.format == 'PNG'
    assert 'accuracy' in (out / 'test.log').read_text()


def test_predict_files_and_folders_with_checkpoint_or_exported_weights(run, tmp_path):
    images = write_synthetic(tmp_path / 'imgs', per_class=2, size=40, split={'test': 1.0})
    one_file = next((images / 'test' / 'arc').iterdir())
    outputs = {}
    for name, weights in (('pth', run / 'train' / 'best.pth'),
                          ('safetensors', run / 'model.safetensors')):
        out = tmp_path / f'{name}.csv'
        code = main(['predict', '--checkpoint', str(weights), str(images / 'test'), str(one_file),
                     '--top-k', '2', '--output', str(out), '--num-workers', '0'])
        assert code == 0
        outputs[name] = read_rows(out)
    rows = outputs['pth']
    assert len(rows) == 9 and rows[-1]['path'] == str(one_file)
    assert all(r['top1'] != r['top2'] and float(r['p1']) >= float(r['p2']) for r in rows)
    assert [r['top1'] for r in rows] == [r['top1'] for r in outputs['safetensors']]


def test_predict_stops_at_an_unreadable_image_or_skips_it(run, tmp_path, capsys):
    folder = write_synthetic(tmp_path / 'imgs', per_class=2, size=40, split={'test': 1.0})
    bad = folder / 'test' / 'arc' / 'broken.png'
    bad.write_bytes(b'\x89PNG\r\n\x1a\n' + b'\0' * 20)
    args = ['predict', '--checkpoint', str(run / 'train' / 'best.pth'), str(folder),
            '--output', str(tmp_path / 'p.csv'), '--num-workers', '0']
    assert main(args) == 2
    error = capsys.readouterr().err
    assert str(bad) in error and error.count('\n') == 1 and '--skip-bad-images' in error
    assert not (tmp_path / 'p.csv').exists()
    assert main([*args, '--skip-bad-images']) == 0
    assert len(read_rows(tmp_path / 'p.csv')) == 8


@pytest.mark.parametrize('extra, words', [
    (['--model', 'mobilenetv1_plain'], 'holds a mobilenetv1_la model, not mobilenetv1_plain'),
    (['--model', 'MobileNet_LA', '--embed-dim', '384'], None),  # a flag it has no use for
])
def test_test_checks_the_model_asked_for(run, tmp_path, capsys, extra, words):
    out = tmp_path / 'out'
    code = main(['test', '--checkpoint', str(run / 'train' / 'best.pth'), '--out', str(out),
                 '--num-workers', '0', *extra])
    if words is None:
        assert code == 0
        return
    assert code == 2 and words in capsys.readouterr().err
    assert not out.exists()


def test_a_checkpoint_of_another_class_set_is_refused(run, tmp_path, capsys):
    other = write_synthetic(tmp_path / 'other', per_class=2, size=32,
                            classes=['arc', 'drapery', 'radial', 'clear'], split={'test': 1.0})
    out = tmp_path / 'out'
    code = main(['test', '--checkpoint', str(run / 'train' / 'best.pth'), '--data-path',
                 str(other), '--out', str(out)])
    error = capsys.readouterr().err
    assert code == 2 and error.count('\n') == 1
    # a class the model never learned is still refused, named with the classes it knows
    assert ('test/clear is not a class of the training split (arc, drapery, radial, hotspot)'
            in error)
    assert not out.exists()


def test_weighted_soft_targets_match_weighted_cross_entropy():
    logits, labels = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 3, 1])
    weight = torch.tensor([0.5, 1.0, 2.0, 4.0])
    soft = WeightedSoftTargetCrossEntropy(weight)(logits, torch.eye(4)[labels])
    assert soft == pytest.approx(float(torch.nn.CrossEntropyLoss(weight=weight)(logits, labels)))


def _comparable(rows):
    return [{k: v for k, v in r.items() if k not in ('seconds', 'images_per_s')} for r in rows]


def test_resume_after_a_kill_ends_as_an_uninterrupted_run(tmp_path, monkeypatch):
    """The seed's classification command line, killed with SIGKILL after its first
    checkpoint and resumed from that checkpoint alone (``--resume PATH``, from another
    folder), ends with the metrics and weights of an uninterrupted run (EMA, mixup, a
    loader worker and a cosine schedule included)."""
    data = write_synthetic(tmp_path / 'data', per_class=10, size=32)
    epochs = 4
    seed_line = ['--model_name', 'MobileNet_LA', '--num_classes', '4', '--batch_size', '8',
                 '--epochs', str(epochs), '--learning_rate', '3e-3', '--data_root', str(data),
                 '--img_size', '32', '--model-kwargs', 'channel_multiplier=0.25',
                 '--num-workers', '1', '--model-ema', '--mixup', '0.4', '--seed', '5']
    assert main(['train', *seed_line, '--output-dir', str(tmp_path / 'whole')]) == 0

    killed = tmp_path / 'killed'
    process = subprocess.Popen([sys.executable, '-m', 'loosen.train', *seed_line,
                                '--output-dir', str(killed)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (killed / 'last.pth').exists() and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = load_checkpoint(killed / 'last.pth')['epoch']
    assert 1 <= done < epochs  # killed mid-way

    monkeypatch.chdir(tmp_path / 'data')  # the checkpoint says where the data is
    assert main(['train', '--resume', str(killed / 'last.pth')]) == 0
    whole, resumed = (load_checkpoint(tmp_path / n / 'last.pth') for n in ('whole', 'killed'))
    assert _comparable(read_rows(killed / 'metrics.csv')) == \
        _comparable(read_rows(tmp_path / 'whole' / 'metrics.csv'))
    for key in ('state_dict', 'ema'):
        for name, tensor in whole[key].items():
            assert torch.equal(tensor, resumed[key][name]), (key, name)
    assert resumed['updates'] == whole['updates'] == epochs * math.floor(30 / 8)


def test_more_epochs_extend_a_resumed_run_and_a_contradicting_flag_is_refused(tmp_path, capsys):
    """One epoch, then ``--resume last.pth --epochs 2``: the rows and weights of a two-epoch
    run (a schedule that does not depend on the length). A flag that would change how the
    run trains is named in one line, exit 2, and nothing is written."""
    line = [*TINY, '--synthetic-per-class', '4', '--sched', 'none', '--seed', '3']
    assert main(['train', *line, '--epochs', '2', '--output-dir', str(tmp_path / 'whole')]) == 0
    short = tmp_path / 'short'
    assert main(['train', *line, '--epochs', '1', '--output-dir', str(short)]) == 0
    stamp = {p.name: p.read_bytes() for p in short.iterdir()}
    capsys.readouterr()
    for extra, words in ((['--lr', '0.01', '--model-kwargs', 'channel_multiplier=0.5'],
                          ["--lr 0.01 (the run's: 0.001)", '--model-kwargs channel_multiplier='
                           "0.5 (the run's: channel_multiplier=0.25)"]),
                         (['--data', str(tmp_path)], [f'--data-path {tmp_path} (the run']),
                         (['--overwrite'], ['--overwrite starts a new run'])):
        assert main(['train', '--resume', str(short / 'last.pth'), *extra]) == 2
        error = capsys.readouterr().err
        assert all(w in error for w in words) and error.count('\n') == 1, error
        assert {p.name: p.read_bytes() for p in short.iterdir()} == stamp
    assert main(['train', '--resume', str(tmp_path / 'whole' / 'last.pth'), '--epochs', '1']) == 2
    assert 'has done 2 epochs; give more to extend it' in capsys.readouterr().err
    assert main(['train', '--resume', str(short / 'last.pth'), '--epochs', '2',
                 '--num-workers', '0']) == 0
    assert _comparable(read_rows(short / 'metrics.csv')) == \
        _comparable(read_rows(tmp_path / 'whole' / 'metrics.csv'))
    whole, resumed = (load_checkpoint(tmp_path / n / 'last.pth') for n in ('whole', 'short'))
    assert resumed['config']['epochs'] == 2 and resumed['epoch'] == 2
    for name, tensor in whole['state_dict'].items():
        assert torch.equal(tensor, resumed['state_dict'][name]), name


def test_a_resumed_cosine_schedule_is_stretched_to_the_new_length():
    """timm's lr is a function of the update count for the run's length: resumed with more
    epochs it continues on the longer curve (as timm's train.py does), not past the end
    of the short one."""
    runtime = Runtime(torch.device('cpu'))
    short, long = (EngineConfig(epochs=n, warmup_epochs=0) for n in (2, 4))
    first = Trainer(short, torch.nn.Linear(3, 4), 4, runtime, updates_per_epoch=5)
    first.updates = 10
    first.scheduler.step_update(10)
    assert first.lr == pytest.approx(short.min_lr)  # the end of the two-epoch curve
    resumed = Trainer(long, torch.nn.Linear(3, 4), 4, runtime, updates_per_epoch=5)
    resumed.load_state({**first.state(full=True), 'state_dict': resumed.net.state_dict()})
    fresh = Trainer(long, torch.nn.Linear(3, 4), 4, runtime, updates_per_epoch=5)
    fresh.scheduler.step_update(10)
    assert resumed.lr == pytest.approx(fresh.lr) == pytest.approx(
        long.min_lr + 0.5 * (long.lr - long.min_lr))  # half-way down the four-epoch cosine
