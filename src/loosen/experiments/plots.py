"""The grid's other figures: gain over ``plain`` with its interval over seeds, and a heatmap
of the mean score (± std over seeds) per backbone and module, one panel per training size.

Each takes the figure's ``title`` (what, on which data and split) and the ``score``'s
name for its axis or colour bar; colours of the modules follow the radar's.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .radar import colour
from .statistics import CONFIDENCE


def interval_name(gains: pd.DataFrame) -> str:
    """What the gain plot's error bars are, in words, from the pairs behind them."""
    pairs = gains['pairs']
    seeds = (f'{pairs.min()}' if pairs.min() == pairs.max()
             else f'{pairs.min()}-{pairs.max()}')
    if pairs.max() < 2:
        return 'bars: gain on one seed (no interval: run more seeds)'
    return (f'bars: mean of the per-seed differences; error bars: {CONFIDENCE:.0%} '
            f't-interval over {seeds} paired seeds (an interval that leaves out 0 is a gain '
            'beyond seed noise)')


def gain_figure(gains: pd.DataFrame, archs: list[str], attentions: list[str], title: str,
                score: str) -> Figure:
    """Bars: mean gain in points per arch and module, one panel per size; error bars: the
    t-interval of ``statistics.paired_gain``."""
    sizes = sorted(gains['size'].unique())
    fig = Figure(figsize=(2.4 + 1.2 * len(archs), 1.2 + 2.8 * len(sizes)), layout='constrained')
    axes = fig.subplots(len(sizes), 1, squeeze=False, sharey=True)
    others = [a for a in attentions if a in set(gains['attention'])]
    width = 0.8 / max(len(others), 1)
    for ax, size in zip(axes[:, 0], sizes, strict=True):
        part = gains[gains['size'] == size].set_index(['arch', 'attention'])
        for k, attention in enumerate(others):
            rows = part.reindex([(a, attention) for a in archs])
            x = np.arange(len(archs)) + (k - (len(others) - 1) / 2) * width
            errors = np.vstack([rows['gain'] - rows['low'], rows['high'] - rows['gain']])
            ax.bar(x, rows['gain'], width, label=attention, yerr=np.nan_to_num(errors),
                   capsize=2, color=colour(attentions.index(attention)))
        ax.axhline(0, color='black', lw=0.8)
        ax.set_xticks(np.arange(len(archs)), archs)
        ax.set_ylabel(f'gain over plain\n(points of {score})', fontsize=9)
        ax.set_title(f'{size} training images', fontsize=10)
        ax.grid(axis='y', alpha=0.3)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc='outside lower center',
               fontsize=8, ncols=min(len(others), 8), frameon=False)
    wrap = int(14 * fig.get_figwidth())  # characters of the 9 pt title per line
    fig.suptitle(f'{title}\n{textwrap.fill(interval_name(gains), wrap)}', fontsize=9)
    return fig


def heatmap_figure(stats: pd.DataFrame, archs: list[str], attentions: list[str], title: str,
                   score: str) -> Figure:
    """Mean ± std over seeds per arch (rows) and attention (columns), one panel per size, on
    one colour scale with its bar."""
    sizes = sorted(stats['size'].unique())
    fig = Figure(figsize=(2.6 + 1.0 * len(attentions) * len(sizes), 1.6 + 0.55 * len(archs)),
                 layout='constrained')
    axes = fig.subplots(1, len(sizes), squeeze=False, sharey=True)
    low, high = float(stats['mean'].min()), float(stats['mean'].max())
    rotate = 45 if max(map(len, attentions)) * len(attentions) > 24 else 0
    for k, (ax, size) in enumerate(zip(axes[0], sizes, strict=True)):
        part = stats[stats['size'] == size]
        mean = part.pivot_table(index='arch', columns='attention', values='mean')
        mean = mean.reindex(index=archs, columns=attentions)
        std = part.pivot_table(index='arch', columns='attention', values='std', dropna=False)
        std = std.reindex(index=archs, columns=attentions)
        text = [[_cell(m, s) for m, s in zip(mr, sr, strict=True)]
                for mr, sr in zip(mean.to_numpy(), std.to_numpy(), strict=True)]
        last = k == len(sizes) - 1
        sns.heatmap(mean, annot=np.array(text, dtype=object), fmt='', cmap='viridis',
                    vmin=low, vmax=high, ax=ax, cbar=last, annot_kws={'fontsize': 8},
                    cbar_kws={'label': f'{score} (%), mean over seeds'} if last else None)
        ax.set_title(f'{size} training images', fontsize=10)
        ax.set_xlabel('attention module')
        ax.set_ylabel('backbone' if k == 0 else '')
        ax.tick_params(axis='x', labelrotation=rotate)
        ax.tick_params(axis='y', labelrotation=0)
    fig.suptitle(f'{title}\ncells: mean ± std over seeds', fontsize=9)
    return fig


def _cell(mean: float, std: float) -> str:
    if not np.isfinite(mean):
        return ''
    return f'{mean:.1f}' if not np.isfinite(std) else f'{mean:.1f}\n± {std:.1f}'
