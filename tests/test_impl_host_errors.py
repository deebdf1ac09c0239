"""What the host reports when a command does not go well: the errno-style codes QEMU would
return, the messages, when it yields the CPU, and the checks before a page is loaded."""
from __future__ import annotations

import pytest

from mhmailbox.impl.clock import VirtualClock
from mhmailbox.impl.harness import Lockstep
from mhmailbox.impl.host import (
    EINVAL,
    EIO,
    BadResponse,
    GuestFailed,
    HelperDied,
    Host,
    HostError,
    Reply,
    TimedOut,
)
from mhmailbox.impl.memory import Access
from mhmailbox.impl.stream import Record
from mhmailbox.model.layout import HDR_MAX, OFF_HDR_LEN, PAGE_SIZE, Cmd, Ret


def test_errno_codes_are_the_ones_qemu_returns() -> None:
    assert (EIO, EINVAL) == (-5, -22)
    assert HostError("x").code == -1 and GuestFailed("x", -2).code == -1 and GuestFailed("x", -2).ret == -2
    assert TimedOut("x").code == HelperDied("x").code == -5
    assert BadResponse("x").code == -22
    assert all(issubclass(c, HostError) for c in (TimedOut, HelperDied, GuestFailed, BadResponse))


def test_reply_ok_needs_both_status_and_ret() -> None:
    assert Reply("ok", 0, 1, 0.0).ok
    assert not Reply("ok", -1, 1, 0.0).ok and not Reply("timed_out", None, 1, 0.0).ok
    assert not Reply("helper_dead", 0, 1, 0.0).ok


def test_a_bad_mode_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^mode must be one of \('rfc', 'hardened'\)$"):
        Host(None, "strict")  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["rfc", "hardened"])
def test_a_timeout_raises_timed_out_with_its_seq_and_limit(mode: str) -> None:
    p = Lockstep.build(mode, timeout=0.05)
    p.guest_enabled = False
    with pytest.raises(TimedOut, match=r"INIT: helper did not complete \(seq 1\) within 50 ms") as e:
        p.host.save_page(PAGE_SIZE) if mode == "hardened" else p.host._check(p.host.send(Cmd.INIT), "INIT")
    assert e.value.code == EIO


def test_a_dead_helper_raises_helper_died() -> None:
    p = Lockstep.build("hardened")
    p.guest_enabled = False
    p.host.peer_alive = lambda: False
    with pytest.raises(HelperDied, match=r"INIT: helper process died \(seq 1 never completed\)"):
        p.host.initialize()


@pytest.mark.parametrize("pipelined", [False, True])
def test_a_refused_encrypt_raises_guest_failed_with_its_ret(pipelined: bool) -> None:
    p = Lockstep.build("hardened")
    with pytest.raises(GuestFailed, match=r"ENCRYPT 0x2000000000 failed \(ret -1\)") as e:
        list(p.host.save_pages([0x2000000000])) if pipelined else p.host.save_page(0x2000000000)  # outside RAM
    assert e.value.ret == Ret.INVALID
    assert p.host.pending is None, "a command that completed (with an error) is not pending"


def test_rfc_encrypt_outside_ram_succeeds_as_published() -> None:
    p = Lockstep.build("rfc")
    assert p.host.save_page(0x2000000000).page == bytes(PAGE_SIZE)


@pytest.mark.parametrize("pipelined", [False, True])
def test_a_refused_decrypt_names_authentication(pipelined: bool) -> None:
    p = Lockstep.build("hardened")
    rec = Record(PAGE_SIZE, bytes(68), bytes(PAGE_SIZE))
    with pytest.raises(GuestFailed, match=r"DECRYPT 0x1000 authentication failed \(ret -2\)") as e:
        p.host.load_pages([rec]) if pipelined else p.host.load_page(rec)
    assert e.value.ret == Ret.AUTH
    with pytest.raises(GuestFailed, match=r"DECRYPT 0x2000000000 failed \(ret -1\)"):
        p.host.load_page(rec._replace(gpa=0x2000000000))


@pytest.mark.parametrize("mode", ["rfc", "hardened"])
def test_a_record_that_cannot_fit_the_mailbox_is_refused_before_any_command(mode: str) -> None:
    p = Lockstep.build(mode)
    p.host.initialize()
    p.log.clear()
    with pytest.raises(BadResponse, match=rf"load 0x1000: header length {HDR_MAX + 1} > {HDR_MAX}"):
        p.host.load_page(Record(PAGE_SIZE, bytes(HDR_MAX + 1), bytes(PAGE_SIZE)))
    for n in (PAGE_SIZE - 1, PAGE_SIZE + 1):
        with pytest.raises(BadResponse, match=rf"^load 0x1000: page length {n} != {PAGE_SIZE}$"):
            p.host.load_page(Record(PAGE_SIZE, b"", bytes(n)))
    assert p.log == []
    p.host.load_page(Record(PAGE_SIZE, bytes(HDR_MAX), bytes(PAGE_SIZE))) if mode == "rfc" else None


