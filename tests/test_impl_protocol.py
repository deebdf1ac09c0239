"""Host and guest helper in lockstep (no threads, virtual time): both modes, the published
weaknesses the rfc variant must keep, and the fixes the hardened variant must have."""
from __future__ import annotations

import pytest

from mhmailbox.impl.crypto import HDR_SIZE, Provision
from mhmailbox.impl.harness import Lockstep
from mhmailbox.impl.host import BadResponse, GuestFailed, Host, TimedOut
from mhmailbox.impl.memory import HOST_MEMORY_PATTERN, Access, MemoryFault
from mhmailbox.impl.stream import Record
from mhmailbox.model.layout import (
    HDR_MAX,
    OFF_HDR_DATA,
    OFF_HDR_LEN,
    OFF_IO_PAGE,
    PAGE_SIZE,
    SHARED_GPA,
    SHARED_SIZE,
    Cmd,
    Ret,
)

EPS = 1e-9


def patterned(pages: int = 16) -> bytearray:
    return bytearray(b"".join(bytes([i % 255 + 1]) * PAGE_SIZE for i in range(pages)))


def pair(mode: str = "hardened", **kw: object) -> Lockstep:
    kw.setdefault("ram", patterned())
    return Lockstep.build(mode, **kw)  # type: ignore[arg-type]


def writes(p: Lockstep, side: str = "host") -> list[object]:
    return [(a.where, a.value) for a in p.log if a.side == side and a.kind in ("write", "barrier")]


# --- the command handshake ------------------------------------------------------------
def test_rfc_publish_order_and_no_read_barrier() -> None:
    p = pair("rfc")
    p.log.clear()
    assert p.host.send(Cmd.INIT).ok
    host = [(a.kind, a.where) for a in p.log if a.side == "host"]
    assert host[:7] == [("write", "cmd_type"), ("write", "gpa"), ("write", "prefetch"), ("write", "ret"),
                        ("write", "done"), ("barrier", "wmb"), ("write", "go")]
    assert ("barrier", "rmb") not in host and host[-1] == ("read", "ret")
    guest = [(a.kind, a.where, a.value) for a in p.log if a.side == "guest" and a.kind == "write"]
    assert guest == [("write", "done", 0), ("write", "ret", 0), ("write", "go", 0), ("write", "done", 1)]


def test_hardened_publish_order_seq_and_barriers() -> None:
    p = pair()
    p.log.clear()
    r1, r2 = p.host.send(Cmd.INIT), p.host.send(Cmd.RESET)
    assert (r1.seq, r2.seq) == (1, 2) and r1.ok and r2.ok
    host = [(a.kind, a.where) for a in p.log if a.side == "host"]
    assert host[:6] == [("write", "cmd_type"), ("write", "gpa"), ("write", "prefetch"), ("write", "ret"),
                        ("barrier", "wmb"), ("write", "go")]
    assert ("write", "done") not in host
    i = host.index(("barrier", "rmb"))
    assert host[i + 1] == ("read", "ret")
    g = [(a.kind, a.where, a.value) for a in p.log if a.side == "guest" and a.kind != "read"]
    assert g[:4] == [("barrier", "rmb", None), ("write", "ret", 0), ("barrier", "wmb", None), ("write", "done", 1)]
    assert all(w != "go" for (_, w, _) in g), "the hardened helper never writes go"


def test_seq_wraps_without_zero_and_go_is_i32() -> None:
    p = pair()
    p.host.seq = 0x7FFFFFFF
    assert p.host.send(Cmd.INIT).seq == 0x80000000
    assert p.host.port.read("go") == -0x80000000
    p.host.seq = 0xFFFFFFFF
    r = p.host.send(Cmd.INIT)
    assert r.seq == 1 and r.ok


