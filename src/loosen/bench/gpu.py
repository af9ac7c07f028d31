"""``loosen bench gpu``: one short command that measures on a GPU what the CPU cannot.

Parts, in order (``gpu_parts.py``), each in a process of its own with a time cap, so a
part that fails, hangs or runs out of memory stops alone and the others still run:

- env: device, driver, torch, CUDA and cuDNN versions;
- la: LA forward and forward+backward against the ``x * sigmoid(x)`` floor at the bench
  shapes, eager and compiled, with kernel counts from torch.profiler (is LA launch-bound?);
- archs: every architecture, ``_plain`` and ``_la``, AMP (bf16 where supported, else fp16
  with a loss scaler) channels-last training steps at 224 px: images/s and LA's overhead,
  eager, then compiled as far as the cap allows;
- yolo: ``yolov5n_la.yaml`` trained on the synthetic set (two epochs: the second is
  timed, the first carries start-up), then val, detect and ONNX export of its best.pt;
- paper: one cell of the ``paper`` preset (ResNet-34 + LA, 224 px, its recipe) over a
  few hundred steps, and from it the projected GPU-hours of the whole ``paper`` grid.

It writes ``DIR/report.md`` and ``DIR/results.json`` (and each part's ``result.json``
and log under ``DIR/parts/``); peak memory is reported per part. The caps add up to
under 8 minutes. ``--device cpu --tiny`` runs the same parts at tiny sizes on the CPU,
which the test suite does, so the command cannot rot while no GPU is at hand.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..atomic import read_json_or_none, write_json
from ..errors import LoosenError
from ..options import add_out


@dataclass(frozen=True)
class Part:
    """One part: its title in the report and its time caps (seconds, start-up included)."""

    name: str
    title: str
    cap: float
    tiny_cap: float


PARTS: dict[str, Part] = {p.name: p for p in (
    Part('env', 'Machine', 30, 60),
    Part('la', 'LA against the x * sigmoid(x) floor', 80, 120),
    Part('archs', 'Every architecture: AMP channels-last training steps', 190, 180),
    Part('yolo', 'YOLOv5n + LA: training, val, detect, ONNX export', 110, 240),
    Part('paper', "One cell of the paper preset, and the grid's projected GPU-hours", 60, 90),
)}
STOP_EARLY = 0.85  # a part starts nothing new after this share of its cap


def part_command(part: Part, device: str, tiny: bool, folder: Path, cap: float) -> list[str]:
    code = 'import sys; from loosen.bench.gpu import part_main; sys.exit(part_main(sys.argv[1:]))'
    return [sys.executable, '-c', code, part.name, '--device', device, '--folder', str(folder),
            '--cap', f'{cap:.1f}', *(['--tiny'] if tiny else [])]


def _child_env() -> dict[str, str]:
    """This environment, with loosen importable in the child however it was found here."""
    src = str(Path(__file__).resolve().parents[2])
    path = os.environ.get('PYTHONPATH', '')
    return {**os.environ, 'PYTHONUNBUFFERED': '1',
            'PYTHONPATH': os.pathsep.join([src, path]) if path else src}


def run_part(part: Part, device: str, tiny: bool, folder: Path, cap: float) -> dict[str, Any]:
    """Run ``part`` in its own process group, killed at ``cap`` seconds; its result with
    how it ended (done, failed with the log's last line, or stopped at the cap)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    start = time.monotonic()
    with (folder / 'log.txt').open('w') as log:
        child = subprocess.Popen(part_command(part, device, tiny, folder, cap), stdout=log,
                                 stderr=subprocess.STDOUT, env=_child_env(),
                                 start_new_session=True)
        try:
            code = child.wait(timeout=cap)
            status = 'done' if code == 0 else f'failed (exit {code})'
        except subprocess.TimeoutExpired:
            status = f'stopped at its {cap:.0f} s cap'
        finally:  # at the cap, or when this process is interrupted (Ctrl-C, timeout -s INT)
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)  # YOLOv5's training subprocess too
                child.wait()
    result = read_json_or_none(folder / 'result.json') or {'items': [], 'skipped': []}
    result.update(status=status, seconds=round(time.monotonic() - start, 1), cap=cap)
    if status != 'done':
        lines = [ln.strip() for ln in (folder / 'log.txt').read_text().splitlines() if ln.strip()]
        result['error'] = lines[-1] if lines else '(no output)'
    return result


def part_main(argv: list[str]) -> int:
    """A part's process: run it and write its ``result.json`` (``--folder``)."""
    parser = argparse.ArgumentParser(prog='loosen bench gpu (one part)')
    parser.add_argument('part', choices=PARTS)
    parser.add_argument('--device', required=True)
    parser.add_argument('--folder', type=Path, required=True)
    parser.add_argument('--cap', type=float, required=True)
    parser.add_argument('--tiny', action='store_true')
    args = parser.parse_args(argv)
    from ..quiet import quiet_probes
    quiet_probes()
    import torch

    from .._lazy import resolve
    from .gpu_parts import PARTS_RUN, PartRun
    if args.tiny:
        torch.set_num_threads(1)
    run = PartRun(args.part, torch.device(args.device), args.tiny, args.folder,
                  time.monotonic() + STOP_EARLY * args.cap)
    run.save()
    resolve(PARTS_RUN[args.part])(run)
    run.save()
    return 0


