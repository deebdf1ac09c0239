"""Every single-fault mutant of the hardened implementation is killed by a named case."""
from __future__ import annotations

import pytest

from mhmailbox.conformance.cases import BY_ID
from mhmailbox.conformance.mutants import MUTANTS
from mhmailbox.conformance.runner import run_mutant


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_mutant_is_killed(mutant) -> None:
    r = run_mutant(mutant, examples=60)
    assert r.killed, f"{mutant.id} survived every {r.side} case"
    assert r.by in BY_ID and BY_ID[r.by].side == r.side
