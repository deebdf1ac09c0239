"""Run (cell, engine) tasks side by side in forked worker processes.

Every engine and the benches use it: each engine is single-threaded (Z3 and the
explicit search alike) and a cell's verdicts do not depend on the others, so cells
run on as many CPUs as this process may use.
"""
from __future__ import annotations

import argparse
import contextlib
import os
from typing import Any, Callable, Iterator

from mhmailbox.progress import Progress

from .check import Result
from .engines import ENGINES, run_one

#: ``--engine all`` without ``--time-limit``: seconds per cell for each Z3 engine. The
#: whole catalog then takes under two minutes on two cores (docs/proofs.md has the
#: figures); the explicit engine keeps its state budget as its only limit.
ALL_TIME_LIMIT = 3.0


def z3_time_limit(args: argparse.Namespace, engines: list[str], seconds: float) -> dict[str, argparse.Namespace]:
    """Per-engine options: the Z3 engines get ``seconds`` per cell; the explicit engine keeps
    ``args`` (its state budget, and its own time limit if any)."""
    z3_args = argparse.Namespace(**{**vars(args), "time_limit": seconds})
    return {eng: args if eng == "explicit" else z3_args for eng in engines}


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _worker_init() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the workers


def _options(args: argparse.Namespace) -> argparse.Namespace:
    """The options a worker needs, without the command's functions (``func``: a command may
    wrap another in a closure, which cannot be sent to a worker)."""
    return argparse.Namespace(**{k: v for k, v in vars(args).items() if not callable(v)})


def _run_task(item: tuple) -> tuple[tuple, list[Result]]:
    task, props, args = item
    return task, run_one(task, props, args)


def forked_map(fn: Callable[[Any], Any], items: list, jobs: int, ordered: bool = False) -> Iterator[Any]:
    """``fn(item)`` for every item, ``jobs`` forked worker processes at a time: as they finish,
    or in the items' order with ``ordered``. ``fn`` must be a module-level function.

    Workers ignore SIGINT: Ctrl-C (or a failed item) in the parent terminates them at
    once, not after their running Z3 calls."""
    import multiprocessing as mp

    pool = mp.get_context("fork").Pool(jobs, initializer=_worker_init)
    try:
        yield from (pool.imap if ordered else pool.imap_unordered)(fn, items)
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.close()
        pool.join()


def run_tasks(tasks: list[tuple], props: list, args: argparse.Namespace, jobs: int = 1,
              per_engine_args: dict[str, argparse.Namespace] | None = None) -> dict[tuple, list[Result]]:
    """Run (cell, engine) tasks, ``jobs`` at a time in forked worker processes; results by task.

    ``per_engine_args`` (optional) gives an engine its own options (e.g. its time limit).
    The Z3 engines' time limits are wall-clock: with more jobs than free CPUs a verdict
    near its limit may come out ``unknown``, never wrongly. A progress line goes to stderr
    if it is a terminal (mhmailbox.progress).
    """
    jobs = min(jobs, len(tasks))  # never more worker processes than tasks (--jobs 100000)
    out: dict[tuple, list[Result]] = {}
    args_for = per_engine_args or {}
    with Progress(len(tasks)) as progress:
        if jobs <= 1 or len(tasks) <= 1:
            for task in tasks:
                progress.start(f"{task[1]} {' '.join(task[0])}")
                out[task] = run_one(task, props, args_for.get(task[1], args))
                progress.finish()
        else:
            # explicit first: its cells' costs vary most (a few take most of its time); the
            # many time-limited Z3 tasks then fill in around them
            order = sorted(tasks, key=lambda t: t[1] != "explicit")
            work = [(t, props, _options(args_for.get(t[1], args))) for t in order]
            progress.start(f"{jobs} at a time")
            with contextlib.closing(forked_map(_run_task, work, jobs)) as done:  # (closed on any exception)
                for task, rs in done:
                    out[task] = rs
                    progress.finish(f"done: {task[1]} {' '.join(task[0])}")
    return out


def run_cells(cells: list[tuple], props: list, args: argparse.Namespace) -> tuple[list[str], dict[tuple, list[Result]]]:
    """Every cell with ``args.engine`` (``all``: every engine, each Z3 engine at
    :data:`ALL_TIME_LIMIT` per cell unless ``--time-limit`` says otherwise), ``--jobs`` at a
    time: the engines run, and the verdicts by (cell, engine)."""
    engines = sorted(ENGINES) if args.engine == "all" else [args.engine]
    per_engine_args = None
    if args.engine == "all" and args.time_limit is None:
        per_engine_args = z3_time_limit(args, engines, ALL_TIME_LIMIT)
    tasks = [(cell, eng) for cell in cells for eng in engines]
    return engines, run_tasks(tasks, props, args, jobs=args.jobs or available_cpus(), per_engine_args=per_engine_args)
