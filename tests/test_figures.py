"""Every figure loosen draws says what it shows: the model (or models), the split and the
metric in its title, labelled colour bars, intervals named, value labels that do not
print over each other. Checked on matplotlib's artists (texts, lines, tick positions,
bounding boxes), never on pixels."""
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

import loosen
from loosen.cli import main
from loosen.data import write_synthetic
from loosen.engine.config import EngineConfig
from loosen.engine.report import confusion_figure, curves_figure, run_title
from loosen.experiments.radar import INNER, OUTER, radar_data, radar_figure
from loosen.experiments.report import grid_figures, load_results
from loosen.experiments.spec import GridSpec
from loosen.explain import files

ARCHS, MODULES = ['mobilenetv1', 'resnet34', 'alexnet'], ['plain', 'la', 'cbam']
# means close on the same axis, as in the committed yrs-aurora radar (48.3 and 47.4 on
# AlexNet, 42.5 and 43.0 on MobileNet), where the old vertex labels printed over each other
MEANS = {'mobilenetv1': (44.5, 43.0, 42.5), 'resnet34': (60.0, 61.0, 57.4),
         'alexnet': (31.6, 47.4, 48.3)}
SPREAD = 0.9  # the seeds lie at mean - 0.9, mean, mean + 0.9: std 0.9


def texts(fig: Figure) -> list[Text]:
    """Every visible, non-empty text of ``fig`` and its axes (titles, labels, annotations,
    tick labels)."""
    found = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return list(dict.fromkeys(found))


def all_text(fig: Figure) -> str:
    return '\n'.join(t.get_text() for t in texts(fig))


