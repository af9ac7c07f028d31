"""Synthetic detection frames: boxes inside the frame and tight around what was drawn,
YOLO label files and the dataset YAML YOLOv5 reads."""
import numpy as np
import pytest
import yaml
from PIL import Image

from loosen.cli import main
from loosen.data import DET_CLASSES, render_scene, write_detection
from loosen.data.sky import optics, sky_geometry
from loosen.data.synth_det import STRUCTURE_FRAME, VISIBLE, structure_scale
from loosen.errors import LoosenError


@pytest.mark.parametrize('index', range(8))
def test_boxes_are_inside_and_tight_around_what_was_drawn(index):
    size = 192
    scene = render_scene(size, seed=5, index=index, noise=False)
    bare = render_scene(size, seed=5, index=index, noise=False, objects=False)
    drawn = (scene.signal - bare.signal) >= VISIBLE      # what the structures added
    assert len(scene.boxes) >= 1 and len(scene.labels) == len(scene.boxes)
    assert set(scene.labels) <= set(range(len(DET_CLASSES)))
    covered = np.zeros_like(drawn)
    inside = sky_geometry(size).rim > 0
    for x0, y0, x1, y1 in scene.boxes:
        assert 0 <= x0 <= x1 < size and 0 <= y0 <= y1 < size
        region = drawn[y0:y1 + 1, x0:x1 + 1]
        # tight: the drawn pixels touch all four sides of the box
        assert region[0].any() and region[-1].any() and region[:, 0].any() and region[:, -1].any()
        assert inside[y0:y1 + 1, x0:x1 + 1][region].all()
        covered[y0:y1 + 1, x0:x1 + 1] = True
    assert not (drawn & ~covered).any()                 # nothing drawn outside a box
    assert np.array_equal(scene.signal[~covered], bare.signal[~covered])


def test_noise_changes_pixels_not_boxes():
    clean = render_scene(128, seed=0, index=3, noise=False)
    noisy = render_scene(128, seed=0, index=3)
    assert np.array_equal(clean.boxes, noisy.boxes) and clean.labels == noisy.labels
    assert not np.array_equal(clean.image, noisy.image)


def test_yolo_dataset_layout_labels_and_yaml(tmp_path):
    spec_path = write_detection(tmp_path / 'det', images=6, size=96, seed=2,
                                split={'train': 4, 'val': 2})
    spec = yaml.safe_load(spec_path.read_text())
    root = tmp_path / 'det'
    assert spec == {'path': str(root.resolve()), 'train': 'images/train', 'val': 'images/val',
                    'nc': 3, 'names': list(DET_CLASSES)}
    images = sorted((root / 'images' / 'train').glob('*.png'))
    assert len(images) == 4 and len(list((root / 'images' / 'val').glob('*.png'))) == 2
    for index, image in enumerate(images):
        label = root / 'labels' / 'train' / f'{image.stem}.txt'
        rows = [line.split() for line in label.read_text().splitlines()]
        scene = render_scene(96, seed=2, index=index)
        assert np.array_equal(np.asarray(Image.open(image)), scene.image)
        assert len(rows) == len(scene.boxes) >= 1
        for (cls, cx, cy, w, h), label_id, (x0, y0, x1, y1) in zip(
                rows, scene.labels, scene.boxes, strict=True):
            cx, cy, w, h = (float(v) for v in (cx, cy, w, h))
            assert int(cls) == label_id
            assert cx - w / 2 > 0 and cx + w / 2 <= 1 and cy - h / 2 > 0 and cy + h / 2 <= 1
            assert (cx - w / 2) * 96 == pytest.approx(x0, abs=1e-3)
            assert (cx + w / 2) * 96 == pytest.approx(x1 + 1, abs=1e-3)
            assert (cy - h / 2) * 96 == pytest.approx(y0, abs=1e-3)
            assert (cy + h / 2) * 96 == pytest.approx(y1 + 1, abs=1e-3)


def test_synth_det_command_and_bad_input(tmp_path, capsys):
    assert main(['data', 'synth-det', str(tmp_path / 'd'), '--images', '5', '--size', '64',
                 '--max-objects', '2']) == 0
    assert 'dataset.yaml' in capsys.readouterr().out
    counts = [len(p.read_text().splitlines()) for p in (tmp_path / 'd' / 'labels').rglob('*.txt')]
    assert len(counts) == 5 and max(counts) <= 2
    with pytest.raises(LoosenError, match='train and val'):
        write_detection(tmp_path / 'e', images=1, size=64)


def test_small_frames_drop_structures_that_round_away():
    """At 64 px some structures draw no pixel at all; such frames still render, and every
    box they keep is tight around pixels that the structures light."""
    scenes = [render_scene(64, 0, i) for i in range(40)]
    assert all(s.image.shape[:2] == (64, 64) for s in scenes)
    for scene in scenes:
        for x0, y0, x1, y1 in scene.boxes:
            assert 0 <= x0 <= x1 < 64 and 0 <= y0 <= y1 < 64


def test_small_frames_keep_structures_wider_than_a_star():
    """Structure sizes are fractions of at least STRUCTURE_FRAME pixels: at 128 px the
    smallest spot's box is still twice as wide as a bright star's (one pixel through the
    lens); sized on the frame alone, spots 4 px wide came out."""
    size = 128
    geom = sky_geometry(size)
    star = np.zeros((size, size), np.float32)
    star[size // 2, size // 2] = 60.0  # brighter than all but the rarest stars
    lit = optics(geom, star) >= VISIBLE
    star_width = int(lit.any(0).sum())
    scenes = [render_scene(size, 0, i) for i in range(40)]
    spots = [box for s in scenes for box, label in zip(s.boxes, s.labels, strict=True)
             if label == DET_CLASSES.index('spot')]
    assert len(spots) >= 10
    assert min(min(x1 - x0, y1 - y0) + 1 for x0, y0, x1, y1 in spots) >= 2 * star_width == 6
    assert structure_scale(size) == STRUCTURE_FRAME and structure_scale(640) == 640
