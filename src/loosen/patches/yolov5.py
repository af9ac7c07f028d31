"""The old name of ``loosen.yolo.patches.yolov5``, kept so that code written for it
(``loosen.patches.yolov5.install()``) runs unchanged: the same module, not a copy."""
import sys

from ..yolo.patches import yolov5

sys.modules[__name__] = yolov5
