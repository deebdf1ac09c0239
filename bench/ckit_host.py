"""C kit throughput on a C host file: examples/s per host case, and one timed-out command's wall time.

    python bench/ckit_host.py FILE.c [FILE.c ...] [--protocol rfc] [--define NAME=VALUE] [--examples N]
                              [--shrink-seconds S] [--case ID]

Per case: the verdict (and property), the examples Hypothesis ran (shrinking included, as the
suite counts them), the seconds and examples/s. Then the wall time of one command that times
out (a cleanup's RESET to a silent helper: every burst of the file's busy loop runs in full)
and how many accesses and folded polls it took.
"""
from __future__ import annotations

import argparse
import resource
import time

from mhmailbox.conformance.ckit import c_host, run_c_case
from mhmailbox.conformance.ckit.run import describe
from mhmailbox.conformance.rig import QUANTUM, HostRig
from mhmailbox.conformance.runner import select


def cpu() -> float:
    """CPU seconds of this process and of its reaped children (the C hosts): on a machine shared
    with other jobs, what the run costs, where wall time says how long it waited."""
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime


def cases(impl, examples: int, shrink: float, ids: list[str], side: str = "host") -> None:
    """Each case of ``side``: verdict, examples, wall and CPU seconds and rates (bench/ckit_guest.py too)."""
    ex = secs = cpus = 0.0
    for c in select(side, ids):
        c0 = cpu()
        r = run_c_case(c, impl, examples=examples, shrink_seconds=shrink)
        used = cpu() - c0
        ex, secs, cpus = ex + r.examples, secs + r.seconds, cpus + used
        what = r.verdict + (f" {r.prop}" if r.prop else "")
        print(f"{c.id:28} {what:36} {r.examples:5} examples {r.seconds:7.1f} s wall {r.examples / r.seconds:6.1f}/s "
              f"{used:7.1f} s CPU {r.examples / used:6.1f}/s", flush=True)
    print(f"{'all':28} {'':36} {ex:5.0f} examples {secs:7.1f} s wall {ex / secs:6.1f}/s {cpus:7.1f} s CPU {ex / cpus:6.1f}/s")


def timed_out_command(impl, repeats: int = 3) -> None:
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--protocol", default="rfc")
    p.add_argument("--define", action="append", default=[])
    p.add_argument("--examples", type=int, default=60)
    p.add_argument("--shrink-seconds", type=float, default=8.0)
    p.add_argument("--case", action="append", default=[])
    a = p.parse_args()
    impl = c_host(a.files, a.protocol, defines=tuple(a.define))
    print(describe(impl), flush=True)
    timed_out_command(impl)
    cases(impl, a.examples, a.shrink_seconds, a.case)


if __name__ == "__main__":
    main()
