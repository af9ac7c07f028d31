"""The README's examples run: its Python blocks execute, its command lines parse, and its
shell blocks run end to end at small sizes, the way a new user would type them.

Each shell block runs as a test of its own (so blocks run side by side under ``pytest -n``),
its lines in order, in one folder, in one fresh process with the network blocked; a block
that uses what another block's line writes runs that line first (``NEEDS``). Each
``loosen ...`` / ``python -m loosen.*`` line goes through loosen's own entry point
(``loosen.cli.main``, what the console script calls), in one process per block so that
torch and timm load once (a fresh interpreter costs about 5 s a line here). A line
is changed only by ``SMALL`` (sizes shrunk: epochs, image sizes, per-class counts...) and
``FILES`` (what the README assumes is there: DIR, /path/to/dataset, frames/, best.pth ->
a fixture of synthetic data or what an earlier line wrote); a line that cannot run here
is in ``SKIPPED`` with the reason. Any other line that fails, fails the test.
"""
import json
import re
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loosen.cli import build_parser
from yolo_helpers import offline_env

pytestmark = pytest.mark.slow  # among the slowest files: run first (conftest.py)

README = (Path(__file__).resolve().parents[1] / 'README.md').read_text()
SCRIPTS = {'loosen': [], 'python -m loosen.train': ['train'], 'python -m loosen.test': ['test']}

# pattern -> replacement, applied in this order to every runnable line: sizes only
SMALL: list[tuple[str, str]] = [
    (r'--epochs \d+', '--epochs 1'),
    (r'\bepochs=\d+', 'epochs=1'),
    (r'--(img[-_]size|input-size) \d+', r'--\1 64'),
    (r'--img \d+', '--img 64'),
    (r'\bimgsz=\d+', 'imgsz=64'),
    (r'--batch[-_]size \d+', '--batch-size 8'),
    (r'--per-class \d+', '--per-class 4'),
    (r'--size \d+', '--size 64'),
    (r'--train-size \d+', '--train-size 8'),
    (r'--embed-dim \d+ --depth \d+ --n-heads \d+', '--embed-dim 64 --depth 2 --n-heads 2'),
    (r'--budget \d+', '--budget 1'),
    (r'--rounds \d+', '--rounds 1'),
    (r'--images \d+', '--images 16'),
    (r'(--data |data=)synthetic\b', r'\1synthetic:images=8,size=64'),
]
# a line's start -> flags added at its end, where they win over the line's own (the
# recipes' 200 epochs of batch 128; the default sizes of a few commands)
SMALL_TAIL: dict[str, str] = {  # the first start that fits
    'loosen train --resume': '--epochs 2',
    'loosen train': '--epochs 1 --batch-size 8 --img-size 64',
    'python -m loosen.train': '--epochs 1 --batch-size 8 --img-size 64',
    'loosen compare': '--epochs 1 --batch-size 8 --img-size 64',
    'loosen data synth-det': '--images 8 --size 64',
    'loosen yolo train': '--batch-size 4 --workers 0',
    'loosen yolo ultralytics train': 'batch=4 workers=0',
    'loosen bench cost': '--archs alexnet --batch-sizes 1 --size 64',
    'loosen bench la': '--step-batch 2 --step-size 64',
    'loosen bench pipeline --compile': '--archs alexnet --size 64',  # compiles in seconds
    'loosen bench accuracy --preset smoke': '--archs mobilenetv1 --seeds 0 --epochs 1',
}
# what the README assumes is there -> where the fixture (or an earlier line) has it
FILES: list[tuple[str, str]] = [
    (r'/path/to/dataset\b', 'fixture/data'),
    (r'\bDIR\b', 'fixture/data'),
    (r'(?<= )frames/(?= |$)', 'fixture/frames/'),  # before `loosen data synth frames` ran
    (r'(?<= )sky/(?= |$)', 'fixture/frames/'),
    (r'(?<=--checkpoint )best\.pth\b', 'runs/train/mobilenetv1_la/best.pth'),
    (r'\bLABELS\.txt FRAMES/', 'fixture/yrs/labels.txt fixture/yrs/frames/'),
    (r'accuracy-plots runs/bench/cpu\b', 'accuracy-plots runs/bench/smoke'),  # a grid it ran
]
# a README line (a piece of it) -> why it does not run here
SKIPPED: dict[str, str] = {
    'make demo': 'builds .venv and installs loosen; it runs loosen demo, which '
                 'tests/test_experiments_compare.py runs small',
    'make test': 'installs loosen and runs this test suite',
    '--data coco128.yaml': 'coco128 without its images (loosen never downloads them)',
    'bench la --threads 1 --budget 30 --compile': 'torch.compile of every contender takes '
                                                  'minutes on a CPU (tests/test_la.py compiles)',
    '--rounds 7 --compile': 'torch.compile of six backbones takes minutes on a CPU',
    'loosen run train.py': "timm's train.py is a file of timm's repository, not of its wheel",
    'loosen run validate.py': "timm's validate.py is a file of timm's repository",
    'torchrun': 'several processes (and timm\'s train.py); tests/test_engine_ddp.py runs '
                'torchrun',
    'LOOSEN_TIMM_MODELS=': "timm's own test suite over loosen's models (make test runs it)",
    '--preset cpu --jobs 2 --out runs/bench/cpu ': 'about 9 min on two cores; the smoke '
                                                   'line runs the same grid code',
    '--preset cpu --data ../shared/data/yrs-aurora': 'about 40 min, on the real data',
    '--preset paper': 'the paper preset, on a Ray cluster at an address (GPUs)',
    '.venv/bin/python -m pytest': 'runs this test suite',
    'make gpu-check': 'loosen bench gpu on a GPU (make gpu-check-sim: on the CPU); '
                      'tests/test_bench_gpu.py runs its CPU check',
    'bench gpu --out DIR': 'needs a GPU; tests/test_bench_gpu.py runs its CPU check',
    'make gpu-wheels': 'downloads the GPU machine\'s wheels; tests/test_gpu_device.py checks '
                       'a fake set',
}


