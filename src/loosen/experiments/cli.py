"""``loosen bench accuracy``: the paper's Figure 2 as a grid you can rerun, on your data.

One cell per (backbone, attention module, training size, seed). Within a size and seed
every cell trains on the same stratified subset, in the same order, with the same
augmentation seed and budget, so the module is the one difference; ``plain`` (no module)
is always in the grid. Cells run in worker processes here (``--executor local --jobs N``)
or as Ray tasks on a cluster (``--executor ray --address HOST:PORT``, the extra
``loosen[cluster]``; the output folder must be on a disk the workers share). Run the
same command again to resume: finished cells are skipped, a killed cell continues from
its last checkpoint, and the cells that failed (each listed in the report with its
error) are tried again.

``--split random,blocks`` puts the paper's protocol next to the honest one: each kind pools
every frame of ``--data`` and splits it again per seed (60/20/20), stratified at random
(the paper's; near-duplicate frames straddle the splits) or in time blocks with a gap
(loosen's); the report gives each split's leak count, the score gap and both rankings.
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from ..attention import list_attentions
from ..attention.start import STARTS
from ..engine.config import COMPILE
from ..errors import LoosenError, unknown_name
from ..models import list_archs
from ..models.release import DETECTION_ARCHS
from ..options import add_out, add_threads
from .executors import EXECUTORS, run_grid
from .flags import add_protocol_flags, int_list, name_list
from .presets import PRESETS, get_preset
from .regimes import SPLIT_KINDS, reported_split
from .report import load_results, write_figures, write_outputs
from .selection import check_selection
from .spec import BASELINE, GIVEN, GridSpec


def check_axes(archs: list[str], attentions: list[str], sizes: list[int]) -> list[str]:
    """The attention list with ``plain`` first; a LoosenError for unknown names or sizes."""
    for arch in archs:
        if arch not in list_archs() and arch not in DETECTION_ARCHS:
            raise unknown_name('arch', arch, [*list_archs(), *DETECTION_ARCHS])
    for attention in attentions:
        if attention != BASELINE and attention not in list_attentions():
            raise unknown_name('attention', attention, [BASELINE, *list_attentions()])
    if not sizes or min(sizes) < 1:
        raise LoosenError(f'--train-sizes {sizes}: give positive sizes, e.g. 4000,10000')
    return [BASELINE, *dict.fromkeys(a for a in attentions if a != BASELINE)]


def check_splits(splits: list[str], archs: list[str], data: str) -> list[str]:
    """The split kinds, once each; a LoosenError for what cannot be re-split."""
    for split in splits:
        if split not in SPLIT_KINDS:
            raise unknown_name('split', split, SPLIT_KINDS)
    resplit = [s for s in splits if s != GIVEN]
    detection = [a for a in archs if a in DETECTION_ARCHS]
    if resplit and detection:
        raise LoosenError(f'--split {resplit[0]} re-splits image folders, not the detection '
                          f'data of {detection[0]}; run detection archs with --split given')
    if 'blocks' in splits and data == 'synthetic':
        raise LoosenError('--split blocks needs frames with capture times; synthetic frames '
                          'have none: give --data a folder with labels.csv times')
    return list(dict.fromkeys(splits)) or [GIVEN]


def spec_from_args(args: argparse.Namespace) -> GridSpec:
    """The grid the flags ask for: the preset's values, each flag given overriding one."""
    preset = get_preset(args.preset)

    def pick(name: str) -> object:
        value = getattr(args, name)
        return getattr(preset, name) if value is None else value

    archs, sizes = list(pick('archs')), list(pick('train_sizes'))
    attentions = check_axes(archs, list(pick('attentions')), sizes)
    data = 'synthetic' if args.data == 'synthetic' else str(Path(args.data).resolve())
    splits = check_splits(args.split, archs, data)
    pretrained = args.pretrained
    if pretrained and not pretrained.startswith('timm:'):
        if not Path(pretrained).is_file():
            raise LoosenError(f'--pretrained {pretrained}: no such file; give the weights '
                              'every cell starts from (.pth, .safetensors) or timm:TAG')
        pretrained = str(Path(pretrained).resolve())
    det_weights = args.det_weights
    if det_weights:
        if not Path(det_weights).is_file():
            raise LoosenError(f'--det-weights {det_weights}: no such file (loosen never '
                              'downloads); put the checkpoint there, e.g. yolov5n.pt from '
                              "YOLOv5's releases page, or leave it out to train from scratch")
        det_weights = str(Path(det_weights).resolve())
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    gpus = args.gpus if args.gpus is not None else float(torch.cuda.is_available())
    spec = GridSpec(
        out=str(Path(args.out).resolve()), data=data, archs=archs, attentions=attentions,
        train_sizes=sizes, seeds=list(pick('seeds')), epochs=pick('epochs'),
        img_size=pick('img_size'), batch_size=pick('batch_size'), lr=pick('lr'),
        eval_per_class=preset.eval_per_class, det_data=args.det_data,
        det_img_size=preset.det_img_size,
        test_split='test' if data == 'synthetic' else reported_split(Path(data)),
        model_kwargs=preset.model_kwargs, recipes=preset.recipes, preset=args.preset,
        threads=threads, gpus=gpus, device=args.device, pretrained=pretrained,
        attention_init=None if args.attention_init == 'default' else args.attention_init,
        compile=args.compile, splits=splits, select=pick('select'), det_weights=det_weights)
    for split in spec.reported_splits():  # before anything is written
        check_selection(spec.select, split)
    return spec


