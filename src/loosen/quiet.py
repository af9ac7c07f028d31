"""No chatter about profilers or GPUs a machine lacks.

Two sources print on a CPU machine without being asked: kineto, torch.profiler's
library, writes ``USDT: profiler_start/stop`` lines on every profile and ``ERROR: ...
gpuGetDeviceCount failed`` when it looks for GPUs; inductor's C++ build probes for CUDA
and warns ``No CUDA runtime is found`` through ``torch.utils.cpp_extension``'s logger.
``quiet_probes`` silences exactly those (kineto through its own ``KINETO_LOG_LEVEL``,
which a user's setting overrides). Kineto reads the level when the first profile starts,
so call this before any ``torch.profiler`` use; it is cheap and idempotent, and imports
no torch.
"""
from __future__ import annotations

import logging
import os

KINETO_SILENT = '6'  # above every kineto level (VERBOSE 0 ... ERROR 4, USDT 5)
PROBES = ('No CUDA runtime is found',)  # cpp_extension's warnings about an absent GPU


class _DropProbes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not any(probe in record.getMessage() for probe in PROBES)


_FILTER = _DropProbes()


def quiet_probes() -> None:
    """Silence kineto's log lines and the CUDA-probe warnings of inductor's C++ build."""
    os.environ.setdefault('KINETO_LOG_LEVEL', KINETO_SILENT)
    logger = logging.getLogger('torch.utils.cpp_extension')
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
