"""The old name of ``loosen.yolo.patches.ultralytics``, kept so that code written for it
(``loosen.patches.ultralytics.install()``) runs unchanged: the same module, not a copy."""
import sys

from ..yolo.patches import ultralytics

sys.modules[__name__] = ultralytics
