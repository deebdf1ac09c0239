"""Schedules are drawn from weighted tables (one draw per slot, two per list element) with the
shares a ``one_of`` of the same alternatives would give: each behaviour's alternatives equal, each
value of an alternative an equal part of it, the simplest first (shrinking goes toward index 0)."""
from __future__ import annotations

from collections import Counter
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from mhmailbox.conformance import cases
from mhmailbox.conformance.runner import select


def _shares(table: tuple) -> dict:
    n = len(table)
    return {v: Fraction(c, n) for v, c in Counter(table).items()}


@given(st.lists(st.lists(st.integers(), min_size=1, max_size=7, unique=True), min_size=1, max_size=4))
@settings(max_examples=50, derandomize=True, database=None)
def test_weighted_gives_each_branch_an_equal_share(branches) -> None:
    tagged = [[(i, v) for v in b] for i, b in enumerate(branches)]
    shares = _shares(cases.weighted(*tagged))
    for b in tagged:
        for v in b:
            assert shares[v] == Fraction(1, len(tagged)) / len(b)


def test_weighted_keeps_the_order_simplest_first() -> None:
    assert cases.weighted([None], [1, 2]) == (None, None, 1, 2)


def test_access_indices_keep_the_one_of_shares() -> None:
    """``_K`` was ``one_of(integers(0, 8), integers(0, 16))``: the first nine indices about three
    times as likely as the later ones."""
    s = _shares(cases._K)
    assert s[0] == s[8] == Fraction(1, 2) / 9 + Fraction(1, 2) / 17
    assert s[9] == s[16] == Fraction(1, 2) / 17 and 17 not in s


def test_each_behaviour_alternative_keeps_its_share() -> None:
    """host/bounded-wait mixes four behaviours, 12 alternatives: a byte flip is one of them (its
    marker 1/12 of the table), serve two of them (slow's, twice, and hostile's: 3/12), and a
    sleep's six values share one alternative."""
    case = next(c for c in select("host", ["host/bounded-wait"]))
    s = _shares(cases._action_table(case.behaviours))
    assert s[cases._FLIP] == Fraction(1, 12)
    assert s[("serve",)] == Fraction(3, 12)
    assert s[("silent",)] == Fraction(1, 12) and s[("wake",)] == Fraction(2, 12)
    assert s[("sleep", cases.SLEEPS[0])] == Fraction(1, 12) / 6


def test_slow_schedule_draws_nothing_half_the_time_per_slot() -> None:
    """A slow operation's two slots (asleep early, a completion late) are each empty with share
    1/2, as ``st.none() | ...`` made them, empty first; serve twice as likely as wake."""
    sleep, serve = cases.SLOW_SLOTS
    for t in (sleep, serve):
        assert _shares(t)[None] == Fraction(1, 2) and t[0] is None
    assert _shares(serve)[(3, ("serve",))] == 2 * _shares(serve)[(3, ("wake",))]


@given(cases._slow_schedule())
@settings(max_examples=30, derandomize=True, database=None)
def test_a_slow_schedule_is_what_its_slots_hold(sched) -> None:
    assert len(sched) <= 2 and all(x in cases.SLOW_SLOTS[0] + cases.SLOW_SLOTS[1] for x in sched)
