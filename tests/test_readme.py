"""The README's examples run: its Python blocks execute, its command lines parse."""
import re
import shlex
from pathlib import Path

import pytest

from loosen.cli import build_parser

README = (Path(__file__).resolve().parents[1] / 'README.md').read_text()
SCRIPTS = {'loosen': [], 'python -m loosen.train': ['train'], 'python -m loosen.test': ['test']}


def blocks(language: str) -> list[str]:
    return re.findall(rf'```{language}\n(.*?)```', README, flags=re.S)


def command_lines() -> list[list[str]]:
    """Each documented ``loosen``/``python -m loosen.*`` call as the argv ``loosen`` sees."""
    found = []
    for block in blocks('bash'):
        for line in block.replace('\\\n', ' ').splitlines():
            line = line.split('#', 1)[0].strip()
            for script, prefix in SCRIPTS.items():
                if line.startswith(script + ' '):
                    found.append(prefix + shlex.split(line[len(script):]))
    return found


def test_readme_starts_with_the_two_commands():
    first = blocks('bash')[0].splitlines()
    assert [line.split('#')[0].strip() for line in first] == ['make demo', 'make test']


@pytest.mark.parametrize('argv', command_lines(), ids=lambda argv: ' '.join(argv[:3]))
def test_documented_command_lines_parse(argv):
    args = build_parser(argv[0]).parse_args(argv)
    assert callable(args.run)


def test_the_readme_documents_commands():
    commands = {argv[0] for argv in command_lines()}
    assert {'train', 'test', 'predict', 'compare', 'data'} <= commands


def test_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples may write files (la.onnx)
    namespace: dict = {}  # later blocks use names from earlier ones, as a reader would
    for block in blocks('python'):
        exec(compile(block, 'README.md', 'exec'), namespace)
    assert (tmp_path / 'la.onnx').exists()