def test_timeout_is_bounded_by_deadline_plus_quantum() -> None:
    for mode in ("rfc", "hardened"):
        p = pair(mode, timeout=0.1, quantum=0.03)
        p.guest_enabled = False
        r = p.host.send(Cmd.INIT)
        assert r.status == "timed_out"
        assert 0.1 - EPS <= r.elapsed <= 0.1 + 0.03 + EPS


def test_rfc_timeout_resets_nothing_and_late_completion_is_taken_by_the_next_command() -> None:
    p = pair("rfc")
    p.guest_enabled = False
    assert p.host.send(Cmd.INIT).status == "timed_out"
    assert p.host.port.read("go") == 1  # nothing reset
    # the helper wakes up and completes the *old* INIT while the host already sent ENCRYPT at 3:
    # published behaviour: the host accepts whatever done=1 it sees
    p.guest_enabled = True
    assert p.host.send(Cmd.ENCRYPT, 3 * PAGE_SIZE).ok


def test_hardened_stale_and_unsolicited_completions_are_ignored() -> None:
    p = pair()
    assert p.host.send(Cmd.INIT).ok

    def forge(a: Access, ls: Lockstep) -> None:  # before each host read of done: a bogus completion
        if a.side == "host" and a.kind == "read" and a.where == "done":
            ls.host.port.buf[0x1C:0x20] = (ls.host.seq + 7).to_bytes(4, "little")
            ls.host.port.buf[0x14:0x18] = (0).to_bytes(4, "little", signed=True)

    p.inject = forge
    p.guest_enabled = False
    r = p.host.send(Cmd.ENCRYPT, PAGE_SIZE)
    assert r.status == "timed_out"  # never accepted a done != seq


def test_hardened_pending_command_blocks_the_next_until_consumed() -> None:
    p = pair()
    assert p.host.send(Cmd.INIT).ok
    p.guest_enabled = False
    first = p.host.send(Cmd.ENCRYPT, PAGE_SIZE)
    assert first.status == "timed_out" and p.host.pending == first.seq
    p.log.clear()
    second = p.host.send(Cmd.ENCRYPT, 2 * PAGE_SIZE)
    assert second.status == "timed_out"
    assert not [a for a in p.log if a.side == "host" and a.kind == "write"], "parameters untouched"
    assert p.host.port.read("gpa") == PAGE_SIZE
    p.guest_enabled = True  # the helper finally serves the old command
    third = p.host.send(Cmd.ENCRYPT, 2 * PAGE_SIZE)
    assert third.ok and third.seq == first.seq + 1 and p.host.pending is None


def test_hardened_every_send_returns_within_bound_under_random_guest_writes() -> None:
    import random

    rnd = random.Random(7)
    p = pair(timeout=0.05, quantum=0.01)

    def chaos(a: Access, ls: Lockstep) -> None:
        off = rnd.choice((0x14, 0x18, 0x1C, OFF_HDR_LEN))
        ls.mailbox[off:off + 4] = rnd.getrandbits(32).to_bytes(4, "little")

    p.inject = chaos
    for _ in range(30):
        r = p.host.send(rnd.choice(list(Cmd)), rnd.randrange(16) * PAGE_SIZE)
        assert r.elapsed <= 0.05 + 0.01 + EPS


# --- save / load ----------------------------------------------------------------------
def test_hardened_save_load_round_trip_between_two_helpers() -> None:
    prov = Provision.generate()
    src, dst = pair(provision=prov), pair(provision=prov, ram=bytearray(16 * PAGE_SIZE))
    recs = list(src.host.save_pages([PAGE_SIZE * i for i in range(16)]))
    for r in recs:
        assert len(r.header) == HDR_SIZE and r.page != bytes(src.ram[r.gpa:r.gpa + PAGE_SIZE])
    assert dst.host.load_pages(recs) == 16
    assert dst.ram == src.ram