def overlaps(fig: Figure, found: list[Text]) -> list[tuple[str, str]]:
    """Pairs of ``found`` texts whose drawn boxes intersect."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # lays out the legend and the constrained layout
    renderer = canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in found]
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
            if box_a.overlaps(box_b)]


def grid_rows(detection: bool = False) -> pd.DataFrame:
    """results.csv rows of a 2-size, 3-seed grid with the MEANS above (and YOLOv5 cells)."""
    rows = []
    archs = {**MEANS, **({'yolov5n': (80.0, 82.0, 81.0)} if detection else {})}
    for size, (arch, means), seed in itertools.product((256, 640), archs.items(), range(3)):
        for attention, mean in zip(MODULES, means, strict=True):
            rows.append({'key': f'{arch}_{attention}_n{size}_s{seed}', 'arch': arch,
                         'attention': attention, 'size': size, 'seed': seed,
                         'task': 'detection' if arch == 'yolov5n' else 'classification',
                         'status': 'done', 'wall_seconds': 1.0,
                         'score': mean + (size == 640) + SPREAD * (seed - 1)})
    return pd.DataFrame(rows)


def grid_spec(tmp_path: Path, detection: bool = False) -> GridSpec:
    return GridSpec(out=str(tmp_path), data='/data/yrs-aurora',
                    archs=[*ARCHS, *(['yolov5n'] if detection else [])], attentions=MODULES,
                    train_sizes=[256, 640], seeds=[0, 1, 2], epochs=8, img_size=64,
                    batch_size=32, lr=2e-3, eval_per_class=50, test_split='val', preset='cpu')


def radar_of(common: bool = False):
    stats = pd.DataFrame([{'arch': a, 'attention': t, 'mean': m, 'std': SPREAD}
                          for a, means in MEANS.items()
                          for t, m in zip(MODULES, means, strict=True)])
    return radar_data(stats, ARCHS, MODULES, common_scale=common)


def test_radar_values_do_not_print_over_each_other():
    fig = radar_figure(radar_of(), 'title', 'caption')
    ax = fig.axes[0]
    values = [t for t in ax.texts if any(ch.isdigit() for ch in t.get_text())]
    # every mean appears once, with its spread
    for means in MEANS.values():
        for attention, mean in zip(MODULES, means, strict=True):
            assert sum(t.get_text() == f'{attention} {mean:.1f} ± {SPREAD:.1f}'
                       for t in values) == 1
    assert overlaps(fig, texts(fig)) == []


def test_radar_draws_each_modules_spread_at_every_vertex():
    radar = radar_of()
    fig = radar_figure(radar, 'title', 'caption')
    ax = fig.axes[0]
    # whiskers: two-point radial lines at an axis's angle, from mean - std to mean + std
    whiskers = [line for line in ax.get_lines() if len(line.get_xdata()) == 2
                and line.get_xdata()[0] == line.get_xdata()[1]]
    assert len(whiskers) == len(ARCHS) * len(MODULES)
    ends = {(round(float(w.get_xdata()[0]), 6), w.get_color()): sorted(w.get_ydata())
            for w in whiskers}
    polygons = {line.get_label(): line.get_color() for line in ax.get_lines()
                if line.get_label() in MODULES}
    for (i, attention), (j, angle) in itertools.product(enumerate(MODULES),
                                                         enumerate(radar.angles)):
        low, high = ends[(round(float(angle), 6), polygons[attention])]
        mean = radar.values[i, j]
        assert low == pytest.approx(float(radar.radius(np.array(mean - SPREAD))[j]))
        assert high == pytest.approx(float(radar.radius(np.array(mean + SPREAD))[j]))
        assert INNER <= low < radar.radii[i, j] < high <= OUTER


def test_radar_says_its_axes_scales_and_has_a_common_scale_option():
    own = radar_of()
    assert len(set(own.low)) > 1  # the backbones differ by tens of points
    caption = all_text(radar_figure(own, 'title', 'caption'))
    assert 'Each axis has its own scale' in caption
    for j, arch in enumerate(ARCHS):
        assert f'accuracy [{own.low[j]:g}, {own.high[j]:g}] %' in caption, arch
    common = radar_of(common=True)
    assert len(set(common.low)) == 1 and len(set(common.high)) == 1
    text = all_text(radar_figure(common, 'title', 'caption'))
    assert f'All axes share one scale, [{common.low[0]:g}, {common.high[0]:g}]' in text
    assert 'own scale' not in text


def test_grid_figures_name_the_data_split_metric_and_interval(tmp_path):
    figures = grid_figures(grid_spec(tmp_path), grid_rows())
    assert sorted(figures) == ['gain.png', 'heatmap.png', 'radar_256.png', 'radar_640.png']
    for name, fig in figures.items():
        title = fig.get_suptitle()
        assert 'accuracy on val/ (%)' in title and 'yrs-aurora' in title, name
        assert '3 backbones x 3 attention modules' in title, name
        assert 'test' not in all_text(fig), name  # the score is on val/: nothing says test
    radar = all_text(figures['radar_640.png'])
    assert 'mean over 3 seed(s)' in radar and '± 1 std over seeds' in radar
    gain = figures['gain.png']
    assert '95% t-interval over 3 paired seeds' in ' '.join(gain.get_suptitle().split())
    assert all('points of accuracy on val/' in ax.get_ylabel() for ax in gain.axes)


def test_heatmap_has_a_labelled_colour_bar_and_ticks_that_do_not_collide(tmp_path):
    fig = grid_figures(grid_spec(tmp_path), grid_rows())['heatmap.png']
    panels = [ax for ax in fig.axes if ax.get_title()]
    bars = [ax for ax in fig.axes if not ax.get_title()]
    assert [ax.get_title() for ax in panels] == ['256 training images', '640 training images']
    assert len(bars) == 1 and bars[0].get_ylabel() == 'accuracy on val/ (%), mean over seeds'
    assert all(ax.get_xlabel() == 'attention module' for ax in panels)
    ticks = [t for ax in panels for t in (*ax.get_xticklabels(), *ax.get_yticklabels())
             if t.get_text()]
    assert {t.get_text() for t in panels[0].get_yticklabels()} == set(ARCHS)
    assert overlaps(fig, ticks + [ax.xaxis.label for ax in panels]
                    + [ax.yaxis.label for ax in panels if ax.get_ylabel()]) == []
    assert '49.3\n± 0.9' in [t.get_text() for t in panels[1].texts]  # alexnet, cbam at 640


def test_the_radar_gets_a_yolov5_axis_in_map50_when_the_grid_has_detection_cells(tmp_path):
    fig = grid_figures(grid_spec(tmp_path, detection=True), grid_rows(detection=True))[
        'radar_256.png']
    text = all_text(fig)
    assert 'yolov5n' in text and 'mAP50 [' in text
    assert 'accuracy on val/ or mAP50 (%)' in fig.get_suptitle()
    assert "mAP@0.5 on its dataset's val/" in text
    assert sum(t.get_text() == 'la 82.0 ± 0.9' for t in fig.axes[0].texts) == 1


def test_accuracy_plots_redraws_a_kept_grid_from_its_table(tmp_path, capsys):
    spec = grid_spec(tmp_path / 'elsewhere')  # the folder it was made in is gone
    kept = tmp_path / 'kept'
    kept.mkdir()
    (kept / 'grid.json').write_text(json.dumps(spec.to_dict()))
    grid_rows().to_csv(kept / 'results.csv', index=False)
    loaded, frame = load_results(kept)
    assert loaded.root == kept.resolve() and len(frame) == 54
    assert main(['bench', 'accuracy-plots', str(kept), '--common-scale']) == 0
    assert {p.name for p in kept.glob('*.png')} == {'gain.png', 'heatmap.png', 'radar_256.png',
                                                    'radar_640.png'}
    (kept / 'results.csv').unlink()
    assert main(['bench', 'accuracy-plots', str(kept)]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'results.csv is missing' in err


def test_curves_name_the_run_and_count_whole_epochs(tmp_path):
    config = EngineConfig(model='mobilenetv1_la', data='folder', data_root='/data/yrs-aurora')
    config.write_yaml(tmp_path / 'config.yaml')
    assert run_title(tmp_path) == 'mobilenetv1_la on yrs-aurora'
    history = [{'epoch': e, 'train_loss': 1.0 / e, 'val_loss': 1.1 / e, 'train_accuracy': 0.5,
                'val_accuracy': 0.4, 'val_macro_f1': 0.3} for e in (1, 2, 3)]
    fig = curves_figure(history, run_title(tmp_path))
    assert fig.get_suptitle() == 'Training curves: mobilenetv1_la on yrs-aurora'
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks == [1, 2, 3]  # whole epochs only, never 1.5
        assert ax.get_xlabel() == 'epoch'
    labels = [line.get_label() for ax in fig.axes for line in ax.get_lines()]
    assert labels == ['loss on train/', 'loss on val/', 'accuracy on train/',
                      'accuracy on val/', 'macro-F1 on val/']
    assert run_title(tmp_path / 'no-config') == 'no-config'


def test_the_confusion_matrix_names_model_split_and_its_scales():
    matrix = np.array([[5, 1], [2, 4]])
    fig = confusion_figure(matrix, ['arc', 'hotspot'], 'alexnet_la on val/ (12 images)')
    assert fig.get_suptitle() == 'Confusion matrix: alexnet_la on val/ (12 images)'
    bars = sorted(ax.get_ylabel() for ax in fig.axes if not ax.get_title())
    assert bars == ['images', 'share of the true class']
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert {ax.get_xlabel() for ax in panels} == {'predicted class'}
    assert [t.get_text() for t in panels[1].texts] == ['0.83', '0.17', '0.33', '0.67']


def test_explanation_panels_name_method_class_and_layer(tmp_path):
    root = tmp_path / 'frames'
    write_synthetic(root, 1, 64, 3, ['arc', 'hotspot'], split={'val': 1.0})
    torch.manual_seed(0)
    model = loosen.create_model('alexnet', 'la', num_classes=2, fc_dim=32).eval()
    paths = sorted((root / 'val').rglob('*.png'))
    items = [files.Explained(p, torch.randn(3, 64, 64), p.parent.name) for p in paths]
    batch = files.Batch(model, 'alexnet_la', ['arc', 'hotspot'], items, 'frames/val')
    files.run(batch, ['layercam', 'la'], files.resolve_class('hotspot', batch.classes), None, 2)
    fig = files.sheet(batch, batch.items, ['layercam', 'la'], mask_fov=True)
    assert fig.get_suptitle() == ('Where alexnet_la looks: layercam, la on 2 image(s) from '
                                  'frames/val')
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    layercam = [t for t in titles if t.startswith('layercam')]
    gate = [t for t in titles if t.startswith('la\n')]
    assert len(layercam) == len(gate) == 2
    for title in layercam:  # the class asked for, not the predicted one, and the layer
        assert 'class hotspot (asked)' in title and 'layer features.' in title
        assert 'FOV ' in title and 'structure ' in title
    for title in gate:
        assert 'no class' in title and 'LA module features.' in title
    bars = {ax.get_ylabel() for ax in fig.axes if not ax.get_title()}
    assert bars == {'layercam, scaled to [0, 1]', "LA's gate S (multiplies the features)"}
    legend = fig.get_supxlabel()
    assert "share of the map's mass" in legend and 'of the frame' in legend
    # without the shares, no share line and no legend
    plain = files.sheet(batch, batch.items[:1], ['la'], mask_fov=False)
    assert plain.get_supxlabel() == ''
    assert all('FOV' not in ax.get_title() for ax in plain.axes)
