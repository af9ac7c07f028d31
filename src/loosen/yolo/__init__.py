"""Detection with upstream YOLOv5 and Ultralytics: loosen's model YAMLs, the synthetic
set, and launchers that run the upstream scripts after ``loosen.patches`` are installed."""
