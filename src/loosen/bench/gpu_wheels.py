"""The wheels ``loosen bench gpu`` carries to the lent GPU machine, and the check that
they are enough.

That machine (nvidia-h200: Python 3.12, its own CUDA torch 2.11, no network, loosen not
installed) has ``DEVICE``'s packages but not all of loosen's: ``CARRIED`` pins the
pure-Python or manylinux x86_64 cp312 wheels ``make gpu-wheels`` puts in ``.whl/`` for
it, and ``check`` proves, on the folder pip installs them into, that every
``Requires-Dist`` of every carried distribution (extras left out, markers read as on that
machine) is met by a carried wheel or by the machine's own packages. Two requirements are
met under another name (``SUBSTITUTES``: the same import package) and one is left out on
purpose (``LEFT_OUT``, with the reason); ``hide`` writes a ``sitecustomize`` that hides
what the machine lacks, so the CPU check can be run here as it would run there.

    python -m loosen.bench.gpu_wheels pins [--binary | --sdist]   pins for pip
    python -m loosen.bench.gpu_wheels check SITE [--all]   exit 1 naming what is unmet
    python -m loosen.bench.gpu_wheels hide DIR       DIR/sitecustomize.py

Imports nothing outside the standard library but ``packaging`` (pip's own copy where
that is not installed), so it runs under a bare Python 3.12 too.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.requirements import Requirement


@dataclass(frozen=True)
class Wheel:
    """One carried distribution: its pin and why the machine needs it from us."""

    name: str
    version: str
    why: str
    sdist: bool = False  # the index has a source distribution only: built here (pure Python)

    @property
    def pin(self) -> str:
        return f'{self.name}=={self.version}'


CARRIED: tuple[Wheel, ...] = (
    Wheel('timm', '1.0.31', "loosen's pin; the machine's timm is another version"),
    Wheel('huggingface-hub', '0.24.7', "yolov5 needs <0.25 (it imports huggingface_hub."
          "utils._errors); the machine's is 1.33"),
    Wheel('setuptools', '81.0.0', 'yolov5 imports pkg_resources, gone from setuptools 82; '
          "the machine's version is not known"),
    Wheel('fvcore', '0.1.5.post20221221', "loosen's FLOP counter", sdist=True),
    Wheel('iopath', '0.1.10', 'fvcore', sdist=True),
    Wheel('yacs', '0.1.8', 'fvcore'),
    Wheel('termcolor', '3.3.0', 'fvcore, fire'),
    Wheel('yolov5', '7.0.14', 'the yolo part'),
    Wheel('ultralytics', '8.4.190', 'yolov5 imports its checks'),
    Wheel('ultralytics-thop', '2.2.3', 'ultralytics; its thop module is the one yolov5 asks for'),
    Wheel('ultralytics-platform', '0.1.99', 'ultralytics'),
    Wheel('boto3', '1.44.8', "yolov5's train imports yolov5.utils.aws, which imports boto3"),
    Wheel('botocore', '1.44.8', 'boto3'),
    Wheel('s3transfer', '0.19.3', 'boto3'),
    Wheel('jmespath', '1.1.0', 'boto3, botocore'),
    Wheel('roboflow', '1.7.3', "yolov5's train imports yolov5.utils.roboflow"),
    Wheel('pillow-avif-plugin', '1.6.0', 'roboflow imports it'),
    Wheel('python-dotenv', '1.2.4', 'roboflow'),
    Wheel('requests-toolbelt', '1.0.0', 'roboflow'),
    Wheel('filetype', '1.2.0', 'roboflow'),
    Wheel('gitpython', '3.2.1', 'yolov5'),
    Wheel('gitdb', '4.0.12', 'gitpython'),
    Wheel('smmap', '5.0.3', 'gitdb'),
    Wheel('fire', '0.7.1', 'yolov5, sahi'),
    Wheel('sahi', '0.12.8', 'yolov5'),
    Wheel('shapely', '2.2.0', 'sahi'),
)

# another distribution that installs the same import package (requirement -> the one met)
SUBSTITUTES: dict[str, str] = {
    'opencv-python': 'opencv-python-headless',  # cv2; the GUI build is 67 MB more
    'thop': 'ultralytics-thop',                 # thop; both in one folder would collide
}
# required, never carried, never imported on the check's paths (measured with ``hide``)
LEFT_OUT: dict[str, str] = {
    'polars': 'ultralytics imports it only inside functions the check never calls; its '
              'runtime wheel alone is 54 MB',
}
NEVER_CARRIED = re.compile(r'^(torch|torchvision|torchaudio|triton|nvidia-.*)$')  # its CUDA build

# KINDS.md, "Python packages already there" (nvidia-h200, read 2026-11-17), with the
# versions its pip list row gives; None: there, version not known
_NAMES = '''
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio
attrs botorch build certifi charset-normalizer chex click cloudpickle cmake colorama
contourpy coverage cuda-bindings cuda-core cuda-pathfinder cuda-toolkit cupy-cuda13x
cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax
fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx
huggingface-hub humanize hypothesis idna imageio iniconfig interface-meta jax
jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader
lightning lightning-utilities linear-operator lineax llvmlite lxml markdown
markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack
multidict multipledispatch mypy-extensions nanobind narwhals networkx ninja numba
numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc
nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand
nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13
nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint
packaging pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client
propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments pyparsing
pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock
pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests
rich sacrebleu safetensors scikit-build-core scikit-image scikit-learn scipy seaborn
sentencepiece sentence-transformers setuptools shellingham simplejson six
sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server
tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch torchaudio
torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton
typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel
wrapt xarray xxhash yarl zipp
'''
_VERSIONS = {
    'accelerate': '1.15.0', 'botorch': '0.18.1', 'cupy-cuda13x': '14.2.0', 'gpytorch': '1.15.2',
    'huggingface-hub': '1.33.0', 'jax': '0.11.2', 'jaxlib': '0.11.2', 'jaxtyping': '0.3.11',
    'numpy': '2.5.2', 'numpyro': '0.21.0', 'onnx': '1.23.1', 'onnx-ir': '1.0.0',
    'onnxruntime': '1.30.0', 'onnxscript': '0.7.2', 'pytorch-lightning': '2.6.6',
    'safetensors': '0.8.0', 'sentence-transformers': '6.0.1', 'sentencepiece': '0.2.2',
    'tiktoken': '0.14.0', 'tokenizers': '0.23.2', 'torch': '2.11.0', 'torchaudio': '2.11.0',
    'torchdiffeq': '0.2.5', 'torch-geometric': '2.8.0.post1', 'torchmetrics': '1.9.0',
    'torchvision': '0.26.0', 'transformers': '5.17.0', 'triton': '3.6.0'}
DEVICE: dict[str, str | None] = {n: _VERSIONS.get(n) for n in _NAMES.split()}
# markers are read as on that machine, wherever the check runs
DEVICE_MARKERS = {'python_version': '3.12', 'python_full_version': '3.12.3',
                  'implementation_name': 'cpython', 'platform_python_implementation': 'CPython',
                  'sys_platform': 'linux', 'platform_system': 'Linux', 'os_name': 'posix',
                  'platform_machine': 'x86_64', 'extra': ''}


def normalize(name: str) -> str:
    """A distribution's name as the index compares it (PEP 503)."""
    return re.sub(r'[-_.]+', '-', name).lower()


