"""Inference over a dataset, sharded across ``torchrun`` ranks, and the metrics of a split."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset, DistributedSampler
from tqdm import tqdm

from .data import make_loader
from .metrics import classification_metrics
from .runtime import Runtime


@torch.no_grad()
def infer(model: nn.Module, dataset: Dataset, batch_size: int, num_workers: int,
          runtime: Runtime, desc: str = 'eval',
          progress: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (N, classes) and the dataset's second items (labels, or flags) (N,) for every
    item of ``dataset``, in order, on every rank.

    Each rank runs its ``DistributedSampler`` shard; the shards are gathered and put back
    in dataset order (the sampler's padding repeats items, which land on themselves).
    """
    was_training = model.training
    model.eval()
    shards = [list(DistributedSampler(dataset, runtime.world, r, shuffle=False))
              for r in range(runtime.world)]
    loader = make_loader(dataset, batch_size, shards[runtime.rank], num_workers, training=False,
                         pin_memory=runtime.cuda)
    logits, labels = [], []
    for images, second in tqdm(loader, desc=desc, leave=False, unit='batch',
                               disable=runtime.quiet(progress)):
        logits.append(model(images.to(runtime.device)).float())
        labels.append(torch.as_tensor(second).to(runtime.device))
    model.train(was_training)
    local = torch.cat([torch.cat(logits), torch.cat(labels)[:, None].float()], 1)
    found = torch.empty(len(dataset), local.shape[1])
    for indices, part in zip(shards, runtime.gather(local), strict=True):
        found[indices] = part.cpu()
    return found[:, :-1], found[:, -1].long()


def evaluate(logits: torch.Tensor, targets: list[int] | np.ndarray,
             num_classes: int) -> dict[str, float]:
    """Cross-entropy loss, accuracy, macro-F1 and balanced accuracy of ``logits``."""
    labels = torch.as_tensor(np.asarray(targets), dtype=torch.long)
    found = classification_metrics(labels.numpy(), logits.argmax(1).numpy(), num_classes)
    return {'loss': float(F.cross_entropy(logits, labels)), **found}

