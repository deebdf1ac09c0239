"""The host's sequence numbers and response checks on every code path it has.

``Host.send`` has three ways to publish a command (the native C ``timed_call``, the
inlined ``port.call`` and ``_begin``, which ``save_pages``/``load_pages`` and a send
after a timeout use), and ``DirectPort`` runs its grouped operations either in C or in
Python (``native=False``, what ``MHMAILBOX_NATIVE=0`` selects). A fault in one path is
invisible to tests of another, so each test here runs on every path.
"""
from __future__ import annotations

import struct

import pytest

from mhmailbox.impl import memory as memory_mod
from mhmailbox.impl.clock import MonotonicClock
from mhmailbox.impl.crypto import Provision
from mhmailbox.impl.guest import GuestHelper
from mhmailbox.impl.harness import Lockstep
from mhmailbox.impl.host import BadResponse, Host
from mhmailbox.impl.memory import Access, DirectPort
from mhmailbox.model.layout import OFF_DONE, OFF_GO, OFF_HDR_DATA, OFF_RET, PAGE_SIZE, SHARED_SIZE, Cmd

U32_MAX = 0xFFFFFFFF
DIRECT = ["python"] + (["native"] if memory_mod._spin is not None else [])


def _i32(v: int) -> int:
    return struct.unpack("<i", struct.pack("<I", v))[0]


def go_writes(p: Lockstep) -> list[int]:
    return [int(a.value) for a in p.log if a.side == "host" and a.kind == "write" and a.where == "go"]  # type: ignore[arg-type]


# --- the sequence wrap: 0xFFFFFFFF is followed by 1, never by 0 --------------------------
@pytest.mark.parametrize("path", DIRECT)
def test_seq_wraps_to_one_on_the_direct_port(path: str) -> None:
    """Real clock, DirectPort: ``native`` runs ``timed_call`` in C, ``python`` the inlined
    ``port.call``. A helper that has already answered (done == the go to come) completes at once
    (ret is then the -1 the host's publish wrote)."""
    buf = bytearray(SHARED_SIZE)
    port = DirectPort(memoryview(buf), "host", native=(path == "native"))
    host = Host(port, "hardened", MonotonicClock(), timeout=0.05)
    assert (host._native_send() is not None) == (path == "native")
    host.seq = U32_MAX - 1
    for want in (U32_MAX, 1, 2):
        struct.pack_into("<i", buf, OFF_DONE, _i32(want))
        r = host.send(Cmd.INIT)
        assert (r.status, r.ret, r.seq) == ("ok", -1, want)
        assert struct.unpack_from("<i", buf, OFF_GO)[0] == _i32(want)
    assert host.pending is None


@pytest.mark.parametrize("path", DIRECT)
def test_seq_wraps_to_one_after_a_timeout_on_the_direct_port(path: str) -> None:
    """A timed-out command leaves the next send on the pending path (``_begin``)."""
    buf = bytearray(SHARED_SIZE)
    host = Host(DirectPort(memoryview(buf), "host", native=(path == "native")), "hardened", MonotonicClock(),
                timeout=0.005)
    host.seq = U32_MAX - 1
    r = host.send(Cmd.INIT)  # nobody answers
    assert (r.status, r.seq, host.pending) == ("timed_out", U32_MAX, U32_MAX)
    assert struct.unpack_from("<i", buf, OFF_GO)[0] == -1
    struct.pack_into("<i", buf, OFF_DONE, -1)  # the late completion of 0xFFFFFFFF
    r = host.send(Cmd.RESET)
    assert r.seq == 1 and struct.unpack_from("<i", buf, OFF_GO)[0] == 1 and host.pending == 1


def test_seq_wraps_to_one_on_the_inlined_instrumented_path() -> None:
    p = Lockstep.build("hardened")
    p.host.seq = U32_MAX - 1
    p.log.clear()
    seqs = [p.host.send(Cmd.INIT).seq for _ in range(3)]
    assert seqs == [U32_MAX, 1, 2] and go_writes(p) == [-1, 1, 2]


