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
DATA_PATHS = ('data_root', 'train_dir', 'val_dir', 'test_dir')  # the folders of the data
# what a resumed run may change: where and how fast it runs, where it writes, and how long
# it goes on (more --epochs extend it); the rest is the checkpoint's
MAY_CHANGE_ON_RESUME = ('device', 'num_workers', 'cache_mb', 'epochs', 'output_dir',
                        'save_path', 'export_weights', 'compile', 'compile_mode')
# fields that say nothing about how a run trains (num_classes is checked against its data)
NOT_OF_THE_RUN = ('resume', 'overwrite', 'num_classes', 'checkpoint', 'split', 'top_k',
                  'mistakes')
# fields whose flag is not --field-name
FLAG_NAMES = {'data': '--data', 'data_root': '--data-path', 'train_dir': '--data-root-train',
              'val_dir': '--data-root-val', 'test_dir': '--data-root-test',
              'auto_augment': '--aa', 'arch_flags': 'the architecture flags'}


def flag_name(name: str) -> str:
    """The flag of field ``name``, for messages."""
    return FLAG_NAMES.get(name, '--' + name.replace('_', '-'))
COMPILE = ('off', 'on', 'auto')  # --compile (engine/compile.py); a bare --compile is 'on'
COMPILE_MODES = ('default', 'reduce-overhead', 'max-autotune', 'max-autotune-no-cudagraphs')


def default_workers() -> int:
    """Loader processes beside training: none on two cores, where a worker's work steals
    a core from the two training threads and halves training speed (``loosen bench
    pipeline``), then about one per two further cores."""
    return max(0, min(8, (os.cpu_count() or 1) // 2 - 1))


def unset(means: str) -> Any:
    """A field that is None unless given; ``means`` says what None does (``--help`` shows
    it as the flag's default)."""
    return field(default=None, metadata={'unset': means})


@dataclass
class EngineConfig:
    """What to train or evaluate, on which data, how, and where the results go.

    Paths are kept as strings so the config round-trips through YAML and checkpoints
    (which hold plain containers only). Each field's default is the default of its flag
    (``--help`` shows it); a field that is None unless given says what None means.
    """

    recipe: str | None = unset("none: loosen's own defaults")  # engine/recipes.py

    # model
    model: str | None = DEFAULT_MODEL           # registered name; test: None = the checkpoint's
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # constructor options
    arch_flags: dict[str, Any] = field(default_factory=dict)  # the seed's --patch-size...
    pretrained: str | None = unset('none: random initial weights')  # a file or timm:TAG
    pretrained_partial: bool = False            # accept weights that fit under half the model
    num_classes: int | None = unset('the number of class folders')

    # data: an image folder (data_root/{train,val,test}/<class>/) or the synthetic set
    data: str = 'synthetic'                     # 'synthetic' or 'folder'
    data_root: str | None = unset('none: the synthetic set')
    train_dir: str | None = unset('DATA/train')  # a folder of class folders (ViT style)
    val_dir: str | None = unset('DATA/val')
    test_dir: str | None = unset('DATA/test')
    synthetic_per_class: int = 100              # training frames per class; val/test get 1/4
    synthetic_size: int | None = unset('the input size')  # frames are drawn at this size
    synthetic_classes: list[str] = field(default_factory=lambda: list(CORE_CLASSES))
    synthetic_seed: int = 0                     # the data's seed (splits add 0, 1, 2)
    img_size: int | None = unset("the model's: 224 for every model here")
    norm: str = 'dataset'                       # training images' mean/std, the model's, ImageNet's
    crop_pct: float = 1.0                       # all-sky frames: keep the horizon
    crop_mode: str | None = unset("timm's: center")  # or 'squash', 'border'
    augment: bool = True                        # False: train on the eval transform
    scale: tuple[float, float] = (0.6, 1.0)     # random-resized-crop area
    hflip: float = 0.5
    vflip: float = 0.5
    color_jitter: float = 0.2
    auto_augment: str | None = unset('none')
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
    dropout: float | None = unset("the model's own")
    drop_path: float | None = unset("the model's own")
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
    device: str | None = unset('cuda if present, else cpu')
    seed: int = 0
    patience: int | None = unset('none: every epoch runs')  # epochs without improvement
    best_metric: str = 'macro_f1'

    # outputs
    output_dir: str | None = unset('runs/<command>/<model>')
    save_path: str | None = unset('best.pth in the run directory')
    resume: str | None = unset('none: a new run')  # a last.pth to continue from
    overwrite: bool = False
    export_weights: str | None = unset('none')  # bare weights as .safetensors

    # evaluation and prediction
    checkpoint: str | None = unset('none: test and predict need one')  # what they load
    split: str | None = unset('test/ when the data has it, else val/')
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
        if self.resume and self.overwrite:
            raise LoosenError('--overwrite starts a new run and --resume continues one; give '
                              'one of them')
        if self.sched == 'plateau' and self.warmup_epochs:
            raise LoosenError('--sched plateau has no warm-up here; pass --warmup-epochs 0 or '
                              'another --sched')
        if self.mixing and self.batch_size % 2:
            raise LoosenError(f'--mixup/--cutmix pair images within a batch; make --batch-size '
                              f'even (not {self.batch_size})')

    def changes_to(self, run: EngineConfig) -> list[str]:
        """Where this config, resuming ``run``, differs from it in a setting a resumed run
        keeps (all but ``MAY_CHANGE_ON_RESUME``): 'flag value (the run's: value)' each."""
        found = []
        for f in dataclasses.fields(self):
            if f.name in MAY_CHANGE_ON_RESUME or f.name in NOT_OF_THE_RUN:
                continue
            mine, theirs = _plain(getattr(self, f.name)), _plain(getattr(run, f.name))
            if mine != theirs:
                found.append(f"{flag_name(f.name)} {_shown(mine)} (the run's: {_shown(theirs)})")
        return found

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


def _shown(value: Any) -> str:
    """A value as a command line spells it."""
    if isinstance(value, dict):
        return ' '.join(f'{k}={v}' for k, v in value.items()) or 'none'
    if isinstance(value, list):
        return ' '.join(map(str, value))
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