def header(spec: GridSpec, argv: list[str], seconds: float) -> str:
    """Title, the command, the machine and the budget, for the top of ``report.md``."""
    recipe = "the recipe's"
    budget = (f'{spec.epochs or recipe} epochs, batch {spec.batch_size or recipe}, lr '
              f'{spec.lr or recipe}, {spec.img_size} px'
              + (", the paper's recipe per backbone" if spec.recipes else ''))
    return '\n'.join([
        '# Accuracy grid: backbones x attention modules x training sizes', '',
        f'`loosen bench accuracy {shlex.join(argv)}`', '',
        f'- preset `{spec.preset}`; data `{spec.data}` (reported split: {spec.test_split}/'
        + (f'; splits {", ".join(spec.splits)}: a re-split reports its test/' if spec.split_axis
           else '') + f'); detection data `{spec.det_data}`',
        f'- backbones {", ".join(spec.archs)}; modules {", ".join(spec.attentions)}; '
        f'training sizes {", ".join(map(str, spec.train_sizes))}; seeds '
        f'{", ".join(map(str, spec.seeds))}',
        f'- budget per cell: {budget}; start: {spec.pretrained or "from scratch"}, '
        + (f'YOLOv5 cells from {spec.det_weights}, ' if spec.det_weights else '')
        + f'attention {spec.attention_init or "as built"}; width options '
        f'{ {a: spec.model_kwargs[a] for a in spec.archs if a in spec.model_kwargs} or "none"}',
        f'- machine: {platform.machine()}, {os.cpu_count()} CPU(s), '
        f'{torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"}, '
        f'torch {torch.__version__}; {spec.threads} thread(s) per cell',
        f'- this invocation took {seconds / 60:.1f} min (finished cells are not rerun)'])


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    spec = spec_from_args(args)
    failed = run_grid(spec, args.executor, args.jobs, args.address, args.progress)
    argv = sys.argv[3:] if sys.argv[1:3] == ['bench', 'accuracy'] else []
    write_outputs(spec, header(spec, argv, time.perf_counter() - start))
    print(f'wrote {spec.root / "results.csv"}, report.md and plots'
          + (f'; {failed} cell(s) failed (see report.md)' if failed else ''))
    return 1 if failed else 0


PLOTS = """``loosen bench accuracy-plots DIR``: draw a finished grid's figures again from its
``results.csv`` and ``grid.json`` alone, without training or the data.

A grid's folder keeps its cells' runs only while it is being made; a folder that was
copied for keeping (``docs/results/accuracy/*``) has the table and the settings, and
that is all the radars, the heatmap and the gain plot are drawn from.
"""


