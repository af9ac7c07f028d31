"""Patches that let the pip package ``yolov5==7.0.14`` run loosen's model YAMLs, offline,
on this stack (torch 2.14, numpy 2, Pillow 11+). ``install()`` applies them all, once.

Each patch is one function with its reason in the first line of its docstring; none
edits site-packages or copies upstream code. Safe to call as soon as
``yolov5.models.yolo`` has been imported (it imports it itself otherwise).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import ImageFont

from ..errors import LoosenError
from .callers import default_for
from .names import add_names
from .parse import wrap_parse_model
from .wrap import wrap


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

    from ..yolo.files import resolve_file

    def make(check_file):
        def find(file, suffix=''):
            return check_file(resolve_file(str(file), package_root()) or file, suffix)
        return find

    wrap(general, 'check_file', make)


def dataset_paths() -> None:
    """check_dataset downloads a set whose paths are missing: name them and stop instead."""
    from yolov5.utils import general

    from ..yolo.data import missing_paths

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


def slot_transfer() -> None:
    """train.py keeps checkpoint tensors by name and shape, and an attention slot moves every
    later layer one on: the checkpoint's layers are renamed onto the model's first."""
    from yolov5.models import yolo
    from yolov5.utils import general

    from . import transfer

    wrap(yolo.BaseModel, 'state_dict', transfer.remember_yaml)

    def make(intersect_dicts):
        def across_slots(da, db, exclude=()):
            return intersect_dicts(transfer.onto(da, db, general.LOGGER), db, exclude)
        return across_slots

    wrap(general, 'intersect_dicts', make)


PATCHES = (module_names, file_names, dataset_paths, trusted_checkpoints, onnx_exporter,
           numpy_trapz, pillow_getsize, offline_font, local_weights, slot_transfer)


def install() -> None:
    """Apply every patch; idempotent."""
    for patch in PATCHES:
        patch()
