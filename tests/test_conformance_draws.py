"""A derandomized conformance run draws the same examples whatever the process imported.

Hypothesis sometimes draws a literal from the source of every non-installed module loaded so
far; a case's examples then depended on the install mode and on imports unrelated to the case
(importing the command line once decided whether a mutant was killed). ``run_case`` pins that
pool empty (``runner.fixed_constant_pool``)."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import providers

from mhmailbox.conformance import runner


MARKER = 777_777_777  # a literal no strategy favours by itself


def _markers_drawn(monkeypatch, pinned: bool) -> int:
    """How often the integers of 300 derandomized examples (5 each) are MARKER, with MARKER the
    only constant of the "local modules" (one example of a lone integer would be drawn once at
    most: Hypothesis does not repeat an example)."""
    from sortedcontainers import SortedSet

    only_marker = providers.Constants(integers=SortedSet([MARKER]))
    monkeypatch.setattr(providers, "_get_local_constants", lambda: only_marker)
    providers.CONSTANTS_CACHE.cache.clear()
    drawn: list[int] = []

    @settings(max_examples=300, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(st.integers(0, 10**9), min_size=5, max_size=5))
    def draw(xs: list[int]) -> None:
        drawn.extend(xs)

    try:
        if pinned:
            with runner.fixed_constant_pool():
                draw()
        else:
            draw()
    finally:
        providers.CONSTANTS_CACHE.cache.clear()
    return drawn.count(MARKER)


def test_a_fixed_pool_draws_no_constant_of_a_local_module(monkeypatch) -> None:
    # control: unpinned, about one integer in fifty is taken from the local constants
    assert _markers_drawn(monkeypatch, pinned=False) > 5
    assert _markers_drawn(monkeypatch, pinned=True) == 0


def test_run_case_never_consults_the_local_constant_pool(monkeypatch) -> None:
    asked: list[int] = []
    original = providers._get_local_constants

    def spy():
        asked.append(1)
        return original()

    monkeypatch.setattr(providers, "_get_local_constants", spy)
    providers.CONSTANTS_CACHE.cache.clear()
    # guest/tamper draws offsets in 0..4163: many draws a local constant could answer
    r = runner.run_case("guest/tamper", "hardened", examples=30)
    assert r.verdict == "pass" and r.examples >= 30
    assert asked == []
    assert providers._get_local_constants is spy  # and the patch is undone after the run
