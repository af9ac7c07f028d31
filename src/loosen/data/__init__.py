"""Aurora data: image folders, YRS import, honest splits, and the synthetic all-sky generator.

The training engine reads ``ImageFolderSplit`` (real folders) or ``SyntheticAurora``
(the built-in default, nothing to download); both yield ``(RGB image, label)``.
Each name below loads its module on first use, so ``loosen data check`` starts fast.
"""
from __future__ import annotations

from .._lazy import lazy_names

_LAZY = {  # public name -> the module defining it
    'CheckReport': '.check', 'check_tree': '.check',
    'IMAGE_EXTENSIONS': '.folder', 'SPLITS': '.folder', 'ImageFolderSplit': '.folder',
    'find_splits': '.folder', 'open_image': '.folder',
    'stratified_split': '.split', 'subsample': '.split', 'time_block_split': '.split',
    'CORE_CLASSES': '.synth', 'SKY_CLASSES': '.synth', 'SyntheticAurora': '.synth',
    'register_sky_class': '.synth', 'render_frame': '.synth', 'write_synthetic': '.synth',
    'DET_CLASSES': '.synth_det', 'render_scene': '.synth_det', 'write_detection': '.synth_det',
    'YRS_CLASSES': '.yrs', 'default_yrs_dir': '.yrs', 'import_yrs': '.yrs',
}
__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_names(__name__, _LAZY)
