"""A C host that crashes, aborts or never stops waiting is a failed case, and the run goes on.

The C code runs in its own process; the suite reports the fault as a failure of the
case (property ``robust``, with the access it came after and a reproducer), and the
next case of the same run still gets its verdict.
"""
from __future__ import annotations

import pytest

from ckit_support import needs_cc, write_tiny_host

pytestmark = needs_cc

#: fault -> what the failure message says (property ``robust`` each time)
FAULTS = {
    "1": ("killed by SIGSEGV after access #",),
    "2": ("killed by SIGABRT after access #", "it printed: tiny-host: giving up"),
    "3": ("the C host read done 1000000 times in a row with nothing else in between, after access #",),
    "5": ("sent nothing for 0.5 s of real time after access #",),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_is_a_failed_case_and_the_run_goes_on(tmp_path, fault):
    from mhmailbox.conformance.ckit import c_host, run_c_case
    from mhmailbox.conformance.cases import replay

    impl = c_host(write_tiny_host(tmp_path), "rfc", defines=(f"FAULT={fault}",), answer_timeout=0.5, poll_limit=10**6)
    r = run_c_case("host/hostile-peer", impl, examples=5, shrink_seconds=0.5)
    assert r.verdict == "fail" and r.prop == "robust", (r.verdict, r.prop, r.message)
    assert all(text in r.message for text in FAULTS[fault]), r.message
    assert "c_host(" in r.reproducer and f"FAULT={fault}" in r.reproducer
    # the reproducer's steps replay the same failure
    assert replay("host/hostile-peer", impl, r.steps).prop == "robust"
    impl.stop()
    # the same run goes on to the next case, which gets a verdict of its own
    nxt = run_c_case("host/barriers", impl, examples=3, shrink_seconds=0.5)
    assert nxt.verdict in ("pass", "fail") and nxt.examples >= 1


def test_a_wait_that_reads_the_clock_and_never_ends_is_stopped_by_virtual_time(tmp_path):
    """A loop that reads the clock but ignores the deadline is stopped after VIRTUAL_LIMIT deadlines
    of virtual time (not by the real-time limit, set high here), and fails the case."""
    from mhmailbox.conformance.ckit import c_host, run_c_case
    from mhmailbox.conformance.ckit.host import VIRTUAL_LIMIT

    impl = c_host(write_tiny_host(tmp_path), "rfc", defines=("FAULT=4",), answer_timeout=60)
    r = run_c_case("host/hostile-peer", impl, examples=5, shrink_seconds=0.5)
    assert r.verdict == "fail" and r.prop == "robust", (r.verdict, r.prop, r.message)
    assert f"still waiting after {VIRTUAL_LIMIT} deadlines of virtual time" in r.message


def test_the_unfaulted_tiny_host_runs_clean(tmp_path):
    """The faults above are the faults: without one, no crash and no hang in the same case."""
    from mhmailbox.conformance.ckit import c_host, run_c_case

    impl = c_host(write_tiny_host(tmp_path), "rfc")
    r = run_c_case("host/hostile-peer", impl, examples=10, shrink_seconds=0.5)
    assert r.prop != "robust", r.message


def test_a_memcpy_out_of_the_shared_area_is_one_read_of_its_range(tmp_path):
    """-fno-builtin keeps memcpy a call (gcc 12 inlines it uninstrumented otherwise); the runtime's
    memcpy reports the shared range it reads, and copies the bytes the suite's mailbox holds."""
    from mhmailbox.conformance.ckit import c_host
    from mhmailbox.conformance.rig import GPA, HostRig
    from mhmailbox.model import values as val

    impl = c_host(write_tiny_host(tmp_path), "rfc", defines=("COPY_WITH_MEMCPY=1",))
    rig = HostRig.build(impl)
    rec = rig.save(val.G1)
    impl.stop()
    assert rig.trace[-1] == "host read 4096 = <4096 bytes>"
    assert rec.page == bytes(rig.ram[GPA[val.G1]:GPA[val.G1] + 4096])


def test_a_host_that_never_gives_up_fails_bounded_wait_by_virtual_time(tmp_path):
    """Judged by the virtual clock even though the model stopped following the host."""
    from mhmailbox.conformance.ckit import c_host, run_c_case

    impl = c_host(write_tiny_host(tmp_path), "rfc", defines=("FAULT=4",), answer_timeout=60)
    r = run_c_case("host/bounded-wait", impl, examples=5, shrink_seconds=0.5)
    assert r.verdict == "fail" and r.prop == "timeout.bounded-wait", (r.verdict, r.prop, r.message)
