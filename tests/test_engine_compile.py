"""``--compile``: a compiled model trains as the eager one does, its checkpoints load into
an eager model (and eager ones into it), and a model that cannot compile says why in one
line (``on``) or runs eager with a note (``auto``)."""
import copy
import json
import subprocess
import sys

import pytest
import torch

from loosen.cli import main
from loosen.data import write_synthetic
from loosen.engine.checkpoint import load_checkpoint, save_checkpoint
from loosen.engine.compile import Compiled, maybe_compile, strip_compiled
from loosen.engine.config import EngineConfig
from loosen.engine.runtime import Runtime
from loosen.engine.test import restore_model
from loosen.engine.train import Trainer
from loosen.errors import LoosenError
from loosen.models import create_model
from yolo_helpers import offline_env

TINY = {'channel_multiplier': 0.25}
TOLERANCE = 1e-4


def tiny_trainer(net, setting):
    # SGD: an update proportional to the gradient (Adam's first step is lr * sign(grad),
    # which flips on a gradient within rounding of zero)
    config = EngineConfig(model='mobilenetv1_la', compile=setting, opt='sgd', lr=0.01,
                          epochs=1)
    return Trainer(config, net, 4, Runtime(torch.device('cpu')), updates_per_epoch=1)


@pytest.fixture(scope='module')
def stepped():
    """One update of a tiny MobileNet-LA, eager and compiled, from the same weights."""
    torch.manual_seed(0)
    net = create_model('mobilenetv1', 'la', num_classes=4, **TINY)
    gen = torch.Generator().manual_seed(1)
    # batch 8: with 4, the last batch norms normalise over 4 values, where float32
    # rounding in eager and compiled reductions alone sets gradients 1e-2 apart
    x, y = torch.randn(8, 3, 32, 32, generator=gen), torch.arange(8) % 4
    trainers = {s: tiny_trainer(copy.deepcopy(net), s) for s in ('off', 'on')}
    losses = {s: t.step(x, y)[0] for s, t in trainers.items()}
    with torch.no_grad():
        outputs = {s: t.eval_model.eval()(x) for s, t in trainers.items()}
    return {'trainers': trainers, 'losses': losses, 'outputs': outputs, 'x': x, 'start': net}


def test_a_compiled_model_trains_one_step_as_the_eager_one(stepped):
    trainers = stepped['trainers']
    assert isinstance(trainers['on'].model, Compiled) and trainers['off'].model is \
        trainers['off'].net
    assert stepped['losses']['on'] == pytest.approx(stepped['losses']['off'], abs=TOLERANCE)
    eager, compiled = (dict(trainers[s].net.named_parameters()) for s in ('off', 'on'))
    start = dict(stepped['start'].named_parameters())
    assert eager.keys() == compiled.keys() == start.keys()
    for name, weight in eager.items():  # SGD: the update is lr x the gradient
        torch.testing.assert_close(compiled[name], weight, atol=TOLERANCE, rtol=0)
    assert sum(not torch.equal(start[n], compiled[n]) for n in start) > len(start) // 2
    torch.testing.assert_close(stepped['outputs']['on'], stepped['outputs']['off'],
                               atol=TOLERANCE, rtol=0)


def test_a_compiled_checkpoint_loads_into_an_eager_model_and_back(stepped, tmp_path):
    compiled = stepped['trainers']['on']
    state = compiled.state(full=False)
    assert not any('_orig_mod' in key for key in state['state_dict'])
    meta = {'model': 'mobilenetv1_la', 'model_kwargs': TINY,
            'classes': ['arc', 'drapery', 'radial', 'hotspot']}
    save_checkpoint({**meta, **state}, tmp_path / 'best.pth')
    eager = restore_model(load_checkpoint(tmp_path / 'best.pth'), tmp_path / 'best.pth')
    with torch.no_grad():
        torch.testing.assert_close(eager(stepped['x']), stepped['outputs']['on'],
                                   atol=TOLERANCE, rtol=0)
    # and back: the eager weights into a fresh compiled model
    torch.manual_seed(5)
    again = maybe_compile(create_model('mobilenetv1', 'la', num_classes=4, **TINY), 'on')
    again.load_state_dict(eager.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(stepped['x']), stepped['outputs']['on'],
                                   atol=TOLERANCE, rtol=0)


