"""The C kit's two speed-ups keep every observation as it was (docs/ckit.md): reads that run
ahead of the suite when no scripted host action comes before them, and a fork server that
starts each example's process fresh. The figures themselves: bench/ckit_guest.py, bench/ckit_host.py.
"""
from __future__ import annotations

import os
import signal

import attrs
import pytest

from ckit_support import RFC_HELPER, needs_cc
from mhmailbox.conformance.adapter import IMPLEMENTATIONS
from mhmailbox.conformance.rig import GPA, GuestRig, HostRig
from mhmailbox.model import values as val
from mhmailbox.model.layout import Cmd

pytestmark = needs_cc

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARDENED_HOST = os.path.join(REPO, "examples", "c", "hardened-host", "confidential-ram.c")


@pytest.fixture(scope="module")
def rfc_helper():
    from mhmailbox.conformance.ckit import c_guest

    impl = c_guest([RFC_HELPER], "rfc")
    yield impl
    impl.stop()


def _init_then_decrypt(impl, schedule):
    """INIT, then a DECRYPT of G0 with ``schedule``: the rig's trace, and the reads that ran ahead."""
    rig = GuestRig.build(impl)
    assert rig.new_migration() == 0
    rig.decrypt(b"", bytes(4096), val.G0, schedule)
    return rig.trace, rig.guest.ran_ahead


# In the published helper's pass: #0 read go, #1 write done, #2 read cmd_type, #3 read gpa, ...
MOVE_GPA = [(3, ("param", "gpa", val.G1))]


@pytest.mark.parametrize("schedule", [[], MOVE_GPA], ids=["no-action", "gpa-moved-before-its-read"])
def test_reads_run_ahead_only_where_no_host_action_comes_first(rfc_helper, schedule):
    fast, ahead = _init_then_decrypt(rfc_helper, schedule)
    slow, none = _init_then_decrypt(attrs.evolve(rfc_helper, run_ahead=False, server=None), schedule)  # as before
    assert fast == slow  # every access, every value read, in the same order
    assert ahead > 0 and none == 0
    moved = f"guest read gpa = {GPA[val.G1]}"
    assert (moved in fast) == bool(schedule)  # the action ran before the read it precedes, which waited for it


def test_quiet_accesses_counts_up_to_the_next_scripted_action():
    from mhmailbox.conformance.rig import UNLIMITED
    from mhmailbox.conformance.ckit.guest import quiet_accesses

    rig = GuestRig.build(IMPLEMENTATIONS["rfc"])
    act = ("go",)
    rig.schedule, rig.op_access = [(5, act), (2, act)], 3
    assert quiet_accesses(rig) == 2  # accesses #3 and #4; #5 waits for its action
    rig.op_access = 2
    assert quiet_accesses(rig) == 0  # an action is due before this very access
    rig.op_access = 6
    assert quiet_accesses(rig) == UNLIMITED  # every action is behind
    assert quiet_accesses(object()) == 0  # a hook the kit cannot foresee: every read waits


def _saves(impl, schedule, boot_at=None):
    """Two saves of G0 (the second with ``schedule``), the helper booting at host access ``boot_at``
    if given: the rig's trace and records, and the reads that ran ahead."""
    rig = HostRig.build(impl, booted=boot_at is None)
    rig.boot_at = boot_at
    records = [rig.save(val.G0), rig.save(val.G0, schedule)]
    shapes = [r and (r.gpa, len(r.header), r.emitted_hdr_len, len(r.page)) for r in records]  # sealed afresh each run
    return rig.trace, shapes, sorted(rig.violations), rig.host.ran_ahead


# The hardened C host's save: ... #k read done (the helper runs), rmb, read ret, read hdr_len, ...
HOST_SCHEDULES = {
    "none": ([], None),
    "header-rewritten-at-each-access": ([(k, ("hdr_len", 4000)) for k in range(0, 40, 3)], None),
    "ret-written-early": ([(6, ("write", "ret", -5)), (9, ("write", "done", "+0"))], None),
    "helper-boots-late": ([], 9),
}


@pytest.mark.parametrize("name", HOST_SCHEDULES)
def test_a_hosts_reads_run_ahead_only_where_its_peer_does_nothing(name):
    from mhmailbox.conformance.ckit import c_host

    schedule, boot_at = HOST_SCHEDULES[name]
    impl = c_host([HARDENED_HOST], "hardened")
    try:
        fast = _saves(impl, schedule, boot_at)
        slow = _saves(attrs.evolve(impl, run_ahead=False), schedule, boot_at)  # every read waits, as before
    finally:
        impl.stop()
    assert fast[:3] == slow[:3]  # every access and value, the records, the violations
    assert fast[3] > 0 and slow[3] == 0


def test_quiet_host_accesses_stops_at_actions_and_boot():
    from mhmailbox.conformance.rig import UNLIMITED
    from mhmailbox.conformance.ckit.host import quiet_host_accesses

    rig = HostRig.build(IMPLEMENTATIONS["rfc"])
    rig.schedule, rig.op_access, rig.host_accesses = [(7, ("wake",))], 4, 10
    assert quiet_host_accesses(rig) == 3
    rig.boot_at = 11
    assert quiet_host_accesses(rig) == 1  # the boot comes first
    rig.boot_at = 10
    assert quiet_host_accesses(rig) == 0  # it boots before this very access
    rig.boot_at, rig.op_access = 9, 8
    assert quiet_host_accesses(rig) == UNLIMITED  # booted, every action behind
    assert quiet_host_accesses(GuestRig.build(IMPLEMENTATIONS["rfc"])) == 0  # not a host rig


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])


def _gos(rig) -> list[str]:
    return [t for t in rig.trace if t.startswith("host write go")]


def test_each_host_is_a_fresh_fork_of_one_server():
    from mhmailbox.conformance.ckit import c_host

    impl = c_host([HARDENED_HOST], "hardened")
    try:
        first = HostRig.build(impl)
        assert first.save(val.G0) is not None and first.save(val.G1) is not None
        assert _gos(first)[-1] == "host write go = 3"  # INIT, then a sequence number per command
        server = impl.server.proc.pid
        assert _parent(first.host.pid) == server
        second = HostRig.build(impl)
        assert second.save(val.G0) is not None
        assert _gos(second)[0] == "host write go = 1"  # the file's static state as at its start
        assert second.host.pid != first.host.pid and _parent(second.host.pid) == server
        assert first.host.pid == 0  # the first was stopped and reaped when the second started
    finally:
        impl.stop()
    assert impl.server.proc is None


def test_a_dead_fork_server_is_started_again(rfc_helper):
    rfc_helper.stop()
    GuestRig.build(rfc_helper)
    old = rfc_helper.server.proc.pid
    os.kill(old, signal.SIGKILL)
    rfc_helper.server.proc.wait()
    rig = GuestRig.build(rfc_helper)
    assert rig.new_migration() == 0 and rig.trace[0] == "guest write go = 0"
    assert rfc_helper.server.proc.pid != old
    rig.publish(int(Cmd.INIT), GPA[val.G0])
    assert rig.guest.poll_once() is True
