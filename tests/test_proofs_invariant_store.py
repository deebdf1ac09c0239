"""The stored Houdini proofs (proofs/invariants.json) are reused only for the model they were proved for.

A stored set is trusted without re-proof only when its recorded fingerprint is the
fingerprint of the current model and candidates. Any other stored fingerprint (a model
changed since, a set edited by hand) must send the set through Houdini again, so a
stale or wrong invariant can cost time but never make a verdict ``proved``.
"""
from __future__ import annotations

import time

import pytest

from mhmailbox.model.properties import CATALOG
from mhmailbox.proofs import houdini as hd
from mhmailbox.proofs import invariant as ivt
from mhmailbox.proofs import store
from mhmailbox.proofs.engines import run_unbounded
from mhmailbox.proofs.general import general_model
from mhmailbox.proofs.symbolic import UNBOUNDED, Symbolic

CELL = ("hardened", "sc", "silent", "faithful")
#: holds in no state: assumed as an invariant, it makes every property "1-inductive"
FALSE_INVARIANT = ["bogus: 1 <= 0", ["le", 1, 0]]
#: holds initially (no command sent yet), but the next command breaks it: not inductive
NOT_INDUCTIVE = ["bogus: host.seq <= 0", ["le", ["var", "host.seq"], 0]]


@pytest.fixture
def cell():
    model, system, _ = general_model(CELL, list(CATALOG), None)
    return model, Symbolic(system, UNBOUNDED), ivt.cell_key(model)


def _store(monkeypatch, data: dict) -> None:
    monkeypatch.setattr(store, "load", lambda *path: data)
    monkeypatch.setattr(store, "_CACHE", {})


def test_a_matching_fingerprint_reuses_the_stored_proof(monkeypatch, cell) -> None:
    """The reuse path itself: no Houdini run (a deadline already past could not finish one)."""
    model, sym, key = cell
    data = store.load()
    assert hd.fingerprint(sym, store.stored_candidates(model, data[key])) == data["_fingerprints"][key]
    _store(monkeypatch, data)
    got = store.proved(sym, model, deadline=time.perf_counter() - 1)
    assert got.names == [i.name for i in store.stored_candidates(model, data[key])] and got.dropped == 0


def test_a_mismatching_fingerprint_is_not_reused(monkeypatch, cell) -> None:
    """Same set, other fingerprint: Houdini must run; with no time left it keeps nothing."""
    model, sym, key = cell
    data = store.load()
    _store(monkeypatch, {key: data[key], "_fingerprints": {key: "0" * 64}})
    got = store.proved(sym, model, deadline=time.perf_counter() - 1)
    assert got.names == [] and got.dropped == len(store.stored_candidates(model, data[key]))


def test_a_stale_set_is_re_proved_and_its_wrong_invariants_dropped(monkeypatch, cell) -> None:
    model, sym, key = cell
    data = store.load()
    stale = data[key] + [FALSE_INVARIANT, NOT_INDUCTIVE]
    _store(monkeypatch, {key: stale, "_fingerprints": {key: data["_fingerprints"][key]}})
    got = store.proved(sym, model, deadline=time.perf_counter() + 120)
    assert not {FALSE_INVARIANT[0], NOT_INDUCTIVE[0]} & set(got.names)
    assert got.dropped >= 2 and len(got.names) >= len(data[key]) // 2


def test_a_stale_false_invariant_cannot_prove_a_violated_property(monkeypatch) -> None:
    """End to end: rfc's init-before-use is violated; a stored set holding a contradiction,
    under a fingerprint of some other model, must not turn that into ``proved``."""
    model, _, _ = general_model(("rfc", "sc", "silent", "faithful"), list(CATALOG), None)
    key = ivt.cell_key(model)
    _store(monkeypatch, {key: [FALSE_INVARIANT], "_fingerprints": {key: "0" * 64}})
    rs = {r.property: r for r in run_unbounded("kind", ("rfc", "sc", "silent", "faithful"), [], None, time_limit=10)}
    assert rs["state.init-before-use"].verdict in ("violated", "unknown"), rs["state.init-before-use"].note
