"""The Z3 engines: registered, honest about time, proofs and traces that check out."""
from __future__ import annotations

import pytest

from mhmailbox.cli import main
from mhmailbox.model.engines import ENGINES, load_engines
from mhmailbox.proofs.engines import run_bmc, run_unbounded, tightness_witness
from mhmailbox.proofs.replay import replay

GUEST_SIDE = ("hardened", "sc", "honest", "adversarial")


def test_engines_registered() -> None:
    load_engines()
    assert {"explicit", "bmc", "kind", "pdr"} <= set(ENGINES)


@pytest.mark.parametrize("engine", ["kind", "pdr"])
def test_guest_side_properties_proved_unbounded(engine) -> None:
    rs = run_unbounded(engine, GUEST_SIDE, [], None, time_limit=60)
    assert {r.property: r.verdict for r in rs} == {
        "guest.confidential": "proved", "guest.refusal-reported": "proved",
        "guest.integrity": "proved", "guest.gpa-checked": "proved"}
    assert all(r.bound.startswith("unbounded") for r in rs)


def test_out_of_time_is_unknown_never_a_pass() -> None:
    rs = run_unbounded("pdr", ("hardened", "sc", "honest", "faithful"), [], None, time_limit=0.05)
    assert rs and {r.verdict for r in rs} <= {"unknown"}
    # bmc out of time: what it has not refuted is bounded by the depth it reached, never by
    # the depth asked for, and says why it stopped (run_bmc has no other verdict to give)
    rs = run_bmc(("rfc", "sc", "slow", "faithful"), [], None, depth=60, time_limit=0.5)
    open_ = [r for r in rs if r.verdict != "violated"]
    assert open_, "0.5 s refuted every property to depth 60: pick a harder cell"
    for r in open_:
        assert r.verdict in ("unknown", "holds-to-depth") and r.depth < 60, (r.property, r.verdict, r.depth)
        assert "stopped at the time limit" in r.note, r.note


def test_kind_proves_bounded_wait_with_symbolic_time() -> None:
    rs = {r.property: r for r in run_unbounded("kind", ("hardened", "sc", "honest", "faithful"), [], None,
                                               time_limit=60)}
    r = rs["timeout.bounded-wait"]
    assert r.verdict == "proved", r.note
    assert "D>=1 and Q>=1 free" in r.bound
    assert rs["adversary.header-bound"].verdict == "proved"


def test_bounded_wait_witness_reaches_the_bound() -> None:
    found = tightness_witness("hardened", "sc", "silent", time_limit=60)
    assert found is not None
    w, d, q = found
    assert q >= 2 and w["trace"][-1]["clock"]["t"] == d + q - 1
    assert w["trace"][0]["bounds"]["deadline"] == d


def test_unbounded_counterexamples_replay(tmp_path) -> None:
    rs = run_unbounded("pdr", ("rfc", "sc", "honest", "adversarial"), [], None, time_limit=60)
    violated = [r for r in rs if r.verdict == "violated"]
    assert violated
    for r in violated:
        assert r.trace and r.depth == len(r.trace) - 1
        out = replay(r.to_json())
        assert out.confirmed, out.message


def test_bmc_is_deterministic() -> None:
    """Seeds are pinned: two runs (separate processes, as users run them) print the same traces."""
    import json
    import subprocess
    import sys

    def run() -> list:
        out = subprocess.run([sys.executable, "-m", "mhmailbox.cli", "verify", "--engine", "bmc", "--variant", "rfc",
                              "--memory", "tso", "--guest", "honest", "--host", "adversarial", "--json", "--depth", "12"],
                             capture_output=True, text=True, check=True).stdout
        return [(r["property"], r["verdict"], r["depth"], r["trace"]) for r in json.loads(out)["results"]]

    a, b = run(), run()
    assert a == b and any(v == "violated" for _, v, _, _ in a)


def test_verify_engine_all_agrees(capsys) -> None:
    rc = main(["verify", "--engine", "all", "--variant", "rfc", "--memory", "sc", "--guest", "honest", "--host",
               "adversarial", "--no-trace", "--time-limit", "30"])
    out = capsys.readouterr().out
    assert rc == 0 and "DISAGREEMENT" not in out
    assert " bmc " in out and " pdr " in out and " kind " in out


