"""Reading image folders: every mode and depth to 8-bit RGB, EXIF rotation, one-line
errors naming the file or folder and the fix, and skipping bad files on request."""
import numpy as np
import pytest
from PIL import Image

from loosen.data import ImageFolderSplit, find_splits, open_image
from loosen.errors import LoosenError


def _save(path, array, mode=None, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path, **kw) if mode else Image.fromarray(array).save(
        path, **kw)
    return path


def _tree(root, layout):
    """layout: {'train/arc': 2, ...} -> that many small distinct PNGs in each folder."""
    for k, (folder, count) in enumerate(layout.items()):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            _save(root / folder / f'im{i}.png', np.full((6, 6), 10 * k + i, np.uint8))
    return root


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5)
    rgb = np.asarray(open_image(_save(tmp_path / 'g.png', gray)))
    assert rgb.shape == (4, 5, 3) and all(np.array_equal(rgb[..., c], gray) for c in range(3))


@pytest.mark.parametrize(('top', 'full_scale'), [(4000, 4095), (1000, 1023), (60000, 65535)])
def test_16_bit_png_scaled_by_the_bit_depth_it_uses(tmp_path, top, full_scale):
    array = np.array([[0, top // 2, top]], dtype=np.uint16)
    path = _save(tmp_path / 'deep.png', array)
    with Image.open(path) as check:
        assert check.mode.startswith('I')
    out = np.asarray(open_image(path))[0, :, 0]
    assert out.tolist() == np.round(array[0].astype(float) * 255 / full_scale).astype(int).tolist()


def test_float_images_unit_range_kept_counts_stretched_nan_black(tmp_path):
    unit = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    assert np.asarray(open_image(_save(tmp_path / 'u.tif', unit, 'F')))[0, :, 0].tolist() == [
        0, 128, 255]
    counts = np.linspace(100, 5000, 1000, dtype=np.float32).reshape(20, 50)
    counts[0, 0] = np.nan
    np.save(tmp_path / 'c.npy', counts)
    out = np.asarray(open_image(tmp_path / 'c.npy'))[..., 0]
    assert out[0, 0] == 0 and out[0, 1] == 0 and out.max() == 255
    assert out[10, 25] == pytest.approx(255 * (counts[10, 25] - 100) / (
        np.nanpercentile(counts, 99.9) - 100), abs=1)
    colour = np.random.default_rng(0).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    np.save(tmp_path / 'rgb.npy', colour)
    assert np.array_equal(np.asarray(open_image(tmp_path / 'rgb.npy')), colour)


def test_exif_orientation_is_applied(tmp_path):
    array = np.zeros((2, 3), np.uint8)
    array[0, 0] = 200  # top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: rotate 90 degrees clockwise to view
    path = _save(tmp_path / 'turned.png', array, exif=exif)
    out = np.asarray(open_image(path))[..., 0]
    assert out.shape == (3, 2) and out[0, 1] == 200


def test_unreadable_files_name_the_file_and_the_fix(tmp_path):
    path = _save(tmp_path / 'cut.png', np.full((64, 64), 7, np.uint8), compress_level=0)
    _truncate(path)
    with pytest.raises(LoosenError, match=r'cannot read image .*cut\.png.*--skip-bad') as info:
        open_image(path)
    assert '\n' not in str(info.value)
    (tmp_path / 'text.png').write_text('not an image')
    with pytest.raises(LoosenError, match=r'text\.png'):
        open_image(tmp_path / 'text.png')
    with pytest.raises(LoosenError, match='does not exist'):
        open_image(tmp_path / 'gone.png')


def test_split_dataset_classes_targets_samples(tmp_path):
    root = _tree(tmp_path, {'train/radial': 2, 'train/arc': 3, 'val/arc': 1, 'val/radial': 1})
    (root / 'train' / '.ipynb_checkpoints').mkdir()
    (root / 'train' / 'arc' / 'notes.txt').write_text('not an image')
    train = ImageFolderSplit(root, 'train', transform=lambda im: im.size)
    assert train.classes == ['arc', 'radial'] and train.targets == [0, 0, 0, 1, 1]
    assert [p.rsplit('/', 2)[1] for p, _ in train.samples] == ['arc'] * 3 + ['radial'] * 2
    assert train[3] == ((6, 6), 1) and train.skipped == 0
    val = ImageFolderSplit(root, 'val', classes=['radial', 'arc'])
    assert val.targets == [1, 0] and val[0][0].mode == 'RGB'
    assert find_splits(root) == ['train', 'val']


@pytest.mark.parametrize(('layout', 'split', 'classes', 'message'), [
    ({'train/arc': 1}, 'val', None, r'no val/ folder in .* \(it has train/\)'),
    ({'train/arc': 1, 'val': 0}, 'val', None, 'has no class folders; put images in'),
    ({'train/arc': 1, 'train/radial': 0}, 'train', None, r'radial has no images .*add images'),
    ({'val/arc': 1}, 'val', ['arc', 'radial'], r'no folder for class\(es\) radial .*add'),
    ({'val/arc': 1, 'val/cloud': 1}, 'val', ['arc'], 'cloud is not a class of the training'),
])
def test_layout_errors_are_one_line_with_the_fix(tmp_path, layout, split, classes, message):
    _tree(tmp_path, layout)
    with pytest.raises(LoosenError, match=message) as info:
        ImageFolderSplit(tmp_path, split, classes=classes)
    assert '\n' not in str(info.value)


def test_skip_bad_counts_and_leaves_out_unreadable_images(tmp_path):
    root = _tree(tmp_path, {'train/arc': 3, 'train/radial': 2})
    _truncate(root / 'train' / 'arc' / 'im1.png')
    strict = ImageFolderSplit(root, 'train')
    with pytest.raises(LoosenError, match=r'im1\.png'):
        [strict[i] for i in range(len(strict))]
    lenient = ImageFolderSplit(root, 'train', skip_bad=True)
    assert lenient.skipped == 1 and len(lenient) == 4 and lenient.targets == [0, 0, 1, 1]
    assert lenient.bad[0][0].endswith('im1.png')
    assert all(lenient[i][0].size == (6, 6) for i in range(4))
