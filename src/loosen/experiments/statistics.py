"""The grid's numbers: every cell's row, mean and spread over seeds, gain over ``plain``.

The score of a cell is what the paper's Figure 2 plots: test accuracy in percent for
classification, mAP@0.5 in percent for detection. The gain of a module over ``plain`` is
paired by seed (same subset, data order and budget), with a 95 % t-interval and a paired
t-test over seeds; a gain "exceeds noise" when that interval leaves out zero. The gap
between two split kinds is not paired (their seeds draw different splits): Welch's
interval and t-test over the seeds of each.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from .spec import BASELINE, GIVEN, GridSpec, read_result

CONFIDENCE = 0.95
AXES = ['size', 'arch', 'attention']


def collect(spec: GridSpec) -> pd.DataFrame:
    """One row per finished cell, in grid order, with its ``score``."""
    rows = [row for cell in spec.cells() if (row := read_result(spec, cell)) is not None]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    for column in ('accuracy', 'map50'):
        if column not in frame:
            frame[column] = np.nan
    detection = frame['task'] == 'detection'
    frame['score'] = 100 * frame['accuracy'].where(~detection, frame['map50'])
    return frame


def split_parts(frame: pd.DataFrame, splits: list[str]) -> dict[str, pd.DataFrame]:
    """The rows of each split kind (rows without a ``split`` are the data's own, ``given``)."""
    if frame.empty:
        return {split: frame for split in splits}
    kind = frame['split'].fillna(GIVEN) if 'split' in frame else pd.Series(GIVEN, frame.index)
    return {split: frame[kind == split] for split in splits}


def done(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame['status'] == 'done'] if not frame.empty else frame


def seed_stats(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation (n-1) and number of seeds of the score per cell."""
    grouped = done(frame).groupby(AXES, sort=False)['score']
    return grouped.agg(mean='mean', std='std', seeds='count').reset_index()


def paired_gain(diffs: np.ndarray) -> dict[str, float]:
    """Mean of per-seed differences, its 95 % t-interval and the paired t-test's p."""
    n = len(diffs)
    mean = float(diffs.mean())
    if n < 2:
        return {'gain': mean, 'low': np.nan, 'high': np.nan, 'p': np.nan, 'pairs': n}
    sem = float(diffs.std(ddof=1) / np.sqrt(n))
    half = float(scipy_stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * sem)
    p = float(scipy_stats.ttest_1samp(diffs, 0.0).pvalue) if sem > 0 else float(mean == 0)
    return {'gain': mean, 'low': mean - half, 'high': mean + half, 'p': p, 'pairs': n}


def beyond_noise(low: Any, high: Any) -> Any:
    """Whether an interval (or a column of them) leaves out zero: a difference beyond noise."""
    return (low > 0) | (high < 0)


def paired_text(found: dict[str, float], digits: int = 2) -> str:
    """``paired_gain``'s result in words: the difference, its interval and the verdict."""
    if np.isnan(found['low']):
        return f"{found['gain']:+.{digits}f} (one seed: no noise estimate)"
    verdict = 'exceeds' if beyond_noise(found['low'], found['high']) else 'within'
    return (f"{found['gain']:+.{digits}f} [{found['low']:+.{digits}f}, "
            f"{found['high']:+.{digits}f}], {verdict} seed noise")


def gains(frame: pd.DataFrame) -> pd.DataFrame:
    """Gain in score points of each module over ``plain``, same arch, size and seeds."""
    table = done(frame).pivot_table(index=['size', 'arch', 'seed'], columns='attention',
                                    values='score')
    rows = []
    if BASELINE not in table:
        return pd.DataFrame(rows)
    for (size, arch), part in table.groupby(level=['size', 'arch'], sort=False):
        for attention in part.columns.drop(BASELINE):
            pair = part[[attention, BASELINE]].dropna()
            if len(pair):
                found = paired_gain((pair[attention] - pair[BASELINE]).to_numpy())
                rows.append({'size': size, 'arch': arch, 'attention': attention, **found})
    result = pd.DataFrame(rows)
    if not result.empty:
        result['exceeds_noise'] = beyond_noise(result['low'], result['high'])
    return result


def ranking(stats: pd.DataFrame) -> pd.DataFrame:
    """Per size: each module's mean rank over the archs (1 = best) and mean score."""
    ranked = stats.assign(rank=stats.groupby(['size', 'arch'])['mean'].rank(ascending=False))
    table = ranked.groupby(['size', 'attention'], sort=False).agg(
        mean_rank=('rank', 'mean'), mean_score=('mean', 'mean')).reset_index()
    return table.sort_values(['size', 'mean_rank', 'mean_score'], ascending=[True, True, False])


def split_gap(high: pd.DataFrame, low: pd.DataFrame) -> pd.DataFrame:
    """Per size, arch and module: the mean score under split ``high`` minus that under
    ``low`` (the rows of each), Welch's 95 % interval and t-test over their seeds."""
    rows = []
    a, b = done(high), done(low)
    for (size, arch, attention), part in a.groupby(AXES, sort=False):
        other = b[(b['size'] == size) & (b['arch'] == arch) & (b['attention'] == attention)]
        x, y = part['score'].to_numpy(), other['score'].to_numpy()
        if not len(y):
            continue
        row = {'size': size, 'arch': arch, 'attention': attention, 'high': x.mean(),
               'low': y.mean(), 'gap': x.mean() - y.mean(), 'lo': np.nan, 'hi': np.nan,
               'p': np.nan}
        if min(len(x), len(y)) >= 2 and (x.std() > 0 or y.std() > 0):
            test = scipy_stats.ttest_ind(x, y, equal_var=False)
            found = test.confidence_interval(CONFIDENCE)
            row.update(lo=found.low, hi=found.high, p=test.pvalue)
        rows.append(row)
    result = pd.DataFrame(rows)
    if not result.empty:
        result['exceeds_noise'] = (result['lo'] > 0) | (result['hi'] < 0)
    return result
