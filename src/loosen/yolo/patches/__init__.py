"""What makes upstream YOLOv5 and Ultralytics build loosen's model YAMLs and run offline.

``yolov5.install()`` and ``ultralytics.install()`` apply one framework's patches; the
pieces both use: ``names`` (the YAML names of the attention modules), ``parse`` (their
input widths filled in), ``transfer`` (weights moved across the attention slot) and
``oneline`` (bad input ends in one line). Each patch is a small named function with a
one-line reason, built on the generic helpers of ``loosen.patches``; nothing in
site-packages is edited and no upstream code is copied.
"""
