"""YOLOv5's and Ultralytics' own scripts, run in this process after loosen's patches for
them: what ``loosen yolo ACTION`` and the YOLO parts of other commands call."""
from __future__ import annotations

from collections.abc import Sequence

from ..patches import launch

# action -> (upstream module run as __main__, its patches' module)
SCRIPTS: dict[str, tuple[str, str]] = {
    'train': ('yolov5.train', 'yolov5'),
    'val': ('yolov5.val', 'yolov5'),
    'detect': ('yolov5.detect', 'yolov5'),
    'export': ('yolov5.export', 'yolov5'),
    'ultralytics': ('ultralytics.cfg:entrypoint', 'ultralytics'),  # the `yolo` command
}


def install(framework: str) -> None:
    """Install loosen's patches for ``'yolov5'`` or ``'ultralytics'``."""
    from importlib import import_module
    import_module(f'loosen.yolo.patches.{framework}').install()


def run_script(action: str, argv: Sequence[str]) -> int:
    """Run upstream script ``action`` with ``argv`` after installing its patches."""
    module, framework = SCRIPTS[action]
    return launch.run_target(module, list(argv), module=True,
                             setup=[lambda: install(framework)])
