"""What makes upstream scripts see loosen's modules, whatever the library: the start-up
hook (``hook``, ``loosen_hook.pth``), the script launcher (``launch``) and the helpers
every patch is built with (``wrap``, ``callers``).

Each patch is a small named function with a one-line reason, applied at import or
launch time; nothing in site-packages is edited and no upstream code is copied. The
YOLOv5 and Ultralytics patches live with the rest of that integration, in
``loosen.yolo.patches``.
"""
