"""``loosen bench cost``: one table of every backbone x attention, LA's cost over plain."""
import csv
import math
import time

import pytest
import torch

from loosen.bench.cost import as_records, bench_arch, format_markdown
from loosen.cli import main


@pytest.fixture(scope='module')
def rows():
    return bench_arch('alexnet', ['plain', 'la', 'se'], batch_sizes=[1, 2], size=64, rounds=1,
                      budget=2.0, num_classes=4)


def test_bench_arch_measures_every_model_on_the_same_footing(rows):
    assert [(r.arch, r.attention) for r in rows] == [('alexnet', a) for a in ('plain', 'la', 'se')]
    plain, la, se = rows
    assert la.params - plain.params == 100  # one LA at the paper's spot, 32 heads (release)
    assert se.params > la.params
    assert all(r.gflops > 0 and set(r.ms) == {1, 2} and min(r.ms.values()) > 0 for r in rows)
    assert la.gflops >= plain.gflops


def test_records_give_each_cost_as_a_percentage_over_plain(rows):
    records = as_records(rows, [1, 2])
    plain, la, _ = records
    assert la['params_pct'] == pytest.approx(100 * 100 / plain['params'])
    assert la['ms_b2_pct'] == pytest.approx(100 * (la['ms_b2'] / plain['ms_b2'] - 1))
    assert plain['params_pct'] == 0.0
    text = format_markdown(records, [1, 2], 64, ['a note'])
    assert f'| alexnet | plain | {plain["params"]:,} | - |' in text
    summary = text.split('## LA over plain')[1]
    assert f'| alexnet | la | {la["params_pct"]:+.3g}% |' in summary
    assert summary.count('| alexnet |') == 1 and 'a note' in text


def test_cli_writes_markdown_and_csv_and_skips_unregistered_names(tmp_path, capsys):
    code = main(['bench', 'cost', '--archs', 'ResNet34', '--attentions', 'la', 'nosuch',
                 '--batch-sizes', '1', '--size', '64', '--rounds', '1', '--budget', '2',
                 '--out', str(tmp_path)])
    assert code == 0
    text = (tmp_path / 'cost.md').read_text()
    assert 'Not registered, skipped: nosuch.' in text
    with (tmp_path / 'cost.csv').open() as f:
        records = list(csv.DictReader(f))
    assert [(r['arch'], r['attention']) for r in records] == [('resnet34', 'plain'),
                                                              ('resnet34', 'la')]
    la = records[1]
    assert int(la['params']) - int(records[0]['params']) == 52
    assert math.isfinite(float(la['ms_b1_pct']))


def test_unknown_arch_is_a_one_line_error(capsys):
    assert main(['bench', 'cost', '--archs', 'resnet43']) == 2
    err = capsys.readouterr().err
    assert err.startswith("loosen: error: unknown architecture 'resnet43'; did you mean")
    assert err.count('\n') == 1


def test_compiled_models_are_timed_after_compiling_not_while(monkeypatch):
    """A compiled model's first call at each batch size compiles (seconds, here a stand-in
    that burns 0.5 s of CPU): it must not be one of the timed samples."""
    class SlowFirstCall(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model, self.seen = model, set()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape not in self.seen:
                self.seen.add(x.shape)
                start = time.process_time()
                while time.process_time() - start < 0.5:
                    pass
            return self.model(x)

    monkeypatch.setattr(torch, 'compile', SlowFirstCall)
    rows = bench_arch('alexnet', ['plain', 'la'], batch_sizes=[1, 2], size=64, rounds=2,
                      budget=2.0, num_classes=4, compiled=True)
    by = {r.label: r for r in rows}
    assert set(by) == {'plain', 'la', 'plain, compiled', 'la, compiled'}
    for name in ('plain', 'la'):
        for batch in (1, 2):  # the same model eager and "compiled", timed side by side: a
            # timed first call (500 ms) would put the median of two rounds 250 ms above eager
            compiled, eager = by[f'{name}, compiled'].ms[batch], by[name].ms[batch]
            assert compiled < eager + 250, (compiled, eager)
