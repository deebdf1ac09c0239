"""Where the CPU time of a conformance run goes, per example: Hypothesis, the rig, the oracle, the C kit, the C code.

    python bench/ckit_profile.py host [FILE.c ...] [--protocol hardened] [--case ID] [--examples N]
    python bench/ckit_profile.py guest [FILE.c ...] [--protocol hardened] [--entry NAME] [--case ID] [--examples N]
    python bench/ckit_profile.py host --python [--protocol hardened]      # the Python implementation

With no file: our hardened C host (examples/c/hardened-host/) or helper (examples/c/hardened-helper/).
Each part's *exclusive* CPU time (this thread's, ``time.thread_time``), per example, measured by
wrapping the functions that start each part; the C processes' time (the code under test and the
fork server) comes from the reaped children's rusage. The wrappers cost about a microsecond per
call, counted in the caller's part: the total is a few per cent above an unwrapped run's
(bench/ckit_host.py, bench/ckit_guest.py give those figures).
"""
from __future__ import annotations

import argparse
import collections
import functools
import os
import resource
import time
from typing import Any, Callable

from mhmailbox.conformance import cases
from mhmailbox.conformance.adapter import IMPLEMENTATIONS
from mhmailbox.conformance.ckit import c_guest, c_host, child, run_c_case
from mhmailbox.conformance.runner import run_case, select
from mhmailbox.impl.guest import GuestHelper
from mhmailbox.model.observe import Observer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS = {"host": os.path.join(ROOT, "examples", "c", "hardened-host", "confidential-ram.c"),
        "guest": os.path.join(ROOT, "examples", "c", "hardened-helper", "ConfidentialMigrationHardened.c")}
HYPOTHESIS = "Hypothesis: engine, draws, rule choice, invariants (all not below)"
#: (object, method names, part): the functions where each part starts (exclusive time: a part
#: called from another is counted in its own)
PARTS: list[tuple[Any, tuple[str, ...], str]] = [
    (cases.HostMachine, ("__init__",), "set-up: rig build, child spawn (per example)"),
    (cases.GuestMachine, ("__init__",), "set-up: rig build, child spawn (per example)"),
    (cases.HostMachine, ("do_save", "do_load", "do_cleanup"), "rig: ports, peer actions, checks, traces"),
    (cases.GuestMachine, ("do_init", "do_reset", "do_encrypt", "do_unknown", "do_decrypt"),
     "rig: ports, peer actions, checks, traces"),
    (cases, ("_check",), "rig: ports, peer actions, checks, traces"),
    (Observer, ("observe", "finish", "choose", "__init__"), "oracle: the model observer"),
    (GuestHelper, ("poll_once", "start"), "Python helper (the host cases' reference peer, or under test)"),
    (child.Child, ("_recv", "_answer", "_send"), "C kit wire: select, read, write, mailbox copy"),
    (child.Child, ("stop",), "teardown: stop the child"),
    (child.ForkServer, ("spawn", "kill"), "C kit fork-server requests"),
]


class Meter:
    """Exclusive thread CPU time per part, kept on a stack of the parts entered."""

    def __init__(self) -> None:
        self.spent: collections.Counter[str] = collections.Counter()
        self.stack: list[list[Any]] = [[HYPOTHESIS, time.thread_time()]]

    def wrap(self, owner: Any, name: str, part: str) -> None:
        f = getattr(owner, name)
        stack, spent, now = self.stack, self.spent, time.thread_time

        @functools.wraps(f)
        def timed(*a: Any, **k: Any) -> Any:
            t = now()
            spent[stack[-1][0]] += t - stack[-1][1]
            stack.append([part, t])
            try:
                return f(*a, **k)
            finally:
                t2 = now()
                p, t0 = stack.pop()
                spent[p] += t2 - t0
                stack[-1][1] = t2

        setattr(owner, name, timed)

    def close(self) -> None:
        t = time.thread_time()
        self.spent[self.stack[-1][0]] += t - self.stack[-1][1]
        self.stack[-1][1] = t


def children_cpu() -> float:
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return c.ru_utime + c.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("side", choices=("host", "guest"))
    p.add_argument("files", nargs="*")
    p.add_argument("--protocol", default="hardened")
    p.add_argument("--entry", default="MigrationHandlerMain")
    p.add_argument("--python", action="store_true", help="the Python implementation of --protocol instead of C")
    p.add_argument("--case", action="append", default=[])
    p.add_argument("--examples", type=int, default=100)
    a = p.parse_args()
    run: Callable[[Any], Any]
    if a.python:
        impl: Any = IMPLEMENTATIONS[a.protocol]
        name = f"Python {a.protocol}"
        run = lambda c: run_case(c, impl, examples=a.examples)  # noqa: E731
    else:
        files = a.files or [OURS[a.side]]
        impl = c_host(files, a.protocol) if a.side == "host" else c_guest(files, a.protocol, entry=a.entry)
        name = ", ".join(files)
        run = lambda c: run_c_case(c, impl, examples=a.examples)  # noqa: E731
    meter = Meter()
    for owner, names, part in PARTS:
        for n in names:
            meter.wrap(owner, n, part)
    print(f"{a.side} cases, {name}, {a.examples} examples each; load average "
          + ", ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)
    ex, c0, t0 = 0, children_cpu(), time.perf_counter()
    meter.stack[0][1] = time.thread_time()
    for c in select(a.side, a.case):
        r = run(c)
        ex += r.examples
        print(f"  {c.id:28} {r.verdict:9} {r.examples:5} examples", flush=True)
    meter.close()
    kids = children_cpu() - c0
    total = sum(meter.spent.values()) + kids
    print(f"{ex} examples, {total:.2f} s CPU ({ex / total:.1f} examples per CPU second), "
          f"{time.perf_counter() - t0:.1f} s wall; per example {1e3 * total / ex:.2f} ms of CPU:")
    rows = list(meter.spent.items()) + ([("C processes: the code under test, the fork server", kids)] if kids else [])
    for part, secs in sorted(rows, key=lambda x: -x[1]):
        print(f"  {1e3 * secs / ex:6.2f} ms  {100 * secs / total:5.1f}%  {part}")


if __name__ == "__main__":
    main()
