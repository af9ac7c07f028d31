"""What makes upstream scripts (timm's, YOLOv5's, Ultralytics') see loosen's modules.

Each patch is a small named function with a one-line reason, applied at import or
launch time; nothing in site-packages is edited and no upstream code is copied.
"""
