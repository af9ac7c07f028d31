"""Which model of a run a comparison scores, and the rule that keeps the score honest.

``best``: the epoch best on val/ (the engine's ``best.pth``); ``last``: the model after
the last epoch, a fixed budget (``last.pth``). Either way the score is taken on a split
the picking never saw: ``best`` with the report on val/ (data without test/, or a YOLOv5
detection cell, scored on its val/) would score the pick on the split it was picked on,
and is refused before anything is written.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import LoosenError, unknown_name

if TYPE_CHECKING:  # the engine loads torch: only where a cell runs
    from ..engine.config import EngineConfig
    from ..engine.train import TrainResult

SELECTS = {'best': 'the epoch best on val/', 'last': 'the model after the last epoch'}


def check_selection(select: str, reported: str) -> None:
    """A LoosenError when ``select`` is unknown or would pick on the ``reported`` split."""
    if select not in SELECTS:
        raise unknown_name('select', select, SELECTS)
    if select == 'best' and reported == 'val':
        raise LoosenError('--select best picks the epoch on val/ and the score would be taken '
                          'on val/ too: give --select last (the model after the last epoch), '
                          'or a test/ split (`loosen data split`)')


def chosen_checkpoint(trained: TrainResult, config: EngineConfig, select: str) -> Path:
    """The checkpoint of ``trained`` (a run of ``config``) that ``select`` scores, in the
    run folder train() used, wherever it was."""
    return trained.best_path if select == 'best' else trained.run_dir / config.last_path().name