def test_torch_compile_keys_are_stripped_on_save_and_load(tmp_path):
    net = create_model('mobilenetv1', 'la', num_classes=4, **TINY)
    raw = torch.compile(net).state_dict()  # what a user's own compiled model saves
    assert all(key.startswith('_orig_mod.') for key in raw)
    assert strip_compiled(raw).keys() == net.state_dict().keys()
    save_checkpoint({'model': 'mobilenetv1_la', 'model_kwargs': TINY, 'classes': list('abcd'),
                     'state_dict': raw, 'ema': None}, tmp_path / 'raw.pth')
    with torch.no_grad():  # written stripped: torch.load alone sees plain keys
        assert torch.load(tmp_path / 'raw.pth', weights_only=True)['state_dict'].keys() == \
            net.state_dict().keys()
    torch.save({'format': 'loosen-checkpoint', 'model': 'mobilenetv1_la', 'model_kwargs': TINY,
                'classes': list('abcd'), 'state_dict': raw, 'ema': None}, tmp_path / 'old.pth')
    restored = restore_model(load_checkpoint(tmp_path / 'old.pth'), tmp_path / 'old.pth')
    for key, value in net.state_dict().items():
        assert torch.equal(restored.state_dict()[key], value)


def test_bad_settings_are_one_line_errors():
    net = torch.nn.Linear(2, 2)
    assert maybe_compile(net, 'off') is net
    with pytest.raises(LoosenError, match=r'--compile .*maybe.*choose one of off, on, auto'):
        maybe_compile(net, 'maybe')
    with pytest.raises(LoosenError, match=r'--compile-mode .*fastest'):
        maybe_compile(net, 'on', 'fastest')


# loosen predict twice in one fresh process, on a machine whose C++ compiler is missing
# (what inductor needs on the CPU): --compile on, then --compile auto
NO_COMPILER = '''
import contextlib, io, json, sys
from loosen.cli import main
from loosen.data import write_synthetic
found = {}
for setting in ('on', 'auto'):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(['predict', *sys.argv[1:], '--compile', setting])
    found[setting] = {'code': code, 'out': out.getvalue(), 'err': err.getvalue()}
print(json.dumps(found))
'''


def test_a_model_that_cannot_compile_says_why_or_falls_back(tmp_path):
    assert main(['train', '--img-size', '32', '--model-kwargs', 'channel_multiplier=0.25',
                 '--batch-size', '8', '--num-workers', '0', '--synthetic-per-class', '8',
                 '--epochs', '1', '--output-dir', str(tmp_path / 'run'), '--no-progress']) == 0
    images = write_synthetic(tmp_path / 'images', 1, 32, split={'train': 1.0})
    env = offline_env(tmp_path)
    env.update(CXX=str(tmp_path / 'no-such-compiler'),
               TORCHINDUCTOR_CACHE_DIR=str(tmp_path / 'inductor'))
    done = subprocess.run(
        [sys.executable, '-c', NO_COMPILER, str(images), '--checkpoint',
         str(tmp_path / 'run' / 'best.pth'), '--num-workers', '0', '--output',
         str(tmp_path / 'predictions.csv')], env=env, capture_output=True, text=True,
        timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])
    on, auto = found['on'], found['auto']
    assert on['code'] == 2
    error = on['err'].strip().splitlines()
    assert len(error) == 1 and error[0].startswith('loosen: error: torch.compile cannot compile '
                                                   'mobilenetv1_la (')
    assert '--compile auto' in error[0]
    assert auto['code'] == 0, auto['err']
    notes = [line for line in auto['out'].splitlines() if line.startswith('note:')]
    assert len(notes) == 1 and 'running eager' in notes[0] and 'mobilenetv1_la' in notes[0]
    assert (tmp_path / 'predictions.csv').read_text().count('\n') == 5  # header + 4 images


def test_grid_cells_compile_as_the_grid_says(tmp_path):
    from loosen.experiments.cells import engine_config
    from loosen.experiments.spec import Cell, GridSpec
    spec = dict(out=str(tmp_path), data='synthetic', archs=['mobilenetv1'], attentions=['la'],
                train_sizes=[8], seeds=[0], epochs=1, img_size=32, batch_size=4, lr=1e-3,
                eval_per_class=1)
    cell = Cell('mobilenetv1', 'la', 8, 0)
    assert engine_config(GridSpec(**spec, compile='auto'), cell).compile == 'auto'
    assert engine_config(GridSpec(**spec), cell).compile == EngineConfig().compile