def test_rfc_save_is_plaintext_and_load_copies_it() -> None:
    src, dst = pair("rfc"), pair("rfc", ram=bytearray(16 * PAGE_SIZE))
    rec = src.host.save_page(3 * PAGE_SIZE)
    assert rec.page == bytes(src.ram[3 * PAGE_SIZE:4 * PAGE_SIZE]) and rec.header == b""
    dst.host.load_page(rec)
    assert dst.ram[3 * PAGE_SIZE:4 * PAGE_SIZE] == rec.page


def test_rfc_double_fetch_of_hdr_len_is_exploitable() -> None:
    p = pair("rfc")
    reads = []

    def grow(a: Access, ls: Lockstep) -> None:  # the first (checked) read sees 4, later ones 8000
        if a.side == "host" and a.kind == "read" and a.where == "hdr_len":
            reads.append(a)
            n = 4 if len(reads) == 1 else 8000
            ls.mailbox[OFF_HDR_LEN:OFF_HDR_LEN + 4] = n.to_bytes(4, "little")

    p.inject = grow
    rec = p.host.save_page(PAGE_SIZE)
    assert len(reads) == 3
    assert rec.hdr_len == 8000 and len(rec.header) == 8000 > HDR_MAX
    assert HOST_MEMORY_PATTERN in rec.header  # read past the shared area: host memory in the stream


def test_rfc_huge_length_after_check_would_fault_the_host() -> None:
    p = pair("rfc")
    seen = []

    def grow(a: Access, ls: Lockstep) -> None:
        if a.side == "host" and a.kind == "read" and a.where == "hdr_len":
            seen.append(1)
            n = 0 if len(seen) == 1 else 0xFFFFFFFF
            ls.mailbox[OFF_HDR_LEN:OFF_HDR_LEN + 4] = n.to_bytes(4, "little")

    p.inject = grow
    with pytest.raises(MemoryFault):
        p.host.save_page(PAGE_SIZE)


def test_hardened_reads_hdr_len_once_and_rejects_inconsistent_responses() -> None:
    p = pair()
    seen = []

    def grow(a: Access, ls: Lockstep) -> None:
        if a.side == "host" and a.kind == "read" and a.where == "hdr_len":
            seen.append(1)
            ls.mailbox[OFF_HDR_LEN:OFF_HDR_LEN + 4] = (3000).to_bytes(4, "little")

    p.inject = grow
    with pytest.raises(BadResponse):
        p.host.save_page(PAGE_SIZE)
    assert len(seen) == 1
    reads = [a for a in p.log if a.side == "host" and a.kind == "read" and isinstance(a.where, int)]
    assert all(a.where + a.length <= SHARED_SIZE for a in reads)


def test_hardened_rejects_a_response_that_does_not_echo_the_command() -> None:
    p = pair()
    assert p.host.send(Cmd.INIT).ok
    p.host.initialized = True

    def swap_gpa(a: Access, ls: Lockstep) -> None:  # after the helper answered, relabel the header
        if a.side == "host" and a.kind == "read" and a.where == "hdr_len":
            off = OFF_HDR_DATA + 16
            ls.mailbox[off:off + 8] = (5 * PAGE_SIZE).to_bytes(8, "little")

    p.inject = swap_gpa
    with pytest.raises(BadResponse, match="echo"):
        p.host.save_page(PAGE_SIZE)


def test_hardened_init_must_succeed() -> None:
    p = pair()
    p.guest_enabled = False
    with pytest.raises(TimedOut):
        p.host.save_page(PAGE_SIZE)  # INIT times out: no record, no ENCRYPT sent
    assert p.commands() == [Cmd.INIT]
    q = pair()

    def refuse(a: Access, ls: Lockstep) -> None:  # the helper answers INIT with -1
        if a.side == "host" and a.kind == "read" and a.where == "ret":
            ls.mailbox[0x14:0x18] = (-1).to_bytes(4, "little", signed=True)

    q.inject = refuse
    with pytest.raises(GuestFailed):
        q.host.save_page(PAGE_SIZE)
    assert q.commands() == [Cmd.INIT]


