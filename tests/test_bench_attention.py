"""``loosen bench attention``: one table of every module, in markdown and CSV."""
import csv

from loosen import create_attention
from loosen.bench.attention import selected
from loosen.cli import main


def test_selected_puts_la_first_once_and_resolves_names():
    assert selected(['SE', 'la', 'se', 'simam']) == ['la', 'se', 'simam']
    assert selected(None)[0] == 'la' and 'lesa' in selected(None)


def test_writes_markdown_and_csv_with_params_flops_and_times_relative_to_la(tmp_path, capsys):
    code = main(['bench', 'attention', '--shapes', '2x32x6x5', '--rounds', '1',
                 '--names', 'simam', 'gcsa', '--out', str(tmp_path)])
    assert code == 0
    with (tmp_path / 'attention.csv').open() as f:
        rows = list(csv.DictReader(f))
    assert [r['name'] for r in rows] == ['la', 'simam', 'gcsa']
    for r in rows:
        module = create_attention(r['name'], 32)
        assert int(r['params']) == sum(p.numel() for p in module.parameters())
        assert r['shape'] == '2x32x6x5'
        assert float(r['forward_ms']) > 0 and float(r['train_ms']) > 0
    la, simam, gcsa = rows
    assert float(la['forward_vs_la']) == float(la['train_vs_la']) == 1.0
    # GCSA's convolutions and matrix products are counted; SimAM is all element-wise ops
    assert float(gcsa['mflops']) > 0 and float(simam['mflops']) == 0
    assert 'sigmoid' in simam['not_counted'].split()
    report = (tmp_path / 'attention.md').read_text()
    assert '| gcsa | 2x32x6x5 | 5,188 |' in report
    assert 'not counted by fvcore' in report and 'gcsa heads=4' in report


def test_unknown_module_name_is_a_one_line_error(capsys):
    code = main(['bench', 'attention', '--shapes', '1x16x2x2', '--names', 'cbma'])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("loosen: error: unknown attention 'cbma'") and err.count('\n') == 1
