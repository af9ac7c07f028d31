"""What ``loosen bench accuracy`` leaves in its folder: ``results.csv`` (one row per cell),
``report.md`` (mean +- std over seeds, gains over plain with their intervals, a ranking
per regime, which differences exceed noise; on a split axis, per split kind, with each
kind's leak count, the score gap between kinds and their rankings), ``radar_<size>.png``
(Figure 2's form), ``gain.png`` and ``heatmap.png`` (on a split axis: ``<split>_`` each)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..data.folder import scan_split
from ..data.leakage import LEAK_SECONDS
from ..errors import LoosenError
from .plots import gain_figure, heatmap_figure
from .radar import radar_data, radar_figure
from .regimes import HONEST_SPLIT, subset_info
from .selection import SELECTS
from .spec import BASELINE, GIVEN, GridSpec
from .statistics import (
    CONFIDENCE,
    collect,
    done,
    gains,
    ranking,
    seed_stats,
    split_gap,
    split_parts,
)


def metric_names(spec: GridSpec) -> dict[str, str]:
    """What each arch's score is: 'accuracy', or 'mAP50' for the YOLOv5 cells."""
    detection = {c.arch for c in spec.cells() if c.detection}
    return {arch: 'mAP50' if arch in detection else 'accuracy' for arch in spec.archs}


def _reported(spec: GridSpec, split: str | None) -> str:
    """The split the score is on: of one split kind, or of each kind of the grid."""
    if split is not None or not spec.split_axis:
        return f'{spec.reported_split(split or GIVEN)}/'
    return ', '.join(f'{spec.reported_split(s)}/ ({s})' for s in spec.splits)


def score_name(spec: GridSpec, split: str | None = None) -> str:
    """What a cell's score is, and on which split, as the paper's Figure 2 plots it."""
    detection = 'mAP50' in metric_names(spec).values()
    return (f'accuracy on {_reported(spec, split)} in %'
            + (" (YOLOv5: mAP@0.5 on its dataset's val/, in %)" if detection else ''))


def score_label(spec: GridSpec, split: str | None = None) -> str:
    """The score's short name, for an axis or a colour bar."""
    detection = 'mAP50' in metric_names(spec).values()
    return f'accuracy on {_reported(spec, split)}' + (' or mAP50' if detection else '')


def module_order(spec: GridSpec) -> list[str]:
    """The modules in the order of every table, legend and colour: ``plain`` first."""
    return [BASELINE, *[a for a in spec.attentions if a != BASELINE]]


def data_name(spec: GridSpec) -> str:
    return 'synthetic aurora' if spec.data == 'synthetic' else Path(spec.data).name


def figure_title(spec: GridSpec, what: str, split: str = GIVEN) -> str:
    """A figure's title: what it shows, the score and its split, the data and the models."""
    kind = f', {split} split' if spec.split_axis else ''
    return (f'{what}: {score_label(spec, split)} (%), {data_name(spec)}{kind}\n'
            f'{len(spec.archs)} backbones x {len(spec.attentions)} attention modules '
            f'({spec.preset} preset)')


def _figure_tag(spec: GridSpec, split: str) -> str:
    """The prefix of a split kind's figure files: none without a split axis."""
    return f'{split}_' if spec.split_axis else ''


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
    lines = [header, '']
    failed = frame[frame['status'] == 'failed'] if not frame.empty else frame
    lines.append(f'**Cells:** {len(frame) - len(failed)} done, {len(failed)} failed, '
                 f'{len(spec.cells()) - len(frame)} not run, of {len(spec.cells())}, '
                 f'{frame["wall_seconds"].sum() / 60 if len(frame) else 0:.0f} min of cell time '
                 'in all (sum over cells). '
                 f'**Score:** {score_name(spec)}, of {SELECTS[spec.select]}.')
    for row in failed.itertuples():
        lines.append(f'- failed: `{row.key}`: {row.error}')
    lines += ['', '## Training subsets', '', _subsets(spec)]
    parts = split_parts(frame, spec.splits)
    for split in spec.splits:
        lines += _chance(spec, split)
    if spec.split_axis:
        lines += _protocol(spec, parts)
    for split in spec.splits:
        lines += _split_sections(spec, parts[split], split)
    lines += ['', '## Which differences are real', '']
    for split in spec.splits:
        part = parts[split]
        stats = seed_stats(part)
        verdict = _noise_line(gains(part), _seeds(stats) if len(stats) else '0')
        lines += [f'**{split} split:** {verdict}' if spec.split_axis else verdict, '']
    written = {path.name for path in write_figures(spec, frame)}
    for split in spec.splits:
        tag = _figure_tag(spec, split)
        if f'{tag}heatmap.png' in written:
            lines.append(f'![mean score per backbone and module]({tag}heatmap.png)')
        if f'{tag}gain.png' in written:
            lines.append(f'![gain over plain]({tag}gain.png)')
    (out / 'report.md').write_text('\n'.join(lines) + '\n')
    return frame


