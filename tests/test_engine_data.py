"""The engine's data parts: grayscale-first transforms, decoding and its cache, balancing."""
import random
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from loosen.data import SyntheticAurora
from loosen.engine.config import EngineConfig
from loosen.engine.data import (
    BalancedSampler,
    Decoded,
    class_weights,
    decode_side,
    make_transform,
    shrink,
)

DATA_CFG = {'input_size': [3, 48, 48], 'mean': [0.15] * 3, 'std': [0.14] * 3,
            'interpolation': 'bilinear', 'crop_pct': 1.0, 'crop_mode': 'center'}


@pytest.mark.parametrize('training', [False, True])
def test_gray_images_transform_as_one_channel_to_the_same_result(training):
    gray = Image.fromarray(np.random.default_rng(0).integers(0, 255, (70, 90), np.uint8), 'L')
    transform = make_transform(DATA_CFG, EngineConfig(), training)
    results = []
    for image in (gray, gray.convert('RGB')):
        random.seed(1)
        torch.manual_seed(1)
        results.append(transform(image))
    assert results[0].shape == (3, 48, 48)
    assert torch.equal(results[0], results[1])


def test_decoding_shrinks_keeps_gray_as_one_channel_and_respects_the_cache_budget():
    frames = SyntheticAurora(3, 96, seed=0)  # 12 frames, 96 px, gray copied into RGB
    side = decode_side(48, (0.6, 1.0))
    assert side == 62  # the smallest crop (60 % of the area) still spans 48 px
    cached = Decoded(frames, [str(i) for i in range(12)], side, budget=10**6, skip_bad=False)
    assert cached.cached and cached.images[0].mode == 'L' and cached.images[0].size == (62, 62)
    streamed = Decoded(frames, [str(i) for i in range(12)], side, budget=62 * 62 * 5,
                       skip_bad=False)
    assert not streamed.cached  # five frames fit, twelve do not: decoded on every access
    assert np.array_equal(np.asarray(cached[7][0]), np.asarray(streamed[7][0]))
    assert cached[7][0].mode == 'RGB' and cached.targets == frames.targets
    small = shrink(Image.new('RGB', (40, 30), (9, 9, 9)), side)
    assert small.size == (40, 30) and small.mode == 'L'  # never upsampled


def test_balanced_sampler_draws_classes_alike_and_shards_one_draw_across_ranks():
    targets = [0] * 90 + [1] * 9 + [2]
    ranks = [BalancedSampler(targets, num_replicas=2, rank=r, seed=3) for r in (0, 1)]
    for sampler in ranks:
        sampler.set_epoch(4)
    drawn = list(ranks[0]) + list(ranks[1])
    assert len(drawn) == 100 and len(ranks[0]) == 50
    counts = Counter(targets[i] for i in drawn)
    assert all(20 < counts[c] < 47 for c in (0, 1, 2))  # a third each, not 90/9/1
    again = BalancedSampler(targets, num_replicas=2, rank=0, seed=3)
    again.set_epoch(4)
    assert list(again) == list(ranks[0])  # depends on seed and epoch only
    again.set_epoch(5)
    assert list(again) != list(ranks[0])


def test_class_weights_make_every_class_weigh_the_same():
    targets = [0] * 6 + [1] * 3 + [2]
    weights = class_weights(targets, 3)
    totals = np.bincount(targets) * weights.numpy()
    assert np.allclose(totals, totals[0]) and totals.sum() == pytest.approx(len(targets))