@pytest.mark.parametrize("memory", ["sc", "tso", "relaxed"])
def test_host_safety_proved_against_the_adversarial_guest(memory) -> None:
    """Acceptance: every host-side safety property of hardened, proved unbounded, adversarial guest."""
    rs = run_unbounded("kind", ("hardened", memory, "adversarial", "faithful"), [], None, time_limit=60)
    assert {r.property: r.verdict for r in rs} == {
        "timeout.bounded-wait": "proved", "adversary.header-bound": "proved", "adversary.in-bounds": "proved",
        "adversary.error-no-data": "proved", "state.init-before-use": "proved"}, [r.note for r in rs]


@pytest.mark.parametrize("mutant,prop", [("broken:init-kept-after-reset", "state.init-before-use"),
                                         ("broken:init-failure-ignored", "adversary.error-no-data")])
def test_hardened_invariants_do_not_prove_a_broken_variant(monkeypatch, mutant, prop) -> None:
    """The invariants that prove hardened, handed to a one-fault mutant, must not prove what it breaks:
    Houdini has to drop whatever the mutant falsifies, so the proof cannot go through."""
    from mhmailbox.proofs import store

    data = store.load()
    hardened = data["hardened/sc/adversarial/faithful/sb=2"]
    monkeypatch.setattr(store, "load", lambda *path: {f"{mutant}/sc/adversarial/faithful/sb=2": hardened})
    store._CACHE.clear()
    rs = {r.property: r for r in run_unbounded("kind", (mutant, "sc", "adversarial", "faithful"), [], None,
                                               time_limit=60)}
    assert rs[prop].verdict in ("violated", "unknown"), rs[prop].note
    assert rs["adversary.in-bounds"].verdict == "proved"  # what the mutant keeps is still proved


@pytest.mark.parametrize("memory,guest", [("sc", "honest"), ("tso", "honest"), ("relaxed", "honest"),
                                          ("sc", "slow"), ("tso", "slow"), ("relaxed", "slow")])
def test_cooperating_helper_fully_proved(memory, guest) -> None:
    """order.*, liveness.* and the rest, unbounded, with symbolic deadline and quantum (recovery: Q < D)."""
    rs = run_unbounded("kind", ("hardened", memory, guest, "faithful"), [], None, time_limit=120)
    assert {r.verdict for r in rs} == {"proved"}, {r.property: r.note for r in rs if r.verdict != "proved"}
    live = {"honest": "liveness.honest-progress", "slow": "liveness.recovery"}[guest]
    assert live in {r.property for r in rs}
    assert all("Q < D" in r.note for r in rs if r.property == "liveness.recovery")


def test_recovery_needs_a_quantum_shorter_than_the_deadline() -> None:
    """The assumption is necessary: with Q >= D the explicit engine finds the violation."""
    from mhmailbox.model.check import check_cell
    from mhmailbox.model.properties import BY_ID
    from mhmailbox.model.protocol import Bounds

    prop = BY_ID["liveness.recovery"]
    assert prop.assumes == "Q < D" and not prop.holds_for(1, 1) and prop.holds_for(2, 1)
    bad = check_cell("hardened", "sc", "slow", "faithful", [prop], Bounds(scripts=("any",), deadline=1, quantum=1))
    assert bad[0].verdict == "violated"
    ok = check_cell("hardened", "sc", "slow", "faithful", [prop], Bounds(scripts=("any",), deadline=2, quantum=1),
                    max_states=300_000)
    assert ok[0].verdict == "holds-to-depth"


def test_stored_proofs_are_recognised_whatever_the_hash_seed() -> None:
    """The fingerprint that lets a run reuse a stored Houdini proof must not depend on
    PYTHONHASHSEED (set iteration order once made every relaxed run re-prove its set)."""
    import os
    import subprocess
    import sys

    code = ("from mhmailbox.proofs import houdini, store\n"
            "from mhmailbox.proofs.general import general_model\n"
            "from mhmailbox.proofs.invariant import cell_key\n"
            "from mhmailbox.proofs.symbolic import UNBOUNDED, Symbolic\n"
            "from mhmailbox.model.properties import CATALOG\n"
            "m, s, _ = general_model(('hardened', 'relaxed', 'silent', 'faithful'), list(CATALOG), None)\n"
            "sym = Symbolic(s, UNBOUNDED, sort='int')\n"
            "key = cell_key(m)\n"
            "d = store.load()\n"
            "print(houdini.fingerprint(sym, store.stored_candidates(m, d[key])) == d['_fingerprints'][key])\n")
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                             env={**os.environ, "PYTHONHASHSEED": seed})
        assert out.stdout.strip() == "True", out.stderr


