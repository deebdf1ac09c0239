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

from .expr import lift, to_python
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


def build_mp(wmb: bool, rmb: bool) -> tuple[list[Thread], Callable[[dict[str, int]], bool]]:
    """MP: P0 writes x then y; P1 reads y then x. Weak: P1 sees the new y and the old x."""
    w = _thread("P0", {}, [("wx", Write("x", ONE, ZERO))] + ([("wmb", Fence("wmb"))] if wmb else [])
                + [("wy", Write("y", ONE, ZERO))])
    r = _thread("P1", {"r0": 0, "r1": 0}, [("ry", Read("y", "r0"))] + ([("rmb", Fence("rmb"))] if rmb else [])
                + [("rx", Read("x", "r1"))])
    return [w, r], lambda v: v["P1.r0"] == 1 and v["P1.r1"] == 0


def build_sb(mb: bool) -> tuple[list[Thread], Callable[[dict[str, int]], bool]]:
    """SB: each thread writes its variable then reads the other's. Weak: both read the old value."""
    fence = [("mb", Fence("mb"))] if mb else []
    a = _thread("P0", {"r0": 0}, [("wx", Write("x", ONE, ZERO))] + fence + [("ry", Read("y", "r0"))])
    b = _thread("P1", {"r1": 0}, [("wy", Write("y", ONE, ZERO))] + fence + [("rx", Read("x", "r1"))])
    return [a, b], lambda v: v["P0.r0"] == 0 and v["P1.r1"] == 0


ONE, ZERO = lift(1), lift(0)
BUILDERS = {
    "MP": lambda: build_mp(False, False),
    "MP+wmb+rmb": lambda: build_mp(True, True),
    "SB": lambda: build_sb(False),
    "SB+mb": lambda: build_sb(True),
}


def _thread(name: str, locals_: dict[str, int], body: list) -> Thread:
    t = Thread(name, locals_)
    for label, op in body:
        t.step(label, label, op)
    t.step("end", "done", None, guard=lift(False), next="end")
    return t


def allowed(threads: list[Thread], weak: Callable[[dict[str, int]], bool], memory: str) -> bool:
    """Is a final state (every thread at its end, every store visible) with the weak result reachable?"""
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
    quiet_src = to_python(mm.quiescent(threads), lambda n: f"s[{idx[n]}]")
    quiet = eval("lambda s: " + quiet_src)  # noqa: S307 - generated from our own expression

    def final_and_weak(s: tuple) -> bool:
        if any(s[idx[pc]] != end for pc, end in ends.items()) or not quiet(s):
            return False
        return bool(weak({name: s[i] for name, i in idx.items()}))

    return reachable(compiled, final_and_weak)


def run(test: str, memory: str) -> Outcome:
    if test not in BUILDERS:
        raise ValueError(f"unknown litmus test {test!r}")
    threads, weak = BUILDERS[test]()
    return Outcome(test, memory, allowed(threads, weak, memory))


def table() -> list[Outcome]:
    return [run(t, m) for t in TESTS for m in MODELS]
