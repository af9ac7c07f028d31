"""DDP on the CPU: two gloo processes under torchrun train one model in step.

The test runs this file under ``torchrun`` (the way users launch it); each rank saves the
weights it ended with, and the test compares them.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from loosen.engine.checkpoint import load_checkpoint

TINY = ['--img-size', '32', '--model-kwargs', 'channel_multiplier=0.25', '--batch-size', '4',
        '--num-workers', '0', '--synthetic-per-class', '12', '--epochs', '2', '--model-ema',
        '--no-progress']


def worker(out: Path) -> None:
    """One rank: train, then save the final weights and the history as this rank saw them."""
    from loosen.engine.flags import parse
    from loosen.engine.train import train

    config, notes = parse('train', [*TINY, '--output-dir', str(out / 'run')])
    result = train(config, notes)
    rank = os.environ['RANK']
    save_file({k: v.contiguous() for k, v in result.model.state_dict().items()},
              str(out / f'rank{rank}.safetensors'))
    (out / f'rank{rank}.json').write_text(json.dumps(result.history))


def test_two_gloo_processes_end_with_the_same_weights(tmp_path):
    done = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
         __file__, str(tmp_path)], capture_output=True, text=True, timeout=300,
        env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    ranks = [load_file(str(tmp_path / f'rank{r}.safetensors')) for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    for name, tensor in ranks[0].items():
        assert torch.equal(tensor, ranks[1][name]), name
    histories = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in (0, 1)]
    timing = ('seconds', 'images_per_s')
    assert [{k: v for k, v in row.items() if k not in timing} for row in histories[0]] == \
        [{k: v for k, v in row.items() if k not in timing} for row in histories[1]]
    # rank 0 wrote the run: 48 images split over 2 ranks of batches of 4 -> 6 updates/epoch
    last = load_checkpoint(tmp_path / 'run' / 'last.pth')
    assert (last['epoch'], last['updates']) == (2, 12)
    assert all(torch.equal(last['state_dict'][k], v) for k, v in ranks[0].items())
    assert '2 process(es) on cpu' in (tmp_path / 'run' / 'train.log').read_text()


if __name__ == '__main__':
    worker(Path(sys.argv[1]))
