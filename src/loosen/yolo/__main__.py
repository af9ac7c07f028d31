"""``python -m loosen.yolo train|val|detect|export ARGS...``: YOLOv5's own scripts, with
loosen's modules, YAMLs and offline patches installed first (also under torchrun)."""
import sys

from .cli import main

sys.exit(main())
