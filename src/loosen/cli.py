"""The ``loosen`` command: one subcommand per concern, each defined beside its code.

Every entry of ``COMMANDS`` (in ``loosen.commands``) names a module with
``add_parser(subparsers)``, which adds its subcommand and sets ``run`` (a function of
the parsed arguments that returns the exit code). Input errors raise ``LoosenError``:
one line, exit code 2. A command line naming a command imports that command's module
only, so a command starts as fast as its own imports allow; ``loosen --help`` imports
none of them.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import re
import sys
from collections.abc import Sequence

from . import __version__
from .commands import COMMANDS
from .errors import LoosenError

NUMBER = re.compile(r'^-\d+$|^-\d*\.\d+$')  # what argparse takes for a negative number


class LoosenParser(argparse.ArgumentParser):
    """The parser of ``loosen`` and of every subcommand (argparse makes subparsers of the
    parser's class): help in plain text (descriptions taken from docstrings lose their
    reStructuredText double backticks), and a usage error is one line, exit code 2."""

    def format_help(self) -> str:
        return plain_text(super().format_help())

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def plain_text(text: str) -> str:
    """``text`` (help made of docstrings) as it reads on a terminal."""
    return text.replace('``', '')


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser of ``command`` (a key of ``COMMANDS``; its module is imported), or,
    for anything else, the index of commands, which imports nothing."""
    parser = LoosenParser(
        prog='loosen', description='Loosen Attention for vision models: train, test, compare.')
    parser.add_argument('--version', action='version', version=f'loosen {__version__}')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)
    if command in COMMANDS:
        importlib.import_module(COMMANDS[command].module).add_parser(commands)
    else:
        for name, entry in COMMANDS.items():
            commands.add_parser(name, help=entry.summary)
    return parser


def subparser(parser: argparse.ArgumentParser,
              argv: Sequence[str]) -> tuple[argparse.ArgumentParser, list[str]]:
    """The innermost (sub)command parser that ``argv`` selects (``loosen data synth``...),
    and the words of ``argv`` after its name."""
    argv = list(argv)
    while argv:
        choices = next((a.choices for a in parser._actions
                        if isinstance(a, argparse._SubParsersAction)), None)
        if not choices or argv[0] not in choices:
            break
        parser, argv = choices[argv[0]], argv[1:]
    return parser, argv


def unknown_flags(parser: argparse.ArgumentParser, words: Sequence[str]) -> list[str]:
    """The words that look like flags ``parser`` does not have (none for a parser that
    passes its arguments on to an upstream script)."""
    if '-' not in parser.prefix_chars or any(a.nargs == argparse.REMAINDER
                                             for a in parser._actions):
        return []
    known = {s for action in parser._actions for s in action.option_strings}
    found = []
    for word in words:
        if word == '--':
            break
        flag = word.split('=', 1)[0]
        if not word.startswith('-') or word == '-' or NUMBER.match(word) or flag in known:
            continue
        if flag[:2] in known and not flag.startswith('--'):  # -b8: -b 8
            continue
        if parser.allow_abbrev and flag.startswith('--') and any(k.startswith(flag)
                                                                 for k in known):
            continue
        found.append(flag)
    return found


def did_you_mean(parser: argparse.ArgumentParser, flag: str) -> str:
    """The error for a flag ``parser`` does not have, with the closest it has."""
    known = [s for action in parser._actions for s in action.option_strings
             if action.help is not argparse.SUPPRESS]
    close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
    return f'no flag {flag}' + (f'; did you mean {close[0]}?' if close else '')


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; bad input prints one line ``loosen: error: ...`` and returns 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else None  # options come after the command
    parser = build_parser(command)
    if command and not command.startswith('-') and command not in COMMANDS:
        close = difflib.get_close_matches(command, COMMANDS, n=1)
        parser.error(f'no command {command!r}' + (f'; did you mean {close[0]!r}?' if close
                                                   else f'; choose one of {", ".join(COMMANDS)}'))
    leaf, words = subparser(parser, argv)
    unknown = unknown_flags(leaf, words)
    if unknown:  # before argparse, which would name a missing argument instead
        leaf.error(did_you_mean(leaf, unknown[0]))
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except LoosenError as error:
        print(f'loosen: error: {error}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('loosen: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
