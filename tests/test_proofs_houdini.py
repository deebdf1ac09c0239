"""Houdini and the invariant store, on one small cell (hardened, sc, silent helper): what is
kept, what is dropped and why, and how a stored set becomes the candidate list.

Fast on purpose (seconds): bench/mutation.py runs these for every mutant of proofs/houdini.py and proofs/store.py.
"""
from __future__ import annotations

import json
import time

import pytest
import z3

from mhmailbox.model.expr import C, Not, Or, V
from mhmailbox.model.properties import CATALOG
from mhmailbox.proofs import houdini as hd
from mhmailbox.proofs import invariant as ivt
from mhmailbox.proofs import store
from mhmailbox.proofs.general import general_model
from mhmailbox.proofs.invariant import Invariant
from mhmailbox.proofs.symbolic import UNBOUNDED, Symbolic

FALSE = Invariant("bogus: 1 <= 0", ivt.from_json(["le", 1, 0]))  # fails initiation
NOT_INDUCTIVE = Invariant("bogus: host.seq <= 0", ivt.from_json(["le", ["var", "host.seq"], 0]))  # fails consecution


@pytest.fixture(scope="module")
def cell():
    model, system, _ = general_model(("hardened", "sc", "silent", "faithful"), list(CATALOG), None)
    sym = Symbolic(system, UNBOUNDED)
    return model, sym, store.stored(model)


def later(seconds: float = 120) -> float:
    return time.perf_counter() + seconds


def test_the_stored_set_is_inductive_as_it_is(cell) -> None:
    _, sym, stored = cell
    assert len(stored) > 100
    assert hd.houdini(sym, stored, later()) == (stored, True)


def test_houdini_drops_exactly_what_fails_initiation_or_consecution(cell) -> None:
    _, sym, stored = cell
    kept, finished = hd.houdini(sym, [FALSE] + stored[:60] + [NOT_INDUCTIVE] + stored[60:], later())
    assert finished and kept == stored


@pytest.mark.parametrize("cands", [[FALSE], [NOT_INDUCTIVE], [FALSE, NOT_INDUCTIVE], []])
def test_nothing_inductive_is_an_empty_finished_set(cell, cands) -> None:
    _, sym, _ = cell
    assert hd.houdini(sym, cands, later()) == ([], True)


def test_houdini_out_of_time_keeps_nothing(cell) -> None:
    _, sym, stored = cell
    assert hd.houdini(sym, stored, time.perf_counter() - 1) == ([], False)
    assert hd.houdini(sym, [NOT_INDUCTIVE] + stored, time.perf_counter() - 1) == ([], False)


def test_a_dropped_variable_is_evaluated_as_its_constant(cell) -> None:
    _, sym, _ = cell
    name, value = next(iter(sym.system.dropped.items()))
    fns = hd._evaluators(sym, [Invariant("x", V(name).eq(value)), Invariant("y", V(name).eq(value + 1))])
    assert [f({}) for f in fns] == [True, False]


def test_values_reads_every_state_variable_from_a_model(cell) -> None:
    _, sym, _ = cell
    s = sym.state("v")
    solver = z3.Solver()
    solver.add(sym.init(s))
    assert solver.check() == z3.sat
    env = hd._values(sym, solver.model(), s)
    assert set(env) == set(sym.names) and all(isinstance(v, int) for v in env.values())
    assert env["host.seq"] == 0


# --- the store ----------------------------------------------------------------------------
def test_expressions_round_trip_through_json(cell) -> None:
    model, _, _ = cell
    entries = store.load()[ivt.cell_key(model)]
    assert all(ivt.to_json(ivt.from_json(e)) == e for _, e in entries)
    x = ["le", ["param", "k.D"], ["add", ["var", "host.seq"], 3]]
    e = ivt.from_json(x)
    assert (e.op, e.args[0].op, e.args[0].args, e.args[1].args[1].op, e.args[1].args[1].args) == (
        "le", "param", ("k.D",), "const", (3,))
    assert ivt.to_json(e) == x


def test_cell_key_names_the_cell_and_its_buffer_bound(cell) -> None:
    model, _, _ = cell
    assert ivt.cell_key(model) == f"hardened/sc/silent/faithful/sb={model.bounds.capacity}"


def test_a_missing_or_corrupt_store_is_empty(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(store, "PACKAGE_STORE", str(tmp_path / "none.json"))
    assert store.load() == {}
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    monkeypatch.setattr(store, "PACKAGE_STORE", str(bad))
    assert store.load() == {}
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"k": [["n", 1]]}))
    monkeypatch.setattr(store, "PACKAGE_STORE", str(good))
    assert store.load() == {"k": [["n", 1]]}


def test_stored_reads_the_given_data_in_order(cell) -> None:
    model, _, _ = cell
    key = ivt.cell_key(model)
    data = {key: [["b", ["le", 1, 2]], ["a", 0]]}
    assert [(i.name, ivt.to_json(i.expr)) for i in store.stored(model, data)] == [("b", ["le", 1, 2]), ("a", 0)]
    assert store.stored(model, {}) == []


