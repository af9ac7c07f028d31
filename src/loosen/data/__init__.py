"""Aurora data: image folders, YRS import, honest splits, and the synthetic all-sky generator.

The training engine reads ``ImageFolderSplit`` (real folders) or ``SyntheticAurora``
(the built-in default, nothing to download); both yield ``(RGB image, label)``.
"""
from .check import CheckReport, check_tree
from .folder import IMAGE_EXTENSIONS, SPLITS, ImageFolderSplit, find_splits, open_image
from .split import stratified_split, subsample, time_block_split
from .synth import (
    CORE_CLASSES,
    SKY_CLASSES,
    SyntheticAurora,
    register_sky_class,
    render_frame,
    write_synthetic,
)
from .synth_det import DET_CLASSES, render_scene, write_detection
from .yrs import YRS_CLASSES, default_yrs_dir, import_yrs

__all__ = [
    'CORE_CLASSES',
    'DET_CLASSES',
    'IMAGE_EXTENSIONS',
    'SKY_CLASSES',
    'SPLITS',
    'YRS_CLASSES',
    'CheckReport',
    'ImageFolderSplit',
    'SyntheticAurora',
    'check_tree',
    'default_yrs_dir',
    'find_splits',
    'import_yrs',
    'open_image',
    'register_sky_class',
    'render_frame',
    'render_scene',
    'stratified_split',
    'subsample',
    'time_block_split',
    'write_detection',
    'write_synthetic',
]
