"""timm's own model contract, run against every loosen model.

``make`` extracts ``tests/test_models.py`` of the pinned timm release (from its source
distribution on the package index, at install time) into ``test_timm_models.py`` beside
this file. Before pytest imports it, ``timm.list_models`` is narrowed to loosen's
registered names, so every parametrised test of that file (forward, backward, default
cfgs, features_only, torchscript, torch.fx forward and backward) runs over loosen's
models with timm's own filters and size limits; its tests of named timm models (resnet18,
test_convnext...) are not about loosen and are deselected.

``LOOSEN_TIMM_MODELS`` (space-separated fnmatch patterns) picks the models. By default
(``DEFAULT``) every architecture with LA and without attention (``*_la *_plain``: AlexNet,
ZFNet, MobileNetV1, ResNet-34, RMT-T, RMT-S, ViT-Tiny/Small/Base and the release's ViT)
and every attention module on the cheapest backbone (``mobilenetv1_*``): 39 models.
``LOOSEN_TIMM_MODELS='*'`` (``make test-timm-all``) runs all of loosen's models.
"""
from __future__ import annotations

import fnmatch
import os

import pytest
import timm
import timm.models

import loosen.models

_upstream_list_models = timm.list_models
DEFAULT = '*_la *_plain mobilenetv1_*'
PATTERNS = os.environ.get('LOOSEN_TIMM_MODELS', DEFAULT).split()
OURS = frozenset(n for n in loosen.models.list_models()
                 if any(fnmatch.fnmatch(n, p) for p in PATTERNS))


def list_loosen_models(*args: object, **kwargs: object) -> list[str]:
    """``timm.list_models`` with its filters, over loosen's models only."""
    return [n for n in _upstream_list_models(*args, **kwargs) if n.split('.')[0] in OURS]


timm.list_models = timm.models.list_models = list_loosen_models  # before test_models imports it


def pytest_collection_finish(session: pytest.Session) -> None:
    """timm's file keeps the narrowed name it imported; the rest of the session (loosen's
    own tests, collected in the same run) gets timm's own ``list_models`` back."""
    timm.list_models = timm.models.list_models = _upstream_list_models


def pytest_configure(config: pytest.Config) -> None:
    for marker in ('base', 'cfg', 'cfg_nonstd', 'forward', 'backward', 'torchscript', 'features',
                   'fxforward', 'fxbackward', 'timeout(seconds)'):
        config.addinivalue_line('markers', f'{marker}: a marker of timm\'s test_models.py')


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, 'callspec', None), 'params', {})
        mine = str(item.path).startswith(here)
        (drop if mine and params.get('model_name') not in OURS else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
