"""A grid of the comparison protocol (``loosen bench accuracy``; the detect part of
``loosen bench yolo``): its cells (arch, attention, training size, seed), the settings
every cell shares, and where each cell keeps its run and its result.

A grid lives in one folder: ``grid.json`` (the settings), ``data/`` (the synthetic sets it
wrote), ``subsets/[<split>_]n<size>_s<seed>[_det]/`` (the training subset of each regime and
seed, shared by all of its classification [detection] cells) and ``cells/<key>/`` (a cell's run
and its ``result.json``, written atomically when the cell ends, done or failed). A cell
with a result is finished; the grid skips it when run again.

The split axis (``--split``): ``given`` trains on the data's own splits; every other kind
pools all of the data's frames and splits them again with the cell's seed, in
``RESPLIT_FRACTIONS``, and reports on that split's test/ (see ``regimes.RESPLITS``).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import read_json_or_none, write_json
from ..errors import LoosenError
from ..models.release import DETECTION_ARCHS

BASELINE = 'plain'
GIVEN = 'given'  # the split kind that keeps the data's own splits
RESPLIT_FRACTIONS = {'train': 0.6, 'val': 0.2, 'test': 0.2}  # every other kind's fractions
# the detection cells' runner, with the YOLOv5 integration (a layer above): named, and
# imported only when a detection cell runs
DETECTOR = 'loosen.yolo.cells:detection'
# settings that change a cell's numbers: a grid folder keeps them for good
BUDGET_FIELDS = ('data', 'det_data', 'test_split', 'epochs', 'img_size', 'batch_size', 'lr',
                 'eval_per_class', 'model_kwargs', 'recipes', 'det_img_size', 'threads',
                 'device', 'pretrained', 'attention_init', 'select', 'det_weights', 'detector')


@dataclass(frozen=True)
class Cell:
    """One training run of the grid."""

    arch: str
    attention: str
    size: int      # requested training images
    seed: int      # subset, data order, augmentation and initialisation
    split: str = GIVEN  # how the data is split (grid.py's docstring)

    @property
    def _split_tag(self) -> str:
        return '' if self.split == GIVEN else f'_{self.split}'

    @property
    def key(self) -> str:
        return f'{self.arch}_{self.attention}_n{self.size}_s{self.seed}{self._split_tag}'

    @property
    def detection(self) -> bool:
        return self.arch in DETECTION_ARCHS

    @property
    def regime(self) -> str:
        """The (split, size, seed) folder every cell of this regime and seed trains from."""
        return f'n{self.size}_s{self.seed}{self._split_tag}'


@dataclass
class GridSpec:
    """Everything a cell needs, as plain values (it travels to Ray workers as JSON)."""

    out: str
    data: str                       # an image folder, or 'synthetic'
    archs: list[str]
    attentions: list[str]
    train_sizes: list[int]
    seeds: list[int]
    epochs: int | None
    img_size: int
    batch_size: int | None
    lr: float | None
    eval_per_class: int
    det_data: str = 'synthetic'
    det_img_size: int = 640
    test_split: str = 'test'        # the split reported; 'val' when the data has no test/
    model_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)
    recipes: bool = False
    preset: str = 'custom'
    threads: int = 1                # torch threads (Ray: CPUs) of one cell
    gpus: float = 0.0               # GPUs one cell asks Ray for
    device: str | None = None
    pretrained: str | None = None   # the weights every classification cell starts from
    attention_init: str | None = None  # 'identity': every module starts as the identity
    compile: str | None = None      # torch.compile of cells' models; None: the engine's default
    splits: list[str] = field(default_factory=lambda: [GIVEN])  # the split axis
    select: str = 'last'            # the model each cell scores: selection.SELECTS
    det_weights: str | None = None  # the checkpoint every detection cell fine-tunes from
    detector: str = DETECTOR        # 'module:function' of the detection cells' runner

    @property
    def split_axis(self) -> bool:
        """Whether any cell re-splits the data (the report then compares split kinds)."""
        return self.splits != [GIVEN]

    @property
    def root(self) -> Path:
        return Path(self.out)

    def cells(self) -> list[Cell]:
        return [Cell(a, t, n, s, k) for k in self.splits for n in self.train_sizes
                for s in self.seeds for a in self.archs for t in self.attentions]

    def reported_split(self, split: str) -> str:
        """What cells of split kind ``split`` are tested on: the data's ``test_split``, or
        the re-split's test/."""
        return self.test_split if split == GIVEN else 'test'

    def cell(self, key: str) -> Cell:
        found = {c.key: c for c in self.cells()}
        if key not in found:
            raise LoosenError(f'no cell {key!r} in the grid of {self.out}; see its grid.json')
        return found[key]

    def cell_dir(self, cell: Cell) -> Path:
        return self.root / 'cells' / cell.key

    def subset_dir(self, cell: Cell) -> Path:
        return self.root / 'subsets' / (f'{cell.regime}_det' if cell.detection else cell.regime)

    def result_path(self, cell: Cell) -> Path:
        return self.cell_dir(cell) / 'result.json'

    def reported_splits(self) -> set[str]:
        """The splits the cells are scored on (``reported_split``), val/ for detection cells."""
        return {'val' if c.detection else self.reported_split(c.split) for c in self.cells()}

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))  # tuples become lists

    @classmethod
    def load(cls, out: str | Path) -> GridSpec:
        return cls(**json.loads((Path(out) / 'grid.json').read_text()))

    def save(self) -> None:
        """Write ``grid.json``; a folder that already holds a grid must share its budget."""
        path = self.root / 'grid.json'
        if path.is_file():
            old = GridSpec.load(self.root).to_dict()  # a field it predates: its default
            new = self.to_dict()
            changed = [k for k in BUDGET_FIELDS if old.get(k) != new.get(k)]
            if changed:
                raise LoosenError(f'{self.out} holds a grid with other {", ".join(changed)} '
                                  f'({changed[0]}={old.get(changed[0])!r}); its cells would not '
                                  'compare: give another --out, or the same settings to resume')
        write_json(path, self.to_dict())


def read_result(spec: GridSpec, cell: Cell) -> dict[str, Any] | None:
    """A finished cell's row (done or failed); None while it is not finished."""
    return read_json_or_none(spec.result_path(cell))