def test_an_inductive_core_proves_what_the_whole_set_proves() -> None:
    """--core shrinks a stored set: the core must be inductive on its own and still make
    every monitor 1-inductive; asking it for a monitor it cannot prove is an error."""
    import time

    from mhmailbox.model.properties import CATALOG
    from mhmailbox.proofs import houdini as hd
    from mhmailbox.proofs import store
    from mhmailbox.proofs.general import general_model
    from mhmailbox.proofs.invariant import Proved, cell_key
    from mhmailbox.proofs.pdr import _relative_inductive
    from mhmailbox.proofs.symbolic import UNBOUNDED, Symbolic

    model, system, _ = general_model(("hardened", "sc", "silent", "faithful"), list(CATALOG), None)
    sym = Symbolic(system, UNBOUNDED)
    cands = store.stored_candidates(model, store.load()[cell_key(model)])
    core = hd.inductive_core(sym, cands, time.perf_counter() + 120)
    assert core is not None and set(core) <= set(cands)
    kept, finished = hd.houdini(sym, core, time.perf_counter() + 120)
    assert finished and len(kept) == len(core)
    proved = Proved([i.name for i in core], [i.expr for i in core], sym)
    mons = list(range(len(system.monitors)))
    assert _relative_inductive(sym, proved, mons, time.perf_counter() + 120) == set(mons)
    with pytest.raises(AssertionError, match="does not prove"):
        hd.inductive_core(sym, core[: len(core) // 4], time.perf_counter() + 120)


def test_roots_point_at_the_lemmas_that_need_more_support() -> None:
    """--roots: with the stored set, every lemma of relaxed slow is inductive relative to the rest;
    with the lemmas alone, some are not, and the first one's counterexample is shown."""
    import time

    from mhmailbox.model.properties import CATALOG
    from mhmailbox.proofs import houdini as hd
    from mhmailbox.proofs import store
    from mhmailbox.proofs.general import general_model
    from mhmailbox.proofs.invariant import Proved, cell_key
    from mhmailbox.proofs.lemmas import lemmas
    from mhmailbox.proofs.symbolic import UNBOUNDED, Symbolic

    model, system, _ = general_model(("hardened", "relaxed", "slow", "faithful"), list(CATALOG), None)
    sym = Symbolic(system, UNBOUNDED)
    stored = store.stored_candidates(model, store.load()[cell_key(model)])
    assert hd.roots(sym, model, stored, time.perf_counter() + 120, log=lambda m: None) == []
    log: list[str] = []
    found = hd.roots(sym, model, lemmas(model), time.perf_counter() + 120, log=log.append)
    assert found and all(n.startswith("lemma: ") for n in found)
    assert log[0] == f"ROOT {found[0]}" and log[1].startswith("  host: ")


def test_one_property_alone_reuses_the_cells_stored_proof(monkeypatch) -> None:
    """`verify --engine kind --property P` on a hardened cell: the model of one property keeps only
    its monitor's variables, so its fingerprint is not the stored set's; the engine then proves on
    the model of the cell's whole catalog, whose stored proof it reuses, and reports P alone. (Before,
    Houdini ran again over the whole stored set, 1,938 candidates on tso, and a loaded machine got
    `unknown` where the full run proves.)"""
    from mhmailbox.model.properties import BY_ID
    from mhmailbox.proofs import engines, store

    def no_houdini(*a, **k):
        raise AssertionError("Houdini ran again: the stored proof was not reused")

    fingerprints = []

    def counted(sym, invs):
        fingerprints.append(len(invs))
        return fingerprint(sym, invs)

    fingerprint = store.fingerprint
    monkeypatch.setattr(store, "houdini", no_houdini)
    monkeypatch.setattr(store, "fingerprint", counted)
    monkeypatch.setattr(store, "_CACHE", {})
    rs = engines.run_unbounded("kind", ("hardened", "tso", "honest", "faithful"), [BY_ID["order.response"]],
                               None, time_limit=120)
    assert [(r.property, r.verdict) for r in rs] == [("order.response", "proved")]
    assert "relative to" in rs[0].note
    # the one-property model's set, then the whole catalog's: each fingerprinted once (choosing the
    # model and proving on it ask the stores the same question; the second answer is remembered)
    assert len(fingerprints) == 2, fingerprints
