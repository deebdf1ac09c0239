"""C kit throughput on a C host file: examples/s per host case, and one timed-out command's wall time.

    python bench/ckit_host.py FILE.c [FILE.c ...] [--protocol rfc] [--define NAME=VALUE] [--examples N]
                              [--shrink-seconds S] [--case ID] [--python] [--no-timeout] [--no-speedups] [--jobs N]

Per case: the verdict (and property), the examples Hypothesis ran (shrinking included, as the
suite counts them), the seconds and examples/s, per wall second and per CPU second (this process
and the C processes; with --jobs N, each worker's own). Then the run's examples per wall second
(with --jobs N: N cases at once, in worker processes, as ``conform --jobs N``). Then the wall time of one command that times
out (a cleanup's RESET to a silent helper: every burst of the file's busy loop runs in full)
and how many accesses and folded polls it took. The load average and the machine's speed (a fixed
Python loop's CPU time) are printed before and after:
on a shared machine the wall figures measure mostly the wait for a CPU, the CPU figures less so.
"""
from __future__ import annotations

import argparse
import functools
import os
import resource
import time

import attrs

from mhmailbox.conformance.adapter import IMPLEMENTATIONS
from mhmailbox.conformance.ckit import c_host, run_c_case
from mhmailbox.conformance.ckit.run import describe
from mhmailbox.conformance.rig import QUANTUM, HostRig
from mhmailbox.conformance.parallel import run_cases
from mhmailbox.conformance.runner import run_case, select


def cpu() -> float:
    """CPU seconds of this process and of its reaped children (the C hosts): on a machine shared
    with other jobs, what the run costs, where wall time says how long it waited."""
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime


def load() -> str:
    """The load average (1, 5, 15 min): the wall figures depend on it, the CPU ones much less.
    Then the machine's speed at that moment: a virtual machine's CPU can run half as fast in one
    hour as in the next, which moves every figure here, CPU seconds included."""
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + f"; {speed()}"


def speed() -> str:
    """CPU seconds of a plain Python loop of 10^7 additions (this machine: 0.88-1.53 s on 30 Nov 2026)."""
    t, s = time.process_time(), 0
    for i in range(10_000_000):
        s += i
    return f"10^7 additions in {time.process_time() - t:.2f} s of CPU"


def _measured(run, c):
    """``run(c)`` and the CPU seconds it took (this process's and its reaped children's: run in a
    worker, the worker's own)."""
    c0 = cpu()
    r = run(c)
    return r, cpu() - c0


def cases(impl, examples: int, shrink: float, ids: list[str], side: str = "host", python: bool = False,
          jobs: int = 1) -> None:
    """Each case of ``side``: verdict, examples, wall and CPU seconds and rates (bench/ckit_guest.py too);
    with ``python``, the Python implementation of the same protocol on the same cases right after
    (about the same load), so that the kit's own cost shows against the suite's. With ``jobs`` N > 1 the
    cases run N at once, as ``conform --jobs N`` runs them: a case's seconds are its own (they
    overlap), and the last lines give the run's wall time and examples per wall second."""
    print(f"cases at {examples} examples each, --jobs {jobs}; {load()}", flush=True)
    runs = [(impl, functools.partial(run_c_case, impl=impl, examples=examples, shrink_seconds=shrink))]
    if python:
        py = IMPLEMENTATIONS[impl.protocol]
        runs.append((py, functools.partial(run_case, impl=py, examples=examples, shrink_seconds=shrink)))
    chosen = select(side, ids)
    for im, run in runs:
        ex = secs = cpus = 0.0
        t0 = time.perf_counter()
        for c, (r, used) in zip(chosen, run_cases(functools.partial(_measured, run), chosen, jobs, im.name)):
            ex, secs, cpus = ex + r.examples, secs + r.seconds, cpus + used
            what = r.verdict + (f" {r.prop}" if r.prop else "")
            print(f"{c.id + ('' if im is impl else f' ({im.name})'):28} {what:36} {r.examples:5} examples "
                  f"{r.seconds:7.1f} s wall {r.examples / r.seconds:6.1f}/s {used:7.1f} s CPU {r.examples / used:6.1f}/s",
                  flush=True)
        wall = time.perf_counter() - t0
        print(f"{'all ' + im.name:64} {ex:5.0f} examples {secs:7.1f} s wall {ex / secs:6.1f}/s "
              f"{cpus:7.1f} s CPU {ex / cpus:6.1f}/s")
        print(f"{'all ' + im.name + f', --jobs {jobs}':64} {ex:5.0f} examples in {wall:7.1f} s of wall time: "
              f"{ex / wall:6.1f} per wall second", flush=True)
    print(f"then {load()}", flush=True)


def timed_out_command(impl, repeats: int = 3) -> None:
    """Wall and CPU time of a cleanup whose RESET times out (every burst of the busy loop in full)."""
    print(f"one timed-out command, {repeats} times; {load()}", flush=True)
    for _ in range(repeats):
        rig = HostRig.build(impl)
        t0, c0 = time.perf_counter(), cpu()
        ok = rig.cleanup([(0, ("silent",))])
        dt = time.perf_counter() - t0
        assert not ok
        h = rig.host
        impl.stop()  # reaps the child: its CPU time is counted
        print(f"one timed-out command: {dt:.3f} s wall, {cpu() - c0:.3f} s CPU, {rig.clock.now() / QUANTUM:.0f} quanta "
              f"virtual, {h.accesses} accesses, {h.polls_folded} polls folded", flush=True)


def add_run_options(p: argparse.ArgumentParser, *, examples: int, side: str) -> None:
    """The options both C kit benches take for their per-case runs."""
    p.add_argument("--examples", type=int, default=examples)
    p.add_argument("--shrink-seconds", type=float, default=8.0)
    p.add_argument("--case", action="append", default=[])
    p.add_argument("--no-speedups", action="store_true",
                   help="an exec per example and every read waiting, as the kit was before (to compare)")
    p.add_argument("--python", action="store_true", help=f"each case for the Python {side} of the protocol too")
    p.add_argument("--jobs", type=int, default=1, help="cases at once, in worker processes (as conform --jobs)")


def as_asked(impl, a: argparse.Namespace):
    """The implementation with the kit's speed-ups off if ``--no-speedups``; its description printed."""
    if a.no_speedups:
        impl = attrs.evolve(impl, server=None, run_ahead=False)
    print(describe(impl), flush=True)
    return impl


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--protocol", default="rfc")
    p.add_argument("--define", action="append", default=[])
    add_run_options(p, examples=60, side="host")
    p.add_argument("--no-timeout", action="store_true", help="skip the timed-out command")
    a = p.parse_args()
    impl = as_asked(c_host(a.files, a.protocol, defines=tuple(a.define)), a)
    if not a.no_timeout:
        timed_out_command(impl)
    cases(impl, a.examples, a.shrink_seconds, a.case, python=a.python, jobs=a.jobs)


if __name__ == "__main__":
    main()
