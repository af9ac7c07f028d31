"""Keep the thread settings of the environment as the session found them, keep what
loosen caches inside the session, and start the slowest files first.

``make test`` runs the suite on every core (pytest-xdist): the files marked ``slow``
(end-to-end runs of a minute or more) go first, whole, so that no worker is left with one
at the end while the others are idle; each worker's torch gets its share of the cores
(``OMP_NUM_THREADS``, unless the environment sets it).

YOLOv5 and Ultralytics set ``OMP_NUM_THREADS`` (to 1 on two cores) when they are
imported, and the YOLO tests import them while pytest collects. Every subprocess a
test starts then runs torch with another thread count than the test's own process,
and CPU float sums differ between thread counts: a run killed in a subprocess and
resumed in-process no longer ends as the uninterrupted in-process run.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest

THREAD_VARIABLES = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMEXPR_MAX_THREADS')
_found: dict[str, str | None] = {}
_cache: list[str] = []  # the session's $LOOSEN_CACHE, when the session made it


def restore_thread_variables() -> None:
    for name, value in _found.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def pytest_configure(config: pytest.Config) -> None:
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
    if workers > 1 and 'OMP_NUM_THREADS' not in os.environ:  # before torch loads: workers
        # times threads at most the cores (more, and OpenMP's waiting threads spin on them)
        os.environ['OMP_NUM_THREADS'] = str(max(1, (os.cpu_count() or 1) // workers))
    _found.update({name: os.environ.get(name) for name in THREAD_VARIABLES})
    if not os.environ.get('LOOSEN_CACHE'):  # rendered YAMLs, synthetic sets, frame hashes:
        # in a folder of the session's (its subprocesses inherit it), not the user's cache
        _cache.append(tempfile.mkdtemp(prefix='loosen-test-cache-'))
        os.environ['LOOSEN_CACHE'] = _cache[0]


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _cache:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.hookimpl(trylast=True)  # after pytest groups the tests by their fixtures
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker('slow') is None)  # stable


def pytest_collection_finish(session: pytest.Session) -> None:
    restore_thread_variables()


@pytest.fixture(autouse=True)
def _thread_variables_as_found():
    """Undo what an upstream import made during a test, for the tests after it."""
    yield
    restore_thread_variables()
