"""The oracle judges the protocol, not our procedure's incidental order (docs/conformance.md,
"Matching rules"): a host that publishes its parameters in another order and leaves out a write
nobody reads passes every host case; one that moves go before its barrier does not."""
from __future__ import annotations

import pytest

from mhmailbox.conformance.adapter import HARDENED, ImplHost, Implementation
from mhmailbox.conformance.cases import CASES
from mhmailbox.conformance.runner import run_case
from mhmailbox.impl.host import Host
from mhmailbox.impl.memory import InstrumentedPort


class _OtherOrderPort(InstrumentedPort):
    """gpa before cmd_type; no prefetch, no ret = -1 (hardened: nobody reads them)."""

    def publish(self, cmd: int, gpa: int, go: int, clear_done: bool) -> None:
        self.write("gpa", gpa)
        self.write("cmd_type", cmd)
        if clear_done:
            self.write("done", 0)
        self.barrier("wmb")
        self.write("go", go)


class _GoFirstPort(InstrumentedPort):
    """go published before the parameters' barrier: a helper may read stale parameters."""

    def publish(self, cmd: int, gpa: int, go: int, clear_done: bool) -> None:
        self.write("cmd_type", cmd)
        self.write("go", go)
        self.write("gpa", gpa)
        self.write("ret", -1)
        self.barrier("wmb")


class _FullBarrierPort(InstrumentedPort):
    """smp_mb() wherever the procedure has smp_wmb() or smp_rmb(): stronger, so no peer can tell."""

    def barrier(self, kind: str) -> None:
        super().barrier("mb")


class _Ported(Implementation):
    def make_host(self, port, clock, *, timeout, quantum):  # type: ignore[no-untyped-def]
        cls = {"other-order": _OtherOrderPort, "full-barriers": _FullBarrierPort}.get(self.name, _GoFirstPort)
        mine = cls(port.buf, port.side, port.hook, port.log)
        return ImplHost(Host(mine, self.protocol, clock, timeout=timeout, burst=1, quantum=quantum))


OTHER_ORDER = _Ported("other-order", "hardened", HARDENED.valid_hdr_len)
GO_FIRST = _Ported("go-first", "hardened", HARDENED.valid_hdr_len)
FULL_BARRIERS = _Ported("full-barriers", "hardened", HARDENED.valid_hdr_len)


@pytest.mark.parametrize("case", [c for c in CASES if c.side == "host"], ids=lambda c: c.id)
def test_another_parameter_order_passes(case) -> None:
    r = run_case(case, OTHER_ORDER, examples=25)
    assert r.verdict == "pass", (r.prop, r.message, r.divergence, r.reproducer)


def test_go_before_the_barrier_deviates_and_fails_barriers() -> None:
    """Not an order the oracle accepts: with an honest helper nothing breaks, so host/honest
    deviates; host/barriers fails it (no write barrier between the parameters and go)."""
    r = run_case("host/honest", GO_FIRST, examples=10)
    assert r.verdict == "deviates" and r.divergence is not None
    r = run_case("host/barriers", GO_FIRST, examples=10, shrink_seconds=1.0)
    assert (r.verdict, r.prop) == ("fail", "barriers")


@pytest.mark.parametrize("case", ["host/honest", "host/barriers", "host/stale-completion"])
def test_full_barriers_in_place_of_write_and_read_barriers_pass(case) -> None:
    """smp_mb() for smp_wmb()/smp_rmb() is accepted by the oracle and by the barrier checks."""
    r = run_case(case, FULL_BARRIERS, examples=15)
    assert r.verdict == "pass", (r.prop, r.message, r.divergence)


class _FullBarrierHelper(Implementation):
    def make_guest(self, port, ram, provision):  # type: ignore[no-untyped-def]
        return super().make_guest(_FullBarrierPort(port.buf, port.side, port.hook, port.log), ram, provision)


@pytest.mark.parametrize("case", ["guest/honest", "guest/barriers"])
def test_a_helper_with_full_barriers_passes(case) -> None:
    r = run_case(case, _FullBarrierHelper("full-barriers", "hardened", HARDENED.valid_hdr_len), examples=15)
    assert r.verdict == "pass", (r.prop, r.message, r.divergence)
