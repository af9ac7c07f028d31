"""The paper's release, as facts: the comparison set, where each attention module comes
from, and what the release fixes per backbone family.

The one definition of each: the ``paper`` grid preset, ``loosen bench cost``, the
backbones' options at the paper's spot (``ArchSpec.paper_attention``, ``ArchSpec.recipe``)
and the YOLOv5 YAMLs all read them here. The attention layer below knows how to build a
module, not whether the release has it.
"""
from __future__ import annotations

from ..attention import list_attentions as _registered
from ..errors import unknown_name

# the paper's comparison (its Figure 2: every backbone, YOLOv5 included): LA and six modules
COMPARISON = ('la', 'ca', 'sa', 'cbam', 'psca', 'fsa', 'gcsa')
# what its detection (YOLOv5) code adds; its MCLA is only named there (a YAML uses it, its
# common.py never defines it), so loosen's ``mlca`` is the seed's MLCA
DETECTION_EXTRAS = ('se', 'eca', 'simam', 'nam', 'cca', 'mlca')
# the modules of its detection runs: the comparison and those extras, so every release module
DETECTION = (*COMPARISON, *DETECTION_EXTRAS)
# written from the project's seed write-ups (../shared/seeds), not from the release
SEEDS = ('mlca', 'lma', 'lesa', 'lesa_window', 'sam')

SOURCES = {
    'release': "in the LA paper's released code (its classification, ViT, RMT or YOLOv5 part)",
    'seed': "from the project's seed write-ups (../shared/seeds), not in the paper's release",
    'extra': 'neither in the release nor in the seeds: an extra contender timm ships',
}

# the backbone families of the release's three classification code bases
FAMILIES = ('cnn', 'vit', 'rmt')
# the training script of each, as a loosen recipe (loosen.engine.recipes)
RECIPES = {'cnn': 'paper-cnn', 'vit': 'paper-vit', 'rmt': 'paper-rmt'}
# GCSA's heads where the release places it: ``GCSA(C, 1, True)`` in AlexNet, ZFNet,
# ResNet-34, MobileNet and RMT, ``num_heads=4`` in its ViT, fixed at 8 in its YOLOv5
GCSA_HEADS = {'cnn': 1, 'rmt': 1, 'vit': 4, 'yolov5': 8}

# the YOLOv5 sizes that train as detection cells of a comparison, and YOLOv5 train.py's
# own epochs and batch, for a comparison that leaves them open
DETECTION_ARCHS = ('yolov5n', 'yolov5s')
YOLO_EPOCHS, YOLO_BATCH = 300, 16
# the paper's Figure 2 as the ``paper`` grid runs it: its backbones (YOLOv5n the detector),
# its 4k and 10k training regimes at 224 px; the seeds, the val and test frames per class
# and YOLOv5's 640 px are loosen's choices. ``loosen bench gpu`` projects its cost from them
PAPER_GRID = {'archs': ('resnet34', 'alexnet', 'zfnet', 'mobilenetv1', 'vit_paper', 'rmt_s',
                        'yolov5n'),
              'attentions': ('plain', *COMPARISON), 'train_sizes': (4000, 10000),
              'seeds': (0, 1, 2), 'img_size': 224, 'eval_per_class': 500, 'det_img_size': 640}


def provenance(attention: str) -> str:
    """Where ``attention`` comes from: a key of ``SOURCES``."""
    if attention in SEEDS:
        return 'seed'
    return 'release' if attention in (*COMPARISON, *DETECTION_EXTRAS) else 'extra'


def list_attentions(source: str | None = None) -> list[str]:
    """Every registered attention name, sorted; ``source`` ('release', 'seed', 'extra')
    keeps those of that provenance."""
    if source is not None and source not in SOURCES:
        raise unknown_name('attention source', source, SOURCES)
    return [name for name in _registered() if source in (None, provenance(name))]
