"""Every single-fault mutant of the hardened implementation is detected by a named case (``fail``, or
``deviates``: the oracle alone saw it there)."""
from __future__ import annotations

import pytest

from mhmailbox.conformance.cases import BY_ID
from mhmailbox.conformance.mutants import MUTANTS
from mhmailbox.conformance.runner import run_case, run_mutant

from doc_tables import doc_row


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_mutant_is_killed(mutant) -> None:
    r = run_mutant(mutant, examples=60)
    assert r.killed, f"{mutant.id} survived every {r.side} case"
    assert r.by in BY_ID and BY_ID[r.by].side == r.side
    # docs/conformance.md names the case that kills it (the first in catalog order, when measured)
    named = doc_row("docs/conformance.md", mutant.id)[1].split(" ")[0]
    if named != r.by:
        assert run_case(named, mutant.impl, examples=60).verdict in ("fail", "deviates"), f"docs: {named} kills {mutant.id}"
