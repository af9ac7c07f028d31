"""Flags several commands share (``loosen.options``): in every bench command, each names
its default in its help, and the same flag reads the same."""
import argparse
import re
from pathlib import Path

import pytest

from loosen.cli import build_parser, subparser
from loosen.options import BUDGET, ROUNDS, add_budget, add_out, add_rounds, add_threads

SHARED = ('--rounds', '--budget', '--threads', '--out')
# the experiment grid's own --out and --threads move onto loosen.options with its move


def bench_parsers() -> dict[str, argparse.ArgumentParser]:
    bench, _ = subparser(build_parser('bench'), ['bench'])
    return next(a.choices for a in bench._actions if isinstance(a, argparse._SubParsersAction))


def shared_flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {flag: action for action in parser._actions for flag in action.option_strings
            if flag in SHARED}


def shown(action: argparse.Action) -> str:
    """The default as the help must name it."""
    if action.required:
        return 'required'
    if action.default is None:
        return 'default: none, print only'
    if isinstance(action.default, float):
        return f'default: {action.default:g}'
    return f'default: {action.default}'


def wording(flag: str, action: argparse.Action) -> str:
    """The help with what varies by command cut: the default, the files --out writes, what
    0 threads means."""
    text = action.help.replace(f'({shown(action)})', '(DEFAULT)')
    varies = {'--out': (r'^folder to write .+ in ', 'folder to write FILES in '),
              '--threads': (r'0 for .+ \(DEFAULT\)$', '0 for MEANING (DEFAULT)')}
    return re.sub(*varies[flag], text) if flag in varies else text


BENCHES = bench_parsers()
COMMANDS = list(BENCHES)


@pytest.mark.parametrize('name', COMMANDS)
def test_each_shared_flag_names_its_default_and_reads_as_everywhere(name):
    reference = argparse.ArgumentParser()
    add_rounds(reference)
    add_budget(reference)
    add_threads(reference)
    add_out(reference, 'x.md')
    expected = shared_flags(reference)
    for flag, action in shared_flags(BENCHES[name]).items():
        assert f'({shown(action)})' in action.help, (name, flag, action.help)
        assert wording(flag, action) == wording(flag, expected[flag]), (name, flag)
        assert (action.type, action.metavar) == (expected[flag].type, expected[flag].metavar)


def test_the_cost_benches_share_every_flag():
    """Not vacuous: each flag is there in several of them."""
    for flag in SHARED:
        assert sum(flag in shared_flags(p) for p in BENCHES.values()) >= 3, flag


def test_the_help_text_names_the_defaults():
    help_text = ' '.join(BENCHES['attention'].format_help().split())
    assert f'(default: {ROUNDS})' in help_text and f'(default: {BUDGET:g})' in help_text
    assert 'attention.md and attention.csv in (default: none, print only)' in help_text


def test_out_is_a_path_and_required_or_defaulted_as_asked():
    parser = argparse.ArgumentParser()
    add_out(parser, 'x.md', default='runs/x')
    assert parser.parse_args([]).out == Path('runs/x')
    required = argparse.ArgumentParser()
    add_out(required, 'x.md', required=True)
    with pytest.raises(SystemExit):
        required.parse_args([])
    assert required.parse_args(['--out', 'a']).out == Path('a')


def test_a_default_of_its_own_is_named_in_the_help():
    parser = argparse.ArgumentParser()
    add_rounds(parser, default=3)
    add_threads(parser, zero='CPUs / jobs')
    assert parser.parse_args([]).rounds == 3
    assert '(default: 3)' in parser.format_help()
    assert '0 for CPUs / jobs' in ' '.join(parser.format_help().split())
