"""Detection with upstream YOLOv5 and Ultralytics, all of it in this folder: loosen's model
YAMLs (``model_yamls``, ``models``), the patches that let upstream build them and run
offline (``patches``), weight transfer across the attention slot, the synthetic set,
file checks, launchers that run the upstream scripts after those patches, and the YOLO
bench (``loosen bench yolo``)."""