LEMMA_A = Invariant("lemma: a", ivt.from_json(["le", 0, ["var", "host.seq"]]))
LEMMA_B = Invariant("lemma: b", ivt.from_json(["le", 0, ["var", "host.pending"]]))


def test_lemmas_in_a_stored_set_take_their_current_form(monkeypatch, cell) -> None:
    model, _, _ = cell
    monkeypatch.setattr(store, "lemmas", lambda m: [LEMMA_A, LEMMA_B])
    old_a = ["lemma: a", ["le", 5, ["var", "host.seq"]]]
    gone = ["lemma: removed", 1]
    entries = [["x", 1], old_a, gone, ["y", 0]]
    got = store.stored_candidates(model, entries)
    assert [i.name for i in got] == ["x", "lemma: a", "y"]  # stored order; a dropped lemma stays out
    assert got[1] == LEMMA_A
    assert store.stored_candidates(model, None) == [LEMMA_A, LEMMA_B]  # no stored set: the lemmas alone
    both = store.with_lemmas(model, [Invariant("x", C(1)), Invariant("lemma: a", C(0))])
    assert both == [Invariant("x", C(1)), LEMMA_A, LEMMA_B]


def test_the_fingerprint_covers_the_model_and_each_invariant(cell) -> None:
    model, sym, stored = cell
    fp = hd.fingerprint(sym, stored)
    assert fp == hd.fingerprint(sym, list(stored)) and len(fp) == 64
    renamed = [Invariant(stored[0].name + "'", stored[0].expr)] + stored[1:]
    changed = [Invariant(stored[0].name, ivt.from_json(["le", 1, 1]))] + stored[1:]
    assert len({fp, hd.fingerprint(sym, renamed), hd.fingerprint(sym, changed), hd.fingerprint(sym, stored[1:])}) == 4
    m2, s2, _ = general_model(("hardened", "tso", "silent", "faithful"), list(CATALOG), None)
    assert hd.fingerprint(Symbolic(s2, UNBOUNDED), stored) != fp


def test_a_re_proof_is_cached_only_when_it_finished(monkeypatch, cell) -> None:
    model, sym, stored = cell
    key = ivt.cell_key(model)
    monkeypatch.setattr(store, "load", lambda *path: {key: [[i.name, ivt.to_json(i.expr)] for i in stored[:20]]})
    monkeypatch.setattr(store, "_CACHE", {})
    calls = []
    real = store.houdini

    def counted(*a):
        calls.append(1)
        return real(*a)

    monkeypatch.setattr(store, "houdini", counted)
    late = store.proved(sym, model, time.perf_counter() - 1)  # could not finish: nothing kept, nothing cached
    assert (late.names, late.dropped, store._CACHE) == ([], 20, {})
    first = store.proved(sym, model, later())
    second = store.proved(sym, model, later())
    assert len(calls) == 2 and first.names == second.names and len(store._CACHE) == 1
    assert first.dropped == 20 - len(first.names) and first.sym is sym


def test_proved_formula_is_the_conjunction(cell) -> None:
    _, sym, stored = cell
    s = sym.state("f")
    assert z3.is_true(ivt.Proved([], [], sym).formula(s))
    p = ivt.Proved([FALSE.name], [FALSE.expr], sym)
    solver = z3.Solver()
    solver.add(p.formula(s))
    assert solver.check() == z3.unsat
    ok = ivt.Proved([i.name for i in stored[:5]], [i.expr for i in stored[:5]], sym)
    solver = z3.Solver()
    solver.add(ok.formula(s), sym.init(s))
    assert solver.check() == z3.sat


def test_no_stored_set_and_no_lemma_proves_nothing(monkeypatch, cell) -> None:
    model, sym, _ = cell
    monkeypatch.delitem(sym.__dict__, "_store_lookups", raising=False)  # earlier tests' lookups of this sym
    monkeypatch.setattr(store, "load", lambda *path: {})
    monkeypatch.setattr(store, "lemmas", lambda m: [])
    got = store.proved(sym, model, later())
    assert (got.names, got.exprs, got.dropped) == ([], [], 0)


# --- which candidates a state is checked against -------------------------------------------
def test_relevant_finds_exactly_the_candidates_a_state_falsifies(cell) -> None:
    """Houdini checks a state only against the candidates whose step guard it meets
    (hd.Relevant): on reachable states, each with one variable moved off its value, that
    must be exactly what evaluating every candidate finds false, within the alive set."""
    from mhmailbox.proofs.mining import mine, sample_states

    model, sym, _ = cell
    rows = sample_states(sym.system, samples=((2, 1),), max_states=400)
    cands = mine(model, sym.system, rows=rows)
    fns = hd._evaluators(sym, cands)
    rel = hd.Relevant(cands, sym.system.variables)
    assert rel.guarded and rel.always
    everything = set(range(len(cands)))
    half = set(range(0, len(cands), 2))
    hits = 0
    for k, row in enumerate(rows[:150]):
        env = dict(zip(sym.names, row))
        env[sym.names[k % len(sym.names)]] += 1 + k % 3
        want = {i for i in everything if not fns[i](env)}
        assert rel.falsified(fns, everything, env) == want
        assert rel.falsified(fns, half, env) == want & half
        hits += bool(want)
    assert hits > 20


