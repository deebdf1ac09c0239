"""The memory models reproduce the litmus table of shared/reference/anchors.md."""
import pytest

from mhmailbox.model.expr import lift
from mhmailbox.model.explore import reachable
from mhmailbox.model.litmus import run, table
from mhmailbox.model.memory import MemoryModel
from mhmailbox.model.program import Fence, Read, Thread, Write
from mhmailbox.model.system import System

# test -> (sc, tso, relaxed): is the weak outcome allowed?
EXPECTED = {
    "MP": (False, False, True),
    "MP+wmb+rmb": (False, False, False),
    "SB": (False, True, True),
    "SB+mb": (False, False, False),
}


@pytest.mark.parametrize("test", sorted(EXPECTED))
@pytest.mark.parametrize("memory", ["sc", "tso", "relaxed"])
def test_litmus_outcome(test, memory):
    expected = EXPECTED[test][["sc", "tso", "relaxed"].index(memory)]
    assert run(test, memory).allowed is expected


def test_table_has_every_cell_once():
    cells = [(o.test, o.memory) for o in table()]
    assert len(cells) == len(set(cells)) == 12


def _mp(wmb: bool, rmb: bool, memory: str) -> bool:
    """MP with only one of the two barriers: both halves are needed on relaxed."""
    one, zero = lift(1), lift(0)
    w = Thread("P0", {})
    w.step("wx", "x = 1", Write("x", one, zero))
    if wmb:
        w.step("wmb", "wmb", Fence("wmb"))
    w.step("wy", "y = 1", Write("y", one, zero))
    w.step("end", "", None, guard=lift(False), next="end")
    r = Thread("P1", {"r0": 0, "r1": 0})
    r.step("ry", "r0 = y", Read("y", "r0"))
    if rmb:
        r.step("rmb", "rmb", Fence("rmb"))
    r.step("rx", "r1 = x", Read("x", "r1"))
    r.step("end", "", None, guard=lift(False), next="end")
    mm = MemoryModel(memory, ["x", "y"], capacity=2)
    system = System()
    for t in (w, r):
        system.declare(t.pc_var)
        for k, v in t.locals.items():
            system.declare(t.var(k), v)
    mm.declare(system, [w, r], {})
    for t in (w, r):
        for st in t.steps:
            for a in mm.compile(t, st, t.name):
                system.add(a)
    for a in mm.background([w, r]):
        system.add(a)
    idx = system.index()
    c = system.compile()
    return reachable(c, lambda s: s[idx["P1.pc"]] == r.pc_of("end") and s[idx["P1.r0"]] == 1 and s[idx["P1.r1"]] == 0)


def test_relaxed_needs_both_barriers():
    assert _mp(wmb=True, rmb=False, memory="relaxed")
    assert _mp(wmb=False, rmb=True, memory="relaxed")
    assert not _mp(wmb=True, rmb=True, memory="relaxed")
    assert not _mp(wmb=False, rmb=False, memory="tso")
