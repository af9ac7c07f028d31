"""``--data synthetic``: the synthetic small-structure detection set, built on first use.

``synthetic`` is the default set (500 frames of 640 px, seed 0, as ``loosen data
synth-det`` writes by default); ``synthetic:images=32,size=128,seed=1`` picks another.
Each set is written once into the cache and reused; DDP ranks may race to build it.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from ..data.synth_det import VERSION, write_detection
from ..errors import LoosenError
from .cache import build_dir_once, cache_dir

PREFIX = 'synthetic'
DEFAULTS = {'images': 500, 'size': 640, 'seed': 0, 'max_objects': 6}


def is_synthetic(text: str) -> bool:
    return text == PREFIX or text.startswith((PREFIX + ':', PREFIX + '.'))


def _bare(text: str) -> str:
    """Ultralytics appends '.yaml' to a data name without one."""
    return re.sub(r'\.ya?ml$', '', text)


def synthetic_options(text: str) -> dict[str, int]:
    """``'synthetic:images=32,size=128'`` -> the full option dict."""
    options = dict(DEFAULTS)
    _, _, rest = _bare(text).partition(':')
    for item in filter(None, rest.split(',')):
        key, _, value = item.partition('=')
        key = key.strip().replace('-', '_')
        if key not in DEFAULTS or not value.strip().isdigit():
            raise LoosenError(f'--data {text}: expected synthetic:KEY=N,... with KEY in '
                              f'{", ".join(DEFAULTS)}, e.g. synthetic:images=32,size=128')
        options[key] = int(value)
    return options


def synthetic_set(text: str) -> Path:
    """The dataset YAML of the synthetic set ``text`` names, written on first use."""
    o = synthetic_options(text)
    name = (f'v{VERSION}-images{o["images"]}-size{o["size"]}-seed{o["seed"]}'
            f'-max{o["max_objects"]}')
    folder = cache_dir() / 'synth_det' / name

    def build(out: Path) -> None:
        spec = write_detection(out, o['images'], o['size'], o['seed'], max_objects=o['max_objects'])
        # the folder moves after it is written: its YAML must name the final place
        data = yaml.safe_load(spec.read_text())
        spec.write_text(yaml.safe_dump({**data, 'path': str(folder.resolve())}, sort_keys=False))

    return build_dir_once(folder, build) / 'dataset.yaml'


def missing_paths(spec_file: str | Path, root: Path) -> list[str]:
    """The train/val/test entries of a dataset YAML that do not exist, as YOLOv5 resolves
    them: under ``path``, itself under ``root`` (YOLOv5's package folder) when relative."""
    spec = yaml.safe_load(Path(spec_file).read_text()) or {}
    base = Path(spec.get('path') or '')
    base = base if base.is_absolute() else root / base
    missing = []
    for key in ('train', 'val', 'test'):
        entries = spec.get(key) or []
        for entry in [entries] if isinstance(entries, str) else entries:
            if not (base / entry).exists():
                missing.append(f'{key}: {(base / entry).resolve()}')
    return missing
