"""Presets of the accuracy grid: named sets of defaults that ``loosen bench accuracy`` flags
override one by one.

``smoke`` runs in about a minute (the tests), ``cpu`` trains narrow CNNs on small frames:
its 72 cells took 8.8 min of wall time on the synthetic set and 41.3 min on yrs-aurora
(its 440 px PNGs decoded every epoch) with ``--jobs 2`` on two CPU cores (load 3 to 6),
``paper`` is the paper's Figure 2: its backbones at 224 px, its 4k and 10k regimes and,
per backbone, the training recipe of its release (for GPUs). The measured cost of each is
in ``docs/results/accuracy/``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine.config import EngineConfig
from ..errors import unknown_name
from ..models import get_arch, list_archs
from ..models.release import PAPER_GRID

# the narrow variant of every CNN (``ArchSpec.narrow``): what the CPU presets train
NARROW_KWARGS: dict[str, dict[str, Any]] = {
    name: dict(get_arch(name).narrow) for name in list_archs() if get_arch(name).family == 'cnn'}


@dataclass(frozen=True)
class Preset:
    """Defaults of one grid. ``epochs``/``lr``/``batch_size`` of None: the recipe's; where a
    preset's value is the engine's (``EngineConfig``), it is read from there."""

    archs: tuple[str, ...]
    attentions: tuple[str, ...]
    train_sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    epochs: int | None
    img_size: int
    batch_size: int | None
    lr: float | None
    eval_per_class: int                   # synthetic val and test frames per class
    model_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)
    recipes: bool = False                 # the paper's recipe per backbone (loosen.engine.recipes)
    det_img_size: int = 640
    select: str = 'last'                  # the model each cell scores (selection.SELECTS)


PRESETS: dict[str, Preset] = {
    'smoke': Preset(archs=('mobilenetv1', 'alexnet'), attentions=('plain', 'la'),
                    train_sizes=(24,), seeds=(0, 1), epochs=2, img_size=64, batch_size=8,
                    lr=2e-3, eval_per_class=4, model_kwargs=NARROW_KWARGS, det_img_size=64),
    'cpu': Preset(archs=('mobilenetv1', 'resnet34', 'alexnet', 'zfnet'),
                  attentions=('plain', 'la', 'cbam'), train_sizes=(256, 640), seeds=(0, 1, 2),
                  epochs=8, img_size=64, batch_size=EngineConfig.batch_size, lr=2e-3,
                  eval_per_class=50, model_kwargs=NARROW_KWARGS, det_img_size=128),
    'paper': Preset(**PAPER_GRID, epochs=None, batch_size=None, lr=None, recipes=True),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise unknown_name('preset', name, PRESETS)
    return PRESETS[name]
