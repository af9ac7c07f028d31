"""Missing or wrong files in every YOLO entry point, offline: one line naming what was looked
for and where, the close names and where to put the file, exit code 2, no traceback, no
network (not even a name lookup), before a model is built or a run folder written.

Every entry point runs as users run it, in a fresh process whose sockets refuse and record
every attempt (``loosen yolo``, ``python -m loosen.yolo``, plain ``yolov5`` and ``yolo``);
the walk over every file argument shares one process per framework (``WALK``), which calls
what those commands call: ``loosen.yolo.cli.main``, YOLOv5's fire app and Ultralytics'
entrypoint. All processes start at once in one fixture.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from yolo_helpers import offline_env

pytest.importorskip('yolov5')
pytest.importorskip('ultralytics')

BIN = Path(sys.executable).parent
DATA = 'synthetic:images=5,size=64'

# sitecustomize tail: every internet connection or name lookup tried is written down
RECORD = '''
import os as _os, socket as _socket
def _recorded(function):
    def attempt(*args, **kwargs):
        first = args[0] if args else None
        if not isinstance(first, _socket.socket) or first.family != _socket.AF_UNIX:
            with open(_os.environ['LOOSEN_TEST_NETWORK_LOG'], 'a') as log:
                log.write(f'{function.__name__} {args[1:2]!r}\\n')
        return function(*args, **kwargs)
    return attempt
_socket.getaddrinfo = _recorded(_socket.getaddrinfo)
_socket.socket.connect = _recorded(_socket.socket.connect)
'''

# runs the cases of argv[2] in this one process; writes {case: [code, stderr]} to argv[1]
WALK = r'''
import json, os, sys, tempfile
from loosen.errors import LoosenError

def run(command, argv):
    if command == 'loosen yolo':
        from loosen.yolo.cli import main
        return main(argv)
    if command == 'yolov5':
        from yolov5.cli import app  # what the plain commands call; their excepthook is
    else:                            # proved by processes of their own
        from ultralytics.cfg import entrypoint as app
    saved, sys.argv = sys.argv, [command, *argv]
    try:
        app()
    except LoosenError as error:
        return f'raised: {error}'
    except SystemExit as stop:  # fire's own exit (bad arguments, --help)
        return f'exit: {stop.code}'
    finally:
        sys.argv = saved
    return 0

out, cases = sys.argv[1:]

results = {}
for name, command, argv in json.loads(open(cases).read()):
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile('w+') as err:  # upstream loggers hold fd 2, not sys.stderr
        saved = os.dup(2)
        os.dup2(err.fileno(), 2)
        try:
            code = run(command, argv)
        except Exception as error:  # any other error: reported, the walk goes on
            code = f'crashed: {error!r}'
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        err.seek(0)
        results[name] = [code, err.read()]
with open(out, 'w') as file:
    json.dump(results, file)
'''

# YOLOv5 file arguments: case -> (arguments, what the line must name); w.pt is a file
V5 = {
    'train --weights released': (['train', '--cfg', 'yolov5n_la.yaml', '--weights',
                                  'yolov5s.pt'], 'yolov5s.pt'),
    'train default weights': (['train', '--cfg', 'yolov5n_la.yaml', '--data', DATA],
                              'yolov5s.pt'),
    'train --weights in a missing run': (['train', '--weights', 'old/exp/weights/best.pt'],
                                         'close names: old/exp2'),
    'train --cfg unknown': (['train', '--weights', '', '--cfg', 'yolov5n_laa.yaml'],
                            'close names: yolov5n_la.yaml'),
    'train --hyp': (['train', '--weights', '', '--cfg', 'yolov5n_la.yaml', '--hyp',
                     'data/hyps/hyp.scratch-lo.yaml'], 'data/hyps/hyp.scratch-low.yaml'),
    'train --data': (['train', '--weights', '', '--cfg', 'yolov5n_la.yaml', '--data',
                      'sets/aurora.yaml'], 'sets/aurora.yaml'),
    'train --resume': (['train', '--resume', 'old/exp/weights/last.pt'], 'last.pt'),
    'val --weights': (['val', '--weights', 'nope.pt', '--data', DATA], 'nope.pt'),
    'val --data': (['val', '--weights', 'w.pt', '--data', 'sets/aurora.yaml'],
                   'sets/aurora.yaml'),
    'detect --weights': (['detect', '--weights', 'nope.pt', '--source', 'frames'], 'nope.pt'),
    'detect --source': (['detect', '--weights', 'w.pt', '--source', 'framez'],
                        'close names: frames'),
    'detect --source glob': (['detect', '--weights', 'w.pt', '--source', 'frames/*.jpg'],
                             'frames/*.jpg: the pattern matches no file'),
    'detect --data': (['detect', '--weights', 'w.pt', '--source', 'frames', '--data',
                       'sets/aurora.yaml'], 'sets/aurora.yaml'),
    'export --weights': (['export', '--weights', 'nope.pt', '--include', 'onnx'], 'nope.pt'),
    'export --data': (['export', '--weights', 'w.pt', '--data', 'sets/aurora.yaml'],
                      'sets/aurora.yaml'),
}
# Ultralytics' yolo command: case -> (arguments after `loosen yolo ultralytics`, name)
ULTRA = {
    'train model= released': (['train', 'model=yolo11n.pt', f'data={DATA}'],
                              "yolo11n.pt is one of Ultralytics' released weights"),
    'train model= stem': (['train', 'model=nope', f'data={DATA}'], 'model=nope:'),
    'train model= yaml': (['train', 'model=yolo11n_laa.yaml', f'data={DATA}'],
                          'close names: yolo11n_la.yaml'),
    'train pretrained=': (['train', 'model=yolo11n_la.yaml', 'pretrained=nope.pt',
                           f'data={DATA}'], 'pretrained=nope.pt'),
    'train data=': (['train', 'model=yolo11n_la.yaml', 'data=sets/aurora.yaml'],
                    'sets/aurora.yaml'),
    'val model=': (['val', 'model=nope.pt', f'data={DATA}'], 'model=nope.pt'),
    'val data=': (['val', 'model=w.pt', 'data=sets/aurora.yaml'], 'sets/aurora.yaml'),
    'predict source=': (['predict', 'model=w.pt', 'source=framez'], 'close names: frames'),
    'predict source= glob': (['predict', 'model=w.pt', 'source=frames/*.jpg'],
                             'the pattern matches no file'),
    'export model=': (['export', 'model=nope.onnx', 'format=onnx'], 'model=nope.onnx'),
}
DEVICE = {  # the README's `--device 0` on a machine without CUDA
    'val --device 0': ('loosen yolo', ['val', '--weights', 'w.pt', '--data', DATA,
                                       '--device', '0'], '--device cpu'),
    'ultralytics device=0': ('loosen yolo', ['ultralytics', 'train', 'model=yolo11n_la.yaml',
                                             f'data={DATA}', 'device=0'], 'device=cpu'),
} if not torch.cuda.is_available() else {}
# entry points as their users start them, one process each (the walk runs what the others
# call; these prove the rest: the console scripts, the hook serving plain commands, the
# one-line exit of an uncaught LoosenError, Ultralytics' checks when loosen comes in late)
USERS = {
    'loosen yolo train': ([BIN / 'loosen', 'yolo', 'train', '--data', 'synthetic', '--cfg',
                           'yolov5s_la.yaml', '--weights', 'yolov5s.pt'], 'yolov5s.pt'),
    'yolov5 train': ([BIN / 'yolov5', 'train', '--cfg', 'yolov5n_la.yaml', '--weights',
                      'nope.pt', '--data', DATA], 'nope.pt'),
    'yolov5 detect': ([BIN / 'yolov5', 'detect', '--weights', 'w.pt', '--source', 'framez'],
                      'framez'),
    'yolo train': ([BIN / 'yolo', 'train', 'model=yolo11n.pt', f'data={DATA}'], 'yolo11n.pt'),
    'yolo val': ([BIN / 'yolo', 'val', 'model=yolo11n_la.yaml', 'data=sets/aurora.yaml'],
                 'sets/aurora.yaml'),
    'yolo predict': ([BIN / 'yolo', 'predict', 'model=yolo11n_la.yaml', 'source=framez'],
                     'framez'),
}


def walk_cases() -> dict[str, list]:
    """The cases for the two walking processes: each through loosen and through what the
    plain command calls (YOLOv5's fire app, Ultralytics' entrypoint)."""
    yolov5 = {**{f'loosen yolo {k}': ['loosen yolo', argv] for k, (argv, _) in V5.items()},
              **{f'yolov5 {k}': ['yolov5', argv] for k, (argv, _) in V5.items()}}
    ultralytics = {**{f'loosen yolo ultralytics {k}': ['loosen yolo', ['ultralytics', *argv]]
                      for k, (argv, _) in ULTRA.items()},
                   **{f'yolo {k}': ['yolo', argv] for k, (argv, _) in ULTRA.items()}}
    for name, (command, argv, _) in DEVICE.items():
        (ultralytics if 'ultralytics' in argv else yolov5)[name] = [command, argv]
    return {'yolov5': yolov5, 'ultralytics': ultralytics}


EXPECTED = {  # case -> what its line must name
    **{f'{c} {k}': name for k, (_, name) in V5.items() for c in ('loosen yolo', 'yolov5')},
    **{f'{c} {k}': name for k, (_, name) in ULTRA.items()
       for c in ('loosen yolo ultralytics', 'yolo')},
    **{k: name for k, (_, name) in USERS.items()}}


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """Every process at once; returns (results by case, cwd, network log)."""
    root = tmp_path_factory.mktemp('files')
    work = root / 'work'
    (work / 'old' / 'exp2' / 'weights').mkdir(parents=True)
    (work / 'frames').mkdir()
    (work / 'frames' / 'sky.png').write_bytes(b'')
    (work / 'w.pt').write_bytes(b'')  # checked for existence only: nothing gets to read it
    log = root / 'network.log'
    env = offline_env(root, RECORD)
    env['LOOSEN_TEST_NETWORK_LOG'] = str(log)
    started = {}
    for framework, cases in walk_cases().items():
        (root / f'{framework}.json').write_text(json.dumps(
            [[name, command, argv] for name, (command, argv) in cases.items()]))
        command = [sys.executable, '-c', WALK, str(root / f'{framework}.out.json'),
                   str(root / f'{framework}.json')]
        started[framework] = run(command, env, work, root / f'config-{framework}')
    for i, (name, (command, _)) in enumerate(USERS.items()):
        started[name] = run([str(c) for c in command], env, work, root / f'config-{i}')
    done = {name: (*process.communicate(timeout=900), process.returncode)
            for name, process in started.items()}
    results = {}
    for framework in walk_cases():
        assert done[framework][2] == 0, done[framework][1][-3000:]
        results.update(json.loads((root / f'{framework}.out.json').read_text()))
    results.update({name: [done[name][2], done[name][1]] for name in USERS})
    return results, work, log


def run(command: list[str], env: dict, cwd: Path, config: Path) -> subprocess.Popen:
    env = {**env, 'YOLO_CONFIG_DIR': str(config), 'YOLOV5_CONFIG_DIR': str(config)}
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def assert_one_line(code, err: str, name: str) -> str:
    assert code == 2, err[-3000:]
    assert 'Traceback' not in err, err[-3000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-3000:]
    assert lines[0].startswith('loosen: error: ') and name in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize('case', sorted(EXPECTED))
def test_a_missing_file_is_one_line_and_exit_2(case, runs):
    results, _, _ = runs
    code, err = results[case]
    if isinstance(code, str):  # the plain command's app raised it, having printed nothing
        assert code.startswith('raised: ') and EXPECTED[case] in code, code
        assert err == '', err[-3000:]
        return
    line = assert_one_line(code, err, EXPECTED[case])
    assert 'loosen never downloads' in line or 'matches no file' in line, line


@pytest.mark.parametrize('case', sorted(DEVICE))
def test_cuda_asked_for_without_one_is_one_line_and_exit_2(case, runs):
    """After the options YOLOv5 prints (its val prints them before it picks a device)."""
    code, err = runs[0][case]
    assert code == 2 and 'Traceback' not in err, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith('loosen: error: ')]
    assert errors == err.strip().splitlines()[-1:] and DEVICE[case][2] in errors[0], err


def test_the_must_show_line_says_where_to_put_the_file(runs):
    results, work, _ = runs
    line = assert_one_line(*results['loosen yolo train'], 'yolov5s.pt')
    assert line == (f'loosen: error: --weights yolov5s.pt: no weights file at '
                    f'{work / "yolov5s.pt"}; loosen never downloads: put the file at '
                    f'{work / "yolov5s.pt"} or give its path; --weights \'\' trains from '
                    'scratch (with --cfg)')


def test_no_network_no_run_folder(runs):
    _, work, log = runs
    assert not log.exists() or log.read_text() == ''
    assert not (work / 'runs').exists()  # nothing half-written
    assert sorted(p.name for p in work.iterdir()) == ['frames', 'old', 'w.pt']


def test_weights_upstream_would_fetch_are_a_connection_error_too(tmp_path, monkeypatch):
    """Ultralytics' AMP check fetches yolo26n.pt and carries on after a ConnectionError."""
    from loosen.yolo.patches import ultralytics
    monkeypatch.setenv('LOOSEN_CACHE', str(tmp_path / 'cache'))
    monkeypatch.chdir(tmp_path)
    ultralytics.install()
    from ultralytics.utils.downloads import attempt_download_asset
    with pytest.raises(ConnectionError, match=r'yolo26n\.pt is one of Ultralytics'):
        attempt_download_asset('yolo26n.pt')


