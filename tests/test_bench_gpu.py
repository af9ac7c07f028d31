"""``loosen bench gpu --device cpu --tiny``: the GPU check, run end to end on the CPU in a
fresh process with sockets blocked, writes its report with every part present and
measured, so the command cannot rot while no GPU is at hand. One run, about a minute
and a half on one core (longer on a loaded machine or with a cold inductor cache)."""
import json
import subprocess
import sys

import pytest

from loosen.bench.gpu import PARTS
from loosen.bench.la import FLOOR
from loosen.experiments.presets import PRESETS
from loosen.models import list_archs
from yolo_helpers import offline_env

pytestmark = pytest.mark.slow  # among the slowest files: run first (conftest.py)

pytest.importorskip('yolov5')
CHATTER = ('USDT', 'STAGE:', 'profiler_start', 'gpuGetDeviceCount', 'No CUDA runtime')


@pytest.fixture(scope='module')
def check(tmp_path_factory):
    root = tmp_path_factory.mktemp('gpu')
    env = {**offline_env(root), 'OMP_NUM_THREADS': '1'}
    done = subprocess.run([sys.executable, '-m', 'loosen', 'bench', 'gpu', '--device', 'cpu',
                           '--tiny', '--out', str(root / 'out')], env=env, cwd=root,
                          capture_output=True, text=True, timeout=900)
    results = json.loads((root / 'out' / 'results.json').read_text()) \
        if (root / 'out' / 'results.json').is_file() else None
    return {'done': done, 'out': root / 'out', 'results': results}


def test_it_writes_its_report_with_every_part_present(check):
    done, results = check['done'], check['results']
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert list(results['parts']) == list(PARTS)
    assert {n: p['status'] for n, p in results['parts'].items()} == dict.fromkeys(PARTS, 'done')
    report = (check['out'] / 'report.md').read_text()
    for part in PARTS.values():
        assert f'## {part.title}\n\nStatus: done.' in report
    for name in PARTS:
        part = results['parts'][name]
        assert not [i for i in part['items'] if 'error' in i], part['items']
        assert part['peak_memory']['rss_mb'] > 100
    assert not [line for line in done.stderr.splitlines() if any(c in line for c in CHATTER)]


def test_env_names_the_machine_and_versions(check):
    info = check['results']['parts']['env']['info']
    assert info['device'] == 'cpu' and info['torch'] and info['timm'] and info['cpus'] >= 1


def test_la_is_timed_against_the_floor_eager_and_compiled(check):
    (item,) = check['results']['parts']['la']['items']
    rows = {r['name']: r for r in item['rows']}
    assert set(rows) == {'LA', 'LA, compiled', FLOOR, f'{FLOOR}, compiled'}
    assert all(r['forward_ms'] > 0 and r['train_ms'] > r['forward_ms'] / 10 for r in rows.values())
    # compiled, LA's operators run inside one generated kernel: far fewer calls
    assert rows['LA, compiled']['forward_kernels'] < rows['LA']['forward_kernels'] / 4
    assert rows['LA']['train_kernels'] > rows['LA']['forward_kernels'] > rows[FLOOR][
        'forward_kernels']
    assert item['forward_over_floor'] == pytest.approx(
        rows['LA']['forward_ms'] / rows[FLOOR]['forward_ms'], rel=0.01)


def test_every_architecture_trains_plain_and_with_la(check):
    part = check['results']['parts']['archs']
    eager = {i['arch']: i for i in part['items'] if not i['compiled']}
    assert set(eager) == set(list_archs())
    for item in eager.values():
        assert item['plain_img_s'] > 0 and item['la_img_s'] > 0
        assert item['la_overhead_pct'] == pytest.approx(
            100 * (item['plain_img_s'] / item['la_img_s'] - 1), abs=0.5)
    assert {s['what'] for s in part['skipped']} == {f'{a}, compiled' for a in list_archs()}


def test_yolo_trains_validates_detects_and_exports(check):
    part = check['results']['parts']['yolo']
    steps = {i['what']: i for i in part['items']}
    assert list(steps) == ['synthetic set', 'train', 'val', 'detect', 'ONNX export']
    assert steps['train']['epochs'] == 2 and steps['train']['train_img_s'] > 0
    assert 0 <= steps['train']['map50'] <= 1
    onnx = check['out'] / 'parts' / 'yolo' / 'train' / 'weights' / 'best.onnx'
    assert onnx.stat().st_size == part['info']['onnx_bytes'] > 1e6
    assert part['info']['detections'] == 2  # every val image drawn


def test_the_paper_cell_projects_the_whole_grid(check):
    (cell,) = check['results']['parts']['paper']['items']
    assert (cell['model'], cell['recipe'], cell['steps']) == ('resnet34_la', 'paper-cnn', 5)
    projection = check['results']['projection']
    preset = PRESETS['paper']
    assert [r['arch'] for r in projection['rows']] == list(preset.archs)
    per_arch = len(preset.attentions) * len(preset.seeds) * len(preset.train_sizes)
    assert projection['cells'] == per_arch * len(preset.archs)
    assert projection['gpu_hours'] == pytest.approx(
        sum(r['gpu_hours'] for r in projection['rows']), abs=0.1)
    resnet = next(r for r in projection['rows'] if r['arch'] == 'resnet34')
    assert resnet['train_img_s'] == cell['train_img_s']
