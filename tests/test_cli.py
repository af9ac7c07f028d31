"""The ``loosen`` command line: subcommands, exit codes, one-line errors."""
import argparse
import json
import subprocess
import sys

import pytest

from loosen import __version__
from loosen.cli import build_parser, main, subparser, unknown_flags
from loosen.commands import COMMANDS
from loosen.errors import LoosenError


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(['--version'])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_installed_console_script_runs():
    done = subprocess.run([sys.executable, '-m', 'loosen', 'bench', '--help'],
                          capture_output=True, text=True, check=True)
    assert 'la' in done.stdout


def test_bench_la_writes_a_report_with_every_contender_and_target(tmp_path, capsys):
    code = main(['bench', 'la', '--shapes', '2x1024x8x8', '--rounds', '2', '--budget', '5',
                 '--latency-archs', '--out', str(tmp_path)])
    assert code == 0
    report = (tmp_path / 'la.md').read_text()
    for name in ('LA', 'LA, plain autograd', 'loop reference', 'x * sigmoid(x)', 'timm SE',
                 'timm CBAM'):
        assert f'| {name} |' in report
    (shape,) = json.loads((tmp_path / 'la.json').read_text())
    assert shape['shape'] == [2, 1024, 8, 8]  # RECOMPUTE_MIN_NUMEL elements: LA recomputes
    assert len(shape['targets']) == 2  # a small map: the floor and CBAM
    assert all(row['forward_ms'] > 0 and row['train_ms'] > 0 for row in shape['rows'])
    la = next(r for r in shape['rows'] if r['name'] == 'LA')
    assert la['saved_mb'] * 2**20 == pytest.approx(2 * 2 * 16 * 4 * 4 * 4)


def test_bad_shape_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(['bench', 'la', '--shapes', '2x32x6'])
    assert exit_info.value.code == 2
    assert 'BxCxHxW' in capsys.readouterr().err


def test_bench_la_shape_whose_channels_heads_cannot_split(capsys):
    assert main(['bench', 'la', '--shapes', '2x24x6x6']) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('loosen: error: LA needs channels divisible by heads: C=24')
    assert 'use heads=12 or 24' in err and '\n' not in err


def test_input_errors_print_one_line_and_exit_2(monkeypatch, capsys):
    def broken(args):
        raise LoosenError('folder data/train has no class folders; '
                          'put images in data/train/<class>/')

    import loosen.bench.la as bench_la

    monkeypatch.setattr(bench_la, 'run', broken)
    assert main(['bench', 'la']) == 2
    err = capsys.readouterr().err
    assert err.strip() == ('loosen: error: folder data/train has no class folders; '
                           'put images in data/train/<class>/')


def test_help_lists_every_command_without_importing_any():
    code = ('import sys; from loosen.cli import main\n'
            'try:\n    main(["--help"])\nexcept SystemExit:\n    pass\n'
            'print(sorted(m for m in sys.modules if m in {"torch", "timm"} or '
            'm.startswith(("loosen.engine", "loosen.bench", "loosen.data", "loosen.yolo"))), '
            'file=sys.stderr)')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert done.stderr.strip() == '[]'
    for name, entry in COMMANDS.items():
        assert name in done.stdout and entry.summary.split()[0] in done.stdout


@pytest.mark.parametrize('name', sorted(COMMANDS))
def test_each_command_parser_shows_the_summary_of_the_index(name):
    """The index and the command's own parser say the same line (one source: COMMANDS)."""
    parser = build_parser(name)
    commands = next(a for a in parser._actions if a.dest == 'command')
    helps = {action.dest: action.help for action in commands._choices_actions}
    assert helps[name] == COMMANDS[name].summary


def parsers(parser, path=()):
    """Every (sub)command parser of ``loosen`` under ``parser``, with its command words."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, (*path, name))


def every_parser():
    for command in COMMANDS:
        for path, parser in parsers(subparser(build_parser(command), [command])[0]):
            yield (command, *path), parser


def test_help_is_plain_text_everywhere():
    for path, parser in every_parser():
        assert '``' not in parser.format_help(), path


def _misspelt(flag: str) -> str:
    """``flag`` with two letters swapped, inside its name (not a prefix of it)."""
    i = len(flag) // 2
    return flag[:i] + flag[i + 1] + flag[i] + flag[i + 2:]


def _cases():
    for path, parser in every_parser():
        if unknown_flags(parser, ['--surely-no-such-flag']) == []:
            continue  # passes its arguments on to an upstream script
        actions = [a for a in parser._actions if any(s.startswith('--') and len(s) > 6
                                                      for s in a.option_strings)
                   and a.help is not argparse.SUPPRESS and a.dest != 'help']
        if actions:
            flag = max(actions[0].option_strings, key=len)
            yield pytest.param(path, flag, actions[0].option_strings, id=' '.join(path))


@pytest.mark.parametrize('path, flag, spellings', list(_cases()))
def test_a_misspelt_flag_gets_did_you_mean_in_one_line(capsys, path, flag, spellings):
    wrong = _misspelt(flag)
    assert wrong not in spellings
    with pytest.raises(SystemExit) as exit_info:
        main([*path, wrong])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and error.count('\n') == 1, error
    assert f'no flag {wrong}; did you mean ' in error, error
    suggested = error.split('did you mean ')[1].split('?')[0]
    assert suggested in spellings


def test_a_misspelt_command_gets_did_you_mean(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(['trian', '--epochs', '1'])
    assert exit_info.value.code == 2
    assert "no command 'trian'; did you mean 'train'?" in capsys.readouterr().err
