"""The explicit engine's reductions keep verdicts: local-step fusion and cone of influence."""
import pytest

from mhmailbox.model.explore import explore
from mhmailbox.model.protocol import Bounds, build


def _verdicts(system, depth=10_000):
    ex = explore(system.compile(), depth, stop_when_all_found=False, max_states=3_000_000)
    assert ex.exhausted
    return {system.monitors[m].id for m in ex.found}, ex.states


@pytest.mark.parametrize("variant,memory,guest,host", [
    ("rfc", "sc", "slow", "faithful"),
    ("rfc", "tso", "honest", "faithful"),
    ("rfc", "sc", "adversarial", "faithful"),
    ("hardened", "tso", "slow", "faithful"),
    ("rfc", "sc", "honest", "adversarial"),
])
def test_reductions_preserve_verdicts(variant, memory, guest, host):
    bounds = Bounds(scripts=("source",))
    model = build(variant, memory, guest, host, bounds)
    full, n_full = _verdicts(model.system.unfused())
    fused, n_fused = _verdicts(model.system)
    reduced, n_reduced = _verdicts(model.system.reduced())
    assert full == fused == reduced
    assert n_reduced <= n_fused < n_full


def test_state_budget_gives_honest_depth():
    model = build("rfc", "relaxed", "slow", "faithful")
    ex = explore(model.system.reduced().compile(), 10_000, max_states=20_000, stop_when_all_found=False)
    assert ex.stopped == "states" and not ex.exhausted
    again = explore(model.system.reduced().compile(), ex.depth, stop_when_all_found=False)
    assert again.depth == ex.depth  # the reported depth was explored completely
