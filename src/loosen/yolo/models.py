"""Loosen's model YAMLs: one template per architecture, rendered per size and attention.

``yolov5s_la.yaml`` is ``model_yamls/yolov5.yaml`` with the s multiples and ``LA`` in the
attention slot (after the last backbone C3, before SPPF, the paper's spot);
``yolov5s_plain.yaml`` has ``nn.Identity`` there (same layer indices, no attention).
Names resolve case-insensitively and with ``-`` for ``_``, so the release's
``yolov5l-LA.yaml`` gets the working file. Rendered files are written to the cache,
because both upstream parsers read a path.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from ..errors import unknown_name
from ..models.release import DETECTION, GCSA_HEADS
from .cache import cache_dir, write_text_once
from .patches.names import yaml_name

# the attention modules of the paper's detection runs: its classification comparison and
# what its YOLOv5 code adds (any other registered module still builds from a YAML slot)
DETECTION_SET = DETECTION
SLOT_ARGS = {'gcsa': f"[{{heads: {GCSA_HEADS['yolov5']}}}]"}  # the release's YOLOv5 GCSA
PLAIN_SLOT = '[-1, 1, nn.Identity, []]'


@dataclass(frozen=True)
class Family:
    """One template and the names rendered from it."""

    template: str                   # file in loosen/yolo/model_yamls
    pattern: str                    # name with {size} and {attention}
    framework: str                  # 'yolov5' or 'ultralytics'
    sizes: dict[str, tuple[float, float] | None]  # size -> (depth, width), or None: scales
    attentions: tuple[str, ...]


V5_SIZES = {'n': (0.33, 0.25), 's': (0.33, 0.50), 'm': (0.67, 0.75), 'l': (1.0, 1.0),
            'x': (1.33, 1.25)}
SCALED = dict.fromkeys('nsmlx')  # Ultralytics reads the scale from the file name
FAMILIES = (
    Family('yolov5.yaml', 'yolov5{size}_{attention}.yaml', 'yolov5', V5_SIZES,
           ('plain', *DETECTION_SET)),
    Family('yolov5u.yaml', 'yolov5{size}u_{attention}.yaml', 'ultralytics', SCALED,
           ('plain', 'la')),
    Family('yolo11.yaml', 'yolo11{size}_{attention}.yaml', 'ultralytics', SCALED,
           ('plain', 'la')),
)


@dataclass(frozen=True)
class ModelName:
    family: Family
    size: str
    attention: str


def catalogue() -> dict[str, ModelName]:
    """Every model YAML name loosen renders."""
    return {f.pattern.format(size=s, attention=a): ModelName(f, s, a)
            for f in FAMILIES for s in f.sizes for a in f.attentions}


def list_models(framework: str | None = None) -> list[str]:
    return [n for n, m in catalogue().items() if framework in (None, m.family.framework)]


def normalise(name: str | Path) -> str:
    """``'yolov5l-LA'`` -> ``'yolov5l_la.yaml'``: the key ``catalogue()`` uses."""
    stem = re.sub(r'\.ya?ml$', '', Path(name).name.lower()).replace('-', '_')
    return f'{stem}.yaml'


def slot_row(attention: str) -> str:
    if attention == 'plain':
        return PLAIN_SLOT
    return f'[-1, 1, {yaml_name(attention)}, {SLOT_ARGS.get(attention, "[]")}]'


def render(name: str) -> str:
    """The YAML text of catalogue model ``name``."""
    known = catalogue()
    model = known.get(normalise(name))
    if model is None:
        raise unknown_name('model YAML', name, known)
    folder = resources.files('loosen.yolo.model_yamls')
    template = folder.joinpath(model.family.template).read_text()
    depth, width = model.family.sizes[model.size] or (None, None)
    header = f'# {normalise(name)}: rendered by loosen from {model.family.template}\n'
    return header + Template(template).substitute(slot=slot_row(model.attention), depth=depth,
                                                  width=width)


def resolve(name: str | Path) -> Path | None:
    """The path of a catalogue model (rendered into the cache), or None for other names."""
    key = normalise(name)
    if key not in catalogue() or Path(name).parent != Path('.'):
        return None
    return write_text_once(cache_dir() / 'model_yamls' / key, render(key))
