"""``loosen explain``: where a trained model looks in image files, as figures, raw maps and
the share of each map's mass inside the field of view (and a synthetic frame's structure).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..commands import summary
from ..options import add_out
from .maps import get_method, list_methods

DESCRIPTION = ('Show where a trained model looks: for each image a PNG with the input, the '
               'prediction and the maps (LA\'s gate or a class activation map) over the sky, '
               'a grid PNG for the batch, and the raw maps as .npy.')


def _shares(row: dict) -> str:
    if row['fov_share'] == '':
        return 'flat maps (no mass to place)'
    text = f'{row["fov_share"]:.1%} of the mass inside the field of view'
    if row['structure_share'] != '':
        text += (f', {row["structure_share"]:.1%} inside the structure that makes the class '
                 f'({row["structure_area"]:.1%} of the area)')
    return text


def run_explain(args: argparse.Namespace) -> int:
    from . import files  # matplotlib and the decoding stack load only for this command

    methods = list(dict.fromkeys(args.method))
    for method in methods:
        get_method(method)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    batch = files.load(args.checkpoint, args.images, methods, args.layer, device)
    target = files.resolve_class(args.target_class, batch.classes)
    files.run(batch, methods, target, args.layer, args.batch_size)
    out = Path(args.out)
    files.write(out, batch, methods, args.mask_fov, args.summary)
    print(f'explained {len(batch.items)} images with {", ".join(methods)}: figures, grid.png '
          f'and .npy maps in {out}')
    if args.mask_fov or args.summary:
        for row in files.summary_rows(batch.items):
            print(f'  {row["class"]:>10} {row["method"]:>9}: {row["images"]} images, '
                  f'{_shares(row)}')
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser('explain', help=summary('explain'),
                            description=DESCRIPTION, allow_abbrev=False)
    p.add_argument('--checkpoint', required=True, help='best.pth of loosen train, or '
                   '.safetensors of --export-weights')
    p.add_argument('--images', nargs='+', required=True, metavar='PATH',
                   help='image files or folders of them')
    add_out(p, 'the figures, maps and tables', required=True)
    p.add_argument('--method', nargs='+', default=['gradcam'], metavar='METHOD',
                   help=f'one or more of {", ".join(list_methods())} (default: gradcam)')
    p.add_argument('--target-class', default=None, metavar='CLASS',
                   help='class to explain, by name or index; default: the predicted one')
    p.add_argument('--layer', default=None, help='CAM target layer by module name; default: '
                   'the architecture\'s (see loosen.explain.targets)')
    p.add_argument('--mask-fov', action='store_true', help='report the share of each map\'s '
                   'mass inside the field of view (and a synthetic frame\'s structure), and '
                   'colour only inside the circle')
    p.add_argument('--summary', action='store_true',
                   help='write those shares per class to summary.csv')
    p.add_argument('--batch-size', type=int, default=8, help='images per pass (default: 8)')
    p.add_argument('--device', default=None, help='default: cuda when present, else cpu')
    p.set_defaults(run=run_explain)
