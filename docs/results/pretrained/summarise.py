"""The three grids side by side: mean ± std over seeds, and the paired effect of each change.

Usage: python summarise.py   (in the folder holding scratch/, pretrained/ and identity/, each
a grid's results.csv; this folder's copies reproduce the README's tables). Prints Markdown.
"""
import pandas as pd

from loosen.experiments.statistics import paired_gain

STARTS = {'scratch': 'from scratch', 'pretrained': 'pretrained',
          'identity': 'pretrained, identity start'}
rows = pd.concat([pd.read_csv(f'{g}/results.csv').assign(start=g) for g in STARTS])
rows[['accuracy', 'macro_f1']] *= 100


def spread(part: pd.DataFrame, column: str, digits: int = 1) -> str:
    return f'{part[column].mean():.{digits}f} ± {part[column].std():.{digits}f}'


def scores(start: str, attention: str, metric: str) -> pd.Series:
    part = rows[(rows.start == start) & (rows.attention == attention)]
    return part.set_index('seed')[metric].sort_index()


print('| start | model | val accuracy % | val macro-F1 % | epoch-1 train loss | '
      'epoch-1 val loss |')
print('|---|---|---|---|---|---|')
for start, label in STARTS.items():
    for attention in ('plain', 'la', 'cbam'):
        part = rows[(rows.start == start) & (rows.attention == attention)]
        print(f'| {label} | mobilenetv1_{attention} | {spread(part, "accuracy")} | '
              f'{spread(part, "macro_f1")} | {spread(part, "first_train_loss", 3)} | '
              f'{spread(part, "first_val_loss", 3)} |')
same = scores('pretrained', 'plain', 'accuracy').equals(scores('identity', 'plain', 'accuracy'))
print(f'\nplain cells of the pretrained and identity grids are equal: {same}\n')
print('| difference (paired by seed) | accuracy, points [95 % interval] | macro-F1, points '
      '[95 % interval] | exceeds noise |')
print('|---|---|---|---|')
PAIRS = [(f'pretrained - scratch, {a}', ('pretrained', a), ('scratch', a))
         for a in ('plain', 'la', 'cbam')] + [
    (f'{a} - plain, {label}', (start, a), (start, 'plain'))
    for a in ('la', 'cbam') for start, label in STARTS.items()] + [
    (f'identity - paper start, {a}', ('identity', a), ('pretrained', a)) for a in ('la', 'cbam')]
for label, first, second in PAIRS:
    found = [paired_gain((scores(*first, m) - scores(*second, m)).to_numpy())
             for m in ('accuracy', 'macro_f1')]
    cells = [f'{f["gain"]:+.1f} [{f["low"]:+.1f}, {f["high"]:+.1f}]' for f in found]
    noise = any(f['low'] > 0 or f['high'] < 0 for f in found)
    print(f'| {label} | {cells[0]} | {cells[1]} | {"yes" if noise else "no"} |')
