"""What ``loosen bench accuracy`` leaves in its folder: ``results.csv`` (one row per cell),
``report.md`` (mean +- std over seeds, gains over plain with their intervals, a ranking
per regime, which differences exceed noise), ``radar_<size>.png`` (Figure 2's form),
``gain.png`` and ``heatmap.png``."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..data.folder import scan_split
from ..errors import LoosenError
from .plots import gain_figure, heatmap_figure
from .radar import radar_data, radar_figure
from .regimes import subset_info
from .spec import BASELINE, GridSpec
from .statistics import CONFIDENCE, collect, gains, ranking, seed_stats


def metric_names(spec: GridSpec) -> dict[str, str]:
    """What each arch's score is: 'accuracy', or 'mAP50' for the YOLOv5 cells."""
    detection = {c.arch for c in spec.cells() if c.detection}
    return {arch: 'mAP50' if arch in detection else 'accuracy' for arch in spec.archs}


def score_name(spec: GridSpec) -> str:
    """What a cell's score is, and on which split, as the paper's Figure 2 plots it."""
    detection = 'mAP50' in metric_names(spec).values()
    return (f'accuracy on {spec.test_split}/ in %'
            + (" (YOLOv5: mAP@0.5 on its dataset's val/, in %)" if detection else ''))


def score_label(spec: GridSpec) -> str:
    """The score's short name, for an axis or a colour bar."""
    detection = 'mAP50' in metric_names(spec).values()
    return f'accuracy on {spec.test_split}/' + (' or mAP50' if detection else '')


def module_order(spec: GridSpec) -> list[str]:
    """The modules in the order of every table, legend and colour: ``plain`` first."""
    return [BASELINE, *[a for a in spec.attentions if a != BASELINE]]


def data_name(spec: GridSpec) -> str:
    return 'synthetic aurora' if spec.data == 'synthetic' else Path(spec.data).name


def figure_title(spec: GridSpec, what: str) -> str:
    """A figure's title: what it shows, the score and its split, the data and the models."""
    return (f'{what}: {score_label(spec)} (%), {data_name(spec)}\n{len(spec.archs)} backbones x '
            f'{len(spec.attentions)} attention modules ({spec.preset} preset)')


def _table(frame: pd.DataFrame, floatfmt: str = '.2f') -> str:
    """A markdown table of ``frame``, floats as ``floatfmt``."""
    def cell(value: object) -> str:
        return format(value, floatfmt) if isinstance(value, float) else str(value)
    lines = ['| ' + ' | '.join(map(str, frame.columns)) + ' |',
             '|' + '---|' * len(frame.columns)]
    lines += ['| ' + ' | '.join(cell(v) for v in row) + ' |'
              for row in frame.itertuples(index=False)]
    return '\n'.join(lines)


def _mean_std(stats: pd.DataFrame, size: int, archs: list[str], attentions: list[str]) -> str:
    part = stats[stats['size'] == size].set_index(['arch', 'attention'])
    rows = []
    for arch in archs:
        row = {'arch': arch}
        for attention in attentions:
            if (arch, attention) in part.index:
                found = part.loc[(arch, attention)]
                spread = '' if np.isnan(found['std']) else f' ± {found["std"]:.1f}'
                row[attention] = f'{found["mean"]:.1f}{spread}'
            else:
                row[attention] = '–'
        rows.append(row)
    return _table(pd.DataFrame(rows))


def _noise_line(gain: pd.DataFrame, seeds: str) -> str:
    """The plain-language verdict on which gains over plain exceed seed noise."""
    if gain.empty or gain['pairs'].max() < 2:
        return ('With one seed per cell there is no estimate of noise: no difference can be '
                'called real. Run more --seeds.')
    real = gain[gain['exceeds_noise']]
    level = f'{CONFIDENCE:.0%} interval over {seeds} paired seeds'
    if real.empty:
        return (f'No module differs from plain by more than seed noise (every {level} '
                'contains zero): on this budget the ranking above is not evidence of a real '
                'difference.')
    named = '; '.join(f'{r.attention} on {r.arch} at {r.size} ({r.gain:+.1f} points, '
                      f'[{r.low:+.1f}, {r.high:+.1f}])' for r in real.itertuples())
    return (f'Differences from plain beyond seed noise ({level} leaves out zero): {named}. '
            f'The other {len(gain) - len(real)} of {len(gain)} comparisons are within noise.')


