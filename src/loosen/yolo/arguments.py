"""The file arguments of every YOLOv5 and Ultralytics entry point, checked before it runs.

A weights file, model YAML, dataset YAML, hyperparameter file or image source must be on
disk (a path, a loosen model name, ``synthetic``, a file the upstream package ships) or be
a remote source the user named (a URL, a hub repository). Anything else stops with one
line (``files.not_found``) before a model is built, a run folder written or a download
tried. The patches call ``check(framework, entry, options)`` with an entry point's options.
"""
from __future__ import annotations

import glob
import inspect
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ..errors import LoosenError
from .data import is_synthetic, synthetic_options
from .files import NotDownloaded, is_remote, not_found
from .models import list_models

Check = Callable[['Framework', str, object], None]  # (framework, option key, value)


class Framework:
    """What one upstream package finds by itself, so that only what it would download, or
    fail to find, is refused. Subclasses import their package lazily."""

    name = ''     # as messages say it
    owner = ''    # its possessive: "YOLOv5's"
    package = ''  # its import name

    def subject(self, key: str, name: str) -> str:
        """Option ``key`` set to ``name``, as its command line spells it."""
        return f'--{key} {name}'

    def root(self) -> Path:
        from importlib import import_module
        return Path(import_module(self.package).__file__).resolve().parent

    def shipped(self, folder: str) -> list[str]:
        """The YAML files under ``folder`` of the package, by name."""
        return sorted(p.name for p in (self.root() / folder).rglob('*.yaml'))

    def find(self, name: str) -> str | None:
        """The package's own search for a bare file name (loosen's names included); a remote
        name is its own answer (nothing is fetched to look)."""
        return name if is_remote(name) else self.search(name)

    def search(self, name: str) -> str | None:
        raise NotImplementedError

    def weights_name(self, name: str) -> str:
        """The weights file a model name stands for."""
        return name

    def weights_places(self, name: str) -> list[Path]:
        """Where the package looks for weights ``name`` before it would download them."""
        return [Path(name)]

    def is_hub(self, name: str) -> bool:
        """Whether ``name`` is a model repository the package asks a hub for."""
        return False

    def released(self, name: str) -> bool:
        """Whether ``name`` is one of the package's released weights (it downloads those)."""
        return False

    def model_yaml(self, subject: str, name: str) -> None:
        """Raise when ``name`` is no model YAML the package or loosen knows."""
        if not self.find(name):
            raise unknown_model_yaml(self, subject, name)


class YOLOv5(Framework):
    name, owner, package = 'YOLOv5', "YOLOv5's", 'yolov5'

    def search(self, name: str) -> str | None:
        from yolov5.utils.general import check_file
        try:
            return check_file(name)
        except AssertionError as error:  # 'File not found: ...' or 'Multiple files match ...'
            if str(error).startswith('File not found'):
                return None
            raise LoosenError(str(error)) from None

    def is_hub(self, name: str) -> bool:
        # attempt_download_from_hub takes Hugging Face repositories, 'owner/name'
        return re.fullmatch(r'[\w.-]+/[\w.-]+', name) is not None and not Path(name).suffix


class Ultralytics(Framework):
    name, owner, package = 'Ultralytics', "Ultralytics'", 'ultralytics'

    def subject(self, key: str, name: str) -> str:
        return f'{key}={name}'

    def shipped(self, folder: str) -> list[str]:
        return super().shipped({'data': 'cfg/datasets', 'models': 'cfg/models'}[folder])

    def search(self, name: str) -> str | None:
        from ultralytics.utils.checks import check_file
        return check_file(name, download=False, hard=False) or None

    def weights_name(self, name: str) -> str:
        from ultralytics.utils import checks
        # 'yolo11n' -> 'yolo11n.pt', as Model does (unwrapped: loosen's patch checks there)
        return str(inspect.unwrap(checks.check_model_file_from_stem)(name))

    def weights_places(self, name: str) -> list[Path]:
        from ultralytics.utils import SETTINGS
        from ultralytics.utils.checks import check_yolov5u_filename
        file = Path(check_yolov5u_filename(name, verbose=False))  # yolov5s.pt -> yolov5su.pt
        return [file, Path(SETTINGS['weights_dir']) / file]

    def released(self, name: str) -> bool:
        from ultralytics.utils.downloads import GITHUB_ASSETS_NAMES
        return Path(self.weights_places(name)[0]).name in GITHUB_ASSETS_NAMES

    def model_yaml(self, subject: str, name: str) -> None:
        from ultralytics.nn.tasks import yaml_model_load
        try:
            yaml_model_load(name)  # its own look-up: yolo11n.yaml is yolo11.yaml at scale n
        except FileNotFoundError:
            raise unknown_model_yaml(self, subject, name) from None


