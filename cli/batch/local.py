"""Lines on a local process pool: one animator (engines loaded once) per worker process."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from cli.batch.line import LineOutcome, LineTask, animate_in_worker, start_worker


def cores() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def threads_per_worker(workers: int) -> int:
    """torch threads per worker so that workers × threads ≤ cores."""
    return max(1, cores() // max(1, workers))


def run_local(tasks: Iterable[LineTask], workers: int, threads: int) -> Generator[LineOutcome, None, None]:
    """Animate ``tasks`` on ``workers`` processes; outcomes come as lines finish.

    At most two tasks per worker are in flight, so the driver holds only those lines' audio. A worker that
    dies (a native crash) fails the lines it held; a fresh pool takes the rest.
    """
    todo = iter(tasks)
    pending: dict[Future[LineOutcome], LineTask] = {}
    pool = _pool(workers, threads)
    try:
        while True:
            for task in todo:
                pending[pool.submit(animate_in_worker, task)] = task
                if len(pending) >= 2 * workers:
                    break
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            broken = False
            for future in done:
                task = pending.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    broken = True
                    yield LineOutcome(task.index, task.id, None, "the worker process stopped on this line", 0.0)
            if broken:
                for task in pending.values():
                    yield LineOutcome(task.index, task.id, None, "the worker process stopped on this line", 0.0)
                pending.clear()
                _stop(pool)
                pool = _pool(workers, threads)
    finally:
        _stop(pool)


def _pool(workers: int, threads: int) -> ProcessPoolExecutor:
    # spawn: engines may hold threads or CUDA, which fork does not copy safely
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=start_worker, initargs=(threads,))


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop now: queued lines are dropped and lines in flight are abandoned (their workers are ended)."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public way to end workers before 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(5)
