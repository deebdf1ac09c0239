"""Run a list of cases in worker processes (``conform --jobs N``), results back in catalog order.

A case is one Hypothesis search that uses one CPU, and the cases are independent: with N
workers the run takes about 1/N of the wall time on N free cores, with the same examples and
verdicts (a derandomized case draws what the case, the implementation and the settings say,
whichever process runs it). The workers are forked from this process after everything slow to
set up (a C build, a wire command's hello) was done once here; each starts its own C fork server
when it runs its first C case.

* Results come back in the order of the cases, each as soon as it and every case before it are
  done, so that what is printed is what ``--jobs 1`` prints.
* The workers ignore SIGINT: a Ctrl-C interrupts this process, which ends them (and with them
  their fork servers and C children) and lets the KeyboardInterrupt go on.
* A worker that dies (a fault in Python or in a library; C code under test runs in processes of
  its own and never takes a worker with it) costs the cases it held their worker: the first case
  not yet reported runs again alone in a fresh worker; dying there too it is ``unknown`` with the
  reason, and the run goes on with the rest.
"""
from __future__ import annotations

import multiprocessing
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator, Sequence

from .cases import Case
from .runner import Result

#: What the forked workers run: set just before the pool forks them (a closure, which the
#: pool could not pickle, is inherited by the fork instead).
_RUN: list[Callable[[Any], Any]] = []


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_in_worker(item: Any) -> Any:
    return _RUN[-1](item)


def _pool(jobs: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"),
                               initializer=_ignore_sigint)


def _end(pool: ProcessPoolExecutor) -> None:
    """Stop the pool now: no case not yet started is run, and running ones are ended."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(5)


def lost(case: Case, impl: str, why: str) -> Result:
    """The result of a case whose worker process died under it twice."""
    return Result(case, impl, "unknown", 0, 0.0,
                  message=f"the worker process running this case died ({why}); the other cases ran")


def run_cases(run: Callable[[Case], Result], cases: Sequence[Case], jobs: int, impl: str) -> Iterator[Result]:
    """``run(case)`` for each case, ``jobs`` at a time in worker processes; the results in the
    order of ``cases`` (with ``jobs`` 1 or a single case: in this process, one after the other,
    each when asked for). The workers are forked here, before the caller starts anything of its
    own (a progress ticker's thread). ``impl`` names the implementation in a :func:`lost` result."""
    return run_each(run, cases, jobs, lambda case, why: lost(case, impl, why))


def run_each(run: Callable[[Any], Any], items: Sequence[Any], jobs: int,
             lost_as: Callable[[Any, str], Any]) -> Iterator[Any]:
    """:func:`run_cases` for any items (cases, mutants): ``lost_as(item, why)`` is the result of
    an item whose worker died twice under it (it may raise instead)."""
    if jobs <= 1 or len(items) <= 1:
        return (run(c) for c in items)
    _RUN.append(run)
    todo = list(items)
    pool = _pool(min(jobs, len(todo)))
    return _collect(pool, [pool.submit(_run_in_worker, c) for c in todo], todo, jobs, lost_as)


def _collect(pool: ProcessPoolExecutor, futures: list[Future], todo: list[Any], jobs: int,
             lost_as: Callable[[Any, str], Any]) -> Iterator[Any]:
    """The results of ``futures`` (one per case of ``todo``) in order; a fresh pool after a worker died."""
    try:
        while todo:
            try:
                for c, f in zip(list(todo), futures):
                    try:
                        r = f.result()
                    except BrokenProcessPool as e:
                        r = _alone(c, lost_as, str(e) or "broken pool")
                        todo.pop(0)
                        yield r
                        break  # a fresh pool for the cases after it
                    todo.pop(0)
                    yield r
            finally:
                _end(pool)
            if todo:
                pool = _pool(min(jobs, len(todo)))
                futures = [pool.submit(_run_in_worker, c) for c in todo]
    finally:
        _RUN.pop()


def _alone(item: Any, lost_as: Callable[[Any, str], Any], why: str) -> Any:
    """Run an item whose pool broke again, alone in a fresh worker: its result, or ``lost_as``'s."""
    pool = _pool(1)
    try:
        return pool.submit(_run_in_worker, item).result()
    except BrokenProcessPool:
        return lost_as(item, why)
    finally:
        _end(pool)