def test_rfc_failed_init_is_ignored_and_save_goes_on() -> None:
    q = pair("rfc")
    state = {"n": 0}

    def fail_first_ret(a: Access, ls: Lockstep) -> None:
        if a.side == "host" and a.kind == "read" and a.where == "ret":
            state["n"] += 1
            if state["n"] == 1:
                ls.mailbox[0x14:0x18] = (-1).to_bytes(4, "little", signed=True)

    q.inject = fail_first_ret
    rec = q.host.save_page(PAGE_SIZE)
    assert q.commands() == [Cmd.INIT, Cmd.ENCRYPT] and not q.host.initialized and rec.gpa == PAGE_SIZE


def test_cleanup_rfc_keeps_initialized_hardened_reinits() -> None:
    r = pair("rfc")
    r.host.save_page(PAGE_SIZE)
    r.host.cleanup()
    r.host.save_page(PAGE_SIZE)
    assert r.commands() == [Cmd.INIT, Cmd.ENCRYPT, Cmd.RESET, Cmd.ENCRYPT]
    h = pair()
    h.host.save_page(PAGE_SIZE)
    h.host.cleanup()
    h.host.save_page(PAGE_SIZE)
    assert h.commands() == [Cmd.INIT, Cmd.ENCRYPT, Cmd.RESET, Cmd.INIT, Cmd.ENCRYPT]
    assert h.host.seq == 5  # kept across migrations


# --- the guest helpers on their own -------------------------------------------------------
def drive(p: Lockstep, cmd: int, gpa: int) -> int:
    r = p.host.send(cmd, gpa)
    assert r.status == "ok"
    return int(r.ret)  # type: ignore[arg-type]


def test_rfc_guest_weaknesses() -> None:
    p = pair("rfc", ram=patterned(2100))  # RAM covers the shared area
    assert drive(p, Cmd.ENCRYPT, SHARED_GPA) == 0  # no address check: the mailbox itself leaves
    assert p.mailbox[OFF_IO_PAGE:OFF_IO_PAGE + 8] == p.mailbox[0:8]
    before = bytes(p.mailbox)
    assert drive(p, Cmd.DECRYPT, SHARED_GPA + PAGE_SIZE) == 0  # skipped, yet "success"
    assert p.mailbox[OFF_IO_PAGE:] == before[OFF_IO_PAGE:]
    assert drive(p, 9, 0) == Ret.INVALID
    assert drive(p, Cmd.ENCRYPT, 10**9) == 0  # outside RAM: zeros, still success
    assert bytes(p.mailbox[OFF_IO_PAGE:]) == bytes(PAGE_SIZE)


def test_rfc_guest_loses_a_go_written_before_it_boots() -> None:
    p = pair("rfc")
    p.mailbox[0x18:0x1C] = (1).to_bytes(4, "little")
    p.guest.start()
    assert not p.guest.poll_once()


def test_hardened_guest_refusals() -> None:
    p = pair(ram=patterned(2100))
    assert drive(p, Cmd.ENCRYPT, PAGE_SIZE) == Ret.INVALID  # before INIT
    assert drive(p, Cmd.INIT, 0) == 0
    assert drive(p, Cmd.ENCRYPT, PAGE_SIZE) == 0
    for gpa in (SHARED_GPA, SHARED_GPA + PAGE_SIZE, SHARED_GPA - 1, 2100 * PAGE_SIZE, 10**12, PAGE_SIZE + 1):
        assert drive(p, Cmd.ENCRYPT, gpa) == Ret.INVALID, hex(gpa)
        assert drive(p, Cmd.DECRYPT, gpa) == Ret.INVALID, hex(gpa)
    assert drive(p, 42, 0) == Ret.INVALID
    assert drive(p, Cmd.RESET, 0) == 0
    assert drive(p, Cmd.DECRYPT, PAGE_SIZE) == Ret.INVALID  # after RESET, before INIT