def _subsets(spec: GridSpec) -> str:
    """One row per training subset: sizes and, for a re-split, its val/test leak counts."""
    rows = []
    for cell in {(c.split, c.size, c.seed, c.detection): c for c in spec.cells()}.values():
        info = subset_info(spec, cell)
        row = {**({'split': cell.split} if spec.split_axis else {}), 'size': cell.size,
               'seed': cell.seed, 'task': 'detection' if cell.detection else 'classification',
               **{k: v for k, v in info.items() if not isinstance(v, dict) and k != 'split'}}
        for later, leaked in info.get('leaked', {}).items():
            row[f'{later} leaked'] = _leak_text(leaked, info['frames'][later],
                                                info['timed'][later])
        rows.append(row)
    table = pd.DataFrame(rows)
    lines = [_table(table.fillna('–') if spec.split_axis else table)]
    short = table[table['used'] < table['requested']]
    if len(short):
        asked = ', '.join(map(str, sorted(set(short['requested']))))
        have = sorted(set(short['available']))  # a re-split's train share varies by seed
        counts = f'{have[0]}' if len(have) == 1 else f'{have[0]} to {have[-1]} (by split)'
        lines += ['', f'**Fewer images than asked:** the data has {counts} training images, '
                  f'so the size(s) {asked} used all of them (those regimes are the same data).']
    return '\n'.join(lines)


def _leak_text(leaked: int, frames: int, timed: int) -> str:
    """'12 of 40 (30.0 %)', and how many frames had no time to compare by."""
    untimed = f', {frames - timed} without a time not counted' if timed < frames else ''
    return f'{leaked} of {frames} ({100 * leaked / max(frames, 1):.1f} %{untimed})'


def _chance(spec: GridSpec, split: str) -> list[str]:
    """The chance levels on the reported split of ``split``'s first seed."""
    first = next((c for c in spec.cells() if not c.detection and c.split == split), None)
    if first is None:
        return []
    name = spec.reported_split(split)
    _, samples = scan_split(spec.subset_dir(first), name)
    counts = np.bincount([label for _, label in samples])
    where = f'{split} split, seed {first.seed}: ' if spec.split_axis else ''
    return ['', f'Chance levels on {where}{name}/ ({len(samples)} images): always '
            f'answering the most common class scores {100 * counts.max() / counts.sum():.1f} '
            f'%, answering at random {100 / len(counts):.1f} %.']


def _split_sections(spec: GridSpec, frame: pd.DataFrame, split: str) -> list[str]:
    """Per training size: mean ± std, gain over plain and ranking of ``split``'s cells."""
    stats, gain = seed_stats(frame), gains(frame)
    archs, attentions = spec.archs, module_order(spec)
    title = f'{split} split, ' if spec.split_axis else ''
    lines = []
    for size in spec.train_sizes:
        if stats.empty or size not in set(stats['size']):
            continue
        seeds = _seeds(stats[stats['size'] == size])
        lines += ['', f'## {title}{size} training images', '',
                  f'Mean ± std over {seeds} seeds ({score_name(spec, split)}):', '',
                  _mean_std(stats, size, archs, attentions)]
        part = gain[gain['size'] == size] if not gain.empty else gain
        if not part.empty:  # in the grid's order
            part = part.sort_values(['arch', 'attention'], key=lambda c: c.map(
                {n: k for k, n in enumerate([*archs, *attentions])}))
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
                  '', f'![radar {size}]({_figure_tag(spec, split)}radar_{size}.png)']
    return lines


