"""Patches that let the pip package ``yolov5==7.0.14`` run loosen's model YAMLs, offline,
on this stack (torch 2.14, numpy 2, Pillow 11+). ``install()`` applies them all, once.

Each patch is one function with its reason in the first line of its docstring; none
edits site-packages or copies upstream code. Safe to call as soon as
``yolov5.models.yolo`` has been imported (it imports it itself otherwise).
"""
from __future__ import annotations

import functools
import inspect
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import ImageFont

from ...errors import LoosenError
from ...patches.callers import default_for
from ...patches.wrap import wrap
from ..arguments import ENTRIES, FRAMEWORKS, check, unknown_yaml, weights
from ..data import missing_paths
from ..files import resolve_file
from . import transfer
from .names import add_names
from .oneline import as_one_line, check_first, one_line_errors
from .parse import wrap_parse_model


def package_root() -> Path:
    import yolov5
    return Path(yolov5.__file__).resolve().parent


def module_names() -> None:
    """Model YAMLs name LA, CBAM, ...: add them to the parser's globals and fill in channels."""
    from yolov5.models import yolo
    add_names(vars(yolo))
    wrap(yolo, 'parse_model', wrap_parse_model(vars(yolo)))


def trusted_checkpoints() -> None:
    """torch>=2.6 loads weights_only by default; YOLOv5's own checkpoints pickle whole models."""
    torch.load = default_for(torch.load, package_root(), weights_only=False)


def onnx_exporter() -> None:
    """torch>=2.9 exports through dynamo by default; YOLOv5's exporter is TorchScript-based."""
    torch.onnx.export = default_for(torch.onnx.export, package_root(), dynamo=False)


def numpy_trapz() -> None:
    """numpy 2.4 removed np.trapz, which val's compute_ap calls; it is np.trapezoid renamed."""
    if not hasattr(np, 'trapz'):
        np.trapz = np.trapezoid


def pillow_getsize() -> None:
    """Pillow 10 removed FreeTypeFont.getsize, so YOLOv5's labelled plots are silently lost."""
    if not hasattr(ImageFont.FreeTypeFont, 'getsize'):
        def getsize(font: ImageFont.FreeTypeFont, text: str) -> tuple[int, int]:
            left, _, right, bottom = font.getbbox(text)
            return right - left, bottom

        ImageFont.FreeTypeFont.getsize = getsize


def bundled_font() -> Path:
    """matplotlib's DejaVu Sans, on disk wherever matplotlib is installed."""
    import matplotlib
    return Path(matplotlib.get_data_path()) / 'fonts' / 'ttf' / 'DejaVuSans.ttf'


def offline_font() -> None:
    """check_font downloads Arial.ttf: serve matplotlib's DejaVu Sans under that name instead."""
    from yolov5.utils import general

    def make(check_font):
        def serve(font=general.FONT, progress=False):
            target = Path(general.CONFIG_DIR) / Path(font).name
            if not Path(font).exists() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_suffix(f'.{os.getpid()}.part')
                shutil.copyfile(bundled_font(), partial)
                os.replace(partial, target)
            return check_font(font, progress)
        return serve

    wrap(general, 'check_font', make)


def local_weights() -> None:
    """attempt_download_from_hub asks the Hugging Face hub about local paths and fails offline."""
    from yolov5.utils import downloads

    def make(from_hub):
        def local_first(repo_id, *args, **kwargs):
            if os.path.exists(str(repo_id)):
                return None  # a file here, not a hub repository
            return from_hub(repo_id, *args, **kwargs)
        return local_first

    wrap(downloads, 'attempt_download_from_hub', make)


def file_names() -> None:
    """check_file searches only YOLOv5's folders: also find loosen's model YAMLs by bare name,
    ``synthetic`` data sets, and paths relative to the package (data/hyps/hyp.scratch-low.yaml)."""
    from yolov5.utils import general

    def make(check_file):
        def find(file, suffix=''):
            return check_file(resolve_file(str(file), package_root()) or file, suffix)
        return find

    wrap(general, 'check_file', make)


def dataset_paths() -> None:
    """check_dataset downloads a set whose paths are missing: name them and stop instead."""
    from yolov5.utils import general

    def make(check_dataset):
        def check(data, autodownload=True):
            if isinstance(data, (str, Path)) and Path(data).suffix in ('.yaml', '.yml'):
                missing = missing_paths(data, package_root())
                if missing:
                    raise LoosenError(f'dataset YAML {data}: missing {"; ".join(missing)}; fix its '
                                      'path/train/val entries (loosen never downloads data)')
            return check_dataset(data, autodownload)
        return check

    wrap(general, 'check_dataset', make)


