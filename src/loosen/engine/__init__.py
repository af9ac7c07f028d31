"""Train, test and predict: the engine behind ``loosen train``, ``loosen test`` and
``loosen predict`` (and the seed's ``python -m loosen.train`` / ``loosen.test``).

Modules, one concept each: ``config`` (the one configuration), ``flags`` (every command
line onto it), ``data`` (datasets, timm transforms, samplers, loaders), ``model``,
``runtime`` (device, torchrun, seeding), ``train`` (the loop), ``evaluate``,
``test``, ``predict``, ``checkpoint`` (atomic, data-only), ``metrics``, ``report``,
``recipes`` (the paper's training recipes).
"""
from .._lazy import lazy_names

_LAZY = {  # public name -> the module defining it (loaded on first use: torch and timm)
    'EngineConfig': '.config', 'parse': '.flags', 'predict': '.predict', 'run_test': '.test',
    'train': '.train', 'export_weights': '.checkpoint', 'load_checkpoint': '.checkpoint',
    'save_checkpoint': '.checkpoint',
}
__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_names(__name__, _LAZY)
