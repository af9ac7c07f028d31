"""A wrapper around an upstream ``parse_model`` that lets model YAMLs name loosen's modules.

Both parsers (YOLOv5's ``models/yolo.py``, Ultralytics' ``nn/tasks.py``) look module
names up in their module globals and call channel-preserving modules with the YAML args
as written. The wrapper, given the deep copy of the YAML dict the parser is about to
build, (1) rejects unknown names with the close ones, (2) finds each attention layer's
true input width after ``width_multiple`` by building the layers before it with the
attention slots empty and running a small zero image through them, (3) puts that width
first in the layer's args, and hands the dict to the original parser. The dict stored
on the model (``model.yaml``, saved in checkpoints) is never touched.
"""
from __future__ import annotations

import contextlib
import copy
import difflib
import logging
import math
from collections.abc import Callable, Iterator

import torch
from torch import nn

from ...errors import LoosenError
from .names import BUILDERS, is_builder

log = logging.getLogger('loosen.patches')  # the logger the README names for these notes

PROBE_SIZE = 64  # pixels: enough for strides up to 64, small enough to cost milliseconds


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence upstream's INFO logging (its layer table) while the probe is built."""
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(previous)


def rows(d: dict) -> list[list]:
    """The YAML's layer rows ``[from, number, module, args]``, backbone then head."""
    return list(d['backbone']) + list(d.get('head') or [])


def width_of(d: dict) -> tuple[float, float]:
    """(width multiple, max channels) as the parsers read them: ``scales`` or ``width_multiple``."""
    scales = d.get('scales')
    if scales:
        _, width, max_channels = scales[d.get('scale') or next(iter(scales))]
        return width, max_channels
    return d.get('width_multiple', 1.0), math.inf


def scaled(channels: int, width: float, max_channels: float) -> int:
    """A YAML channel count after width scaling, rounded up to a multiple of 8 (both parsers)."""
    return int(math.ceil(min(channels, max_channels) * width / 8) * 8)


def resolves(name: object, namespace: dict) -> bool:
    if not isinstance(name, str):
        return True
    if name.startswith('nn.'):
        return hasattr(nn, name[3:])
    return name.startswith('torchvision.ops.') or name in namespace


def check_names(d: dict, namespace: dict) -> None:
    """Raise a one-line LoosenError for a module name neither upstream nor loosen defines."""
    for i, (_, _, module, _) in enumerate(rows(d)):
        if not resolves(module, namespace):
            known = sorted({*BUILDERS, *(k for k, v in namespace.items()
                                         if isinstance(v, type) and issubclass(v, nn.Module))})
            close = difflib.get_close_matches(module, known, n=3, cutoff=0.5)
            hint = f'; did you mean {" or ".join(close)}?' if close else ''
            raise LoosenError(f'unknown module {module!r} in layer {i} of the model YAML{hint} '
                              f'loosen adds: {", ".join(BUILDERS)}')


def slots(d: dict, namespace: dict) -> list[int]:
    """Indices of the layers that name a loosen attention module."""
    return [i for i, (_, _, module, _) in enumerate(rows(d))
            if isinstance(module, str) and is_builder(namespace.get(module))]


def source(i: int, origin: object) -> int:
    """Absolute index of the one layer feeding layer ``i`` (-1: the input image)."""
    if not isinstance(origin, int):
        raise LoosenError(f'layer {i} of the model YAML: an attention module takes one input, '
                          f'got from={origin}; write the index of one layer')
    return origin if origin >= 0 else i + origin


def input_widths(parse: Callable, d: dict, in_channels: int, at: list[int],
                 *args, **kwargs) -> dict[int, int]:
    """True input width of each attention layer in ``at``: the layers up to the last one
    feeding an attention layer are built for real (attention slots left empty) and run
    on a zero image, so any upstream module's width arithmetic is honoured, not copied."""
    table = rows(d)
    sources = {i: source(i, table[i][0]) for i in at}
    last = max(sources.values())
    outputs: list[torch.Tensor] = []
    if last >= 0:
        probe = copy.deepcopy(d)
        probe['backbone'] = [[f, n, 'nn.Identity', []] if i in at else [f, n, m, a]
                             for i, (f, n, m, a) in enumerate(copy.deepcopy(table[:last + 1]))]
        probe['head'] = []
        with quiet(), torch.no_grad():
            net, _ = parse(probe, *args, **kwargs)
            x = torch.zeros(1, in_channels, PROBE_SIZE, PROBE_SIZE)
            for layer in net.eval():
                if layer.f != -1:
                    x = outputs[layer.f] if isinstance(layer.f, int) else [
                        x if j == -1 else outputs[j] for j in layer.f]
                x = layer(x)
                outputs.append(x)
    return {i: in_channels if s < 0 else outputs[s].shape[1] for i, s in sources.items()}


def fill_channels(d: dict, widths: dict[int, int]) -> None:
    """Put each attention layer's true width first in its args, in ``d`` (the parser's copy).

    A first arg equal to the true width, or to it before width scaling (the paper's
    ``LA [1024]``), is a channel count written by hand: it is dropped, with a note. One
    larger than the width that does not scale to it is an error; anything else is the
    module's own first option (LA's heads).
    """
    table, (width, max_channels) = rows(d), width_of(d)
    for i, channels in widths.items():
        row = table[i]
        args = list(row[3])
        first = args[0] if args and isinstance(args[0], int) else None
        if first is not None and channels in (first, scaled(first, width, max_channels)):
            log.info('layer %d %s %s: %d is a channel count written by hand; ignored, the '
                     'layer is %d wide at width multiple %s', i, row[2], row[3], first,
                     channels, width)
            args = args[1:]
        elif first is not None and first > channels:
            raise LoosenError(
                f'layer {i} {row[2]} {row[3]}: {first} looks like a channel count, but the layer '
                f'is {channels} wide at width multiple {width} ({first} would give '
                f'{scaled(first, width, max_channels)}); write {row[2]} [] and the width is '
                'filled in')
        row[3] = [channels, *args]


def wrap_parse_model(namespace: dict) -> Callable[[Callable], Callable]:
    """``make`` for ``wrap``: a ``parse_model(d, ch, ...)`` that fills loosen's layers in."""

    def make(original: Callable) -> Callable:
        def parse_model(d: dict, ch, *args, **kwargs):
            check_names(d, namespace)
            at = slots(d, namespace)
            if at:
                in_channels = ch[0] if isinstance(ch, (list, tuple)) else ch
                fill_channels(d, input_widths(original, d, in_channels, at, ch, *args, **kwargs))
            return original(d, ch, *args, **kwargs)

        return parse_model

    return make