def _header_length_over_the_limit(a: Access, ls: Lockstep) -> None:
    """Inject: the host finds hdr_len = HDR_MAX + 1 whenever it reads it."""
    if a.side == "host" and a.kind == "read" and a.where == "hdr_len":
        ls.mailbox[OFF_HDR_LEN:OFF_HDR_LEN + 4] = (HDR_MAX + 1).to_bytes(4, "little")


def test_rfc_refuses_a_header_length_over_the_limit_at_its_check() -> None:
    p = Lockstep.build("rfc")
    p.inject = _header_length_over_the_limit
    with pytest.raises(BadResponse, match=f"over {HDR_MAX}"):
        p.host.save_page(PAGE_SIZE)
    p.inject = None
    p.mailbox[OFF_HDR_LEN:OFF_HDR_LEN + 4] = HDR_MAX.to_bytes(4, "little")
    assert len(p.host.save_page(PAGE_SIZE).header) == HDR_MAX  # at the limit: accepted


def test_hardened_refuses_a_header_length_over_the_limit() -> None:
    p = Lockstep.build("hardened")
    p.host.initialize()
    p.inject = _header_length_over_the_limit
    with pytest.raises(BadResponse, match=rf"length {HDR_MAX + 1} > {HDR_MAX}"):
        p.host.save_page(PAGE_SIZE)


# --- waiting ----------------------------------------------------------------------------
class CountingClock(VirtualClock):
    relaxed: int = 0

    def relax(self) -> None:
        self.relaxed += 1


@pytest.mark.parametrize("relax_after,expect", [(0.0, 3), (0.5, 2), (1.0, 0)])
def test_the_host_yields_the_cpu_only_after_relax_after(relax_after: float, expect: int) -> None:
    """Bursts end at 0.25, 0.5, 0.75 (then the deadline, 1.0): relax after each one past relax_after."""
    p = Lockstep.build("hardened", timeout=1.0, quantum=0.25)
    clock = CountingClock()
    clock.advance(1000.0)  # measured from the command's start, not from the clock's zero
    p.host.clock = clock
    p.host.relax_after = relax_after
    p.guest_enabled = False
    assert p.host.send(Cmd.INIT).status == "timed_out"
    assert clock.relaxed == expect


def test_a_clock_without_relax_is_fine() -> None:
    class Bare:
        t = 0.0

        def now(self) -> float:
            return self.t

        def spent(self, s: float) -> None:
            self.t += s

    p = Lockstep.build("hardened", timeout=0.05, quantum=0.01)
    p.host.clock = Bare()  # type: ignore[assignment]
    p.guest_enabled = False
    assert p.host.send(Cmd.INIT).status == "timed_out"


@pytest.mark.parametrize("mode", ["rfc", "hardened"])
def test_peer_alive_is_asked_between_bursts_only(mode: str) -> None:
    p = Lockstep.build(mode, timeout=0.1, quantum=0.01)
    asked = []
    p.host.peer_alive = lambda: asked.append(1) or True
    assert p.host.send(Cmd.INIT).ok and asked == []  # completed in the first burst
    p.guest_enabled = False
    r = p.host.send(Cmd.INIT)
    assert r.status == "timed_out" and 5 <= len(asked) <= 10


@pytest.mark.parametrize("mode", ["rfc", "hardened"])
def test_a_dying_helper_that_completed_is_not_dead(mode: str) -> None:
    p = Lockstep.build(mode)
    p.guest_enabled = False

    def completes_then_dies() -> bool:
        p.guest.poll_once()
        return False

    p.host.peer_alive = completes_then_dies
    assert p.host.send(Cmd.INIT).ok
    p.host.peer_alive = lambda: False
    assert p.host.send(Cmd.RESET).status == "helper_dead"


def test_rfc_replies_carry_seq_1_and_ret_without_barrier() -> None:
    p = Lockstep.build("rfc")
    r = p.host.send(Cmd.INIT)
    assert r == Reply("ok", 0, 1, r.elapsed) and r.elapsed >= 0
    p.guest_enabled = False
    r = p.host.send(Cmd.RESET)
    assert (r.status, r.ret, r.seq) == ("timed_out", None, 1)


def test_send_with_an_explicit_start_shares_the_deadline() -> None:
    p = Lockstep.build("hardened", timeout=0.1, quantum=0.01)
    p.guest_enabled = False
    p.clock.advance(0.06)
    r = p.host.send(Cmd.INIT, start=0.0)  # 60 ms of the deadline already spent
    assert r.status == "timed_out" and 0.1 - 1e-9 <= r.elapsed <= 0.11 + 1e-9
    assert p.clock.now() <= 0.11 + 1e-9


