"""Bad input to train and test: one line on stderr, exit code 2, nothing written."""
import shutil

import pytest
import yaml

from loosen.cli import main
from loosen.data import write_synthetic
from loosen.engine.report import read_rows

TINY = ['--img-size', '32', '--model-kwargs', 'channel_multiplier=0.25', '--batch-size', '4',
        '--num-workers', '0', '--epochs', '1']


@pytest.fixture
def tree(tmp_path):
    """train/ and val/ with 4 classes x 4 images of 32 px."""
    return write_synthetic(tmp_path / 'data', per_class=8, size=32,
                           split={'train': 0.5, 'val': 0.5})


def fails(argv, capsys, out):
    """Run ``argv``; it must fail with one line and leave ``out`` unwritten."""
    code = main([*argv, '--output-dir', str(out)])
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith('loosen: error: ') and error.count('\n') == 1, error
    assert not out.exists()
    return error


def truncate(path):
    path.write_bytes(path.read_bytes()[:200])


BREAK = {
    'missing root': (lambda t: shutil.rmtree(t), 'does not exist'),
    'no val split': (lambda t: shutil.rmtree(t / 'val'), 'val'),
    'class missing from val': (lambda t: shutil.rmtree(t / 'val' / 'hotspot'),
                               'no folder for class(es) hotspot'),
    'empty class folder': (lambda t: [p.unlink() for p in (t / 'train' / 'radial').iterdir()],
                           'has no images'),
    'no class folders': (lambda t: [shutil.rmtree(p) for p in (t / 'train').iterdir()],
                         'has no class folders'),
    'unreadable image': (lambda t: truncate(t / 'train' / 'arc' / 'arc_00001.png'),
                         'arc_00001.png'),
}


@pytest.mark.parametrize('case', list(BREAK))
def test_broken_folders(tree, tmp_path, capsys, case):
    damage, words = BREAK[case]
    damage(tree)
    error = fails(['train', *TINY, '--data_root', str(tree)], capsys, tmp_path / 'out')
    assert words in error


def test_num_classes_that_disagrees_with_the_folders(tree, tmp_path, capsys):
    error = fails(['train', *TINY, '--data_root', str(tree), '--num_classes', '5'], capsys,
                  tmp_path / 'out')
    assert '--num_classes 5 but the data has 4 classes (arc, drapery, hotspot, radial)' in error


@pytest.mark.parametrize('name, words', [
    ('MobileNet_LX', "did you mean 'mobilenetv1_la'"),
    ('resnet_la', "did you mean 'resnet34_la'"),
])
def test_unknown_model_names_suggest_close_ones(tmp_path, capsys, name, words):
    error = fails(['train', *TINY, '--model', name], capsys, tmp_path / 'out')
    assert words in error


def test_a_second_identical_run_gets_a_new_folder_and_resume_continues_one(
        tree, tmp_path, monkeypatch):
    """As YOLOv5 makes exp2: the seed's command line twice gives two runs, none refused or
    overwritten; --resume continues the run it names, in that run's folder."""
    monkeypatch.chdir(tmp_path)
    line = ['train', *TINY, '--model_name', 'MobileNet_LA', '--data_root', str(tree)]
    assert main(line) == 0
    first = tmp_path / 'runs' / 'train' / 'mobilenetv1_la'
    stamp = (first / 'last.pth').read_bytes()
    assert main(line) == 0
    second = first.with_name('mobilenetv1_la2')
    assert (first / 'last.pth').read_bytes() == stamp
    assert {p.name for p in second.iterdir()} >= {'best.pth', 'last.pth', 'train.log'}
    assert yaml.safe_load((second / 'config.yaml').read_text())['output_dir'] == \
        'runs/train/mobilenetv1_la2'
    assert main([*line, '--epochs', '2', '--resume', str(second / 'last.pth')]) == 0
    assert [row['epoch'] for row in read_rows(second / 'metrics.csv')] == ['1', '2']
    assert sorted(p.name for p in first.parent.iterdir()) == ['mobilenetv1_la',
                                                               'mobilenetv1_la2']


def test_test_needs_a_readable_checkpoint(tree, tmp_path, capsys):
    broken = tmp_path / 'best.pth'
    broken.write_bytes(b'PK\x03\x04 not really')
    error = fails(['test', '--checkpoint', str(broken), '--data_root', str(tree)], capsys,
                  tmp_path / 'out')
    assert 'truncated or corrupt' in error
    error = fails(['test', '--data_root', str(tree)], capsys, tmp_path / 'out')
    assert 'no checkpoint to test' in error


def test_skip_bad_images_leaves_them_out_and_counts_them(tree, tmp_path):
    truncate(tree / 'train' / 'arc' / 'arc_00001.png')
    (tree / 'val' / 'drapery' / 'drapery_00005.png').write_bytes(b'no image here')
    out = tmp_path / 'out'
    assert main(['train', *TINY, '--data_root', str(tree), '--skip-bad-images',
                 '--output-dir', str(out)]) == 0
    log = (out / 'train.log').read_text()
    assert 'train 15 images' in log and '1 unreadable images skipped, first: ' in log
    assert 'val 15 from' in log
    assert len(read_rows(out / 'metrics.csv')) == 1


@pytest.mark.parametrize('argv, words', [
    (['--model-kwargs', 'chanel_multiplier=0.25'],  # a misspelt key: not the full-width model
     ["unknown mobilenetv1_la option (--model-kwargs) 'chanel_multiplier'",
      "did you mean 'channel_multiplier'", 'Known: ', 'depth_multiplier']),
    (['--model-kwargs', 'channel_multiplier=0.25', '--batch-size', '64'],  # > 16 images
     ['--batch-size 64 is more than the 16 training images']),
    (['--model-kwargs', 'channel_multiplier=0.25', '--opt', 'adamx'],
     ['Optimizer adamx not found', '--opt adamx']),
])
def test_a_run_that_cannot_work_writes_nothing(tmp_path, capsys, argv, words):
    """Checked before the run folder is created (the batch size and the optimizer too)."""
    tiny = ['--img-size', '32', '--num-workers', '0', '--epochs', '1', '--batch-size', '4',
            '--synthetic-per-class', '4']
    error = fails(['train', *tiny, *argv], capsys, tmp_path / 'out')
    assert all(w in error for w in words), error
