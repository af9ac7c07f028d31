"""Every model YAML loosen renders parses in upstream YOLOv5 / Ultralytics at two width
multiples: the attention sits in its slot at the true width, and Detect reads P3/P4/P5
(strides 8/16/32) with the widths the multiple gives. Bad YAMLs fail in one line."""
from __future__ import annotations

import contextlib
import copy
import logging

import pytest
import torch
import yaml

from loosen.attention import LA
from loosen.errors import LoosenError
from loosen.models.release import COMPARISON, DETECTION_EXTRAS
from loosen.yolo.models import DETECTION_SET, catalogue, list_models, render

pytest.importorskip('yolov5')


@pytest.fixture(scope='module', autouse=True)
def patched(tmp_path_factory):
    import os
    os.environ['LOOSEN_CACHE'] = str(tmp_path_factory.mktemp('cache'))
    from loosen.yolo.patches import ultralytics, yolov5
    yolov5.install()
    ultralytics.install()


@contextlib.contextmanager
def quiet():
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def detect_inputs(net: torch.nn.Sequential, size: int = 128) -> list[tuple]:
    """(channels, height, width) of each map the last layer (Detect) reads for one image,
    routing every layer's input by its ``from`` as both upstream models do."""
    outputs: list = []
    x = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        for layer in net[:-1]:
            if layer.f != -1:
                x = outputs[layer.f] if isinstance(layer.f, int) else [
                    x if j == -1 else outputs[j] for j in layer.f]
            x = layer(x)
            outputs.append(x)
    return [tuple(outputs[j].shape[1:]) for j in net[-1].f]


def v5_parse(d: dict) -> torch.nn.Sequential:
    from yolov5.models import yolo
    with quiet():
        net, _ = yolo.parse_model(copy.deepcopy(d), ch=[3])
    return net


def v5_model(cfg):
    from yolov5.models.yolo import Model
    with quiet():
        return Model(cfg, ch=3, nc=3)


def pyramid(width: float) -> list[tuple]:
    """What Detect must read at 128 px: P3/8, P4/16, P5/32 at 256/512/1024 x width."""
    return [(int(c * width), 128 // s, 128 // s) for c, s in ((256, 8), (512, 16), (1024, 32))]


@pytest.mark.parametrize('width', [0.25, 0.125])  # n's, and a narrower one (cheap to build)
@pytest.mark.parametrize('attention', ('plain', *DETECTION_SET))
def test_yolov5_yaml_parses_with_detect_on_p3_p4_p5(attention, width):
    d = yaml.safe_load(render(f'yolov5n_{attention}.yaml'))
    d['width_multiple'] = width
    written = copy.deepcopy(d['backbone'][9])
    net = v5_parse(d)
    assert d['backbone'][9] == written  # the parser's copy is rewritten, never the YAML
    assert detect_inputs(net) == pyramid(width)
    slot = net[9]
    if attention == 'plain':
        assert isinstance(slot, torch.nn.Identity)
    else:
        assert type(slot).__module__.startswith(('loosen.attention', 'timm'))
        x = torch.randn(2, int(1024 * width), 4, 4)
        assert slot.eval()(x).shape == x.shape  # built for the true width
    if attention == 'la':
        assert isinstance(slot, LA) and slot.heads == 16
        assert sum(p.numel() for p in slot.parameters()) == 52


def test_yolov5_model_from_a_bare_name_keeps_the_yaml_as_written():
    from yolov5.utils.general import check_yaml
    model = v5_model(check_yaml('yolov5n-LA.yaml'))  # as the release spells its files
    assert model.stride.tolist() == [8, 16, 32]
    assert isinstance(model.model[9], LA) and model.model[10].type.endswith('SPPF')
    assert model.yaml['backbone'][9] == [-1, 1, 'LA', []]
    assert model.yaml['width_multiple'] == 0.25


@pytest.mark.parametrize('size,multiples', [('s', (0.33, 0.5)), ('l', (1.0, 1.0))])
def test_sizes_render_their_multiples(size, multiples):
    d = yaml.safe_load(render(f'yolov5{size}_la.yaml'))
    assert (d['depth_multiple'], d['width_multiple']) == multiples
    assert d['backbone'][9] == [-1, 1, 'LA', []] and d['backbone'][10][2] == 'SPPF'


@pytest.mark.parametrize('name,width', [('yolov5nu_la.yaml', 0.25), ('yolo11n_la.yaml', 0.25),
                                        ('yolo11s_la.yaml', 0.5)])
def test_ultralytics_yaml_parses_with_detect_on_p3_p4_p5(name, width):
    from ultralytics.nn import tasks
    d = tasks.yaml_model_load(name)  # a bare name, found by loosen
    with quiet():
        net, _ = tasks.parse_model(d, ch=3, verbose=False)
    assert isinstance(net[9], LA)
    assert detect_inputs(net) == pyramid(width)


def test_the_yolov5_variants_are_the_releases_detection_set():
    """Plain, the classification comparison and what the release's YOLOv5 code adds
    (criss-cross ``cca`` among them); timm's extras such as ``coord`` are no variant."""
    found = {m.attention for m in catalogue().values() if m.family.framework == 'yolov5'}
    assert found == {'plain', *COMPARISON, *DETECTION_EXTRAS}


def test_catalogue_lists_every_size_and_module():
    names = list_models('yolov5')
    assert {f'yolov5{s}_{a}.yaml' for s in 'nsl' for a in ('plain', *DETECTION_SET)} <= set(names)
    assert set(list_models('ultralytics')) >= {'yolov5nu_la.yaml', 'yolo11n_la.yaml'}
    assert set(names) | set(list_models('ultralytics')) == set(catalogue())


def v5_dict(slot: list, size: str = 'n') -> dict:
    d = yaml.safe_load(render(f'yolov5{size}_plain.yaml'))
    d['backbone'][9] = slot
    return d


def test_hand_written_channel_count_of_the_paper_is_ignored():
    d = v5_dict([-1, 1, 'LA', [1024]])  # the release's style, here at width 0.25 (256 wide)
    assert v5_parse(d)[9].heads == 16
    assert d['backbone'][9] == [-1, 1, 'LA', [1024]]


def test_heads_and_options_are_passed_on():
    assert v5_parse(v5_dict([-1, 1, 'LA', [32]]))[9].heads == 32
    la = v5_parse(v5_dict([-1, 1, 'LA', [{'heads': 8, 'window': 3}]]))[9]
    assert (la.heads, la.window) == (8, 3)


@pytest.mark.parametrize('slot,message', [
    ([-1, 1, 'LAA', []], "did you mean LA"),
    ([-1, 1, 'LA', [24]], 'use heads=16 or 32'),
    ([-1, 1, 'LA', [512]], 'looks like a channel count'),
    ([-1, 1, 'CBAM', [7, 3]], 'give options by name'),
    ([[-1, 6], 1, 'SE', []], 'takes one input'),
])
def test_bad_slot_fails_in_one_line(slot, message):
    with pytest.raises(LoosenError, match=message) as error:
        v5_parse(v5_dict(slot))
    assert '\n' not in str(error.value)


def test_names_never_replace_upstream_ones():
    from ultralytics.nn import tasks

    from loosen.yolo.patches.names import BUILDERS, add_names
    upstream = object()
    namespace = {'CBAM': upstream}
    assert add_names(namespace) == ['CBAM'] and namespace['CBAM'] is upstream
    assert namespace['LA'] is BUILDERS['LA'] and tasks.LA is BUILDERS['LA']