def test_save_pages_of_nothing_sends_only_init() -> None:
    p = Lockstep.build("hardened")
    assert list(p.host.save_pages([])) == [] and p.commands() == [Cmd.INIT]
    r = Lockstep.build("rfc")
    assert [x.gpa for x in r.host.save_pages([PAGE_SIZE, 2 * PAGE_SIZE])] == [PAGE_SIZE, 2 * PAGE_SIZE]
    assert r.commands() == [Cmd.INIT, Cmd.ENCRYPT, Cmd.ENCRYPT]


def test_rfc_load_pages_counts_the_pages() -> None:
    src, dst = Lockstep.build("rfc"), Lockstep.build("rfc")
    recs = list(src.host.save_pages([PAGE_SIZE, 3 * PAGE_SIZE]))
    assert dst.host.load_pages(recs) == 2 and dst.host.load_pages([]) == 0
    assert dst.commands() == [Cmd.INIT, Cmd.DECRYPT, Cmd.DECRYPT]


def test_a_pending_command_makes_load_wait_then_fail_without_writing() -> None:
    p = Lockstep.build("hardened")
    p.host.initialize()
    p.guest_enabled = False
    assert p.host.send(Cmd.RESET).status == "timed_out"
    p.log.clear()
    with pytest.raises(TimedOut, match="load 0x1000"):
        p.host.load_page(Record(PAGE_SIZE, bytes(68), bytes(PAGE_SIZE)))
    assert not [a for a in p.log if a.side == "host" and a.kind == "write"]
    p.guest_enabled = True  # the helper serves RESET at last; the load goes through the quiet mailbox
    with pytest.raises(GuestFailed):
        p.host.load_page(Record(PAGE_SIZE, bytes(68), bytes(PAGE_SIZE)))
    assert p.host.pending is None


def test_the_defaults_are_the_published_host_and_the_hardened_mode() -> None:
    """What ``mhmailbox migrate`` and a bare ``Host(port)`` get: hardened, QEMU's 100 ms
    timeout, bursts of 256 reads of done, yield the CPU after 100 us of waiting."""
    h = Host(None)  # type: ignore[arg-type]
    assert (h.mode, h.timeout, h.burst, h.quantum, h.relax_after) == ("hardened", 0.1, 256, 1e-4, 1e-4)
    assert (h.initialized, h.seq, h.pending, h.peer_alive) == (False, 0, None, None)
    assert "native" not in repr(h), "the decided C path is internal state, not part of a host's description"


def _done_reads(p: Lockstep) -> int:
    return sum(1 for a in p.log if a.side == "host" and a.kind == "read" and a.where == "done")


@pytest.mark.parametrize("mode", ["rfc", "hardened"])
def test_past_the_deadline_done_is_read_exactly_once_more(mode: str) -> None:
    """Bursts of one read end at 0.25, 0.5, 0.75 and 1.0 (the deadline): four reads, then one last."""
    p = Lockstep.build(mode, timeout=1.0, quantum=0.25)
    p.guest_enabled = False
    p.log.clear()
    assert p.host.send(Cmd.INIT).status == "timed_out"
    assert _done_reads(p) == 4 + 1


@pytest.mark.parametrize("mode", ["rfc", "hardened"])
def test_a_dead_helper_gets_exactly_one_last_look(mode: str) -> None:
    p = Lockstep.build(mode, timeout=1.0, quantum=0.25)
    p.guest_enabled = False
    p.host.peer_alive = lambda: False
    p.log.clear()
    assert p.host.send(Cmd.INIT).status == "helper_dead"
    assert _done_reads(p) == 1 + 1


@pytest.mark.parametrize("mode", ["rfc", "hardened"])
def test_load_pages_fetches_the_next_record_while_hardened_decrypts(mode: str) -> None:
    """Hardened overlaps fetching record i+1 with the DECRYPT of record i (go published, not yet
    done); rfc loads one page after the other (the previous command completed first)."""
    import struct

    from mhmailbox.impl.crypto import Provision

    prov = Provision.generate() if mode == "hardened" else None
    src, dst = Lockstep.build(mode, provision=prov), Lockstep.build(mode, provision=prov)
    recs = list(src.host.save_pages([PAGE_SIZE, 2 * PAGE_SIZE]))
    seen = []

    def records():
        yield recs[0]
        go, done = struct.unpack_from("<i", dst.mailbox, 0x18)[0], struct.unpack_from("<i", dst.mailbox, 0x1C)[0]
        seen.append(done == go if mode == "hardened" else done == 1)
        yield recs[1]

    assert dst.host.load_pages(records()) == 2
    assert seen == [mode == "rfc"]
