"""Checkpoints are data: atomic writes, weights_only reads, RNG states, safetensors export."""
import os
import random

import numpy as np
import pytest
import torch

from loosen.engine.checkpoint import (
    export_weights,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from loosen.errors import LoosenError


class Payload:
    """Unpickling this calls os.mkdir(marker): what a hostile checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def payload(**extra):
    return {'model': 'mobilenetv1_la', 'model_kwargs': {'channel_multiplier': 0.25},
            'classes': ['arc', 'drapery'], 'data_config': {'input_size': [3, 32, 32]},
            'state_dict': {'w': torch.arange(6.0).reshape(2, 3)}, 'ema': None, **extra}


def test_a_checkpoint_that_runs_code_on_unpickling_is_refused(tmp_path):
    marker, proof = tmp_path / 'pwned', tmp_path / 'pwned-when-trusted'
    hostile = tmp_path / 'hostile.pth'
    torch.save({'format': 'loosen-checkpoint', 'state_dict': {}, 'x': Payload(marker)}, hostile)
    with pytest.raises(LoosenError) as error:
        load_checkpoint(hostile)
    assert not marker.exists()
    assert str(error.value).startswith(f'refused to load {hostile}')
    assert '\n' not in str(error.value)
    # the payload is real: a trusting load runs it
    torch.save({'x': Payload(proof)}, tmp_path / 'proof.pth')
    torch.load(tmp_path / 'proof.pth', weights_only=False)
    assert proof.is_dir()


def test_round_trip_and_the_rng_states_are_plain_data(tmp_path):
    path = save_checkpoint(payload(rng=rng_state()), tmp_path / 'run' / 'last.pth')
    found = load_checkpoint(path)
    assert found['format'] == 'loosen-checkpoint' and found['classes'] == ['arc', 'drapery']
    assert torch.equal(found['state_dict']['w'], torch.arange(6.0).reshape(2, 3))
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(found['rng'])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
    assert sorted(os.listdir(tmp_path / 'run')) == ['last.pth']  # no temp file left


def test_a_failed_write_leaves_the_old_checkpoint_whole(tmp_path, monkeypatch):
    path = save_checkpoint(payload(epoch=1), tmp_path / 'last.pth')

    def dies_midway(obj, f, *args, **kwargs):
        with open(f, 'wb') as out:
            out.write(b'PK\x03\x04 half a zip')
        raise KeyboardInterrupt  # killed while writing

    monkeypatch.setattr(torch, 'save', dies_midway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(payload(epoch=2), path)
    monkeypatch.undo()
    assert load_checkpoint(path)['epoch'] == 1
    assert os.listdir(tmp_path) == ['last.pth']


@pytest.mark.parametrize('damage, words', [
    (lambda p: p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2]), 'truncated or corrupt'),
    (lambda p: p.write_bytes(b'not a checkpoint at all'), 'truncated or corrupt'),
    (lambda p: p.write_bytes(b'junk\n'), 'truncated or corrupt'),  # torch: a KeyError
    (lambda p: torch.save({'w': torch.zeros(2)}, p), 'not a loosen checkpoint'),
])
def test_damaged_or_foreign_files_are_one_line_errors(tmp_path, damage, words):
    path = save_checkpoint(payload(), tmp_path / 'best.pth')
    damage(path)
    with pytest.raises(LoosenError) as error:
        load_checkpoint(path)
    assert words in str(error.value) and '\n' not in str(error.value)


def test_exported_weights_describe_themselves(tmp_path):
    ema = {'w': torch.ones(2, 3)}
    path = export_weights(payload(ema=ema), tmp_path / 'model.safetensors')
    found = load_checkpoint(path)
    assert found['model'] == 'mobilenetv1_la'
    assert found['classes'] == ['arc', 'drapery']
    assert found['model_kwargs'] == {'channel_multiplier': 0.25}
    assert torch.equal(found['state_dict']['w'], ema['w'])  # the evaluated (EMA) weights
