"""Cross-check at shared bounds: explicit and bmc verdicts agree; no proof contradicts a counterexample."""
from __future__ import annotations

import pytest

from mhmailbox.model.check import check_cell
from mhmailbox.proofs.engines import run_bmc, run_unbounded
from mhmailbox.proofs.replay import replay

GRID = [
    ("rfc", "sc", "honest", "adversarial"),
    ("rfc", "tso", "honest", "adversarial"),
    ("hardened", "sc", "honest", "adversarial"),
    ("hardened", "relaxed", "honest", "adversarial"),
    ("rfc", "sc", "silent", "faithful"),
    ("hardened", "sc", "silent", "faithful"),
    ("rfc", "sc", "honest", "faithful"),
    ("hardened", "sc", "honest", "faithful"),
]
#: The verdict each unbounded engine must reach on *every* property of a cell (checked
#: against explicit and bmc, so an engine that answers ``unknown`` everywhere fails).
#: Hardened: both engines prove everything (each within ~3 s on an idle core). rfc: PDR
#: finds the guest-side violations on sc; the other rfc cells' violations are too deep
#: for either engine at a modest limit (they stay ``unknown``: only soundness is checked).
DECIDED = {
    ("rfc", "sc", "honest", "adversarial"): {"pdr": "violated"},
    ("hardened", "sc", "honest", "adversarial"): {"kind": "proved", "pdr": "proved"},
    ("hardened", "relaxed", "honest", "adversarial"): {"kind": "proved", "pdr": "proved"},
    ("hardened", "sc", "silent", "faithful"): {"kind": "proved", "pdr": "proved"},
    ("hardened", "sc", "honest", "faithful"): {"kind": "proved", "pdr": "proved"},
}
#: A cell that must decide gets time to spare on a loaded machine (it returns as soon as it
#: has decided); the others run briefly, for soundness only.
DECIDE_TIME, SOUNDNESS_TIME = 60, 3


@pytest.mark.parametrize("cell", GRID, ids=["-".join(c) for c in GRID])
def test_engines_agree(cell) -> None:
    explicit = {r.property: r for r in check_cell(*cell)}
    bmc = {r.property: r for r in run_bmc(cell, [], None, depth=22, time_limit=8)}
    want = DECIDED.get(cell, {})
    proofs = [r for eng in ("kind", "pdr")
              for r in run_unbounded(eng, cell, [], None, time_limit=DECIDE_TIME if eng in want else SOUNDNESS_TIME)]
    assert set(bmc) == set(explicit)
    for pid, e in explicit.items():
        b = bmc[pid]
        if b.verdict == "violated":
            assert e.verdict == "violated" and e.depth == b.depth, (pid, e.depth, b.depth)
            assert replay(b.to_json()).confirmed
        elif b.verdict == "holds-to-depth" and e.verdict == "violated":
            assert e.depth > b.depth, f"{pid}: bmc missed a violation at depth {e.depth} <= {b.depth}"
        if e.verdict == "violated" and e.depth <= min(b.depth, 22) and b.verdict != "violated":
            pytest.fail(f"{pid}: explicit violated at {e.depth}, bmc says {b.verdict} to {b.depth}")
    for r in proofs:
        if r.verdict == "proved":
            assert explicit[r.property].verdict != "violated", f"{r.engine} proved {r.property}, explicit refutes it"
            assert bmc[r.property].verdict != "violated"
        if r.verdict == "violated":
            assert replay(r.to_json()).confirmed
            assert explicit[r.property].verdict == "violated", f"{r.engine} refutes {r.property}, explicit does not"
    for eng, verdict in want.items():
        got = {r.property: r.verdict for r in proofs if r.engine == eng}
        assert got == {pid: verdict for pid in explicit}, f"{eng} must decide every property of this cell"
