"""The memory models reproduce the classic litmus table (docs/model.md, *Memory models*)."""
import pytest

from mhmailbox.model.litmus import allowed, build_mp, run, table

# test -> (sc, tso, relaxed): is the weak outcome allowed?
EXPECTED = {
    "MP": (False, False, True),
    "MP+wmb+rmb": (False, False, False),
    "SB": (False, True, True),
    "SB+mb": (False, False, False),
}


@pytest.mark.parametrize("test", sorted(EXPECTED))
@pytest.mark.parametrize("memory", ["sc", "tso", "relaxed"])
def test_litmus_outcome(test, memory):
    expected = EXPECTED[test][["sc", "tso", "relaxed"].index(memory)]
    assert run(test, memory).allowed is expected


def test_table_has_every_cell_once():
    cells = [(o.test, o.memory) for o in table()]
    assert len(cells) == len(set(cells)) == 12


def test_relaxed_needs_both_barriers():
    assert allowed(*build_mp(wmb=True, rmb=False), "relaxed")
    assert allowed(*build_mp(wmb=False, rmb=True), "relaxed")
    assert not allowed(*build_mp(wmb=True, rmb=True), "relaxed")
    assert not allowed(*build_mp(wmb=False, rmb=False), "tso")
