"""The grid's other figures: gain over ``plain`` with its interval over seeds, and a heatmap
of the mean score per backbone and module (one panel per training size)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import colormaps
from matplotlib.figure import Figure


def gain_figure(gains: pd.DataFrame, archs: list[str], attentions: list[str]) -> Figure:
    """Bars: mean gain in points per arch and module; error bars: the 95 % t-interval.
    Colours follow ``attentions`` as in the radar."""
    sizes = sorted(gains['size'].unique())
    fig = Figure(figsize=(1.6 + 1.1 * len(archs), 2.8 * len(sizes)), layout='tight')
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
                   capsize=2, color=colormaps['tab10'](attentions.index(attention) % 10))
        ax.axhline(0, color='black', lw=0.8)
        ax.set_xticks(np.arange(len(archs)), archs)
        ax.set_ylabel('gain over plain (points)')
        ax.set_title(f'{size} training images', fontsize=10)
    axes[0, 0].legend(fontsize=8, ncols=min(len(others), 6))
    return fig


def heatmap_figure(stats: pd.DataFrame, archs: list[str], attentions: list[str]) -> Figure:
    """Mean score (percent) per arch (rows) and attention (columns), one panel per size."""
    sizes = sorted(stats['size'].unique())
    fig = Figure(figsize=(1.5 + 0.9 * len(attentions) * len(sizes), 1.2 + 0.5 * len(archs)),
                 layout='tight')
    axes = fig.subplots(1, len(sizes), squeeze=False)
    for ax, size in zip(axes[0], sizes, strict=True):
        table = stats[stats['size'] == size].pivot_table(index='arch', columns='attention',
                                                         values='mean')
        table = table.reindex(index=archs, columns=attentions)
        sns.heatmap(table, annot=True, fmt='.1f', cmap='viridis', ax=ax, cbar=False)
        ax.set_title(f'{size} training images', fontsize=10)
    return fig
