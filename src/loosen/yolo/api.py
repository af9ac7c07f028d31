"""Train and validate a YOLOv5 model from Python, through YOLOv5's own ``train.py``.

The run happens in a fresh subprocess (``python -m loosen.yolo train``), so YOLOv5's
process-wide state does not leak into the caller and a crash stays contained. A run
folder holding a killed run's ``last.pt`` is resumed, one holding a finished run is
read back, so a grid of runs can be restarted without redoing finished cells. A run
starts from scratch or from a checkpoint (``weights``), which loosen's patch moves across
the attention slot when the checkpoint's YAML has none.
"""
from __future__ import annotations

import csv
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from ..bench.flops import count_flops
from ..errors import LoosenError

FITNESS = {'map50': 0.1, 'map50_95': 0.9}  # YOLOv5's fitness: how it picks best.pt
COLUMNS = {'precision': 'metrics/precision', 'recall': 'metrics/recall',
           'map50': 'metrics/mAP_0.5', 'map50_95': 'metrics/mAP_0.5:0.95'}


def load_checkpoint(path: Path) -> dict:
    """A YOLOv5 checkpoint (whole pickled models: loosen's modules must import)."""
    from .patches import yolov5
    yolov5.install()
    return torch.load(path, map_location='cpu', weights_only=False)


def run_state(out: Path) -> str:
    """'new', 'killed' (last.pt still holds its optimizer) or 'finished' (stripped)."""
    last = out / 'weights' / 'last.pt'
    if not last.exists():
        return 'new'
    return 'finished' if load_checkpoint(last).get('epoch', -1) == -1 else 'killed'


def epochs(results_csv: Path) -> list[dict[str, float]]:
    """The metrics of every epoch in YOLOv5's results.csv, in order."""
    with results_csv.open() as f:
        rows = [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(f)]
    if not rows:
        raise LoosenError(f'{results_csv} has no epochs: the run did not finish one')
    return [{key: float(row[col]) for key, col in COLUMNS.items()} for row in rows]


def best_epoch(results_csv: Path) -> dict[str, float]:
    """The metrics of the epoch best.pt holds: highest YOLOv5 fitness in results.csv."""
    return max(epochs(results_csv), key=lambda m: sum(w * m[k] for k, w in FITNESS.items()))


def last_epoch(results_csv: Path) -> dict[str, float]:
    """The metrics of the last epoch (last.pt): no epoch picked on val."""
    return epochs(results_csv)[-1]


# which epoch a run reports: its metrics and its checkpoint
PICKS: dict[str, tuple[Callable[[Path], dict[str, float]], str]] = {
    'best': (best_epoch, 'best.pt'), 'last': (last_epoch, 'last.pt')}


def model_cost(weights: Path, imgsz: int) -> tuple[int, float | None]:
    """(parameters, fvcore GFLOPs of one imgsz x imgsz image or None) of a checkpoint."""
    model = load_checkpoint(weights)['model'].float().eval()
    params = sum(p.numel() for p in model.parameters())
    try:
        flops, _ = count_flops(model, torch.zeros(1, 3, imgsz, imgsz))
    except Exception:  # fvcore cannot trace every upstream head; the count is optional
        return params, None
    return params, flops / 1e9


def train_command(cfg: str, data: str, *, epochs: int, imgsz: int, batch: int, seed: int,
                  out: Path, device: str, workers: int, weights: str | Path = '',
                  options: Sequence[str] = ()) -> list[str]:
    return [sys.executable, '-m', 'loosen.yolo', 'train', '--cfg', cfg, '--data', data,
            '--weights', str(weights), '--epochs', str(epochs), '--img', str(imgsz),
            '--batch-size', str(batch), '--seed', str(seed), '--device', device,
            '--workers', str(workers), '--project', str(out.parent), '--name', out.name,
            '--exist-ok', *options]


def children_cpu() -> float:
    """CPU seconds (user + system) used so far by this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def train_val(cfg: str, data: str, *, epochs: int, imgsz: int, batch: int, seed: int,
              out: Path, device: str = 'cpu', workers: int = 0, weights: str | Path = '',
              options: Sequence[str] = (), pick: str = 'best') -> dict:
    """Train ``cfg`` on ``data`` into ``out``, from scratch or from checkpoint ``weights``,
    and return the metrics of the epoch ``pick`` names (``PICKS``: 'best', YOLOv5's pick
    on val, or 'last'); ``options`` are more train.py flags (``--noplots``).

    Returns map50, map50_95, precision, recall (of that epoch), params, gflops (None when
    fvcore cannot count), seconds and cpu_seconds (this call's training wall and CPU time:
    about 0 for a finished run read back) and weights (that epoch's checkpoint).
    """
    report, checkpoint = PICKS[pick]
    out = Path(out).resolve()
    state = run_state(out)
    start, cpu = time.perf_counter(), children_cpu()
    if state != 'finished':
        command = train_command(cfg, data, epochs=epochs, imgsz=imgsz, batch=batch, seed=seed,
                                out=out, device=device, workers=workers, weights=weights,
                                options=options)
        if state == 'killed':
            command = [*command[:4], '--resume', str(out / 'weights' / 'last.pt')]
        done = subprocess.run(command, env=os.environ.copy(), capture_output=True, text=True)
        if done.returncode:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ['(no output)']
            raise LoosenError(f'YOLOv5 training of {cfg} into {out} failed '
                              f'(exit {done.returncode}): {tail[0]}')
    seconds, cpu_seconds = time.perf_counter() - start, children_cpu() - cpu
    picked = out / 'weights' / checkpoint
    params, gflops = model_cost(picked, imgsz)
    return {**report(out / 'results.csv'), 'params': params,
            'gflops': None if gflops is None or math.isnan(gflops) else gflops,
            'seconds': seconds, 'cpu_seconds': cpu_seconds, 'weights': str(picked)}