def check_device(device: str) -> None:
    """A LoosenError for a GPU asked for where there is none."""
    import torch
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise LoosenError(f'--device {device}: no CUDA device here; run on a machine with a '
                          'GPU, or the CPU check: --device cpu --tiny')


# --- the report ----------------------------------------------------------------------

def _cell(value: Any) -> str:
    if value is None:
        return '-'
    if isinstance(value, float):
        return f'{value:,.4g}' if abs(value) < 1000 else f'{value:,.0f}'
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header),
            *('| ' + ' | '.join(_cell(v) for v in row) + ' |' for row in rows), '']


def _peak(part: dict[str, Any]) -> str:
    peak = part.get('peak_memory') or {}
    found = [f'{peak[k]:,.0f} MB {label}' for k, label in (
        ('cuda_allocated_mb', 'CUDA allocated'), ('rss_mb', 'RSS')) if peak.get(k) is not None]
    return ', '.join(found) or '-'


def _errors(part: dict[str, Any]) -> list[list[Any]]:
    return [[i['what'], i['error']] for i in part.get('items', []) if 'error' in i]


def section_env(part: dict[str, Any]) -> list[str]:
    info = part.get('info', {})
    keys = ('name', 'device', 'capability', 'memory_gb', 'multiprocessors', 'driver', 'cuda',
            'cudnn', 'bf16', 'torch', 'timm', 'loosen', 'python', 'platform', 'cpus')
    return _table(['what', 'value'], [[k, info[k]] for k in keys if k in info])


def section_la(part: dict[str, Any]) -> list[str]:
    lines = [f'Median ms per call (synchronised), contenders interleaved in rounds on the same '
             f'tensors; kernels per call from torch.profiler (on the CPU: operators). LA is '
             f'called launch-bound at a shape when its eager forward takes at most '
             f'{_launch_us()} µs per kernel it launches.', '']
    for item in part.get('items', []):
        if 'rows' not in item:
            continue
        lines += [f'### {item["what"]}', '']
        lines += _table(['module', 'forward ms', 'kernels', 'fwd+bwd ms', 'kernels',
                         'first call s (compile)'],
                        [[r['name'], r['forward_ms'], r['forward_kernels'], r['train_ms'],
                          r['train_kernels'], r['forward_first_s'] + r['train_first_s']]
                         for r in item['rows']])
        lines += [f'LA over the floor: forward {item["forward_over_floor"]}x, forward+backward '
                  f'{item["train_over_floor"]}x, compiled forward '
                  f'{item["compiled_forward_over_floor"]}x; eager LA {item["us_per_kernel"]} µs '
                  f'per kernel: {"launch-bound" if item["launch_bound"] else "not launch-bound"}.',
                  '']
    return lines


def _launch_us() -> str:
    from .gpu_parts import LAUNCH_BOUND_US
    return f'{LAUNCH_BOUND_US:g}'


def section_archs(part: dict[str, Any]) -> list[str]:
    rows = [[i['arch'], 'compiled' if i['compiled'] else 'eager', i['precision'], i['batch'],
             i['size'], i['plain_img_s'], i['la_img_s'], f'{i["la_overhead_pct"]:+.1f}%',
             i['plain_first_step_s'], i['la_first_step_s'], i['peak_mb']]
            for i in part.get('items', []) if 'la_img_s' in i]
    return ['Training steps of the engine (`Trainer.step`: AMP, channels-last, AdamW) on one '
            'batch held on the device, plain and LA interleaved in rounds; first step: its '
            'seconds (compiling, when compiled).', '',
            *_table(['arch', 'mode', 'precision', 'batch', 'px', 'plain img/s', 'LA img/s',
                     'LA overhead', 'plain first step s', 'LA first step s', 'peak MB'], rows)]


def section_yolo(part: dict[str, Any]) -> list[str]:
    rows = [[i['what'], i['seconds'], 'error: ' + i['error'] if 'error' in i else ', '.join(
        f'{k} {_cell(v)}' for k, v in i.items() if k not in ('what', 'seconds'))]
            for i in part.get('items', [])]
    info = part.get('info', {})
    tail = [f'ONNX file: {_cell(info.get("onnx_bytes"))} bytes; detect drew '
            f'{_cell(info.get("detections"))} images.', ''] if info else []
    return [*_table(['step', 'seconds', 'result'], rows), *tail]