def _packaging() -> tuple[ModuleType, ModuleType]:
    """``packaging.requirements`` and ``packaging.version``, from pip where not installed."""
    try:
        from packaging import requirements, version
    except ImportError:  # a bare interpreter
        from pip._vendor.packaging import requirements, version  # type: ignore[no-redef]
    return requirements, version


@dataclass(frozen=True)
class Finding:
    """One line of the check: what it is about, how it is met (or why not)."""

    about: str
    how: str
    met: bool


def installed(site: Path) -> dict[str, metadata.Distribution]:
    """The distributions pip installed into ``site``, by normalized name."""
    return {normalize(d.metadata['Name']): d for d in metadata.distributions(path=[str(site)])}


def meet(requirement: Requirement, about: str, carried: Mapping[str, str],
         device: Mapping[str, str | None], substitutes: Mapping[str, str],
         left_out: Mapping[str, str], parse: Callable[[str], object]) -> Finding:
    """How ``requirement`` is met: by a carried distribution (first on the path, so the one
    imported), else by the machine's, else under another name, else left out on purpose."""
    name = normalize(requirement.name)

    def fits(version: str) -> bool:
        return requirement.specifier.contains(parse(version), prereleases=True)

    if name in carried:
        ok = fits(carried[name])
        return Finding(about, f'carried {carried[name]}' + ('' if ok else ": doesn't fit"), ok)
    if name in device:
        have = device[name]
        if have is None:
            return Finding(about, 'on the machine (version not known)', True)
        return Finding(about, f'on the machine, {have}' + (
            '' if fits(have) else ": doesn't fit: carry one that does"), fits(have))
    if substitutes.get(name) in {*carried, *device}:
        return Finding(about, f'{substitutes[name]} instead (the same import package)', True)
    if name in left_out:
        return Finding(about, f'left out: {left_out[name]}', True)
    return Finding(about, 'MISSING: neither carried nor on the machine', False)


