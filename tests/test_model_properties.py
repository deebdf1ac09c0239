"""Every property fails for a one-fault mutant of hardened, and holds for hardened in the same cell."""
import pytest

from mhmailbox.model.broken import MUTANTS
from mhmailbox.model.check import check_cell
from mhmailbox.model.properties import BY_ID, CATALOG


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_is_caught_and_hardened_is_not(name):
    mutant = MUTANTS[name]
    memory, guest, host = mutant.cell
    prop = BY_ID[mutant.breaks]
    [broken] = check_cell(mutant, memory, guest, host, properties=[prop])
    assert broken.verdict == "violated", f"{name} should violate {prop.id}"
    assert broken.trace and len(broken.trace) == broken.depth + 1
    [fixed] = check_cell("hardened", memory, guest, host, properties=[prop])
    assert fixed.verdict == "holds-to-depth"
    assert fixed.exhaustive, "hardened should be checked exhaustively in the mutant's cell"


def test_every_property_has_a_mutant():
    covered = {m.breaks for m in MUTANTS.values()}
    assert covered == {p.id for p in CATALOG}


def test_property_applicability():
    # guest-side properties only against the adversarial host; order.* never against an adversarial guest
    assert BY_ID["guest.confidential"].applies("honest", "adversarial")
    assert not BY_ID["guest.confidential"].applies("honest", "faithful")
    assert not BY_ID["order.response"].applies("adversarial", "faithful")
    assert BY_ID["timeout.bounded-wait"].applies("silent", "faithful")
    assert BY_ID["liveness.recovery"].applies("slow", "faithful")
    assert not BY_ID["liveness.recovery"].applies("honest", "faithful")
