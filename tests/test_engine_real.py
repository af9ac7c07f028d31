"""Real all-sky images (../shared/data/yrs-aurora): a small model learns something in seconds.

Skipped where the folder is absent. The val split is 54 % arcs, so the bar is not
accuracy (always answering 'arc' scores 0.54) but balanced accuracy and macro-F1.
"""
import numpy as np
import pytest

from loosen.data import default_yrs_dir
from loosen.engine.checkpoint import load_checkpoint
from loosen.engine.flags import parse
from loosen.engine.metrics import classification_metrics
from loosen.engine.train import train

YRS = default_yrs_dir()
pytestmark = pytest.mark.skipif(YRS is None, reason='no ../shared/data/yrs-aurora here')


def test_a_small_mobilenet_beats_the_majority_class_at_64px(tmp_path):
    config, notes = parse('train', [
        '--data', str(YRS), '--img-size', '64', '--model-kwargs', 'channel_multiplier=0.25',
        '--epochs', '8', '--lr', '3e-3', '--batch-size', '32', '--num-workers', '0',
        '--best-metric', 'balanced_accuracy', '--output-dir', str(tmp_path), '--no-progress'])
    result = train(config, notes)
    best = load_checkpoint(result.best_path)
    val_targets = np.array([best['classes'].index(d.name) for d in sorted(
        (YRS / 'val').iterdir()) if d.is_dir() for _ in d.iterdir()])
    always_arc = classification_metrics(val_targets, np.full_like(val_targets, 0), 4)
    assert best['classes'][0] == 'arc' and always_arc['accuracy'] > 0.5
    assert result.best['val_balanced_accuracy'] > 0.25 + 0.1
    assert result.best['val_macro_f1'] > always_arc['macro_f1'] + 0.1
    # defaults on real frames: the training set's own statistics, one value for all three
    # channels (grayscale copied), far darker than ImageNet's 0.485
    mean, std = best['data_config']['mean'], best['data_config']['std']
    assert len(set(mean)) == len(set(std)) == 1
    assert 0.08 < mean[0] < 0.25 and 0.05 < std[0] < 0.25
