"""What ``loosen bench accuracy`` leaves in its folder: ``results.csv`` (one row per cell),
``report.md`` (mean +- std over seeds, gains over plain with their intervals, a ranking
per regime, which differences exceed noise), ``radar_<size>.png`` (Figure 2's form),
``gain.png`` and ``heatmap.png``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..data.folder import scan_split
from .grid import BASELINE, GridSpec
from .plots import gain_figure, heatmap_figure
from .radar import radar_data, radar_figure
from .regimes import subset_info
from .summary import CONFIDENCE, collect, gains, ranking, seed_stats


def score_name(spec: GridSpec) -> str:
    """What a cell's score is, as the paper's Figure 2 plots it."""
    detection = any(c.detection for c in spec.cells())
    return 'test accuracy in %' + (' (YOLOv5: mAP@0.5 in %)' if detection else '')


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
    archs, attentions = spec.archs, [BASELINE, *[a for a in spec.attentions if a != BASELINE]]
    lines = [header, '']
    failed = frame[frame['status'] == 'failed'] if not frame.empty else frame
    lines.append(f'**Cells:** {len(frame) - len(failed)} done, {len(failed)} failed, '
                 f'{len(spec.cells()) - len(frame)} not run, of {len(spec.cells())}, '
                 f'{frame["wall_seconds"].sum() / 60 if len(frame) else 0:.0f} min of cell time '
                 'in all (sum over cells). '
                 f'**Score:** {score_name(spec)}, on the {spec.test_split}/ split, of the '
                 'model after the last epoch.')
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
        present = [a for a in archs if a in set(stats[stats['size'] == size]['arch'])]
        radar = radar_data(stats[stats['size'] == size], present, attentions)
        caption = radar_caption(spec, stats[stats['size'] == size], size)
        _save(radar_figure(radar, f'{size} training images', caption), out / f'radar_{size}.png')
    verdict = _noise_line(gain, _seeds(stats) if len(stats) else '0')
    lines += ['', '## Which differences are real', '', verdict, '']
    if not stats.empty:
        _save(heatmap_figure(stats, archs, attentions), out / 'heatmap.png')
        lines.append('![mean score per backbone and module](heatmap.png)')
    if not gain.empty:
        _save(gain_figure(gain, archs, attentions), out / 'gain.png')
        lines.append('![gain over plain](gain.png)')
    (out / 'report.md').write_text('\n'.join(lines) + '\n')
    return frame


def _seeds(stats: pd.DataFrame) -> str:
    """How many seeds the means are over: '3', or '2-3' where some cells are missing."""
    low, high = int(stats['seeds'].min()), int(stats['seeds'].max())
    return str(high) if low == high else f'{low}-{high}'


def radar_caption(spec: GridSpec, stats: pd.DataFrame, size: int) -> str:
    return (f'{score_name(spec).capitalize()} on {spec.test_split}/, mean over '
            f'{_seeds(stats)} seed(s), after {size} training images. Each axis has its own '
            'scale, [low, high] under its name (centre side to rim); the number at each vertex '
            'is the value.')


def _save(fig: Figure, path: Path) -> None:
    fig.savefig(path, dpi=110)
