"""Patches that let ``ultralytics`` build loosen's model YAMLs and run offline.

``install()`` applies them all, once; safe as soon as ``ultralytics.nn.tasks`` has been
imported (it imports it itself otherwise). Ultralytics' own names (its ``CBAM``) are
never replaced: a YAML that says ``CBAM`` gets Ultralytics' module there.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ...patches.wrap import wrap
from ..arguments import FRAMEWORKS, check, model, source, unknown_model_yaml, weights
from ..files import resolve_file
from . import transfer
from .names import add_names
from .oneline import as_one_line, check_first, one_line_errors
from .parse import wrap_parse_model

OFFLINE_ENV = {'YOLO_OFFLINE': '1', 'YOLO_AUTOINSTALL': 'false'}


def offline_env() -> None:
    """Ultralytics probes DNS, auto-installs packages and sends telemetry: all off, unless the
    environment already says otherwise (read when ``ultralytics.utils`` is first imported)."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


offline_env()  # before ultralytics itself is imported, where possible


def package_root() -> Path:
    import ultralytics
    return Path(ultralytics.__file__).resolve().parent


def offline_state() -> None:
    """When ultralytics was imported before loosen, its ONLINE/AUTOINSTALL flags and its
    telemetry are already set: turn them off where they are held."""
    if os.environ.get('YOLO_OFFLINE') != OFFLINE_ENV['YOLO_OFFLINE']:
        return  # the user asked for online mode
    for module in list(sys.modules.values()):
        if (getattr(module, '__name__', None) or '').startswith('ultralytics'):
            for flag in ('ONLINE', 'AUTOINSTALL'):
                if vars(module).get(flag) is True:
                    setattr(module, flag, False)
    events = sys.modules.get('ultralytics.utils.events')
    if events is not None and hasattr(events, 'events'):
        events.events.enabled = False


def module_names() -> None:
    """Model YAMLs name LA, SE, ...: add them to tasks.py's globals and fill in channels."""
    from ultralytics.nn import tasks
    add_names(vars(tasks))
    wrap(tasks, 'parse_model', wrap_parse_model(vars(tasks)))


def file_names() -> None:
    """check_file searches only Ultralytics' folders: also find loosen's model YAMLs by bare
    name (model=yolo11n_la.yaml) and ``synthetic`` data sets."""
    from ultralytics.utils import checks

    def make(check_file):
        def find(file, *args, **kwargs):
            return check_file(resolve_file(str(file), package_root()) or file, *args, **kwargs)
        return find

    wrap(checks, 'check_file', make)


def pil_open() -> None:
    """Ultralytics replaces ``PIL.Image.open`` everywhere with a wrapper that, on a file PIL
    cannot read, imports pi-heif; without it an unreadable image raises ModuleNotFoundError
    instead of PIL's UnidentifiedImageError: give PIL its own open back where pi-heif is absent."""
    import importlib.util

    from PIL import Image
    from ultralytics.utils import patches

    if importlib.util.find_spec('pi_heif') is None and Image.open is patches.image_open:
        Image.open = patches._image_open


def current_argv() -> None:
    """entrypoint reads the sys.argv ultralytics.cfg was imported with; ``loosen yolo
    ultralytics`` imports it (installing these patches) before it sets the command's own,
    and may run several commands in one process: read sys.argv as it is at the call."""
    from ultralytics import cfg

    def make(entrypoint):
        def entry(*args, **kwargs):
            cfg.ARGV = sys.argv
            return entrypoint(*args, **kwargs)
        return entry

    wrap(cfg, 'entrypoint', make)


def checked_options() -> None:
    """Every run's options pass check_dict_alignment (the ``yolo`` command line's, then each
    trainer's, validator's, predictor's and exporter's): check their files there, before
    anything is built, written or downloaded."""
    from ultralytics import cfg

    def make(check_dict_alignment):
        def aligned(base, custom, *args, **kwargs):
            result = check_dict_alignment(base, custom, *args, **kwargs)  # keys first
            check('ultralytics', 'options', custom)
            return result
        return aligned

    wrap(cfg, 'check_dict_alignment', make)


def weights_not_downloaded() -> None:
    """attempt_download_asset fetches weights it cannot find here (yolo11n.pt) from GitHub:
    stop with one line, a ConnectionError too, as offline upstream code expects."""
    from ultralytics.utils import downloads

    wrap(downloads, 'attempt_download_asset', check_first(
        lambda file, *_, **__: weights(FRAMEWORKS['ultralytics'], 'model', file)))


def model_files() -> None:
    """``YOLO(name)`` turns a model name into its file with check_model_file_from_stem and
    reads a model YAML with yaml_model_load: one line for a name neither finds, before the
    command's own options are checked (the plain ``yolo`` command imports loosen there)."""
    from ultralytics.nn import tasks
    from ultralytics.utils import checks

    ultralytics = FRAMEWORKS['ultralytics']

    def make_stem(check_model_file_from_stem):
        def stem(name, *args, **kwargs):
            file = check_model_file_from_stem(name, *args, **kwargs)
            model(ultralytics, 'model', file)
            return file
        return stem

    wrap(checks, 'check_model_file_from_stem', make_stem)
    wrap(tasks, 'yaml_model_load', as_one_line(FileNotFoundError, lambda _, path, *__, **___: (
        unknown_model_yaml(ultralytics, ultralytics.subject('model', str(path)), str(path)))))


def checked_sources() -> None:
    """A predictor's ``source=`` reaches check_source only (not its options): check it there."""
    from ultralytics.data import build

    wrap(build, 'check_source', check_first(
        lambda value, *_, **__: source(FRAMEWORKS['ultralytics'], 'source', value)))


def device_errors() -> None:
    """select_device raises a many-line ValueError for a CUDA device this machine lacks:
    its first line, which names ``device=cpu``."""
    from ultralytics.utils import torch_utils

    def say(error: ValueError, *_, **__) -> str | None:
        return str(error).strip().splitlines()[0] if str(error).startswith('Invalid') else None

    wrap(torch_utils, 'select_device', as_one_line(ValueError, say))


def slot_transfer() -> None:
    """BaseModel.load keeps checkpoint tensors by name and shape, and an attention slot moves
    every later layer one on: the checkpoint's layers are renamed onto the model's first."""
    from ultralytics.nn import tasks
    from ultralytics.utils import LOGGER

    def make(load):
        def load_across_slots(self, weights, verbose=True):
            source = ((weights.get('ema') or weights['model']) if isinstance(weights, dict)
                      else weights)  # what load itself reads
            with transfer.renaming(source, self, LOGGER if verbose else None):
                return load(self, weights, verbose)
        return load_across_slots

    wrap(tasks.BaseModel, 'load', make)


PATCHES = (offline_env, module_names, offline_state, file_names, pil_open, current_argv,
           checked_options, weights_not_downloaded, model_files, checked_sources, device_errors,
           slot_transfer, one_line_errors)


def install() -> None:
    """Apply every patch; idempotent."""
    for patch in PATCHES:
        patch()
