"""The detection cell of the comparison protocol (``GridSpec.detector`` names it): a
YOLOv5 model trained through YOLOv5's own train.py on the cell's regime and scored on
its dataset's val/, as the protocol scores every cell.

The cell starts from ``GridSpec.det_weights`` when given (``loosen bench yolo --parts
detect`` passes its pretrained upstream model), else from scratch; it scores the model
after the last epoch (``select``: a pick on val/ would be scored on the split it was
picked on, which the protocol refuses before any cell runs).
"""
from __future__ import annotations

from typing import Any

from ..experiments.regimes import subset_info
from ..experiments.spec import Cell, GridSpec
from ..models.release import YOLO_BATCH, YOLO_EPOCHS
from .api import train_val


def detection(spec: GridSpec, cell: Cell) -> dict[str, Any]:
    """Train and validate ``cell``'s ``{arch}_{attention}.yaml``; its row of results.csv."""
    epochs = spec.epochs or YOLO_EPOCHS
    found = train_val(f'{cell.arch}_{cell.attention}.yaml',
                      str(spec.subset_dir(cell) / 'dataset.yaml'), epochs=epochs,
                      imgsz=spec.det_img_size, batch=spec.batch_size or YOLO_BATCH,
                      seed=cell.seed, out=spec.cell_dir(cell) / 'detect',
                      device=spec.device or 'cpu', workers=0, weights=spec.det_weights or '',
                      options=('--noplots',), pick=spec.select)
    used = subset_info(spec, cell)['used']
    return {'map50': found['map50'], 'map50_95': found['map50_95'],
            'precision': found['precision'], 'recall': found['recall'],
            'params': found['params'], 'gflops': found['gflops'], 'epochs': epochs,
            'images_seen': epochs * used, 'train_seconds': found['seconds'],
            'cpu_seconds': found['cpu_seconds']}
