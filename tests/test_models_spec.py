"""``ArchSpec`` is the one place for every per-architecture fact, ``models/release.py`` for
the release's: every arch sets each fact, and the layers above read them from there."""
import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import loosen
import loosen.models
from loosen.bench import cost, gpu_parts
from loosen.bench.la import step_models
from loosen.engine.recipes import RECIPES, recipe_for
from loosen.errors import LoosenError
from loosen.experiments import presets
from loosen.explain.targets import cam_target
from loosen.models import NCHW, NHWC, TOKENS, ArchSpec, get_arch, list_archs, model_arch
from loosen.models.release import (
    COMPARISON,
    DETECTION_EXTRAS,
    FAMILIES,
    GCSA_HEADS,
    SEEDS,
    SOURCES,
    provenance,
)

SIZE = 64
SRC = Path(loosen.__file__).parent
BACKBONE_MODULES = {'alexnet', 'mobilenet', 'resnet', 'rmt', 'vit', 'zfnet'}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope='module')
def narrow():
    """Every architecture with LA, in its narrow variant (as CPU runs build it)."""
    torch.manual_seed(0)
    return {a: loosen.create_model(a, 'la', num_classes=3, **get_arch(a).narrow).eval()
            for a in list_archs()}


@pytest.mark.parametrize('arch', list_archs())
def test_every_arch_sets_each_fact(arch):
    spec = get_arch(arch)
    assert spec.family in FAMILIES and spec.recipe in RECIPES
    with torch.device('meta'):  # no memory: the full model's size beside the narrow one's
        full, small = (loosen.create_model(arch, 'la', **kw) for kw in ({}, spec.narrow))
    assert n_params(small) < n_params(full) / 10  # narrow: for CPU runs
    assert spec.paper_attention['la'] == dict(spec.paper_la) and 'heads' in spec.paper_la
    assert spec.paper_attention['gcsa'] == {'heads': GCSA_HEADS[spec.family]}
    assert spec.latency_target > 0 and isinstance(spec.params_target, bool)
    assert spec.params_target == (spec.family == 'cnn')
    assert spec.step_placement in (None, *spec.placements)
    assert spec.cam_layer and callable(spec.cam_layout)


@pytest.mark.parametrize('arch', list_archs())
def test_the_default_cam_layer_is_a_module_of_the_built_model_and_gives_a_map(narrow, arch):
    model = narrow[arch]
    assert model_arch(model) is get_arch(arch)
    target = cam_target(model, None, (SIZE, SIZE))
    assert dict(model.named_modules())[target.name] is target.module
    assert target.reshape.layout == get_arch(arch).cam_layout(target.name, target.module)
    seen = {}
    handle = target.module.register_forward_hook(lambda m, i, o: seen.update(map=target.reshape(o)))
    with torch.no_grad():
        model(torch.randn(1, 3, SIZE, SIZE))
    handle.remove()
    assert seen['map'].dim() == 4 and seen['map'].shape[0] == 1
    layouts = {get_arch(arch).cam_layout(n, m) for n, m in model.named_modules() if n}
    assert layouts <= {NCHW, NHWC, TOKENS}


def test_the_layers_above_read_the_spec():
    for arch in list_archs():
        spec = get_arch(arch)
        assert recipe_for(arch) == recipe_for(f'{arch}_plain') == spec.recipe
        assert cost.latency_target(arch) == spec.latency_target
        assert gpu_parts.model_kwargs(arch, tiny=True) == dict(spec.narrow)
        assert gpu_parts.model_kwargs(arch, tiny=False) == {}
    cnns = [a for a in list_archs() if get_arch(a).family == 'cnn']
    assert {a: dict(get_arch(a).narrow) for a in cnns} == presets.NARROW_KWARGS
    assert presets.PRESETS['smoke'].model_kwargs == presets.PRESETS['cpu'].model_kwargs
    assert step_models() == [(a, get_arch(a).step_placement) for a in list_archs()
                             if get_arch(a).step_placement]
    assert ('vit_small', 'paper') in step_models()


def _imports(path: Path) -> set[str]:
    """Every module a file imports (module-level and inside functions), made absolute."""
    package = 'loosen.' + '.'.join(path.relative_to(SRC).parent.parts)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name('.' * node.level + (node.module or ''),
                                               package) if node.level else node.module
            found |= {base} | {f'{base}.{alias.name}' for alias in node.names}
    return found


@pytest.mark.parametrize('folder', ['explain', 'bench', 'experiments', 'engine', 'yolo'])
def test_no_layer_above_imports_a_backbone_class(folder):
    for path in sorted((SRC / folder).glob('*.py')):
        backbones = {m for m in _imports(path) if m.startswith('loosen.models.')
                     and m.split('.')[2] in BACKBONE_MODULES}
        assert not backbones, f'{path.name} imports {backbones}'


def test_the_comparison_set_and_provenance_are_defined_once():
    assert presets.PRESETS['paper'].attentions == ('plain', *COMPARISON)
    assert (*COMPARISON, *DETECTION_EXTRAS) == cost.MODULES
    names = loosen.list_attentions()
    assert {*COMPARISON, *DETECTION_EXTRAS, *SEEDS} <= set(names)
    by_source = {s: loosen.list_attentions(s) for s in SOURCES}
    assert sorted(n for found in by_source.values() for n in found) == names  # each in one
    assert set(COMPARISON) <= set(by_source['release'])
    assert provenance('mlca') == 'seed'  # only named in the release's YAML
    with pytest.raises(LoosenError, match="did you mean 'release'"):
        loosen.list_attentions('relase')
    assert not hasattr(loosen.attention.get_attention('la'), 'source')  # not in the layer below


def test_models_not_built_by_loosen_have_no_spec_and_no_default_cam_layer():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    with pytest.raises(LoosenError, match='not built by loosen'):
        model_arch(model)
    with pytest.raises(LoosenError, match='no default CAM layer'):
        cam_target(model, None, (SIZE, SIZE))
    assert cam_target(model, '1', (SIZE, SIZE)).reshape.layout == NCHW


def test_a_spec_refuses_an_unknown_family_or_step_placement():
    spec = get_arch('resnet34')
    fields = {f: getattr(spec, f) for f in ArchSpec.__dataclass_fields__}
    with pytest.raises(ValueError, match='family'):
        ArchSpec(**{**fields, 'family': 'mlp'})
    with pytest.raises(ValueError, match='step_placement'):
        ArchSpec(**{**fields, 'step_placement': 'stem'})


def test_timm_plugins_is_the_same_package_under_its_old_name():
    import loosen.timm_plugins
    from loosen.timm_plugins import create_model

    assert loosen.timm_plugins is loosen.models and create_model is loosen.models.create_model
    assert loosen.timm_plugins.list_models() == loosen.models.list_models()
    assert importlib.import_module('loosen.timm_plugins.rmt') is loosen.models.rmt
    # first thing imported in a fresh process: timm still sees every model, once
    code = ('import loosen.timm_plugins as t, timm; '
            'print(t.__name__, timm.is_model("rmt_s_la"), len(timm.list_models("*_plain")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ['loosen.models', 'True', str(len(list_archs()))]


def test_the_detection_runner_is_named_and_loaded_when_a_cell_runs():
    """experiments/ names its detection runner by string (tests/test_layers.py: it imports
    no YOLO code); the name loads the YOLO side's cell."""
    from loosen.experiments.cells import load_runner
    from loosen.experiments.spec import DETECTOR
    from loosen.yolo import cells

    assert load_runner(DETECTOR) is cells.detection