def _protocol(spec: GridSpec, parts: dict[str, pd.DataFrame]) -> list[str]:
    """What each split kind leaks, and what it does to the scores and the ranking."""
    lines = ['', '## What the split does', '',
             f'Leaked: val/test frames with a train frame within {LEAK_SECONDS:g} s '
             '(`loosen data check`\'s window), summed over seeds:', '']
    rows = []
    for split in spec.splits:
        infos = [subset_info(spec, c) for c in
                 {(c.size, c.seed): c for c in spec.cells() if c.split == split}.values()]
        row = {'split': split}
        for later in ('val', 'test'):
            counts = [sum(i.get(k, {}).get(later, 0) for i in infos)
                      for k in ('leaked', 'frames', 'timed')]
            row[f'{later} leaked'] = _leak_text(*counts) if counts[1] else 'not counted'
        rows.append(row)
    lines.append(_table(pd.DataFrame(rows)))
    low = HONEST_SPLIT
    for high in [s for s in spec.splits if s != low and low in spec.splits]:
        gap = split_gap(parts[high], parts[low])
        if gap.empty:
            continue
        shown = gap.assign(interval=[f'[{a:+.1f}, {b:+.1f}]' if np.isfinite(a) else 'none'
                                     for a, b in zip(gap['lo'], gap['hi'], strict=True)])
        shown = shown.rename(columns={'high': high, 'low': low, 'gap': f'{high} - {low}'})
        lines += ['', f'Gap {high} - {low} (points, mean over seeds; Welch {CONFIDENCE:.0%} '
                  'interval and t-test, unpaired: each seed draws its own split):', '',
                  _table(shown[['size', 'arch', 'attention', high, low, f'{high} - {low}',
                                'interval', 'p', 'exceeds_noise']], '.3g')]
    ranks = {s: ranking(seed_stats(parts[s])) for s in spec.splits if not done(parts[s]).empty}
    if len(ranks) > 1:
        table = pd.concat([r.set_index(['size', 'attention'])['mean_rank'].rename(s)
                           for s, r in ranks.items()], axis=1).reset_index()
        lines += ['', 'Ranking of the modules under each split (mean rank over backbones, '
                  '1 = best):', '', _table(table)]
    return lines


def _seeds(stats: pd.DataFrame) -> str:
    """How many seeds the means are over: '3', or '2-3' where some cells are missing."""
    low, high = int(stats['seeds'].min()), int(stats['seeds'].max())
    return str(high) if low == high else f'{low}-{high}'


def radar_caption(spec: GridSpec, stats: pd.DataFrame, size: int, split: str = GIVEN) -> str:
    return (f'Vertices: {score_name(spec, split)} of {SELECTS[spec.select]}, trained on '
            f'{size} images, mean over {_seeds(stats)} seed(s); whiskers: ± 1 std over '
            'seeds; beside each axis: mean ± std per module.')


def grid_figures(spec: GridSpec, frame: pd.DataFrame, common_scale: bool = False
                 ) -> dict[str, Figure]:
    """``[<split>_]radar_<size>.png``, ``heatmap.png`` and ``gain.png`` of the grid's rows
    (per split kind on a split axis), by file name; ``common_scale``: one scale for every
    radar axis."""
    figures = {}
    for split, rows in split_parts(frame, spec.splits).items():
        figures.update(_split_figures(spec, rows, split, common_scale))
    return figures


def _split_figures(spec: GridSpec, frame: pd.DataFrame, split: str, common_scale: bool
                   ) -> dict[str, Figure]:
    stats, gain = seed_stats(frame), gains(frame)
    archs, attentions = spec.archs, module_order(spec)
    tag, figures = _figure_tag(spec, split), {}
    for size in spec.train_sizes:
        part = stats[stats['size'] == size] if not stats.empty else stats
        if part.empty:
            continue
        present = [a for a in archs if a in set(part['arch'])]
        radar = radar_data(part, present, attentions, metric_names(spec), common_scale)
        figures[f'{tag}radar_{size}.png'] = radar_figure(
            radar, figure_title(spec, f'{size} training images', split),
            radar_caption(spec, part, size, split))
    if not stats.empty:
        figures[f'{tag}heatmap.png'] = heatmap_figure(stats, archs, attentions, figure_title(
            spec, 'Mean score', split), score_label(spec, split))
    if not gain.empty:
        figures[f'{tag}gain.png'] = gain_figure(gain, archs, attentions, figure_title(
            spec, 'Gain over plain', split), score_label(spec, split))
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
