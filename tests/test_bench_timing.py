"""The benchmark's measuring tools: interleaved medians and bytes kept for backward."""
import time

import torch

from loosen.bench.timing import measure, peak_bytes, saved_bytes


def test_measure_times_every_contender_and_orders_them():
    found = measure({'fast': lambda: None, 'slow': lambda: time.sleep(0.002)}, rounds=3,
                    block=0.01)
    assert set(found) == {'fast', 'slow'}
    assert found['slow'].seconds >= 0.002 > found['fast'].seconds
    assert found['fast'].rounds == 3


def test_a_slow_contender_gets_only_the_rounds_its_budget_allows():
    found = measure({'slow': lambda: time.sleep(0.05)}, rounds=5, block=0.01, budget=0.14)
    assert found['slow'].rounds == 2


def test_saved_bytes_counts_what_backward_keeps_beyond_the_input():
    x = torch.randn(100, requires_grad=True)
    w = torch.randn(100, requires_grad=True)
    assert saved_bytes(lambda: (x * w).sum(), x, w) == 0  # mul keeps only x and w
    assert saved_bytes(lambda: (x * w).exp().sum(), x, w) == 400  # exp keeps its output


def test_peak_bytes_sees_temporaries_alive_at_the_same_time():
    # ones (4000 B) and its double (4000 B) live together; the sum is tiny
    peak = peak_bytes(lambda: (torch.ones(1000) * 2).sum())
    assert 8000 <= peak < 8200
    assert peak_bytes(lambda: None) == 0