def test_valid_names_pass_the_checks(tmp_path, monkeypatch):
    """Files that are there, loosen's names, packaged files, remote sources the user named,
    webcams and matching globs all pass, so upstream's own behaviour is unchanged."""
    from loosen.yolo.arguments import check
    from loosen.yolo.patches import ultralytics, yolov5
    monkeypatch.setenv('LOOSEN_CACHE', str(tmp_path / 'cache'))
    monkeypatch.chdir(tmp_path)
    yolov5.install()
    ultralytics.install()
    (tmp_path / 'best.pt').write_bytes(b'')
    (tmp_path / 'frames').mkdir()
    (tmp_path / 'frames' / 'a.png').write_bytes(b'')
    check('yolov5', 'train', {'weights': '', 'cfg': 'yolov5s_la.yaml', 'data': DATA,
                              'hyp': 'data/hyps/hyp.scratch-low.yaml'})
    check('yolov5', 'train', {'weights': 'best.pt', 'cfg': '', 'data': 'coco128.yaml',
                              'hyp': yolov5.package_root() / 'data/hyps/hyp.scratch-low.yaml'})
    check('yolov5', 'train', {'resume': True, 'weights': 'yolov5s.pt'})  # the latest run's
    check('yolov5', 'val', {'weights': ['best.pt', 'https://example.com/w.pt'],
                            'data': 'coco128.yaml'})
    check('yolov5', 'detect', {'weights': 'keremberke/yolov5n-license-plate', 'data': None,
                               'source': 'frames/*.png'})
    for webcam in ('0', 'rtsp://camera/stream', 'screen', 'frames', 'frames/a.png'):
        check('yolov5', 'detect', {'weights': 'best.pt', 'source': webcam})
    check('ultralytics', 'options', {'model': 'yolo11n_la.yaml', 'data': 'coco8.yaml',
                                     'pretrained': True})
    check('ultralytics', 'options', {'model': 'yolo11n.yaml', 'pretrained': 'best.pt',
                                     'source': 'frames'})


def test_print_args_still_names_the_script(tmp_path, monkeypatch):
    """The option check runs inside print_args, which prints the file of its caller."""
    from loosen.yolo.patches import yolov5
    monkeypatch.setenv('LOOSEN_CACHE', str(tmp_path / 'cache'))
    yolov5.install()
    from yolov5.utils import general
    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    general.LOGGER.addHandler(handler)
    try:
        yolov5.call_from(str(yolov5.package_root() / 'train.py'), general.print_args,
                         {'weights': '', 'cfg': 'yolov5n_la.yaml', 'data': DATA})
    finally:
        general.LOGGER.removeHandler(handler)
    assert seen and general.colorstr('train: ') in seen[0] and 'cfg=yolov5n_la.yaml' in seen[0]
