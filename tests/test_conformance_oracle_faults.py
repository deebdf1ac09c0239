"""The oracle notices what it claims to: a fence of the wrong kind, a host one quantum late.

model/observe.py matches each barrier by its kind, and conformance/rig.py bounds every
command by the deadline plus one polling quantum. Both were once loosened (rmb matched
for wmb, the bound doubled) with every test still passing; these tests pin each down
with an implementation just past the line, next to one just inside it.
"""
from __future__ import annotations

import attrs
import pytest

from mhmailbox.conformance.adapter import HARDENED
from mhmailbox.conformance.rig import D_TICKS, QUANTUM, HostRig
from mhmailbox.impl.host import Host, Status
from mhmailbox.model import values as val
from mhmailbox.model.observe import Divergence, Observer
from mhmailbox.model.variants import Hardened

OTHER = {"wmb": "rmb", "rmb": "wmb"}


def _host_up_to_the_fence() -> Observer:
    """A hardened host's cleanup: RESET's parameters written, next comes wmb, then go."""
    obs = Observer(Hardened(deadline=4, quantum=1), "host")
    obs.choose(role=0)
    obs.choose(op=3, g=0)
    for f, v in (("cmd", val.RESET), ("gpa", val.G0), ("ret", -1)):
        obs.observe("write", f, v)
    return obs


def _guest_up_to_the_fence() -> Observer:
    """A hardened helper that has just read go: next comes rmb, then the parameters."""
    obs = Observer(Hardened(deadline=4, quantum=1), "guest")
    obs.observe("read", "go", 1, 2)
    return obs


@pytest.mark.parametrize("side,want", [("host", "wmb"), ("guest", "rmb")])
def test_a_fence_of_the_wrong_kind_diverges(side: str, want: str) -> None:
    start = _host_up_to_the_fence if side == "host" else _guest_up_to_the_fence
    start().observe("barrier", want)  # the right kind is a step of the model ...
    with pytest.raises(Divergence, match=f"barrier of {OTHER[want]}"):
        start().observe("barrier", OTHER[want])  # ... the other kind is not


def test_the_guests_completion_fence_is_a_write_barrier() -> None:
    obs = _guest_up_to_the_fence()
    obs.observe("barrier", "rmb")
    obs.observe("read", "cmd", val.INIT, 2)
    obs.observe("read", "gpa", val.G0, 2)
    obs.observe("write", "ret", 0)
    with pytest.raises(Divergence):
        obs.observe("barrier", "rmb")


class LateHost(Host):
    """Gives up ``extra`` quanta after the bound (deadline + one polling quantum); at the bound if 0."""

    extra = 1

    def _wait(self, start: float, want: int | None, polled: bool = False) -> Status:
        status = super()._wait(start, want, polled)
        if status == "timed_out":
            self.clock.spent(start + self.timeout + (1 + self.extra) * self.quantum - self.clock.now())
        return status


def _late(extra: int):
    cls = type(f"LateHost{extra}", (LateHost,), {"extra": extra})
    return attrs.evolve(HARDENED, name=f"late-{extra}", host_cls=cls)


def _cleanup_against_a_silent_helper(impl) -> HostRig:
    rig = HostRig.build(impl)
    rig.cleanup([(0, ("silent",))])
    return rig


def test_a_host_on_time_passes_bounded_wait() -> None:
    rig = _cleanup_against_a_silent_helper(HARDENED)
    assert rig.divergence is None and "timeout.bounded-wait" not in rig.violations, rig.violations


@pytest.mark.parametrize("extra", [0, 1])
def test_a_host_one_quantum_too_late_fails_bounded_wait(extra: int) -> None:
    """extra=0: a host returning exactly at the bound passes, so the test measures the bound itself."""
    rig = _cleanup_against_a_silent_helper(_late(extra))
    late = D_TICKS + 1 + extra  # quanta from the start of the command to its return
    if extra == 0:
        assert "timeout.bounded-wait" not in rig.violations, rig.violations
        return
    assert "timeout.bounded-wait" in rig.violations
    assert f"returned after {late} quanta" in rig.violations["timeout.bounded-wait"]


def test_a_late_operation_fails_bounded_wait_even_when_each_command_is_on_time() -> None:
    """The per-operation bound: a host that dawdles one quantum *before* publishing its
    command (outside every command's deadline window) still makes the operation late."""

    class Dawdles(Host):
        def cleanup(self):
            self.clock.spent(2 * QUANTUM)
            return super().cleanup()

    rig = _cleanup_against_a_silent_helper(attrs.evolve(HARDENED, name="dawdles", host_cls=Dawdles))
    assert "timeout.bounded-wait" in rig.violations
    assert "an operation of 1 command(s)" in rig.violations["timeout.bounded-wait"]
