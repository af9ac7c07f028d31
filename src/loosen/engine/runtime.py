"""Where a run executes: device, ``torchrun`` processes, seeding.

``torchrun --nproc_per_node N -m loosen.train ...`` sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; the engine then joins the process group (gloo on the CPU, nccl on CUDA),
shards the data and lets rank 0 write. Randomness is reseeded at every epoch from
(seed, epoch, rank), so a resumed run draws exactly what an uninterrupted one would.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from .config import EngineConfig


@dataclass
class Runtime:
    """The device and this process's place among ``world`` processes."""

    device: torch.device
    rank: int = 0
    world: int = 1
    joined: bool = False  # whether this run opened the process group (and must close it)

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def cuda(self) -> bool:
        return self.device.type == 'cuda'

    def quiet(self, progress: bool | None) -> bool | None:
        """tqdm's ``disable``: bars only on rank 0; None (the default) hides them when the
        output is not a terminal."""
        return True if not self.main else (None if progress is None else not progress)

    def gather(self, local: torch.Tensor) -> list[torch.Tensor]:
        """``local`` of every rank (all the same shape), in rank order."""
        if self.world == 1:
            return [local]
        parts = [torch.empty_like(local) for _ in range(self.world)]
        dist.all_gather(parts, local.contiguous())
        return parts

    def share(self, value: object) -> object:
        """Rank 0's ``value`` (any picklable object), on every rank."""
        if self.world == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def total(self, *values: float) -> list[float]:
        """Each value summed over all ranks."""
        if self.world == 1:
            return list(values)
        found = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(found)
        return found.tolist()

    def close(self) -> None:
        if self.joined and dist.is_initialized():
            dist.destroy_process_group()


def setup_runtime(config: EngineConfig) -> tuple[Runtime, list[str]]:
    """Pick the device (with a note when the one asked for is absent) and join the
    ``torchrun`` process group when there is one."""
    notes = []
    wanted = config.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if wanted.startswith('cuda') and not torch.cuda.is_available():
        notes.append(f'--device {wanted}: no CUDA device here; running on the cpu')
        wanted = 'cpu'
    world, rank = int(os.environ.get('WORLD_SIZE', 1)), int(os.environ.get('RANK', 0))
    device = torch.device(wanted)
    if device.type == 'cuda' and world > 1:
        device = torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)))
        torch.cuda.set_device(device)
    for flag in ('amp', 'channels_last'):
        if getattr(config, flag) and device.type != 'cuda':
            notes.append(f'--{flag.replace("_", "-")}: CUDA only; the cpu trains in float32, '
                         'contiguous')
    joined = False
    if world > 1 and not dist.is_initialized():
        dist.init_process_group('nccl' if device.type == 'cuda' else 'gloo')
        joined = True
    return Runtime(device, rank, world, joined), notes


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (all devices) with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """A seed for ``epoch`` on ``rank``, independent of everything before it."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])
