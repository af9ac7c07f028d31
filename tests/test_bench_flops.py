"""The cost benches' shared helpers: fvcore's count and what it skipped, input shapes,
percentages over plain."""
from __future__ import annotations

import argparse
import math

import pytest
import torch
from torch import nn

from loosen.bench.flops import count_flops, parse_shape, percent_over


def test_count_flops_counts_multiply_adds_and_names_what_it_skips():
    module = nn.Sequential(nn.Conv2d(4, 8, 1, bias=False), nn.Sigmoid())
    flops, skipped = count_flops(module, torch.zeros(1, 4, 5, 5))
    assert flops == 4 * 8 * 5 * 5  # one multiply-add per input channel, output channel, pixel
    assert skipped == ['sigmoid']


def test_parse_shape_takes_bxcxhxw_only():
    assert parse_shape('16X512x14x14') == (16, 512, 14, 14)
    for bad in ('16x512x14', '16x512x14x0', '16x512xhxw'):
        with pytest.raises(argparse.ArgumentTypeError, match='is not BxCxHxW'):
            parse_shape(bad)


def test_percent_over_plain():
    assert percent_over(101.0, 100.0) == pytest.approx(1.0)
    assert percent_over(99.0, 100.0) == pytest.approx(-1.0)
    assert math.isnan(percent_over(1.0, 0.0))
