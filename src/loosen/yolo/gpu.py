"""The YOLO part of ``loosen bench gpu``: yolov5n + LA trained, validated, run and exported
on the device, through the same ``loosen yolo`` scripts a user runs (``bench/gpu_parts.py``
names it by reference, as the layer below)."""
from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bench.gpu_parts import PartRun
from .api import best_epoch
from .data import synthetic_set
from .scripts import run_script


@contextmanager
def rows_added(path: Path, every: float = 0.05) -> Iterator[list[float]]:
    """When (``time.monotonic()``) each line was added to ``path`` while the block runs:
    YOLOv5 appends a row to results.csv as each epoch ends (after its validation), so
    the first two rows' times are an epoch apart."""
    seen: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        lines = 0
        while not stop.wait(every):
            now = len(path.read_text().splitlines()) if path.is_file() else 0
            seen.extend([time.monotonic()] * max(0, now - lines))
            lines = max(lines, now)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


@dataclass(frozen=True)
class YoloPlan:
    data: str
    imgsz: int
    batch: int
    workers: int


YOLO_FULL = YoloPlan('synthetic:images=160,size=320,seed=0', 320, 16, 4)
YOLO_TINY = YoloPlan('synthetic:images=10,size=64,seed=0', 64, 4, 0)
YOLO_EPOCHS_TIMED = 2  # the second epoch is timed: the first carries start-up


def yolo_part(run: PartRun) -> None:
    """yolov5n_la.yaml trained from scratch on the synthetic set (``loosen yolo train``,
    two epochs, the second timed), then ``loosen yolo`` val, detect and ONNX export of its
    best.pt, all in this process (so torch's allocator sees their memory)."""
    plan = YOLO_TINY if run.tiny else YOLO_FULL
    if importlib.util.find_spec('yolov5') is None:
        run.skip('every step', 'YOLOv5 is not installed (pip install "loosen[yolo]")')
        return
    os.environ.setdefault('LOOSEN_CACHE', str(run.folder / 'cache'))
    device = str(run.device.index or 0) if run.cuda else 'cpu'
    common = ['--img', str(plan.imgsz), '--device', device]
    where = ['--project', str(run.folder), '--exist-ok']
    weights = run.folder / 'train' / 'weights'
    found: dict[str, Any] = {}

    def script(action: str, *argv: str) -> dict[str, Any]:
        code = run_script(action, [*argv, *common, *(where if action != 'export' else [])])
        if code:
            raise RuntimeError(f'loosen yolo {action} exited {code}')
        return {'exit': code}

    def data() -> dict[str, Any]:
        found['yaml'] = synthetic_set(plan.data)
        found['images'] = found['yaml'].parent / 'images'
        return {'data': plan.data, 'train_images': len(list(found['images'].glob('train/*')))}

    def train() -> dict[str, Any]:
        with rows_added(run.folder / 'train' / 'results.csv') as rows:
            script('train', '--cfg', 'yolov5n_la.yaml', '--data', str(found['yaml']),
                   '--weights', '', '--epochs', str(YOLO_EPOCHS_TIMED), '--batch-size',
                   str(plan.batch), '--workers', str(plan.workers), '--seed', '0',
                   '--noplots', '--name', 'train')
        epoch = rows[2] - rows[1] if len(rows) >= 3 else None  # rows[0]: the header
        images = run.items[0]['train_images']
        return {**best_epoch(run.folder / 'train' / 'results.csv'), 'imgsz': plan.imgsz,
                'epochs': YOLO_EPOCHS_TIMED,
                'epoch_s': None if epoch is None else round(epoch, 2),
                'train_img_s': None if not epoch else round(images / epoch, 1)}

    steps = (('synthetic set', data), ('train', train),
             ('val', lambda: script('val', '--weights', str(weights / 'best.pt'), '--data',
                                    str(found['yaml']), '--batch-size', str(plan.batch),
                                    '--task', 'val', '--name', 'val')),
             ('detect', lambda: script('detect', '--weights', str(weights / 'best.pt'),
                                       '--source', str(found['images'] / 'val'),
                                       '--name', 'detect')),
             ('ONNX export', lambda: script('export', '--weights', str(weights / 'best.pt'),
                                            '--include', 'onnx')))
    for what, fn in steps:
        if run.items and 'error' in run.items[-1]:
            run.skip(what, f'{run.items[-1]["what"]} failed')
            continue
        run.attempt(what, fn, 0.0)
    onnx = weights / 'best.onnx'
    run.info.update(onnx_bytes=onnx.stat().st_size if onnx.is_file() else None,
                    detections=len(list((run.folder / 'detect').glob('*.png'))))
    run.save()