def unknown_model_yaml(framework: Framework, subject: str, name: str) -> LoosenError:
    """``name`` is neither a file nor a model YAML of loosen's or ``framework``'s."""
    return LoosenError(not_found(
        subject, 'model YAML', name,
        elsewhere=f", nor among loosen's (loosen yolo models) or {framework.owner} own",
        known=[*list_models(framework.package), *framework.shipped('models')]))


def unknown_yaml(framework: Framework, name: str) -> LoosenError:
    """A YAML named where no option says what it is for (val reads ``--data`` so)."""
    return LoosenError(not_found(
        name, 'YAML file', name, elsewhere=f", nor among loosen's or {framework.owner} own",
        known=['synthetic', *list_models(framework.package), *framework.shipped('models'),
               *framework.shipped('data')]))


def values(value: object) -> list[str]:
    """The non-empty names in an option's value (val and detect take several weights)."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return [str(item).strip() for item in items
            if isinstance(item, (str, Path)) and str(item).strip()]


def weights(framework: Framework, key: str, value: object, fix: str = '') -> None:
    for name in values(value):
        if is_remote(name) or framework.is_hub(name):
            continue
        here, *others = places = framework.weights_places(name)
        if not any(place.exists() for place in places):
            released = (f'{here.name} is one of {framework.owner} released weights: fetch it '
                        'on a machine with internet') if framework.released(name) else ''
            raise NotDownloaded(not_found(framework.subject(key, name), 'weights file',
                                          str(here), others,
                                          fix='; '.join(filter(None, [released, fix]))))


def model_yaml(framework: Framework, key: str, value: object) -> None:
    for name in values(value):
        if not Path(name).exists():
            framework.model_yaml(framework.subject(key, name), name)


def model(framework: Framework, key: str, value: object) -> None:
    """Ultralytics' ``model=``: a model YAML, or weights (a bare stem such as ``yolo11n``)."""
    for name in values(value):
        if Path(name).suffix in ('.yaml', '.yml'):
            model_yaml(framework, key, name)
        else:
            file = framework.weights_name(name)
            untrained = framework.subject(key, f'{Path(file).stem}.yaml')
            weights(framework, key, file, fix=f'{untrained} builds the model untrained'
                    if framework.released(file) else '')


def found(framework: Framework, name: str) -> bool:
    return Path(name).exists() or bool(framework.find(name))


def dataset(framework: Framework, key: str, value: object) -> None:
    for name in values(value):
        if is_synthetic(name):
            synthetic_options(name)  # bad options are their own one line
        elif not found(framework, name):
            raise LoosenError(not_found(
                framework.subject(key, name), 'dataset', name,
                elsewhere=f", nor among {framework.owner} own dataset YAMLs",
                known=['synthetic', *framework.shipped('data')]))


def hyp(framework: Framework, key: str, value: object) -> None:
    for name in values(value):
        if not found(framework, name):
            hyps = sorted(str(p.relative_to(framework.root()))
                          for p in (framework.root() / 'data' / 'hyps').glob('*.yaml'))
            raise LoosenError(not_found(
                framework.subject(key, name), 'hyperparameter YAML', name,
                [framework.root() / name], known=hyps))


def source(framework: Framework, key: str, value: object) -> None:
    """Images, videos, a folder, a glob or a list file; webcams, streams and screens pass."""
    for name in values(value):
        lower = name.lower()
        if (is_remote(name) or name.isnumeric() or lower.endswith('.streams')
                or lower.startswith('screen') or Path(name).exists()):
            continue
        if '*' in name:
            if not glob.glob(name, recursive=True):
                raise LoosenError(f'{framework.subject(key, name)}: the pattern matches no file')
            continue
        raise LoosenError(not_found(framework.subject(key, name), 'image source', name))


TRAIN_FIX = "--weights '' trains from scratch (with --cfg)"
# entry point -> its file options, checked in this order
ENTRIES: dict[str, dict[str, dict[str, Check]]] = {
    'yolov5': {
        'train': {'weights': partial(weights, fix=TRAIN_FIX), 'cfg': model_yaml, 'hyp': hyp,
                  'data': dataset},
        'resume': {'resume': weights},  # train --resume PATH: the checkpoint holds the rest
        'val': {'weights': weights, 'data': dataset},
        'detect': {'weights': weights, 'source': source, 'data': dataset},
        'export': {'weights': weights, 'data': dataset},
    },
    'ultralytics': {
        'options': {'model': model, 'pretrained': weights, 'source': source, 'data': dataset},
    },
}
FRAMEWORKS: dict[str, Framework] = {'yolov5': YOLOv5(), 'ultralytics': Ultralytics()}


def check(framework: str, entry: str, options: dict) -> None:
    """Raise a one-line LoosenError for the first file option of ``entry`` naming nothing."""
    if entry == 'train' and isinstance(options.get('resume'), str):
        entry = 'resume'
    elif entry == 'train' and options.get('resume'):
        return  # --resume: the latest run's checkpoint, found by upstream
    for key, check_one in ENTRIES[framework][entry].items():
        check_one(FRAMEWORKS[framework], key, options.get(key))
