"""Register loosen's models with an upstream library the moment a script imports it.

timm has no plugin entry point, so its own ``train.py`` never imports loosen and answers
"Unknown model". ``install()`` puts a finder first on ``sys.meta_path`` that waits for
the upstream modules of ``INSTALLERS``; once one of them has been imported it runs
loosen's installer for it (``timm.models``: register every ``{arch}_{attention}``).
A module already imported gets its installer at once. Until then the finder only
answers "not mine" (a dict lookup per import), and it removes itself when nothing is
left to wait for, so a process that never imports timm pays nothing for it.

``import loosen`` calls ``install()``; ``loosen run`` does too; and the ``loosen_hook.pth``
file an install puts in site-packages does it at interpreter start-up, so plain
``python train.py --model rmt_s_la`` works, unless ``LOOSEN_HOOK=0`` is set.

Installers run after the upstream module has finished executing, and never while one
of loosen's own modules is half-imported (loosen's attention modules import timm's
layers, so ``timm.models`` can finish while ``loosen.attention`` is still running):
they wait until loosen's outermost import returns.
"""
from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

# upstream module -> 'module:function' of loosen that makes it see loosen's modules
INSTALLERS: dict[str, str] = {
    'timm.models': 'loosen.models:register_models',
    'yolov5.models.yolo': 'loosen.yolo.patches.yolov5:install',
    'ultralytics.nn.tasks': 'loosen.yolo.patches.ultralytics:install',
    # imported by YOLOv5 too; it replaces PIL.Image.open for every caller
    'ultralytics.utils.patches': 'loosen.yolo.patches.ultralytics:pil_open',
}
OWN = 'loosen.'


def run_installer(target: str) -> bool:
    """Call ``target`` ('module:function'); False when its module does not exist (an
    installer of a feature this install lacks), so the upstream import goes on quietly."""
    module_name, _, function = target.partition(':')
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            return False
        raise
    getattr(module, function)()
    return True


class _Chained:
    """The real loader of a module the finder watches, with the finder told when it ran."""

    def __init__(self, loader: importlib.abc.Loader, finder: PostImportFinder,
                 name: str) -> None:  # (annotations are not evaluated: no importlib.abc)
        self.loader, self.finder, self.name = loader, finder, name

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = module.__spec__.loader = self.loader  # as if never wrapped
        own = self.name.startswith(OWN)
        self.finder.depth += own
        try:
            self.loader.exec_module(module)
        finally:
            self.finder.depth -= own
        self.finder.imported(self.name)

    def __getattr__(self, name: str) -> object:  # get_code, get_source, is_package...
        return getattr(self.loader, name)


class PostImportFinder:
    """Runs ``INSTALLERS`` entries after their upstream module is imported (see above)."""

    def __init__(self, installers: dict[str, str]) -> None:
        self.waiting = dict(installers)  # upstream module -> installer, not imported yet
        self.ready: list[str] = []       # installers whose module is in, not yet run
        self.depth = 0                   # loosen modules executing right now
        self.searching: set[str] = set()  # names being looked up by the other finders

    def find_spec(self, name: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name in self.searching or (name not in self.waiting and not name.startswith(OWN)):
            return None
        self.searching.add(name)  # another finder like this one may ask us back
        try:
            spec = next((found for finder in sys.meta_path
                         if finder is not self and hasattr(finder, 'find_spec')
                         and (found := finder.find_spec(name, path, target)) is not None), None)
        finally:
            self.searching.discard(name)
        if spec is not None and hasattr(spec.loader, 'exec_module'):
            spec.loader = _Chained(spec.loader, self, name)
        return spec

    def imported(self, name: str) -> None:
        if name in self.waiting:
            self.ready.append(self.waiting.pop(name))
        self.flush()

    def flush(self) -> None:
        """Run the ready installers unless a loosen import is under way."""
        while self.ready and not self.depth:
            target = self.ready.pop(0)
            try:
                run_installer(target)
            except Exception as error:  # never break the user's own import
                warnings.warn(f'loosen: {target} failed ({error!r}); the upstream module '
                              'was imported without loosen\'s modules', stacklevel=2)
        if not self.waiting and not self.ready and self in sys.meta_path:
            sys.meta_path.remove(self)


_finder: PostImportFinder | None = None


def install() -> None:
    """Run the installers of upstream modules already imported; wait for the others.
    Calling it again does nothing."""
    global _finder
    if _finder is not None:
        return
    _finder = PostImportFinder(INSTALLERS)
    for name in [n for n in _finder.waiting if n in sys.modules]:
        _finder.ready.append(_finder.waiting.pop(name))
    sys.meta_path.insert(0, _finder)
    _finder.flush()
