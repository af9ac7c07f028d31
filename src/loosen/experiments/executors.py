"""Where the grid's cells run: ``local`` worker processes, or ``ray`` tasks on a cluster.

Both run ``cells.execute`` in a process of its own (never in the command's process, so a
cell that crashes or leaks cannot take the grid down) with ``spec.threads`` torch threads,
which with the engine's seeding makes a cell's numbers the same wherever it runs. A cell
whose process dies is run once more, then recorded as failed. The progress bar counts
cells done, running and failed, and estimates the time left.
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from tqdm import tqdm

from ..atomic import write_json
from ..errors import unknown_name
from .cells import cell_row, execute
from .regimes import write_sources, write_subset
from .spec import Cell, GridSpec, read_result

ATTEMPTS = 2  # a cell whose process dies is tried this many times in all


class Progress:
    """A tqdm bar over the grid's cells: done, running and failed; tqdm gives the time left."""

    def __init__(self, total: int, finished: list[dict[str, Any]], enabled: bool | None) -> None:
        self.failed = sum(r['status'] == 'failed' for r in finished)
        self.bar = tqdm(total=total, initial=len(finished), unit='cell', desc='grid',
                        disable=None if enabled is None else not enabled)
        self.running = 0

    def update(self, running: int, row: dict[str, Any] | None = None) -> None:
        self.running = running
        if row is not None:
            self.failed += row['status'] == 'failed'
            self.bar.update(1)
        self.bar.set_postfix(done=self.bar.n - self.failed, running=running, failed=self.failed)

    def close(self) -> None:
        self.bar.close()


def died(spec: GridSpec, cell: Cell, reason: str) -> dict[str, Any]:
    """The row of a cell whose process died without writing one."""
    row = {**cell_row(cell), 'status': 'failed', 'error': f'its process died: {reason}'}
    write_json(spec.result_path(cell), row)
    return row


def run_local(spec: GridSpec, cells: list[Cell], progress: Progress, jobs: int = 1,
              address: str | None = None) -> None:
    """``jobs`` cells at once in fresh worker processes (spawned: no state from this one)."""
    left = {cell.key: cell for cell in cells}
    attempts = dict.fromkeys(left, 0)
    while left:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context('spawn')) as pool:
            futures = {pool.submit(execute, spec.to_dict(), key): key for key in left}
            progress.update(min(jobs, len(left)))
            for future in as_completed(futures):
                cell = left[futures[future]]
                try:
                    row = future.result()
                except BrokenProcessPool as error:  # one cell's death breaks the whole pool
                    row = read_result(spec, cell)
                    attempts[cell.key] += 1
                    if row is None and attempts[cell.key] < ATTEMPTS:
                        continue  # unfinished: the next pool runs it again
                    row = row or died(spec, cell, str(error) or type(error).__name__)
                del left[cell.key]
                progress.update(min(jobs, len(left)), row)


def run_ray(spec: GridSpec, cells: list[Cell], progress: Progress, jobs: int = 1,
            address: str | None = None) -> None:
    """Each cell a Ray task asking for ``spec.threads`` CPUs and ``spec.gpus`` GPUs; Ray's
    scheduler places them. Rows come back and are written into this grid's folder too
    (the same file where workers share the disk)."""
    import ray  # the optional extra loosen[cluster]

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    task = ray.remote(execute).options(num_cpus=spec.threads, num_gpus=spec.gpus,
                                       max_retries=ATTEMPTS - 1)
    pending = {task.remote(spec.to_dict(), cell.key): cell for cell in cells}
    slots = max(1, int(ray.cluster_resources().get('CPU', 1) // spec.threads))
    progress.update(min(slots, len(pending)))
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        cell = pending.pop(ready[0])
        try:
            row = ray.get(ready[0])
            write_json(spec.result_path(cell), row)
        except ray.exceptions.RayError as error:
            row = died(spec, cell, ' '.join(str(error).split())[:300])
        progress.update(min(slots, len(pending)), row)


Executor = Callable[..., None]
EXECUTORS: dict[str, Executor] = {'local': run_local, 'ray': run_ray}


def get_executor(name: str) -> Executor:
    if name not in EXECUTORS:
        raise unknown_name('executor', name, EXECUTORS)
    return EXECUTORS[name]


def run_grid(spec: GridSpec, executor: str = 'local', jobs: int = 1,
             address: str | None = None, progress: bool | None = None) -> int:
    """Run the cells of ``spec`` not done yet (never run, killed or failed); returns how many
    failed."""
    spec.root.mkdir(parents=True, exist_ok=True)
    spec.save()
    write_sources(spec)
    for cell in spec.cells():
        write_subset(spec, cell)
    results = {c: read_result(spec, c) for c in spec.cells()}
    finished = [row for row in results.values() if row is not None and row['status'] == 'done']
    todo = [c for c, row in results.items() if row is None or row['status'] == 'failed']
    bar = Progress(len(spec.cells()), finished, progress)
    try:
        if todo:
            get_executor(executor)(spec, todo, bar, jobs=jobs, address=address)
    finally:
        bar.close()
    return bar.failed
