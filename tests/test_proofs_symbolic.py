"""The symbolic translation is the explicit model: same successors, same shortest traces."""
from __future__ import annotations

import random

import pytest
import z3

from mhmailbox.model.check import check_cell
from mhmailbox.model.explore import explore
from mhmailbox.model.protocol import Bounds, build
from mhmailbox.proofs import bmc as bmc_mod
from mhmailbox.proofs.symbolic import EXACT, UNBOUNDED, Symbolic


def _successors_z3(sym: Symbolic, state: tuple) -> set[tuple]:
    """Every successor of a concrete state according to the Z3 transition relation."""
    s = {n: sym.val(v) for n, v in zip(sym.names, state)}
    t = sym.state("t")
    solver = z3.Solver()
    solver.add(*sym.trans(s, t, sym.selectors("x"), sym.params("x")))
    out = set()
    while solver.check() == z3.sat:
        m = solver.model()
        v = tuple((m.eval(t[n], model_completion=True).as_signed_long() if sym.sort == "bv"
                   else m.eval(t[n], model_completion=True).as_long()) for n in sym.names)
        out.add(v)
        solver.add(z3.Or([t[n] != sym.val(x) for n, x in zip(sym.names, v)]))
        assert len(out) < 500
    return out


@pytest.mark.parametrize("cell", [("rfc", "tso", "slow", "faithful"), ("hardened", "relaxed", "honest", "faithful"),
                                  ("hardened", "sc", "honest", "adversarial"), ("rfc", "sc", "adversarial", "faithful")])
@pytest.mark.parametrize("sort", ["int", "bv"])
def test_one_step_agrees_with_compiled_successors(cell, sort) -> None:
    """On sampled reachable states, Z3's successors (locals fused) are exactly the explicit ones."""
    system = build(*cell, Bounds()).system.reduced()
    compiled = system.compile()
    sym = Symbolic(system, EXACT, sort=sort)
    ex = explore(compiled, 12, max_states=3000, stop_when_all_found=False)
    rng = random.Random(7)
    sample = [ex.trail_states[0]] + rng.sample(ex.trail_states, min(12, len(ex.trail_states)))
    for st in sample:
        want = {nxt for _, _, nxt in compiled.successors(st)}
        assert _successors_z3(sym, st) == want


def test_initial_state_is_settled_like_the_explicit_one() -> None:
    system = build("hardened", "tso", "honest", "faithful", Bounds()).system.reduced()
    sym = Symbolic(system, EXACT)
    s = sym.state("0")
    solver = z3.Solver()
    solver.add(sym.init(s))
    assert solver.check() == z3.sat
    got = tuple(solver.model().eval(s[n], model_completion=True).as_long() for n in sym.names)
    assert got == system.compile().initial()


def test_symbolic_time_leaves_deadline_and_quantum_free() -> None:
    system = build("hardened", "sc", "honest", "faithful", Bounds(symbolic_time=True, scripts=("any",))).system.reduced()
    sym = Symbolic(system, UNBOUNDED)
    s = sym.state("0")
    solver = z3.Solver()
    solver.add(sym.init(s), s["k.D"] == 7, s["k.Q"] == 11)
    assert solver.check() == z3.sat
    solver2 = z3.Solver()
    solver2.add(sym.init(s), s["k.D"] < 1)
    assert solver2.check() == z3.unsat


@pytest.mark.parametrize("cell", [("rfc", "sc", "honest", "adversarial"), ("rfc", "tso", "honest", "adversarial"),
                                  ("rfc", "sc", "honest", "faithful")])
def test_bmc_shortest_traces_have_the_explicit_lengths(cell) -> None:
    explicit = {r.property: r for r in check_cell(*cell)}
    model = build(*cell, Bounds())
    system = model.system.reduced()
    run = bmc_mod.bmc(Symbolic(system, EXACT, sort="bv"), bmc_mod.compiled_factory(system), 21, 60)
    for mi, prop in enumerate(model.properties):
        e = explicit[prop.id]
        if e.verdict == "violated" and e.depth <= run.depth:
            assert mi in run.found, prop.id
            assert run.found[mi].length == e.depth, prop.id
        if mi in run.found:
            assert e.verdict == "violated" and e.depth == run.found[mi].length, prop.id
    assert run.found, "the rfc cells have short violations"
