"""bmc's search options keep verdicts and lengths: partial-order pairs commute, every option finds the explicit lengths."""
from __future__ import annotations

import pytest

from mhmailbox.model.check import check_cell
from mhmailbox.model.expr import evaluate
from mhmailbox.model.protocol import Bounds, build
from mhmailbox.proofs import bmc as bmc_mod
from mhmailbox.proofs.symbolic import EXACT, Symbolic


def _transition_of(sym: Symbolic, env: dict, ai: int, params) -> int:
    """The index of the (action, branch) transition the explicit step ``ai(params)`` takes from ``env``."""
    act = sym.system.actions[ai]
    pmap = {name: int(v) for (name, _), v in zip(act.params, params)}
    js = [j for j, tr in enumerate(sym.transitions) if tr.action == ai and evaluate(tr.cond, env, pmap)]
    assert len(js) == 1, (act.name, js)
    return js[0]


@pytest.mark.parametrize("cell", [("rfc", "tso", "honest", "faithful"), ("rfc", "relaxed", "honest", "adversarial")])
def test_partial_order_pairs_commute_on_every_reachable_state(cell) -> None:
    """For each pair the reduction orders (a > b independent), wherever a then b runs, b then a runs too
    and ends in the same state: so forbidding "a, then b" loses no end state at any length."""
    system = build(*cell, Bounds()).system.reduced()
    sym = Symbolic(system, EXACT, sort="bv")
    after = bmc_mod.independent_after(sym)
    assert after, "some transitions commute"
    later = {b: set(xs) for b, xs in after.items()}
    compiled = system.compile()
    start = compiled.initial()
    seen, todo = {start}, [start]
    swapped = 0
    while todo and len(seen) < 3000:
        s = todo.pop()
        env_s = system.env(s)
        for ai, ps, t in compiled.successors(s):
            if t not in seen:
                seen.add(t)
                todo.append(t)
            a = _transition_of(sym, env_s, ai, ps)
            env_t = system.env(t)
            for bi, qs, u in compiled.successors(t):
                b = _transition_of(sym, env_t, bi, qs)
                if a not in later.get(b, ()):
                    continue
                mid = compiled.apply(s, bi, qs)
                assert mid is not None, f"{sym.system.actions[bi].name} not enabled before {sym.system.actions[ai].name}"
                assert _transition_of(sym, system.env(s), bi, qs) == b
                assert compiled.apply(mid, ai, ps) == u
                swapped += 1
    assert swapped > 0


def _explicit_lengths(cell) -> dict:
    return {r.property: r for r in check_cell(*cell)}


@pytest.mark.parametrize("options", [bmc_mod.PLAIN, bmc_mod.DEFAULT,
                                     bmc_mod.Options(split=True, milestones=True)],
                         ids=["plain", "default", "split+milestones"])
@pytest.mark.parametrize("cell,depth", [(("rfc", "tso", "honest", "adversarial"), 9),
                                        (("rfc", "sc", "honest", "faithful"), 14)])
def test_every_option_finds_the_explicit_lengths(cell, depth, options) -> None:
    explicit = _explicit_lengths(cell)
    model = build(*cell, Bounds())
    system = model.system.reduced()
    run = bmc_mod.bmc(Symbolic(system, EXACT, sort="bv"), bmc_mod.compiled_factory(system), depth, 60,
                      options=options)
    assert run.stopped in ("depth", "all-found"), run
    for mi, prop in enumerate(model.properties):
        e = explicit[prop.id]
        if mi in run.found:
            assert e.verdict == "violated" and e.depth == run.found[mi].length, prop.id
            path = run.found[mi].path
            assert len(path) == e.depth + 1
        else:
            assert not (e.verdict == "violated" and e.depth <= depth), prop.id
    assert run.found


def test_split_solvers_use_smaller_cones_and_report_the_least_depth() -> None:
    cell = ("rfc", "sc", "honest", "faithful")
    model = build(*cell, Bounds())
    system = model.system.reduced()
    run = bmc_mod.bmc(Symbolic(system, EXACT, sort="bv"), bmc_mod.compiled_factory(system), 8, 60,
                      options=bmc_mod.Options(split=True))
    assert len(run.groups) > 1
    assert all(g["variables"] <= len(system.variables) for g in run.groups)
    assert any(g["variables"] < len(system.variables) for g in run.groups)
    assert run.depth == 8 and run.stopped == "depth"


def test_tso_honest_faithful_liveness_at_its_explicit_length() -> None:
    """The first violation of rfc / tso / honest / faithful (explicit: depth 20), found by bmc at 20."""
    cell = ("rfc", "tso", "honest", "faithful")
    explicit = _explicit_lengths(cell)
    model = build(*cell, Bounds())
    system = model.system.reduced()
    run = bmc_mod.bmc(Symbolic(system, EXACT, sort="bv"), bmc_mod.compiled_factory(system), 20, 60)
    ids = [p.id for p in model.properties]
    live = ids.index("liveness.honest-progress")
    assert explicit["liveness.honest-progress"].depth == 20
    assert live in run.found and run.found[live].length == 20
    assert run.depth == 20 and set(run.found) == {live}
