"""The suite's speed-ups compute what the plain code did (docs/ckit.md, "Speed")."""
from __future__ import annotations

import random
from collections import defaultdict

import pytest

from mhmailbox.conformance import rig as R
from mhmailbox.conformance.cases import sampled
from mhmailbox.model.layout import PAGE_SIZE
from mhmailbox.model.observe import Observer
from mhmailbox.model.variants import VARIANTS


@pytest.mark.parametrize("protocol", ["rfc", "hardened"])
@pytest.mark.parametrize("side", ["host", "guest"])
def test_a_steps_compiled_effect_is_its_updates_and_next_pc(protocol: str, side: str) -> None:
    """One call per step (``effect``) gives each update's value and the next pc, all computed in the
    state before the step, as the per-update functions do."""
    obs = Observer(VARIANTS[protocol](deadline=4, quantum=1), side)
    rnd = random.Random(7)
    names = sorted({k for c in obs._steps for k in c.keys} | set(obs.env))
    checked = 0
    for c in obs._steps:
        for _ in range(20):
            draw = lambda: rnd.choice((0, 1, 2, 3, -1, 7))  # noqa: E731
            env = defaultdict(draw, {n: draw() for n in names})  # a ghost first read is drawn then kept
            params = {"op": rnd.randint(1, 3), "g": rnd.randint(0, 3), "role": 0}
            vals, nxt = c.effect(env, params)
            assert list(vals) == [f(env, params) for _, f in c.updates]
            assert nxt == c.next(env, params)
            checked += 1
    assert checked == 20 * len(obs._steps) and any(c.keys for c in obs._steps)


def test_a_read_sets_its_values_before_the_updates_see_them() -> None:
    """A read's value is in the state the step's updates are computed in (not the guard's)."""
    obs = Observer(VARIANTS["hardened"](deadline=4, quantum=1), "guest")
    obs.observe("read", "go", 5, 9)
    assert obs.env["guest.go"] == 5 and obs.env["guest.gog"] == 9


def test_private_pages_are_every_page_of_the_original_ram() -> None:
    ram = R.patterned_ram()
    assert R.private_pages(bytes(ram)) == {bytes(ram[p * PAGE_SIZE:(p + 1) * PAGE_SIZE]) for p in range(R.RAM_PAGES)}
    other = bytes(ram[:PAGE_SIZE]) + bytes(PAGE_SIZE)  # another RAM: its own pages, not the pattern's
    assert R.private_pages(other) == {bytes(ram[:PAGE_SIZE]), bytes(PAGE_SIZE)}


def test_a_strategy_drawn_inside_a_step_is_built_once_per_set_of_values() -> None:
    assert sampled([0, 1]) is sampled((0, 1))
    assert sampled([0]) is not sampled([0, 1])
