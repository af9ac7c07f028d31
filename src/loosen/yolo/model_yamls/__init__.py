"""Model YAML templates for YOLOv5 and Ultralytics, rendered by ``loosen.yolo.models``."""