def blocks(language: str) -> list[str]:
    return re.findall(rf'```{language}\n(.*?)```', README, flags=re.S)


def block_lines(block: str) -> list[str]:
    """The lines of one bash block, continuations joined, comments dropped."""
    lines = (' '.join(line.split('#', 1)[0].split())
             for line in block.replace('\\\n', ' ').splitlines())
    return [line for line in lines if line]


def shell_lines() -> list[str]:
    """Every line of the bash blocks."""
    return [line for block in blocks('bash') for line in block_lines(block)]


def command_lines() -> list[list[str]]:
    """Each documented ``loosen``/``python -m loosen.*`` call as the argv ``loosen`` sees."""
    found = []
    for line in shell_lines():
        for script, prefix in SCRIPTS.items():
            if line.startswith(script + ' '):
                found.append(prefix + shlex.split(line[len(script):]))
    return found


def skip_reason(line: str) -> str | None:
    return next((why for piece, why in SKIPPED.items() if piece in f'{line} '), None)


def small(line: str) -> list[str]:
    """``line`` as it runs here: shrunk, its files found, as ``loosen``'s argv."""
    for pattern, replacement in SMALL + FILES:
        line = re.sub(pattern, replacement, line)
    tail = next((t for start, t in SMALL_TAIL.items() if line.startswith(start)), '')
    script = next(s for s in sorted(SCRIPTS, key=len, reverse=True) if line.startswith(s))
    return SCRIPTS[script] + shlex.split(line[len(script):]) + shlex.split(tail)


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


def test_every_shell_line_runs_or_says_why_not():
    """A line the runner cannot run is skipped by name, and every skip still names a line."""
    lines = shell_lines()
    for line in lines:
        runs = any(line.startswith(s + ' ') for s in SCRIPTS)
        assert runs or skip_reason(line), f'README line neither runs nor is skipped: {line}'
    for piece in SKIPPED:
        assert any(piece in f'{line} ' for line in lines), f'SKIPPED names no line: {piece}'


def test_python_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples may write files (la.onnx)
    namespace: dict = {}  # later blocks use names from earlier ones, as a reader would
    for block in blocks('python'):
        exec(compile(block, 'README.md', 'exec'), namespace)
    assert (tmp_path / 'la.onnx').exists()


