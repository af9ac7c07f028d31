"""``loosen bench pipeline``: the pipeline's cost from the same batches both ways, and
``--compile``'s choice of backbones and size (the README's block runs it end to end)."""
import pytest

from loosen.bench.pipeline import compile_cases, time_case
from loosen.cli import main
from loosen.data import write_synthetic
from loosen.engine.config import EngineConfig
from loosen.engine.train import prepare


def test_pipeline_bench_times_the_same_batches_both_ways(tmp_path):
    data = write_synthetic(tmp_path / 'data', per_class=8, size=32,
                           split={'train': 0.5, 'val': 0.5})
    prepared = prepare(EngineConfig(data='folder', data_root=str(data), img_size=32,
                                    model_kwargs={'channel_multiplier': 0.25}, batch_size=4))
    found = time_case(prepared, images=12, workers=0, rounds=1)
    assert found['images'] == 12  # three full batches, once through the loader, once in memory
    assert found['model_img_s'] > 0 and found['pipeline_img_s'] > 0
    # img/s are rounded to 0.1 and the cost to 1e-4: it lies within what that rounding allows
    model, pipeline, half, cost_half = found['model_img_s'], found['pipeline_img_s'], 0.05, 5e-5
    assert 1 - (pipeline + half) / (model - half) - cost_half <= found['cost'] <= \
        1 - (pipeline - half) / (model + half) + cost_half


def test_compile_cases_are_the_backbones_with_la_at_the_size():
    cases = compile_cases(['MobileNet', 'vit_small'], 96)
    assert [(c.model, c.size, c.name) for c in cases] == [
        ('mobilenetv1_la', 96, 'mobilenetv1_la 96 px'), ('vit_small_la', 96, 'vit_small_la 96 px')]


@pytest.mark.parametrize('argv, words', [
    (['--compile', '--archs', 'resnet43'], "unknown architecture 'resnet43'; did you mean"),
    (['--archs', 'alexnet'], '--archs and --size choose what --compile times; add --compile'),
    (['--size', '64'], '--archs and --size choose what --compile times; add --compile'),
])
def test_compile_choices_that_cannot_work_are_one_line_errors(argv, words, capsys):
    assert main(['bench', 'pipeline', *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'loosen: error: {words}') and err.count('\n') == 1
