"""``loosen data check`` catches what would break training or inflate its numbers;
``loosen data preview`` draws a sheet per class."""
import shutil

import numpy as np
import pytest
from PIL import Image

from loosen.cli import main
from loosen.data import check_tree, write_synthetic


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv('LOOSEN_CACHE', str(tmp_path / 'cache'))  # the frames' hashes


@pytest.fixture
def clean(tmp_path):
    return write_synthetic(tmp_path / 'sky', per_class=3, size=32, seed=0,
                           classes=['arc', 'radial'], split={'train': 2, 'val': 1})


def test_a_clean_tree_passes_with_counts_sizes_and_modes(clean, capsys):
    report = check_tree(clean)
    assert report.ok and not report.warnings
    assert report.counts == {'train': {'arc': 2, 'radial': 2}, 'val': {'arc': 1, 'radial': 1}}
    assert {(i.size, i.mode) for i in report.images} == {((32, 32), 'L')}
    assert main(['data', 'check', str(clean)]) == 0
    out = capsys.readouterr().out
    assert 'sizes: 32x32 (6)' in out and 'ok: ready to train' in out


def test_truncated_png_is_an_error_naming_the_file(clean, capsys):
    path = clean / 'train' / 'arc' / 'arc_00001.png'
    path.write_bytes(path.read_bytes()[:200])
    report = check_tree(clean)
    assert len(report.errors) == 1 and 'arc_00001.png' in report.errors[0]
    assert main(['data', 'check', str(clean)]) == 1
    assert 'error: cannot read image' in capsys.readouterr().out


def test_empty_class_folder_is_an_error(clean):
    for png in (clean / 'val' / 'radial').glob('*.png'):
        png.unlink()
    folder = clean / 'val' / 'radial'
    assert check_tree(clean).errors == [f'class folder {folder} has no images; add images or '
                                        'delete the folder']


def test_the_same_image_in_two_splits_is_an_error_within_one_a_warning(clean):
    shutil.copy(clean / 'train' / 'arc' / 'arc_00000.png', clean / 'val' / 'arc' / 'copy.png')
    shutil.copy(clean / 'train' / 'radial' / 'radial_00000.png',
                clean / 'train' / 'radial' / 'again.png')
    report = check_tree(clean)
    assert len(report.errors) == 2 and 'same image is in two splits' in report.errors[0]
    assert 'copy.png' in report.errors[0] and 'arc_00000.png' in report.errors[0]
    assert report.errors[1].startswith('1 of 3 val frames (33.3%) have a train frame within '
                                       'hash distance 4')  # a copy is a near-duplicate too
    assert len(report.warnings) == 1 and '2 identical images in train/' in report.warnings[0]


def test_class_folder_missing_from_a_split_and_no_train(clean, tmp_path):
    shutil.rmtree(clean / 'val' / 'radial')
    assert any('val/ has no folder for class radial' in e for e in check_tree(clean).errors)
    flat = tmp_path / 'flat'
    for cls in ('arc', 'radial'):
        (flat / cls).mkdir(parents=True)
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(flat / cls / 'a.png')
    (error,) = check_tree(flat).errors
    assert 'no train/ folder' in error and 'loosen data split' in error


def _size(path):
    with Image.open(path) as image:
        return image.size


def test_preview_draws_a_sheet_for_split_and_flat_folders(clean, tmp_path, capsys):
    two, three = tmp_path / 'two.png', tmp_path / 'three.png'
    assert main(['data', 'preview', str(clean), '--out', str(two), '--per-class', '2']) == 0
    assert main(['data', 'preview', str(clean), '--out', str(three), '--per-class', '3']) == 0
    assert 'wrote' in capsys.readouterr().out
    (w2, h2), (w3, h3) = _size(two), _size(three)
    assert h2 == h3 > 200 and w3 == pytest.approx(w2 * 3 / 2, abs=2)  # a column per frame
    flat = tmp_path / 'flat'
    shutil.copytree(clean / 'train', flat)
    assert main(['data', 'preview', str(flat), '--out', str(tmp_path / 'flat.png')]) == 0
    assert _size(tmp_path / 'flat.png')[1] == h2  # the same two class rows
    assert main(['data', 'preview', str(clean), '--out', str(two), '--split', 'test']) == 2
    assert "no images in split 'test'" in capsys.readouterr().err