def test_hardened_guest_serves_a_seq_once() -> None:
    p = pair()
    assert drive(p, Cmd.INIT, 0) == 0
    served = p.guest.served
    assert not p.guest.poll_once() and p.guest.served == served


def _loaded_target(prov: Provision) -> tuple[Lockstep, list[Record]]:
    src = pair(provision=prov)
    recs = list(src.host.save_pages([PAGE_SIZE * i for i in (1, 2, 3)]))
    return pair(provision=prov, ram=bytearray(16 * PAGE_SIZE)), recs


@pytest.mark.parametrize("attack", ["page", "header_gpa", "tag", "moved", "other_session", "replay_old"])
def test_hardened_target_rejects_without_writing_ram(attack: str) -> None:
    prov = Provision.generate()
    dst, recs = _loaded_target(prov)
    rec = recs[0]
    if attack == "page":
        rec = rec._replace(page=bytes([rec.page[0] ^ 1]) + rec.page[1:])
    elif attack == "header_gpa":
        h = bytearray(rec.header)
        h[16:24] = (2 * PAGE_SIZE).to_bytes(8, "little")
        rec = rec._replace(header=bytes(h), gpa=2 * PAGE_SIZE)
    elif attack == "tag":
        rec = rec._replace(header=rec.header[:-1] + bytes([rec.header[-1] ^ 0x80]))
    elif attack == "moved":
        rec = rec._replace(gpa=5 * PAGE_SIZE)
    elif attack == "other_session":
        other, orecs = _loaded_target(prov.new_session())
        rec = orecs[0]
    elif attack == "replay_old":
        dst.host.load_page(rec)
        src2 = pair(provision=prov)
        src2.guest.ram[PAGE_SIZE:2 * PAGE_SIZE] = bytes(PAGE_SIZE)
        # a fresh source host restarts seq: its page for gpa 1 looks older than what was accepted
        rec = next(iter(src2.host.save_pages([PAGE_SIZE])))
    before = bytes(dst.ram)
    with pytest.raises(GuestFailed) as e:
        dst.host.load_page(rec)
    assert e.value.ret == Ret.AUTH
    assert bytes(dst.ram) == before


def test_rfc_target_writes_a_tampered_page() -> None:
    src, dst = pair("rfc"), pair("rfc", ram=bytearray(16 * PAGE_SIZE))
    rec = src.host.save_page(PAGE_SIZE)
    dst.host.load_page(rec._replace(page=b"\xee" * PAGE_SIZE))
    assert dst.ram[PAGE_SIZE:2 * PAGE_SIZE] == b"\xee" * PAGE_SIZE


def test_hardened_guest_reads_decrypt_inputs_once() -> None:
    prov = Provision.generate()
    dst, recs = _loaded_target(prov)
    flips = []

    def flip_after_copy(a: Access, ls: Lockstep) -> None:  # host rewrites the page after the guest copied it
        if a.side == "guest" and a.kind == "write" and a.where == "ret":
            ls.mailbox[OFF_IO_PAGE] ^= 0xFF
            flips.append(1)

    dst.inject = flip_after_copy
    dst.host.load_page(recs[0])
    assert flips and dst.ram[PAGE_SIZE:2 * PAGE_SIZE] != bytes(PAGE_SIZE)
    guest_reads = [a.where for a in dst.log if a.side == "guest" and a.kind == "read"]
    assert guest_reads.count("hdr_len") == 1  # one DECRYPT, one fetch


