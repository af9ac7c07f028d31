"""Train, test and predict: the engine behind ``loosen train``, ``loosen test`` and
``loosen predict`` (and the seed's ``python -m loosen.train`` / ``loosen.test``).

Modules, one concept each: ``config`` (the one configuration), ``flags`` (every command
line onto it), ``data`` (datasets, timm transforms, samplers, loaders), ``model``,
``runtime`` (device, torchrun, seeding), ``train`` (the loop), ``evaluate``,
``test``, ``predict``, ``checkpoint`` (atomic, data-only), ``metrics``, ``report``,
``recipes`` (the paper's training recipes).
"""
from .checkpoint import export_weights, load_checkpoint, save_checkpoint
from .config import EngineConfig
from .flags import parse
from .predict import predict
from .test import run_test
from .train import train

__all__ = ['EngineConfig', 'export_weights', 'load_checkpoint', 'parse', 'predict', 'run_test',
           'save_checkpoint', 'train']