def run_plots(args: argparse.Namespace) -> int:
    spec, frame = load_results(Path(args.folder))
    written = write_figures(spec, frame, args.common_scale)
    print(f'drew {", ".join(p.name for p in written)} in {spec.root} from {len(frame)} rows '
          'of results.csv')
    return 0


def add_parser(benches: argparse._SubParsersAction) -> None:
    """``loosen bench accuracy`` and ``loosen bench accuracy-plots``."""
    p = benches.add_parser('accuracy', help='the paper\'s Figure 2: accuracy of backbones x '
                           'attention modules x training sizes, over seeds',
                           description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', choices=PRESETS, default='cpu',
                   help='defaults for every flag below (default: cpu); see docs/results/')
    p.add_argument('--data', default='synthetic',
                   help='image folder with train/ and val/ (test/ is reported when present, '
                        'else val/), or synthetic (default)')
    p.add_argument('--det-data', default='synthetic',
                   help='YOLOv5 dataset YAML for yolov5n/yolov5s cells, or synthetic (default)')
    p.add_argument('--archs', type=name_list, help='backbones, e.g. resnet34,alexnet,yolov5n')
    p.add_argument('--attentions', type=name_list, help='modules, e.g. plain,la,cbam (plain is '
                   'always added)')
    p.add_argument('--train-sizes', type=int_list, help='training images per regime, e.g. '
                   '4000,10000')
    p.add_argument('--split', type=name_list, default=[GIVEN], metavar='KIND[,KIND]',
                   help=f'{"|".join(SPLIT_KINDS)}: the data\'s own splits (default), or all its '
                        'frames pooled and split again per seed, 60/20/20, stratified at random '
                        "(the paper's protocol) or in time blocks with a gap (loosen's)")
    p.add_argument('--epochs', type=int)
    p.add_argument('--img-size', type=int)
    p.add_argument('--batch-size', type=int)
    p.add_argument('--lr', type=float)
    p.add_argument('--pretrained', metavar='FILE|timm:TAG',
                   help='weights every classification cell starts from (the plain part; '
                        'attention at init), e.g. a best.pth of loosen train (default: none)')
    p.add_argument('--det-weights', metavar='FILE',
                   help='the checkpoint every YOLOv5 cell fine-tunes from, e.g. upstream '
                        "yolov5n.pt (moved across the attention slot; attention at init), "
                        'so the radar\'s YOLOv5 axis is the fine-tuned comparison (default: '
                        'none, from scratch)')
    p.add_argument('--attention-init', choices=tuple(STARTS), default='default',
                   help="'identity': every attention module starts as the identity, blended "
                        "in by a gate at 0 (default: as built, the paper's)")
    add_out(p, 'the grid, its cells and report (the same folder resumes)',
            default='runs/bench/accuracy')
    p.add_argument('--executor', choices=EXECUTORS, default='local')
    p.add_argument('--jobs', type=int, default=1, help='cells at once (local; default: 1)')
    p.add_argument('--address', help='Ray cluster address (ray; default: RAY_ADDRESS, or a '
                   'local Ray instance)')
    add_threads(p, zero='CPUs / jobs, per cell (Ray: its CPUs)')
    p.add_argument('--gpus', type=float, help='GPUs per cell for Ray (default: 1 if CUDA)')
    p.add_argument('--device', help='cpu or cuda (default: cuda when present)')
    p.add_argument('--compile', choices=COMPILE, nargs='?', const='on',
                   help="classification cells' models through torch.compile, as loosen train "
                        "--compile (default: loosen train's)")
    add_protocol_flags(p, "every cell's seed (default: the preset's)", None)
    p.add_argument('--progress', action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(run=run)
    p = benches.add_parser('accuracy-plots', help='draw a finished accuracy grid\'s radars, '
                           'heatmap and gain plot again from its results.csv',
                           description=PLOTS,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('folder', metavar='DIR', help='a grid\'s folder: results.csv and grid.json')
    p.add_argument('--common-scale', action='store_true', help='one scale for every radar '
                   'axis (default: each axis its own, as in the paper)')
    p.set_defaults(run=run_plots)
