"""Everything is in pyproject.toml but this: ``loosen_hook.pth`` into site-packages.

A ``.pth`` file at the top of site-packages runs its ``import`` line when the interpreter
starts; this one imports loosen (a few milliseconds, no torch) so that upstream scripts
that import only timm see loosen's models (``loosen/patches/hook.py``; ``LOOSEN_HOOK=0``
turns it off). Wheels carry it at their root; editable installs (``pip install -e``)
put it beside their own path file.
"""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

HOOK = Path('src', 'loosen', 'patches', 'loosen_hook.pth')


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            self.copy_file(str(HOOK), str(Path(self.build_lib, HOOK.name)), preserve_mode=False)


class EditableWheel(editable_wheel):
    def _install_namespaces(self, installation_dir: str, pth_prefix: str) -> None:
        super()._install_namespaces(installation_dir, pth_prefix)
        self.copy_file(str(HOOK), str(Path(installation_dir, HOOK.name)), preserve_mode=False)


setup(cmdclass={'build_py': BuildPy, 'editable_wheel': EditableWheel})
