"""Litmus tests run through the protocol model's own memory-model code.

MP is exactly the mailbox's two hand-offs (parameters -> go, ret/page -> done);
SB is the store->load pattern a timeout check can fall into. Each test is two
threads built with :class:`~mhmailbox.model.program.Thread`, compiled by
:class:`~mhmailbox.model.memory.MemoryModel`, explored exhaustively; the
outcome is "allowed" when a final state with the weak result is reachable.
"""
from __future__ import annotations

from typing import Callable

import attrs

from .expr import And, V, lift
from .explore import reachable
from .memory import MODELS, MemoryModel
from .program import Fence, Read, Thread, Write
from .system import System

TESTS = ("MP", "MP+wmb+rmb", "SB", "SB+mb")


@attrs.frozen
class Outcome:
    test: str
    memory: str
    allowed: bool
    states: int = 0


def _build(test: str) -> tuple[list[Thread], Callable[[dict[str, int]], object]]:
    one, zero = lift(1), lift(0)
    if test.startswith("MP"):
        fenced = test != "MP"
        w = Thread("P0", {})
        w.step("wx", "x = 1", Write("x", one, zero))
        if fenced:
            w.step("wmb", "wmb", Fence("wmb"))
        w.step("wy", "y = 1", Write("y", one, zero))
        w.step("end", "done", None, guard=lift(False), next="end")
        r = Thread("P1", {"r0": 0, "r1": 0})
        r.step("ry", "r0 = y", Read("y", "r0"))
        if fenced:
            r.step("rmb", "rmb", Fence("rmb"))
        r.step("rx", "r1 = x", Read("x", "r1"))
        r.step("end", "done", None, guard=lift(False), next="end")
        weak = lambda v: v["P1.r0"] == 1 and v["P1.r1"] == 0  # noqa: E731
        return [w, r], weak
    fenced = test != "SB"
    a = Thread("P0", {"r0": 0})
    a.step("wx", "x = 1", Write("x", one, zero))
    if fenced:
        a.step("mb", "mb", Fence("mb"))
    a.step("ry", "r0 = y", Read("y", "r0"))
    a.step("end", "done", None, guard=lift(False), next="end")
    b = Thread("P1", {"r1": 0})
    b.step("wy", "y = 1", Write("y", one, zero))
    if fenced:
        b.step("mb", "mb", Fence("mb"))
    b.step("rx", "r1 = x", Read("x", "r1"))
    b.step("end", "done", None, guard=lift(False), next="end")
    weak = lambda v: v["P0.r0"] == 0 and v["P1.r1"] == 0  # noqa: E731
    return [a, b], weak


def run(test: str, memory: str) -> Outcome:
    if test not in TESTS:
        raise ValueError(f"unknown litmus test {test!r}")
    threads, weak = _build(test)
    mm = MemoryModel(memory, ["x", "y"], capacity=2)
    system = System()
    for t in threads:
        system.declare(t.pc_var)
        for name, init in t.locals.items():
            system.declare(t.var(name), init)
    mm.declare(system, threads, {})
    for t in threads:
        for st in t.steps:
            for act in mm.compile(t, st, t.name):
                system.add(act)
    for act in mm.background(threads):
        system.add(act)
    compiled = system.compile()
    idx = system.index()
    ends = {t.pc_var: t.pc_of("end") for t in threads}
    quiet = mm.quiescent(threads)
    from .expr import to_python

    quiet_f = eval("lambda s: " + to_python(quiet, lambda n: f"s[{idx[n]}]"))  # noqa: S307

    def final_and_weak(s: tuple) -> bool:
        if any(s[idx[pc]] != end for pc, end in ends.items()) or not quiet_f(s):
            return False
        return bool(weak({name: s[i] for name, i in idx.items()}))

    return Outcome(test, memory, reachable(compiled, final_and_weak))


def table() -> list[Outcome]:
    return [run(t, m) for t in TESTS for m in MODELS]