# runs each argv of a JSON list through loosen's entry point; stops at the first failure
RUNNER = '''
import json, os, sys, time
from loosen.cli import main
root = os.getcwd()
for argv in json.load(open(sys.argv[1])):
    os.chdir(root)
    start = time.perf_counter()
    print('$ loosen ' + ' '.join(argv), flush=True)
    try:
        code = main(argv)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else int(done.code is not None)
    print(f'[{time.perf_counter() - start:.1f} s, exit {code}]', flush=True)
    if code:
        sys.exit(f'README line failed (exit {code}): loosen {" ".join(argv)}')
'''


def make_fixture(root: Path) -> None:
    """What the README assumes a user has: an image folder, frames, YRS labels."""
    from loosen.data import write_synthetic
    from loosen.data.synth import CORE_CLASSES

    write_synthetic(root / 'data', per_class=12, size=64, seed=11)
    frames = write_synthetic(root / 'frames', per_class=1, size=64, seed=12,
                             split={'test': 1.0}) / 'test'
    night = write_synthetic(root / 'night', per_class=8, size=64, seed=13, split={'train': 1.0})
    (root / 'yrs' / 'frames').mkdir(parents=True)
    labels = []
    images = sorted((night / 'train').rglob('*.png'), key=lambda p: (p.stem[-5:], p.parent.name))
    for k, image in enumerate(images):  # the classes in turn, a frame every five minutes
        minutes = 5 * k
        name = f'N20031221G{4 + minutes // 60:02d}{minutes % 60:02d}00'
        image.rename(root / 'yrs' / 'frames' / f'{name}.png')
        labels.append(f'{name} {CORE_CLASSES.index(image.parent.name) + 1}')
    (root / 'yrs' / 'labels.txt').write_text('\n'.join(labels) + '\n')
    for image in frames.rglob('*.png'):
        image.rename(root / 'frames' / image.name)


# a piece of a line -> the earlier README line (its start) whose output it reads, run
# first in the same folder when the two are in different blocks
NEEDS: dict[str, str] = {
    '--checkpoint runs/train/mobilenetv1_la/best.pth --images':
        'loosen train --data /path/to/dataset --model mobilenetv1_la',
}


def needed(lines: list[str]) -> list[str]:
    """The README lines of other blocks that ``lines`` read the output of."""
    starts = [start for piece, start in NEEDS.items() if any(piece in line for line in lines)]
    return [next(line for line in shell_lines() if line.startswith(start))
            for start in starts if not any(line.startswith(start) for line in lines)]


def runnable_blocks() -> list[list[str]]:
    """Each bash block's lines that run here (blocks with none left out)."""
    found = [[line for line in block_lines(block) if not skip_reason(line)]
             for block in blocks('bash')]
    return [lines for lines in found if lines]


@pytest.mark.parametrize('lines', runnable_blocks(),
                         ids=lambda lines: ' '.join(lines[0].split()[:4]))
def test_readme_shell_block_runs_at_small_sizes(lines, tmp_path):
    """A shell block's lines not in SKIPPED, shrunk by SMALL, in order (after NEEDS)."""
    user = tmp_path / 'user'
    make_fixture(user / 'fixture')
    runs = [small(line) for line in needed(lines) + lines]
    (tmp_path / 'lines.json').write_text(json.dumps(runs))
    env = {**offline_env(tmp_path), 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1'}
    start, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run([sys.executable, '-c', RUNNER, str(tmp_path / 'lines.json')],
                          cwd=user, env=env, capture_output=True, text=True, timeout=900)
    log = re.findall(r'^(\$ .*|\[.* s, exit .*\])$', done.stdout, flags=re.M)
    assert done.returncode == 0, '\n'.join(log[-6:]) + '\n' + done.stderr[-3000:]
    assert len(re.findall(r'exit 0\]', done.stdout)) == len(runs)
    print(f'{len(runs)} README lines in {time.perf_counter() - start:.0f} s '
          f'({_children_cpu() - cpu:.0f} s of CPU):', *log, sep='\n')


def test_every_runnable_line_is_in_a_block_that_runs():
    """The blocks' tests together run every line the runner can run, and what NEEDS
    names is a README line."""
    ran = [line for lines in runnable_blocks() for line in lines]
    assert ran == [line for line in shell_lines() if not skip_reason(line)]
    for start in NEEDS.values():
        assert any(line.startswith(start) for line in shell_lines()), start


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