# --- the pipelined bulk paths ---------------------------------------------------------------
def test_save_pages_sends_the_same_commands_as_save_page() -> None:
    a, b = pair(), pair()
    gpas = [PAGE_SIZE * i for i in range(1, 6)]
    one = [a.host.save_page(g) for g in gpas]
    bulk = list(b.host.save_pages(gpas))
    assert a.commands() == b.commands() == [Cmd.INIT] + [Cmd.ENCRYPT] * 5
    assert [r.gpa for r in one] == [r.gpa for r in bulk] == gpas

    def per_command(p: Lockstep) -> list[list[tuple[str, object]]]:
        out: list[list[tuple[str, object]]] = []
        for acc in p.log:
            if acc.side == "host" and acc.kind == "write" and acc.where == "cmd_type":
                out.append([])
            if acc.side == "host" and out:
                out[-1].append((acc.kind, acc.where))
        return out

    assert per_command(a) == per_command(b)


def test_save_pages_abandoned_mid_command_leaves_it_pending() -> None:
    p = pair()
    it = p.host.save_pages([PAGE_SIZE, 2 * PAGE_SIZE, 3 * PAGE_SIZE])
    p.guest_enabled = True
    first = next(it)  # ENCRYPT for page 2 is already published when page 1 is yielded
    assert first.gpa == PAGE_SIZE
    it.close()
    assert p.host.pending == p.host.seq
    assert p.host.send(Cmd.INIT).ok and p.host.pending is None


def test_load_pages_settles_the_page_in_flight_before_a_stream_error() -> None:
    prov = Provision.generate()
    src, dst = pair(provision=prov), pair(provision=prov, ram=bytearray(16 * PAGE_SIZE))
    recs = list(src.host.save_pages([PAGE_SIZE, 2 * PAGE_SIZE]))

    def broken():
        yield recs[0]
        raise ValueError("stream broke")

    with pytest.raises(ValueError, match="stream broke"):
        dst.host.load_pages(broken())
    assert dst.ram[PAGE_SIZE:2 * PAGE_SIZE] == src.ram[PAGE_SIZE:2 * PAGE_SIZE]
    assert dst.host.pending is None and dst.commands() == [Cmd.INIT, Cmd.DECRYPT]


def test_load_pages_stops_at_the_first_refused_page() -> None:
    prov = Provision.generate()
    src, dst = pair(provision=prov), pair(provision=prov, ram=bytearray(16 * PAGE_SIZE))
    recs = list(src.host.save_pages([PAGE_SIZE * i for i in (1, 2, 3)]))
    recs[1] = recs[1]._replace(page=bytes(PAGE_SIZE))
    with pytest.raises(GuestFailed):
        dst.host.load_pages(recs)
    assert dst.ram[PAGE_SIZE:2 * PAGE_SIZE] == src.ram[PAGE_SIZE:2 * PAGE_SIZE]
    assert dst.ram[2 * PAGE_SIZE:4 * PAGE_SIZE] == bytes(2 * PAGE_SIZE)


def test_helper_dead_only_if_it_did_not_complete_first() -> None:
    p = pair()
    p.guest_enabled = False

    def finishes_then_dies() -> bool:
        p.guest.poll_once()
        return False

    p.host.peer_alive = finishes_then_dies
    assert p.host.send(Cmd.INIT).status == "ok"
    p.host.peer_alive = lambda: False
    assert p.host.send(Cmd.INIT).status == "helper_dead"


@pytest.mark.parametrize("mode", ["rfc", "hardened"])
def test_a_completion_in_the_last_burst_is_not_a_timeout(mode: str) -> None:
    p = pair(mode, timeout=0.1, quantum=0.025)
    assert p.host.send(Cmd.INIT).ok
    p.guest_enabled = False

    def late(a: Access, ls: Lockstep) -> None:  # the helper completes only once the deadline has passed
        if a.side == "host" and a.kind == "read" and a.where == "done" and ls.clock.now() - start[0] >= 0.1:
            ls.guest.poll_once()

    start = [p.clock.now()]
    p.inject = late
    r = p.host.send(Cmd.RESET)
    assert r.status == "ok" and r.elapsed <= 0.1 + 0.025 + EPS