def check(site: Path, carried: Iterable[Wheel] = CARRIED,
          device: Mapping[str, str | None] = DEVICE,
          substitutes: Mapping[str, str] = SUBSTITUTES,
          left_out: Mapping[str, str] = LEFT_OUT) -> list[Finding]:
    """Every carried pin installed in ``site`` at its version and nothing else there, none of
    them the machine's own CUDA stack, and every requirement of each met as on the machine."""
    requirements, version = _packaging()
    pins = {normalize(w.name): w.version for w in carried}
    dists = installed(site)
    found = {name: d.version for name, d in dists.items()}
    findings = [Finding(name, f'pinned {pin}, ' + (f'carried {found[name]}' if name in found
                                                    else f'not in {site}'), found.get(name) == pin)
                for name, pin in pins.items()]
    findings += [Finding(name, f'in {site} but not pinned', False) for name in found
                 if name not in pins]
    findings += [Finding(name, 'never carried: the machine has its own CUDA build', False)
                 for name in {*pins, *found} if NEVER_CARRIED.match(name)]
    for name, dist in sorted(dists.items()):
        for line in dist.requires or ():
            req = requirements.Requirement(line)
            if req.marker is None or req.marker.evaluate(DEVICE_MARKERS):
                findings.append(meet(req, f'{name} needs {req.name}{req.specifier}', found,
                                     device, substitutes, left_out, version.Version))
    return findings


def hidden_modules(allowed: Iterable[str]) -> list[str]:
    """Top-level modules of this interpreter that only distributions outside ``allowed``
    install (the names ``hide`` makes unimportable)."""
    keep = {normalize(n) for n in allowed}
    return sorted(module for module, dists in metadata.packages_distributions().items()
                  if not keep & {normalize(d) for d in dists})


HIDER = '''"""Written by loosen.bench.gpu_wheels hide: the GPU machine lacks these modules."""
import sys

HIDDEN = frozenset({names!r})


class HideMissing:
    def find_spec(self, name, path=None, target=None):
        if name.partition('.')[0] in HIDDEN:
            raise ModuleNotFoundError(f'No module named {{name!r}} (hidden: the GPU machine '
                                      'lacks it)', name=name)
        return None


sys.meta_path.insert(0, HideMissing())
'''


def hide(folder: Path, allowed: Iterable[str] | None = None) -> Path:
    """``folder/sitecustomize.py``, which hides every module the GPU machine lacks (by
    default: neither carried nor in ``DEVICE``; loosen itself stays) from an interpreter
    that has ``folder`` on its PYTHONPATH."""
    if allowed is None:
        allowed = [*DEVICE, *(w.name for w in CARRIED), 'loosen']
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / 'sitecustomize.py'
    path.write_text(HIDER.format(names=hidden_modules(allowed)))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m loosen.bench.gpu_wheels',
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='action', required=True)
    pins = sub.add_parser('pins', help='the pins, one a line')
    kind = pins.add_mutually_exclusive_group()
    kind.add_argument('--binary', action='store_true', help='only those with wheels on the index')
    kind.add_argument('--sdist', action='store_true', help='only those built here')
    checking = sub.add_parser('check', help='every requirement of SITE met')
    checking.add_argument('site', type=Path)
    checking.add_argument('--all', action='store_true', help='every line, not the unmet only')
    sub.add_parser('hide', help='DIR/sitecustomize.py').add_argument('folder', type=Path)
    args = parser.parse_args(argv)
    if args.action == 'pins':
        built = {args.sdist} if args.binary or args.sdist else {False, True}
        print('\n'.join(w.pin for w in CARRIED if w.sdist in built))
        return 0
    if args.action == 'hide':
        print(f'wrote {hide(args.folder)}')
        return 0
    findings = check(args.site)
    unmet = [f for f in findings if not f.met]
    for f in findings if args.all else unmet:
        print(f'{"ok" if f.met else "NO"}  {f.about}: {f.how}')
    print(f'{args.site}: {len(findings) - len(unmet)} met, {len(unmet)} unmet '
          '(pins, and requirements as on the GPU machine)')
    return 1 if unmet else 0


if __name__ == '__main__':
    sys.exit(main())