def section_paper(part: dict[str, Any], projection: dict[str, Any] | None) -> list[str]:
    cells = [i for i in part.get('items', []) if 'train_img_s' in i]
    lines = _table(['model', 'recipe', 'batch', 'px', 'AMP', 'steps timed', 'step ms',
                    'train img/s', 'eval img/s'],
                   [[c['model'], c['recipe'], c['batch'], c['size'], c['amp'],
                     f'{c["steps"]}/{c["of_steps"]}', c['step_ms'], c['train_img_s'],
                     c['eval_img_s']] for c in cells])
    if projection is None:
        return [*lines, 'No projection: the paper cell did not run.', '']
    lines += ['Projected GPU-hours of the whole `paper` grid (`loosen bench accuracy --preset '
              'paper`) on this device: '
              f'**{projection["gpu_hours"]:,.1f} h** for {projection["cells"]} cells '
              '(training, validation every epoch, one test; see `project_paper` for the rule).',
              '', *_table(['arch', 'epochs', 'train img/s', 'cells', 'GPU-hours', 'rate from'],
                          [[r['arch'], r['epochs'], r['train_img_s'], r['cells'],
                            r['gpu_hours'], r['basis']] for r in projection['rows']])]
    return [*lines, *projection['notes'], '']


SECTIONS = {'env': section_env, 'la': section_la, 'archs': section_archs,
            'yolo': section_yolo}


def format_report(results: dict[str, Any]) -> str:
    """``report.md``: the parts' summary, then one section per part, every part present."""
    parts = results['parts']
    env = parts.get('env', {}).get('info', {})
    lines = [f'# GPU check on {env.get("name") or results["device"]}', '',
             f'`{results["command"]}` on {results["started"]}, {results["seconds"]:.0f} s in '
             f'all{" (tiny sizes)" if results["tiny"] else ""}.', '',
             *_table(['part', 'status', 'seconds', 'cap s', 'peak memory', 'items', 'skipped'],
                     [[PARTS[n].title, p['status'], p['seconds'], p['cap'], _peak(p),
                       len(p.get('items', [])), len(p.get('skipped', []))]
                      for n, p in parts.items()])]
    for name, part in parts.items():
        lines += [f'## {PARTS[name].title}', '', f'Status: {part["status"]}.'
                  + (f' Last line of its log: `{part["error"]}`' if 'error' in part else ''), '']
        lines += (section_paper(part, results.get('projection')) if name == 'paper'
                  else SECTIONS[name](part))
        if _errors(part):
            lines += ['Failed items:', '', *_table(['item', 'error'], _errors(part))]
        if part.get('skipped'):
            lines += ['Skipped:', '', *_table(['item', 'why'],
                                              [[s['what'], s['why']] for s in part['skipped']])]
    return '\n'.join(lines) + '\n'


def run(args: argparse.Namespace) -> int:
    from .gpu_parts import project_paper
    check_device(args.device)
    # a shell without job control starts its background commands with SIGINT ignored, and
    # Python keeps it so: scripts/gpu-check.sh's `timeout -s INT` must still stop the check
    signal.signal(signal.SIGINT, signal.default_int_handler)
    names = list(dict.fromkeys(args.parts))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    start = time.monotonic()
    parts: dict[str, dict[str, Any]] = {}
    for name in names:
        part = PARTS[name]
        cap = part.tiny_cap if args.tiny else part.cap
        print(f'{name}: {part.title} (cap {cap:.0f} s) ...', flush=True)
        parts[name] = run_part(part, args.device, args.tiny, out / 'parts' / name, cap)
        print(f'{name}: {parts[name]["status"]} in {parts[name]["seconds"]:.0f} s', flush=True)
    command = f'loosen bench gpu --out {args.out} --device {args.device}' + (
        ' --tiny' if args.tiny else '') + (
        f' --parts {" ".join(names)}' if names != list(PARTS) else '')
    results = {'command': command, 'started': started, 'device': args.device,
               'tiny': args.tiny, 'seconds': round(time.monotonic() - start, 1),
               'parts': parts, 'projection': project_paper(parts)}
    write_json(out / 'results.json', results)
    (out / 'report.md').write_text(format_report(results))
    print(f'wrote {out / "report.md"} and {out / "results.json"}')
    return 0 if all(p['status'] == 'done' for p in parts.values()) else 1


def add_parser(benches: argparse._SubParsersAction) -> None:
    p = benches.add_parser('gpu', help='one capped GPU check: LA kernels, every '
                           'architecture with AMP, YOLOv5, the paper grid\'s cost',
                           description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    add_out(p, 'report.md and results.json', required=True)
    p.add_argument('--device', default='cuda', help="'cuda', 'cuda:1' or 'cpu' (default: cuda)")
    p.add_argument('--tiny', action='store_true',
                   help='tiny models and inputs (the CPU check the test suite runs)')
    p.add_argument('--parts', nargs='+', choices=PARTS, default=list(PARTS),
                   help=f'parts to run (default: all: {" ".join(PARTS)})')
    p.set_defaults(run=run)
