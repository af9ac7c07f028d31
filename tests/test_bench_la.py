"""``loosen bench la``: its targets, the training-step verdict, and cost's LA targets."""
import time

import pytest
import torch

from loosen.bench.cost import la_targets, latency_target
from loosen.bench.la import FLOOR, REFERENCE, StepRow, check_targets, format_steps
from loosen.bench.timing import Timing, bench_clock


def timings(la: float, floor: float) -> dict[str, Timing]:
    return {'LA': Timing(la, 1, 1), FLOOR: Timing(floor, 1, 1), REFERENCE: Timing(1.0, 1, 1),
            'timm CBAM': Timing(la, 1, 1)}


@pytest.mark.parametrize('small, ratio, met', [(True, 3.9, True), (True, 4.1, False),
                                               (False, 1.55, True), (False, 1.7, False)])
def test_floor_bound_is_4x_on_small_maps_and_1_6x_on_large(small, ratio, met):
    forward = timings(ratio * 1e-5, 1e-5)
    (floor,) = [t for t in check_targets(forward, timings(1e-3, 1e-4), small) if 'sigmoid' in t[0]]
    assert floor[1] == pytest.approx(ratio) and floor[2] is met
    assert floor[0].startswith('small map' if small else 'large map')


@pytest.mark.parametrize('small, checked', [(True, 2), (False, 4)])
def test_loop_reference_speedups_are_targets_of_large_maps_only(small, checked):
    found = check_targets(timings(1e-3, 1e-4), timings(1e-3, 1e-4), small)
    assert len(found) == checked
    assert any('loop reference' in what for what, _, _ in found) is not small


def test_step_verdict_keeps_the_recomputing_backward_only_when_it_saves_5_percent():
    rows = [StepRow('resnet34', 'block', 16, {'recompute on': 10.0, 'recompute off': 9.7},
                    {'recompute on': 100.0, 'recompute off': 102.0})]
    assert rows[0].gain() == pytest.approx((3.0, 100 * (1 - 100 / 102)))
    assert 'does NOT pay for itself' in format_steps(rows, 8, 224)
    rows.append(StepRow('vit_small', 'paper', 12, {'recompute on': 10.0, 'recompute off': 9.0},
                        {'recompute on': 100.0, 'recompute off': 100.0}))
    text = format_steps(rows, 8, 224)
    assert '| vit_small_la (paper) | 12 | 10.00 | 9.00 | +10.0% |' in text
    assert 'best saving +10.0%' in text and ': pays for itself' in text


def test_cost_latency_targets_are_2_percent_and_5_on_vit():
    assert latency_target('resnet34') == latency_target('rmt_s') == 2.0
    assert latency_target('vit_small') == 5.0
    records = [
        {'arch': 'resnet34', 'attention': 'la', 'params_pct': 0.01, 'ms_b1_pct': 1.5,
         'ms_b8_pct': 2.5},
        {'arch': 'vit_small', 'attention': 'la', 'params_pct': 0.5, 'ms_b1_pct': 4.0,
         'ms_b8_pct': 1.0},
        {'arch': 'alexnet', 'attention': 'la, compiled', 'params_pct': 0.2, 'ms_b1_pct': 0.0,
         'ms_b8_pct': 0.0},
    ]
    found = la_targets(records, [1, 8])
    assert [met for _, _, met in found] == [False, True, False]  # b8 over; fine; params over
    assert 'worst +2.50% (< 2%)' in found[0][0]


def test_bench_clock_reads_cpu_time_with_one_thread():
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        clock = bench_clock()
        start = clock()
        time.sleep(0.05)  # sleeping takes no CPU time
        assert clock() - start < 0.02
        torch.set_num_threads(2)
        assert bench_clock() is time.perf_counter
    finally:
        torch.set_num_threads(threads)


def test_channels_last_inputs_are_named_in_the_report():
    from loosen.bench.la import bench_shape, format_report

    report = bench_shape((2, 32, 6, 6), 16, rounds=1, budget=1.0, compile_la=False,
                         channels_last=True)
    assert report.channels_last and all(r.forward_ms > 0 for r in report.rows)
    assert '## input 2x32x6x6, channels-last, 16 heads' in format_report([report], 1)
