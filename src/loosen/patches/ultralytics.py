"""Patches that let ``ultralytics`` build loosen's model YAMLs and run offline.

``install()`` applies them all, once; safe as soon as ``ultralytics.nn.tasks`` has been
imported (it imports it itself otherwise). Ultralytics' own names (its ``CBAM``) are
never replaced: a YAML that says ``CBAM`` gets Ultralytics' module there.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .names import add_names
from .parse import wrap_parse_model
from .wrap import wrap

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

    from ..yolo.files import resolve_file

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


def slot_transfer() -> None:
    """BaseModel.load keeps checkpoint tensors by name and shape, and an attention slot moves
    every later layer one on: the checkpoint's layers are renamed onto the model's first."""
    from ultralytics.nn import tasks
    from ultralytics.utils import LOGGER

    from . import transfer

    def make(load):
        def load_across_slots(self, weights, verbose=True):
            source = ((weights.get('ema') or weights['model']) if isinstance(weights, dict)
                      else weights)  # what load itself reads
            with transfer.renaming(source, self, LOGGER if verbose else None):
                return load(self, weights, verbose)
        return load_across_slots

    wrap(tasks.BaseModel, 'load', make)


PATCHES = (offline_env, module_names, offline_state, file_names, pil_open, slot_transfer)


def install() -> None:
    """Apply every patch; idempotent."""
    for patch in PATCHES:
        patch()
