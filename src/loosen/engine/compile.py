"""``--compile``: the engine's models under ``torch.compile`` (inductor), weights unchanged.

LA's eager cost on small maps is per-operator overhead, which compiling the whole model
removes (README "LA speed"). The engine compiles what runs forward, never what it saves:
``Compiled`` wraps the bare module and its state dict is the bare module's, so a
checkpoint of a compiled run has no ``_orig_mod.`` keys and loads into an eager model,
and an eager checkpoint loads into a compiled one. ``strip_compiled`` drops that prefix
from state dicts saved elsewhere from a ``torch.compile`` d module.

Compiling is lazy (at the first call per input shape and mode), so a model that cannot
compile (no C++ compiler, an operator inductor cannot lower...) fails at a call. When the
compiled call raises and the eager one does not, ``on`` stops with one line saying why
and ``auto`` notes it once and runs eager from then on; an error the eager model raises
too is the model's own and is raised as it is. Compiling the backward happens at the
first backward (torch's lazy default), outside this check.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import torch
from torch import nn

from ..errors import LoosenError
from ..quiet import quiet_probes
from .config import COMPILE, COMPILE_MODES

PREFIX = '_orig_mod.'             # what torch.compile's wrapper adds to every key
V = TypeVar('V')


def strip_compiled(state: Mapping[str, V]) -> Mapping[str, V]:
    """``state`` with every ``_orig_mod.`` of a compiled module's keys removed (``state``
    itself, metadata kept, when it has none)."""
    if not any(PREFIX in key for key in state):
        return state
    return {key.replace(PREFIX, ''): value for key, value in state.items()}


def first_line(error: BaseException) -> str:
    """``Type: first non-empty line`` of an exception, for a one-line message."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f'{type(error).__name__}: {lines[0]}' if lines else type(error).__name__


class Compiled(nn.Module):
    """``module`` run through ``torch.compile(backend='inductor', mode=mode)``.

    ``train()``/``eval()`` and ``to()`` reach ``module``; ``state_dict`` and
    ``load_state_dict`` are ``module``'s own (plain keys). ``fallback`` (the ``auto``
    setting) decides what a failed compilation does: a note through ``note`` and eager
    from then on, or a LoosenError. ``name`` names the model in those lines.
    """

    def __init__(self, module: nn.Module, mode: str = 'default', fallback: bool = False,
                 name: str = 'the model', note: Callable[[str], None] = print) -> None:
        super().__init__()
        if mode not in COMPILE_MODES:
            raise LoosenError(f'--compile-mode {mode!r}: choose one of '
                              f'{", ".join(COMPILE_MODES)}')
        self.module = module
        self.mode, self.fallback, self.name, self.note = mode, fallback, name, note
        self.failed: str | None = None  # why it fell back to eager, once it has
        # kept out of the module tree: its own copy of the keys would carry _orig_mod.
        object.__setattr__(self, 'compiled', torch.compile(
            module, backend='inductor', mode=None if mode == 'default' else mode))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.failed is not None:
            return self.module(*args, **kwargs)
        try:
            return self.compiled(*args, **kwargs)
        except Exception as error:
            result = self.module(*args, **kwargs)  # raises if the model itself is at fault
            self._cannot_compile(error)
            return result

    def _cannot_compile(self, error: Exception) -> None:
        reason = first_line(error)
        if not self.fallback:
            raise LoosenError(f'torch.compile cannot compile {self.name} ({reason}); use '
                              '--compile auto to fall back to eager, or --compile off') \
                from error
        self.failed = reason
        self.note(f'--compile auto: torch.compile cannot compile {self.name} ({reason}); '
                  'running eager')

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> Any:
        return self.module.load_state_dict(strip_compiled(state_dict), strict, assign)


def maybe_compile(module: nn.Module, setting: str, mode: str = 'default',
                  name: str = 'the model', note: Callable[[str], None] = print) -> nn.Module:
    """``module`` itself for ``--compile off``, else wrapped in ``Compiled``."""
    if setting not in COMPILE:
        raise LoosenError(f'--compile {setting!r}: choose one of {", ".join(COMPILE)}')
    if setting == 'off':
        return module
    quiet_probes()
    return Compiled(module, mode, fallback=setting == 'auto', name=name, note=note)