def write_outputs(spec: GridSpec, header: str) -> pd.DataFrame:
    """Write every output file from the cells finished so far; returns their rows."""
    out = spec.root
    frame = collect(spec)
    frame.to_csv(out / 'results.csv', index=False, float_format='%.6g')
    stats, gain = seed_stats(frame), gains(frame)
    archs, attentions = spec.archs, module_order(spec)
    lines = [header, '']
    failed = frame[frame['status'] == 'failed'] if not frame.empty else frame
    lines.append(f'**Cells:** {len(frame) - len(failed)} done, {len(failed)} failed, '
                 f'{len(spec.cells()) - len(frame)} not run, of {len(spec.cells())}, '
                 f'{frame["wall_seconds"].sum() / 60 if len(frame) else 0:.0f} min of cell time '
                 'in all (sum over cells). '
                 f'**Score:** {score_name(spec)}, of the model after the last epoch.')
    for row in failed.itertuples():
        lines.append(f'- failed: `{row.key}`: {row.error}')
    lines += ['', '## Training subsets', '']
    subsets = [{'size': c.size, 'seed': c.seed, 'task': 'detection' if c.detection else
                'classification', **subset_info(spec, c)}
               for c in {(c.size, c.seed, c.detection): c for c in spec.cells()}.values()]
    table = pd.DataFrame(subsets).drop(columns='per_class', errors='ignore')
    lines.append(_table(table))
    first = next((c for c in spec.cells() if not c.detection), None)
    if first is not None:
        _, samples = scan_split(spec.subset_dir(first), spec.test_split)
        counts = np.bincount([label for _, label in samples])
        lines += ['', f'Chance levels on {spec.test_split}/ ({len(samples)} images): always '
                  f'answering the most common class scores {100 * counts.max() / counts.sum():.1f} '
                  f'%, answering at random {100 / len(counts):.1f} %.']
    short = table[table['used'] < table['requested']]
    if len(short):
        asked = ', '.join(map(str, sorted(set(short['requested']))))
        lines += ['', f'**Fewer images than asked:** the data has {short["available"].iloc[0]} '
                  f'training images, so the size(s) {asked} used all of them (those regimes '
                  'are the same data).']
    for size in spec.train_sizes:
        if stats.empty or size not in set(stats['size']):
            continue
        seeds = _seeds(stats[stats['size'] == size])
        lines += ['', f'## {size} training images', '',
                  f'Mean ± std over {seeds} seeds ({score_name(spec)}):', '',
                  _mean_std(stats, size, archs, attentions)]
        part = gain[gain['size'] == size] if not gain.empty else gain
        if not part.empty:  # in the grid's order
            part = part.sort_values(['arch', 'attention'], key=lambda c: c.map(
                {n: k for k, n in enumerate([*archs, *attentions])}))
        if not part.empty:
            shown = part.assign(interval=[
                f'[{lo:+.2f}, {hi:+.2f}]' if np.isfinite(lo) else 'one seed: none'
                for lo, hi in zip(part['low'], part['high'], strict=True)])
            lines += ['', f'Gain over plain (points), paired by seed, {CONFIDENCE:.0%} '
                      't-interval and paired t-test:', '',
                      _table(shown[['arch', 'attention', 'gain', 'interval', 'p', 'pairs',
                                    'exceeds_noise']], '.3g')]
        ranks = ranking(stats[stats['size'] == size])
        lines += ['', 'Ranking (mean rank over backbones, 1 = best):', '',
                  _table(ranks[['attention', 'mean_rank', 'mean_score']]),
                  '', f'![radar {size}](radar_{size}.png)']
    verdict = _noise_line(gain, _seeds(stats) if len(stats) else '0')
    lines += ['', '## Which differences are real', '', verdict, '']
    written = {path.name for path in write_figures(spec, frame)}
    if 'heatmap.png' in written:
        lines.append('![mean score per backbone and module](heatmap.png)')
    if 'gain.png' in written:
        lines.append('![gain over plain](gain.png)')
    (out / 'report.md').write_text('\n'.join(lines) + '\n')
    return frame


def _seeds(stats: pd.DataFrame) -> str:
    """How many seeds the means are over: '3', or '2-3' where some cells are missing."""
    low, high = int(stats['seeds'].min()), int(stats['seeds'].max())
    return str(high) if low == high else f'{low}-{high}'


def radar_caption(spec: GridSpec, stats: pd.DataFrame, size: int) -> str:
    return (f'Vertices: {score_name(spec)} of the model after the last epoch, trained on '
            f'{size} images, mean over {_seeds(stats)} seed(s); whiskers: ± 1 std over '
            'seeds; beside each axis: mean ± std per module.')


def grid_figures(spec: GridSpec, frame: pd.DataFrame, common_scale: bool = False
                 ) -> dict[str, Figure]:
    """``radar_<size>.png``, ``heatmap.png`` and ``gain.png`` of the grid's rows, by file
    name; ``common_scale``: one scale for every radar axis."""
    stats, gain = seed_stats(frame), gains(frame)
    archs, attentions = spec.archs, module_order(spec)
    figures = {}
    for size in spec.train_sizes:
        part = stats[stats['size'] == size] if not stats.empty else stats
        if part.empty:
            continue
        present = [a for a in archs if a in set(part['arch'])]
        radar = radar_data(part, present, attentions, metric_names(spec), common_scale)
        figures[f'radar_{size}.png'] = radar_figure(
            radar, figure_title(spec, f'{size} training images'), radar_caption(spec, part, size))
    if not stats.empty:
        figures['heatmap.png'] = heatmap_figure(stats, archs, attentions, figure_title(
            spec, 'Mean score'), score_label(spec))
    if not gain.empty:
        figures['gain.png'] = gain_figure(gain, archs, attentions, figure_title(
            spec, 'Gain over plain'), score_label(spec))
    return figures


def write_figures(spec: GridSpec, frame: pd.DataFrame, common_scale: bool = False
                  ) -> list[Path]:
    """``grid_figures`` saved in the grid's folder; returns the files written."""
    written = []
    for name, fig in grid_figures(spec, frame, common_scale).items():
        fig.savefig(spec.root / name, dpi=110)
        written.append(spec.root / name)
    return written


NEEDED = ('arch', 'attention', 'size', 'seed', 'status', 'score')


def load_results(folder: Path) -> tuple[GridSpec, pd.DataFrame]:
    """The grid's settings (its ``out`` set to ``folder``) and its rows."""
    table, settings = folder / 'results.csv', folder / 'grid.json'
    for path in (table, settings):
        if not path.is_file():
            raise LoosenError(f'{path} is missing: give the folder of a grid that '
                              '`loosen bench accuracy` wrote')
    frame = pd.read_csv(table)
    missing = [c for c in NEEDED if c not in frame]
    if missing:
        raise LoosenError(f'{table} has no column {", ".join(missing)}: write it again with '
                          '`loosen bench accuracy` on the grid\'s folder')
    spec = dataclasses.replace(GridSpec.load(folder), out=str(folder.resolve()))
    return spec, frame
