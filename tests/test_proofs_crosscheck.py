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


@pytest.mark.parametrize("cell", GRID, ids=["-".join(c) for c in GRID])
def test_engines_agree(cell) -> None:
    explicit = {r.property: r for r in check_cell(*cell)}
    bmc = {r.property: r for r in run_bmc(cell, [], None, depth=22, time_limit=8)}
    proofs = [r for eng in ("kind", "pdr") for r in run_unbounded(eng, cell, [], None, time_limit=6)]
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
    if cell[0] == "hardened" and cell[3] == "adversarial":  # the guest side is proved unbounded, by both
        assert sum(r.verdict == "proved" for r in proofs) == 2 * len(explicit)