def test_a_guard_on_a_dropped_variable_is_always_checked(cell) -> None:
    _, sym, _ = cell
    name, value = next(iter(sym.system.dropped.items()))
    cand = Invariant("guard on a constant", Or(Not(V(name).eq(value)), V("host.seq").le(-1)))
    rel = hd.Relevant([cand], sym.system.variables)
    env = {n: 0 for n in sym.names}
    assert rel.falsified(hd._evaluators(sym, [cand]), {0}, env) == {0}


def test_exploration_drops_only_along_steps_of_the_generalized_model() -> None:
    """After a counterexample, Houdini explores from its pre-state with the explicit successor
    function. From a settled state (the initial one) a step that falsifies a candidate drops
    it; from a state with the host at a local step (a counterexample may have one), the
    explicit model settles every thread after a helper's step that ends at a local step of
    its own, so the host moves too, which the generalized model does not: nothing may be
    dropped there (it lost 80-120 inductive candidates of reqid's sc honest cell)."""
    from mhmailbox.proofs.mining import sample_states

    _, system, _ = general_model(("hardened", "sc", "honest", "faithful"), list(CATALOG), None)
    sym = Symbolic(system, UNBOUNDED)
    compiled = system.compile()
    rows = sample_states(system, samples=((2, 1),), max_states=300)
    k = sym.names.index("host.pc")

    def drops(state: tuple) -> set[int]:
        cands = [Invariant("pc stays", V("host.pc").eq(state[k]))]
        return hd._explore_drops(sym, compiled, hd._evaluators(sym, cands), {0}, dict(zip(sym.names, state)),
                                 hd.Relevant(cands, sym.system.variables), budget=2)

    assert drops(rows[0]) == {0}
    # a reachable state with the host moved to a local step, where a helper's action makes the
    # explicit model run the host's local steps too
    unsettled = next(u for r in rows for pc in sorted(sym.locals["host.pc"])
                     for u in [r[:k] + (pc,) + r[k + 1:]]
                     if any(nxt[k] != pc for _, _, nxt in compiled.successors(u)))
    assert drops(unsettled) == set()


def test_a_monitor_the_set_does_not_prove_gets_the_step_that_shows_why(cell) -> None:
    """prove's "needs a strengthening invariant" names the step where the set falls short."""
    from mhmailbox.model.check import Result
    from mhmailbox.proofs.prove import _explain_unknown

    model, sym, stored = cell
    mons = range(len(sym.system.monitors))
    assert all(w is None for w in hd.counterexample_steps(sym, model, stored, mons, 120).values())
    why = {sym.system.monitors[m].id: w for m, w in hd.counterexample_steps(sym, model, stored[:3], mons, 120).items()}
    actions = {a.name for a in sym.system.actions}
    shown = {p: w for p, w in why.items() if w}
    assert shown and all(w.split(" (")[0] in actions and "(host " in w for w in shown.values())
    prop = next(iter(shown))

    def result(verdict: str, note: str) -> Result:
        return Result(prop, "hardened", "sc", "silent", "faithful", "kind", verdict, 0, 0, 0.0, "", note=note)

    rs = [result("unknown", "needs a strengthening invariant"), result("unknown", "out of time"),
          result("proved", "1-inductive")]
    _explain_unknown(rs, model, sym, stored[:3])
    head = "needs a strengthening invariant; relative to the 3 invariants stored, the step "
    tail = (" reaches a violation from a state they allow (an invariant about those steps is missing,"
            " or a longer run does violate it)")
    assert rs[0].note.startswith(head) and rs[0].note.endswith(tail)
    assert rs[0].note[len(head):].split(" (")[0] in actions  # which step: the solver's choice
    assert [r.note for r in rs[1:]] == ["out of time", "1-inductive"]


def test_the_joint_limit_leaves_out_the_joint_family_as_joint_false_does() -> None:
    """prove mines once: past ``joint_limit`` candidates, what ``joint=False`` would have mined."""
    from mhmailbox.proofs.mining import mine, sample_states

    model, system, _ = general_model(("hardened", "sc", "honest", "faithful"), list(CATALOG), None)
    rows = sample_states(system, samples=((2, 1),), max_states=60)

    def named(cands: list[Invariant]) -> list[str]:
        return [c.name for c in cands]

    full, without = mine(model, system, rows=rows), mine(model, system, rows=rows, joint=False)
    assert len(without) < len(full)
    assert named(mine(model, system, rows=rows, joint_limit=len(full))) == named(full)
    assert named(mine(model, system, rows=rows, joint_limit=len(full) - 1)) == named(without)
