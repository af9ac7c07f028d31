"""Weight transfer across attention slots: a checkpoint's layers renamed onto a model whose
YAML differs from the checkpoint's only by attention slots.

YOLOv5's ``train.py`` and Ultralytics' ``BaseModel.load`` keep the checkpoint tensors whose
name and shape match the model's (``intersect_dicts``). An attention slot at index 9 moves
every later layer one on (SPPF is ``model.9.`` in ``yolov5s.yaml``, ``model.10.`` in
``yolov5s_la.yaml``), so the neck, the head and Detect are lost. ``align`` reads the two
YAMLs' layer lists: with the slots set aside (loosen's attention modules and the plain
slot's ``nn.Identity``) the other layers must agree one by one in module, repeats, args and
inputs, and each checkpoint layer then maps to its place in the model. ``transfer_state``
renames the checkpoint's tensors by that map, so the upstream intersection keeps every
tensor of the same module and shape and leaves only the attention at its init; when the
checkpoint is another network it names the first layer that disagrees, in one line.
"""
from __future__ import annotations

import contextlib
import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import zip_longest
from logging import Logger

from torch import nn

from .names import BUILDERS
from .parse import rows

SLOTS = frozenset({*BUILDERS, 'nn.Identity'})  # YAML modules an attention slot may hold
LAYER_KEY = re.compile(r'model\.(\d+)\.(.+)')  # state-dict key of layer i: model.{i}.{rest}
IMAGE = -1  # the "layer" feeding layer 0


@dataclass(frozen=True)
class Layer:
    """One row of a model YAML, its inputs made absolute."""

    index: int
    inputs: tuple[int, ...]  # indices of the layers feeding it (IMAGE for the input)
    repeats: int
    module: str
    args: list

    @property
    def slot(self) -> bool:
        return self.module in SLOTS

    def same(self, other: Layer) -> bool:
        return (self.repeats, self.module, self.args) == (other.repeats, other.module, other.args)

    def __str__(self) -> str:
        repeats = f'{self.repeats} x ' if self.repeats != 1 else ''
        return f'layer {self.index} ({repeats}{self.module} {self.args})'


def layers(d: dict) -> list[Layer]:
    """The layers of model YAML ``d``, backbone then head, as both parsers number them."""
    table = []
    for i, (origin, repeats, module, args) in enumerate(rows(d)):
        origins = origin if isinstance(origin, list) else [origin]
        table.append(Layer(i, tuple(j if j >= 0 else max(i + j, IMAGE) for j in origins),
                           repeats, str(module), list(args)))
    return table


def root(table: list[Layer], index: int) -> int:
    """The first layer at or before ``index`` on its input path that is not a slot."""
    while index != IMAGE and table[index].slot:
        index = table[index].inputs[0]
    return index


@dataclass(frozen=True)
class Alignment:
    """Where each checkpoint layer sits in the model, or why the two networks differ."""

    index: dict[int, int] = field(default_factory=dict)  # checkpoint layer -> model layer
    at_init: tuple[Layer, ...] = ()  # the model's attention slots no checkpoint layer fills
    problem: str | None = None       # the first layer that disagrees

    @property
    def identity(self) -> bool:
        return all(i == j for i, j in self.index.items())


def align(source: dict, target: dict) -> Alignment:
    """Map the layers of checkpoint YAML ``source`` onto model YAML ``target`` (see above)."""
    src, tgt = layers(source), layers(target)
    index: dict[int, int] = {}

    def placed(table: list[Layer], j: int, mapped: bool) -> int:
        j = root(table, j)
        return index.get(j, j) if mapped else j

    for a, b in zip_longest([x for x in src if not x.slot], [x for x in tgt if not x.slot]):
        if a is None or b is None or not a.same(b):
            return Alignment(problem=differ(a, b))
        wired = tuple(placed(src, j, True) for j in a.inputs)
        if wired != tuple(placed(tgt, j, False) for j in b.inputs):
            return Alignment(problem=f'the checkpoint\'s {a} takes layers {list(a.inputs)}, this '
                                     f'model\'s {b} takes {list(b.inputs)}')
        index[a.index] = b.index
    # a checkpoint slot fills a model slot of the same module, args and place
    free = [x for x in src if x.slot]
    at_init = []
    for b in (x for x in tgt if x.slot):
        place = placed(tgt, b.inputs[0], False)
        match = next((a for a in free if a.same(b)
                      and placed(src, a.inputs[0], True) == place), None)
        if match is None:
            at_init.append(b)
        else:
            free.remove(match)
            index[match.index] = b.index
    return Alignment(dict(sorted(index.items())),
                     tuple(b for b in at_init if b.module != 'nn.Identity'))


def differ(a: Layer | None, b: Layer | None) -> str:
    if a is None:
        return f'this model\'s {b} has no counterpart in the checkpoint'
    if b is None:
        return f'the checkpoint\'s {a} has no counterpart in this model'
    return f'the checkpoint\'s {a} where this model has {b}'


def renamed(state: dict, index: dict[int, int]) -> dict:
    """``state`` with the tensors of layer i under ``model.{index[i]}.``; unmapped layers
    (a checkpoint slot the model lacks) are dropped, keys outside the layers kept."""
    out = {}
    for key, value in state.items():
        match = LAYER_KEY.fullmatch(key)
        if match is None:
            out[key] = value
        elif int(match[1]) in index:
            out[f'model.{index[int(match[1])]}.{match[2]}'] = value
    return out


