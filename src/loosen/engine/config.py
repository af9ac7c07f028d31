"""One engine configuration for training, testing and predicting.

Every command line the engine accepts (the seed's three styles and ``loosen train``'s
own flags, see ``flags.py``) ends up as one ``EngineConfig``; a run directory keeps it
as ``config.yaml`` and every checkpoint carries it, so a run can be repeated or resumed.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..data.synth import CORE_CLASSES
from ..errors import LoosenError

DEFAULT_MODEL = 'mobilenetv1_la'
BEST_METRICS = {  # name -> True when larger is better
    'macro_f1': True,
    'accuracy': True,
    'balanced_accuracy': True,
    'loss': False,
}
BALANCE = ('none', 'weights', 'sampler')
NORMS = ('dataset', 'model', 'imagenet')
COMPILE = ('off', 'on', 'auto')  # --compile (engine/compile.py); a bare --compile is 'on'
COMPILE_MODES = ('default', 'reduce-overhead', 'max-autotune', 'max-autotune-no-cudagraphs')


def default_workers() -> int:
    """Loader processes beside training: none on two cores, where a worker's work steals
    a core from the two training threads and halves training speed (``loosen bench
    pipeline``), then about one per two further cores."""
    return max(0, min(8, (os.cpu_count() or 1) // 2 - 1))


@dataclass
class EngineConfig:
    """What to train or evaluate, on which data, how, and where the results go.

    Paths are kept as strings so the config round-trips through YAML and checkpoints
    (which hold plain containers only).
    """

    recipe: str | None = None                   # the paper recipe applied (engine/recipes.py)

    # model
    model: str | None = DEFAULT_MODEL           # registered name; test: None = the checkpoint's
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # constructor options
    pretrained: str | None = None               # local weights for the plain part
    num_classes: int | None = None              # checked against the data when given

    # data: an image folder (data_root/{train,val,test}/<class>/) or the synthetic set
    data: str = 'synthetic'                     # 'synthetic' or 'folder'
    data_root: str | None = None
    train_dir: str | None = None                # a folder of class folders (ViT style)
    val_dir: str | None = None
    test_dir: str | None = None
    synthetic_per_class: int = 100              # training frames per class; val/test get 1/4
    synthetic_size: int | None = None           # frames are drawn at this size (img_size)
    synthetic_classes: list[str] = field(default_factory=lambda: list(CORE_CLASSES))
    synthetic_seed: int = 0                     # the data's seed (splits add 0, 1, 2)
    img_size: int | None = None                 # None: the model's default (224)
    norm: str = 'dataset'                       # training images' mean/std, the model's, ImageNet's
    crop_pct: float = 1.0                       # all-sky frames: keep the horizon
    crop_mode: str | None = None                # timm's: None/'center', 'squash', 'border'
    augment: bool = True                        # False: train on the eval transform
    scale: tuple[float, float] = (0.6, 1.0)     # random-resized-crop area
    hflip: float = 0.5
    vflip: float = 0.5
    color_jitter: float = 0.2
    auto_augment: str | None = None
    reprob: float = 0.0
    remode: str = 'const'                       # timm's random-erase fill: 'const', 'pixel'...
    balance: str = 'weights'                    # class weights in the loss; 'sampler'; 'none'
    skip_bad_images: bool = False
    cache_mb: int = 2048                        # decoded images kept in memory up to this
    num_workers: int = field(default_factory=default_workers)

    # optimisation
    epochs: int = 20
    batch_size: int = 32
    opt: str = 'adamw'
    lr: float = 1e-3
    weight_decay: float = 0.05
    momentum: float = 0.9
    sched: str = 'cosine'                       # a timm scheduler, or 'plateau' on best_metric
    decay_rate: float = 0.1                     # plateau: lr factor
    patience_epochs: int = 10                   # plateau: epochs without a better best_metric
    warmup_epochs: int = 0
    warmup_lr: float = 1e-6
    min_lr: float = 1e-6
    dropout: float | None = None                # None: the model's own default
    drop_path: float | None = None
    smoothing: float = 0.0
    mixup: float = 0.0
    cutmix: float = 0.0
    mixup_prob: float = 1.0
    mixup_switch_prob: float = 0.5
    model_ema: bool = False
    model_ema_decay: float = 0.9998
    amp: bool = False                           # CUDA only
    channels_last: bool = False                 # CUDA only
    compile: str = 'off'                        # torch.compile: 'off', 'on', 'auto'
    compile_mode: str = 'default'               # torch.compile's mode
    device: str | None = None                   # None: cuda when present, else cpu
    seed: int = 0
    patience: int | None = None                 # epochs without improvement before stopping
    best_metric: str = 'macro_f1'

    # outputs
    output_dir: str | None = None               # None: runs/train/<model> (test: runs/test/..)
    save_path: str | None = None                # best checkpoint; None: <output_dir>/best.pth
    resume: str | None = None                   # a last.pth to continue from
    overwrite: bool = False
    export_weights: str | None = None           # bare weights as .safetensors

    # evaluation and prediction
    checkpoint: str | None = None               # what test / predict load
    split: str | None = None                    # test split: None = test/ if present, else val/
    top_k: int = 3
    mistakes: int = 20

    @property
    def mixing(self) -> bool:
        """Whether batches are mixed (mixup or cutmix), so targets are soft."""
        return self.mixup > 0 or self.cutmix > 0

    def check(self) -> None:
        """A LoosenError for settings that cannot work, or not together."""
        for name, allowed in (('best_metric', BEST_METRICS), ('balance', BALANCE),
                              ('norm', NORMS)):
            if getattr(self, name) not in allowed:
                raise LoosenError(f'--{name.replace("_", "-")} {getattr(self, name)!r}: choose '
                                  f'one of {", ".join(allowed)}')
        for name in ('epochs', 'batch_size', 'synthetic_per_class', 'top_k'):
            if getattr(self, name) < 1:
                raise LoosenError(f'--{name.replace("_", "-")} must be at least 1')
        if self.sched == 'plateau' and self.warmup_epochs:
            raise LoosenError('--sched plateau has no warm-up here; pass --warmup-epochs 0 or '
                              'another --sched')
        if self.mixing and self.batch_size % 2:
            raise LoosenError(f'--mixup/--cutmix pair images within a batch; make --batch-size '
                              f'even (not {self.batch_size})')

    def to_dict(self) -> dict[str, Any]:
        """Plain containers only (tuples become lists): safe for YAML and weights_only."""
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EngineConfig:
        """The inverse of ``to_dict``; keys this version does not know are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        config = cls(**{k: v for k, v in values.items() if k in names})
        config.scale = tuple(config.scale)
        return config

    def run_dir(self, command: str = 'train') -> Path:
        """Where ``command`` writes: ``output_dir``, else ``runs/<command>/<model>``."""
        return Path(self.output_dir or Path('runs') / command / self.model)

    def best_path(self) -> Path:
        return Path(self.save_path) if self.save_path else self.run_dir() / 'best.pth'

    def last_path(self) -> Path:
        return self.run_dir() / 'last.pth'

    def write_yaml(self, path: Path) -> None:
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