def entry_of(filename: str) -> str | None:
    """``'train'`` for YOLOv5's own train.py (run as ``__main__`` too), val.py, detect.py and
    export.py; None for any other file."""
    path = Path(filename).resolve()
    return path.stem if path.parent == package_root() and path.stem in ENTRIES['yolov5'] else None


def call_from(filename: str, function: Callable, *args, **kwargs):
    """``function(*args, **kwargs)`` called from a frame of ``filename``, for an upstream
    function that names the file of its caller (print_args prints ``train: weights=...``)."""
    code = compile('function(*args, **kwargs)', filename, 'eval')
    return eval(code, {'function': function, 'args': args, 'kwargs': kwargs})


def checked_options() -> None:
    """Each script shows its parsed options with print_args before it builds, writes or
    downloads anything (train's main, val/detect/export's parse_opt): check their files there."""
    from yolov5.utils import general

    def make(print_args):
        def show(args=None, *rest, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            entry = entry_of(caller)
            if entry is not None and isinstance(args, dict):
                check('yolov5', entry, args)
            return call_from(caller, print_args, args, *rest, **kwargs)
        return show

    wrap(general, 'print_args', make)


def checked_entries() -> None:
    """``yolov5 val|detect|export`` call val.run, detect.run, export.run without print_args:
    the decorator YOLOv5 gives them (smart_inference_mode) checks their files first."""
    from yolov5.utils import torch_utils

    def checking(run: Callable, entry: str, decorated: Callable) -> Callable:
        signature = inspect.signature(run)

        @functools.wraps(decorated)
        def checked(*args, **kwargs):
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:  # upstream's own error for arguments it does not take
                return decorated(*args, **kwargs)
            bound.apply_defaults()
            check('yolov5', entry, bound.arguments)
            return decorated(*args, **kwargs)
        return checked

    def make(smart_inference_mode):
        def factory(*args, **kwargs):
            decorate = smart_inference_mode(*args, **kwargs)

            def checked_decorate(function: Callable) -> Callable:
                entry = entry_of(function.__code__.co_filename)
                if function.__name__ != 'run' or entry is None:
                    return decorate(function)
                return checking(function, entry, decorate(function))
            return checked_decorate
        return factory

    wrap(torch_utils, 'smart_inference_mode', make)


def yaml_files() -> None:
    """check_yaml asserts on a YAML it cannot find (val reads ``--data`` with it before it
    prints its options): one line naming it."""
    from yolov5.utils import general

    def check(file, *_, **__) -> None:
        if FRAMEWORKS['yolov5'].find(str(file)) is None:
            raise unknown_yaml(FRAMEWORKS['yolov5'], str(file))

    wrap(general, 'check_yaml', check_first(check))


def weights_not_downloaded() -> None:
    """attempt_download fetches weights it cannot find here from GitHub: stop with one line."""
    from yolov5.utils import downloads

    wrap(downloads, 'attempt_download', check_first(
        lambda file, *_, **__: weights(FRAMEWORKS['yolov5'], 'weights', file)))


def device_errors() -> None:
    """select_device asserts on a CUDA device this machine lacks (the README's ``--device 0``
    on a CPU): one line that names ``--device cpu``."""
    from yolov5.utils import torch_utils

    def say(error: AssertionError, device='', *_, **__) -> str:
        seen = torch.cuda.device_count() if torch.cuda.is_available() else 'no'
        return f'--device {device}: {error} (torch sees {seen} CUDA devices here)'

    wrap(torch_utils, 'select_device', as_one_line(AssertionError, say))


def slot_transfer() -> None:
    """train.py keeps checkpoint tensors by name and shape, and an attention slot moves every
    later layer one on: the checkpoint's layers are renamed onto the model's first."""
    from yolov5.models import yolo
    from yolov5.utils import general

    wrap(yolo.BaseModel, 'state_dict', transfer.remember_yaml)

    def make(intersect_dicts):
        def across_slots(da, db, exclude=()):
            return intersect_dicts(transfer.onto(da, db, general.LOGGER), db, exclude)
        return across_slots

    wrap(general, 'intersect_dicts', make)


PATCHES = (module_names, file_names, dataset_paths, trusted_checkpoints, onnx_exporter,
           numpy_trapz, pillow_getsize, offline_font, local_weights, checked_options,
           checked_entries, yaml_files, weights_not_downloaded, device_errors, slot_transfer,
           one_line_errors)


def install() -> None:
    """Apply every patch; idempotent."""
    for patch in PATCHES:
        patch()