def layer_shapes(state: dict, i: int) -> dict[str, tuple[int, ...]]:
    prefix = f'model.{i}.'
    return {k[len(prefix):]: tuple(v.shape) for k, v in state.items() if k.startswith(prefix)}


def misfit(state: dict, target_state: dict, index: dict[int, int],
           table: list[Layer]) -> str | None:
    """The first mapped layer of model ``table`` whose tensors differ in name or shape
    (another width or depth), leaving out the model's last layer: its class outputs follow
    the class count."""
    last = max(index.values(), default=0)
    for j in sorted(j for j in index.values() if j != last):
        have, want = layer_shapes(state, j), layer_shapes(target_state, j)
        for name in [*want, *(k for k in have if k not in want)]:
            if have.get(name) != want.get(name):
                return (f'{table[j]}: model.{j}.{name} is {have.get(name, "absent")} in the '
                        f'checkpoint, {want.get(name, "absent")} in this model')
    return None


def spans(index: dict[int, int]) -> str:
    """``{9: 10, 10: 11, 11: 12}`` -> ``'9-11 -> 10-12'``: the runs of layers that moved."""
    runs: list[list[int]] = []
    for i, j in index.items():
        if i == j:
            continue
        if runs and runs[-1][1] == i - 1 and runs[-1][3] == j - 1:
            runs[-1][1], runs[-1][3] = i, j
        else:
            runs.append([i, i, j, j])
    return ', '.join(f'{a}-{b} -> {c}-{d}' if a != b else f'{a} -> {c}' for a, b, c, d in runs)


@dataclass(frozen=True)
class Transfer:
    """A checkpoint state dict under the model's names, and the lines that say so."""

    state: dict
    moved: str | None = None   # info: which layers moved, which slots stay at init
    misfit: str | None = None  # warning: the first layer that disagrees

    def log(self, logger: Logger) -> None:
        if self.moved:
            logger.info(f'loosen: {self.moved}')
        if self.misfit:
            logger.warning(f'loosen: {self.misfit}')


def transfer_state(state: dict, source: dict, target_state: dict, target: dict) -> Transfer:
    """Checkpoint ``state`` (of YAML ``source``) renamed onto a model of YAML ``target``."""
    plan = align(source, target)
    if plan.problem:
        return Transfer(state, misfit=f'the checkpoint is another network: {plan.problem}; '
                                      'only tensors of the same name and shape transfer')
    moved = state if plan.identity and len(plan.index) == len(layers(source)) else renamed(
        state, plan.index)
    notes = []
    if not plan.identity:
        notes.append(f'checkpoint layers {spans(plan.index)} across the attention slot')
    for b in plan.at_init:
        count = len(layer_shapes(target_state, b.index))
        notes.append(f'{b} at its init ({count} tensor{"s" * (count != 1)})')
    problem = misfit(moved, target_state, plan.index, layers(target))
    return Transfer(moved, '; '.join(notes) or None,
                    problem and f'the checkpoint is another width or depth: {problem}; only '
                                'tensors of the same shape transfer')


class _Owners:
    """The model YAML each live state dict was made from, held only while the dict lives."""

    def __init__(self) -> None:
        self._yaml: dict[int, dict] = {}

    def remember(self, state: dict, yaml: dict) -> None:
        key = id(state)
        self._yaml[key] = yaml
        weakref.finalize(state, self._yaml.pop, key, None)

    def yaml_of(self, state: dict) -> dict | None:
        return self._yaml.get(id(state))


OWNERS = _Owners()


def remember_yaml(state_dict):
    """``make`` for ``wrap``: a model class's ``state_dict`` that records the model's YAML
    for the dict it returns, so a function given only state dicts knows both networks."""
    def state_dict_of_yaml(self, *args, **kwargs):
        state = state_dict(self, *args, **kwargs)
        top = not args and kwargs.get('destination') is None and not kwargs.get('prefix')
        if top and isinstance(getattr(self, 'yaml', None), dict):
            OWNERS.remember(state, self.yaml)
        return state
    return state_dict_of_yaml


def onto(state: dict, target_state: dict, logger: Logger) -> dict:
    """``state`` under the names of the model ``target_state`` came from, when both dicts'
    YAMLs are known (``remember_yaml``); else ``state`` as it is."""
    source, target = OWNERS.yaml_of(state), OWNERS.yaml_of(target_state)
    if source is None or target is None:
        return state
    moved = transfer_state(state, source, target_state, target)
    moved.log(logger)
    return moved.state


@contextlib.contextmanager
def renaming(source: object, target: nn.Module, logger: Logger | None) -> Iterator[None]:
    """While inside, ``source.state_dict()`` comes out under ``target``'s layer names."""
    source_yaml, target_yaml = getattr(source, 'yaml', None), getattr(target, 'yaml', None)
    if not (isinstance(source, nn.Module) and isinstance(source_yaml, dict)
            and isinstance(target_yaml, dict)):
        yield
        return

    def rename(module: nn.Module, state: dict, prefix: str, metadata: dict) -> None:
        if prefix:
            return
        moved = transfer_state(dict(state), source_yaml, target.state_dict(), target_yaml)
        if logger is not None:
            moved.log(logger)
        state.clear()
        state.update(moved.state)

    handle = source.register_state_dict_post_hook(rename)
    try:
        yield
    finally:
        handle.remove()