def test_seq_wraps_to_one_in_the_pipelined_save_and_load() -> None:
    prov = Provision.generate()
    src = Lockstep.build("hardened", provision=prov, ram=bytearray(range(256)) * (16 * PAGE_SIZE // 256))
    src.host.initialize()
    src.host.seq = U32_MAX - 1
    src.log.clear()
    gpas = [PAGE_SIZE * i for i in (1, 2, 3)]
    recs = list(src.host.save_pages(gpas))
    assert [r.gpa for r in recs] == gpas and go_writes(src) == [-1, 1, 2]
    assert [struct.unpack_from("<I", r.header, 8)[0] for r in recs] == [U32_MAX, 1, 2]  # echoed seq
    dst = Lockstep.build("hardened", provision=prov)
    dst.host.initialize()
    dst.host.seq = U32_MAX - 1
    dst.log.clear()
    assert dst.host.load_pages(recs) == 3 and go_writes(dst) == [-1, 1, 2]
    assert dst.ram[PAGE_SIZE:4 * PAGE_SIZE] == src.ram[PAGE_SIZE:4 * PAGE_SIZE]


# --- the header echo: every field is compared ---------------------------------------------
# (offset, size) of each field of the hardened response header (magic, version, cmd, seq, flags, gpa)
ECHO_FIELDS = {"magic": (0, 4), "version": (4, 2), "cmd": (6, 2), "seq": (8, 4), "flags": (12, 4), "gpa": (16, 8)}


@pytest.mark.parametrize("field", list(ECHO_FIELDS))
@pytest.mark.parametrize("pipelined", [False, True], ids=["save_page", "save_pages"])
def test_a_header_that_does_not_echo_one_field_is_refused(field: str, pipelined: bool) -> None:
    p = Lockstep.build("hardened")
    p.host.initialize()
    off, size = ECHO_FIELDS[field]

    def relabel(a: Access, ls: Lockstep) -> None:  # after the helper answered: change one field by one bit
        if a.side == "host" and a.kind == "read" and a.where == "hdr_len":
            ls.mailbox[OFF_HDR_DATA + off + size - 1] ^= 0x01 if field != "gpa" else 0x10

    p.inject = relabel
    with pytest.raises(BadResponse, match="does not echo"):
        if pipelined:
            list(p.host.save_pages([PAGE_SIZE]))
        else:
            p.host.save_page(PAGE_SIZE)


def test_an_unchanged_header_is_accepted_so_the_echo_tests_test_the_echo() -> None:
    p = Lockstep.build("hardened")
    p.host.initialize()
    p.inject = lambda a, ls: None
    assert p.host.save_page(PAGE_SIZE).gpa == PAGE_SIZE


@pytest.mark.parametrize("delta", [-1, 1])
def test_a_header_length_other_than_the_sealed_header_is_refused(delta: int) -> None:
    p = Lockstep.build("hardened")
    p.host.initialize()

    def resize(a: Access, ls: Lockstep) -> None:
        if a.side == "host" and a.kind == "read" and a.where == "hdr_len":
            n = struct.unpack_from("<I", ls.mailbox, 0x800)[0]
            struct.pack_into("<I", ls.mailbox, 0x800, n + delta)

    p.inject = resize
    with pytest.raises(BadResponse, match="expected"):
        p.host.save_page(PAGE_SIZE)


# --- the helper's await_command: the last served go is not served again -------------------
@pytest.mark.parametrize("path", DIRECT)
def test_await_command_skips_zero_and_the_last_served_go(path: str) -> None:
    buf = bytearray(SHARED_SIZE)
    port = DirectPort(memoryview(buf), "guest", native=(path == "native"))
    struct.pack_into("<QQ", buf, 0, int(Cmd.ENCRYPT), 3 * PAGE_SIZE)
    assert port.await_command(0, 4) is None  # go == 0: nothing published
    struct.pack_into("<i", buf, OFF_GO, 7)
    assert port.await_command(7, 4) is None  # already served
    assert port.await_command(6, 4) == (7, int(Cmd.ENCRYPT), 3 * PAGE_SIZE)
    assert port.await_command(0, 1) == (7, int(Cmd.ENCRYPT), 3 * PAGE_SIZE)
    struct.pack_into("<i", buf, OFF_GO, -1)  # seq 0xFFFFFFFF as i32
    assert port.await_command(-1, 4) is None and port.await_command(7, 1) == (-1, int(Cmd.ENCRYPT), 3 * PAGE_SIZE)


@pytest.mark.parametrize("path", DIRECT)
def test_a_running_helper_serves_each_go_once(path: str) -> None:
    """``GuestHelper.run`` on a DirectPort (the production loop) serves INIT once and goes idle."""
    buf = bytearray(SHARED_SIZE)
    port = DirectPort(memoryview(buf), "guest", native=(path == "native"))
    guest = GuestHelper(port, memoryview(bytearray(16 * PAGE_SIZE)), "hardened", Provision.generate())
    calls = []
    inner = port.await_command

    def counted(last: int, n: int):
        calls.append(last)
        if len(calls) > 50:
            raise RuntimeError("the helper keeps serving the same command")
        return inner(last, n)

    port.await_command = counted  # type: ignore[method-assign]
    struct.pack_into("<QQii", buf, 0, int(Cmd.INIT), 0, 0, -1)
    struct.pack_into("<i", buf, OFF_GO, 1)
    guest.run(lambda: True, burst=8, spin_bursts=2)
    assert guest.served == 1 and guest.last_seq == 1
    assert struct.unpack_from("<i", buf, OFF_DONE)[0] == 1 and struct.unpack_from("<i", buf, OFF_RET)[0] == 0
    assert calls == [0, 1, 1]


def test_a_pending_seq_at_the_sign_boundary_is_awaited_as_its_i32() -> None:
    """seq 0x80000000 times out; the next send waits for done == -0x80000000 (its i32), not 2**31."""
    p = Lockstep.build("hardened")
    p.host.seq = 0x7FFFFFFF
    p.guest_enabled = False
    assert p.host.send(Cmd.INIT).status == "timed_out" and p.host.pending == 0x80000000
    p.guest_enabled = True
    r = p.host.send(Cmd.RESET)
    assert r.ok and r.seq == 0x80000001 and p.host.pending is None
