"""The memory layer's edges: mappings, out-of-bounds reads and writes, the grouped
response accesses, and what the instrumented port reports, on every port path."""
from __future__ import annotations

import os
import struct

import pytest

from mhmailbox.impl import memory as memory_mod
from mhmailbox.impl.memory import (
    HOST_FAULT_LIMIT,
    HOST_MEMORY_PATTERN,
    Access,
    DirectPort,
    InstrumentedPort,
    MappedFile,
    MemoryFault,
    trace_json,
)
from mhmailbox.model.layout import OFF_DONE, OFF_GO, OFF_HDR_DATA, OFF_HDR_LEN, OFF_IO_PAGE, PAGE_SIZE, SHARED_SIZE

PATHS = ["python", "instrumented"] + (["native"] if memory_mod._spin is not None else [])


def port(path: str, buf: bytearray, log: list | None = None, hook=None):
    if path == "instrumented":
        return InstrumentedPort(memoryview(buf), "host", hook, log)
    return DirectPort(memoryview(buf), "host", native=(path == "native"))


# --- mappings ---------------------------------------------------------------------------
def test_create_at_a_path_truncates_and_attach_sees_its_size(tmp_path) -> None:
    path = str(tmp_path / "mbox")
    with open(path, "wb") as fh:
        fh.write(b"\xff" * 100)
    m = MappedFile.create(64, path)
    try:
        assert m.path == path and m.size == 64 and m.owner and bytes(m.buf) == bytes(64)
        a = MappedFile.attach(path)
        b = MappedFile.attach(path, 16)
        assert (a.size, len(a.buf), a.owner) == (64, 64, False) and b.size == 16
        a.buf[3] = 7
        assert m.buf[3] == 7
        a.close()
        b.close()
        assert os.path.exists(path), "an attached mapping never unlinks the file"
    finally:
        m.close()
    assert not os.path.exists(path), "the creator unlinks by default"


def test_a_mapping_describes_itself_by_path_size_and_owner(tmp_path) -> None:
    m = MappedFile.create(16, str(tmp_path / "r"))
    try:
        assert repr(m) == f"MappedFile(path={m.path!r}, size=16, owner=True)"  # not the fd, map or buffer
    finally:
        m.close()


def test_close_can_keep_or_unlink_whatever_the_owner(tmp_path) -> None:
    m = MappedFile.create(16, str(tmp_path / "a"))
    m.close(unlink=False)
    assert os.path.exists(m.path)
    a = MappedFile.attach(m.path)
    a.close(unlink=True)
    assert not os.path.exists(m.path)
    m.close()  # twice, and the file already gone: no error


def test_a_temp_mapping_lives_in_dev_shm_when_there_is_one(monkeypatch) -> None:
    m = MappedFile.create(SHARED_SIZE)
    try:
        assert os.path.basename(m.path).startswith("mhmailbox-")
        if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
            assert m.path.startswith("/dev/shm/") and memory_mod._shm_dir() == "/dev/shm"
    finally:
        m.close()
    monkeypatch.setattr(memory_mod.os, "access", lambda p, mode: p != "/dev/shm")
    assert memory_mod._shm_dir() is None  # there but not writable: the system's temp dir
    monkeypatch.undo()
    monkeypatch.setattr(memory_mod.os.path, "isdir", lambda p: p != "/dev/shm")
    assert memory_mod._shm_dir() is None


# --- out-of-bounds ----------------------------------------------------------------------
def test_the_leak_pattern_continues_across_reads_past_the_end() -> None:
    p = DirectPort(memoryview(bytearray(SHARED_SIZE)))
    n = len(HOST_MEMORY_PATTERN)
    whole = p.read_bytes(SHARED_SIZE, 3 * n)
    assert whole == HOST_MEMORY_PATTERN * 3
    assert p.read_bytes(SHARED_SIZE + 3, 5) == whole[3:8]  # starting past the end, mid-pattern
    assert p.read_bytes(SHARED_SIZE - 2, 4) == bytes(2) + HOST_MEMORY_PATTERN[:2]
    assert p.read_bytes(SHARED_SIZE - 4, 4) == bytes(4)  # exactly up to the end: no leak


def test_the_fault_limit_is_exact() -> None:
    p = DirectPort(memoryview(bytearray(SHARED_SIZE)))
    assert len(p.read_bytes(SHARED_SIZE, HOST_FAULT_LIMIT)) == HOST_FAULT_LIMIT
    with pytest.raises(MemoryFault, match="past the shared area"):
        p.read_bytes(SHARED_SIZE, HOST_FAULT_LIMIT + 1)


@pytest.mark.parametrize("path", PATHS)
def test_writes_outside_the_mailbox_fault_and_write_nothing(path: str) -> None:
    buf = bytearray(SHARED_SIZE)
    p = port(path, buf, [])
    for off, data in ((-1, b"a"), (SHARED_SIZE - 1, b"ab"), (SHARED_SIZE, b"")):
        if off == SHARED_SIZE:
            p.write_bytes(off, data)  # an empty write at the very end is inside
            continue
        with pytest.raises(MemoryFault, match="leaves the shared area"):
            p.write_bytes(off, data)
    p.write_bytes(SHARED_SIZE - 2, b"ab")
    p.write_bytes(0, b"cd")
    assert buf[-2:] == b"ab" and buf[:2] == b"cd" and buf.count(0) == SHARED_SIZE - 4


@pytest.mark.parametrize("path", PATHS)
def test_read_into_copies_inside_and_pads_outside(path: str) -> None:
    buf = bytearray(range(256)) * (SHARED_SIZE // 256)
    p = port(path, buf, [])
    dst = bytearray(6)
    p.read_into(16, memoryview(dst))
    assert dst == bytes(range(16, 22))
    p.read_into(SHARED_SIZE - 2, memoryview(dst))
    assert dst == bytes([254, 255]) + HOST_MEMORY_PATTERN[:4]


def test_a_direct_port_describes_itself_without_its_bound_operations() -> None:
    p = DirectPort(memoryview(bytearray(SHARED_SIZE)), "guest", native=False)
    assert repr(p).startswith("DirectPort(buf=<memory at ") and repr(p).endswith(", side='guest', native=False)")


def test_a_short_mailbox_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        DirectPort(memoryview(bytearray(SHARED_SIZE - 1)), native=False)
    DirectPort(memoryview(bytearray(SHARED_SIZE)), native=False)


# --- the grouped response accesses ---------------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
def test_write_response_then_read_response(path: str) -> None:
    buf = bytearray(SHARED_SIZE)
    p = port(path, buf, [])
    page = bytes(range(256)) * (PAGE_SIZE // 256)
    p.write_response(b"hdr!" * 17, page)
    assert struct.unpack_from("<I", buf, OFF_HDR_LEN)[0] == 68
    assert buf[OFF_HDR_DATA:OFF_HDR_DATA + 68] == b"hdr!" * 17 and buf[OFF_IO_PAGE:] == page
    assert p.read_response(68) == (68, b"hdr!" * 17, page)
    assert p.read_response(67) == (68, b"", b"")  # over the limit: the length only
    p.write_response(b"", page)
    assert p.read_response(0) == (0, b"", page)


@pytest.mark.parametrize("path", PATHS)
def test_write_response_refuses_what_does_not_fit(path: str) -> None:
    buf = bytearray(SHARED_SIZE)
    p = port(path, buf, [])
    with pytest.raises(MemoryFault):
        p.write_response(b"", b"x" * (PAGE_SIZE + 1))
    with pytest.raises(MemoryFault):
        p.write_response(b"h" * (SHARED_SIZE - OFF_HDR_DATA + 1), bytes(PAGE_SIZE))
    room = OFF_IO_PAGE - OFF_HDR_DATA
    p.write_response(b"h" * room, bytes(PAGE_SIZE))  # a header that fills its room exactly
    assert p.read_response(room)[1] == b"h" * room


@pytest.mark.parametrize("path", PATHS)
def test_read_response_of_a_length_past_the_end_leaks_host_memory(path: str) -> None:
    buf = bytearray(SHARED_SIZE)
    struct.pack_into("<I", buf, OFF_HDR_LEN, SHARED_SIZE)
    n, hdr, page = port(path, buf, []).read_response(2 * SHARED_SIZE)
    assert n == SHARED_SIZE and len(hdr) == SHARED_SIZE and HOST_MEMORY_PATTERN in hdr and len(page) == PAGE_SIZE


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("clear_go", [False, True])
def test_complete_writes_ret_then_done_and_clears_go_on_request(path: str, clear_go: bool) -> None:
    buf = bytearray(SHARED_SIZE)
    p = port(path, buf, [])
    p.write("go", 9)
    p.complete(-3, 9, clear_go=clear_go, fence=False)
    assert (p.read("ret"), p.read("done"), p.read("go")) == (-3, 9, 0 if clear_go else 9)


@pytest.mark.parametrize("path", PATHS)
def test_publish_clears_done_only_on_request(path: str) -> None:
    for clear in (False, True):
        buf = bytearray(SHARED_SIZE)
        p = port(path, buf, [])
        p.write("done", 5)
        p.write("prefetch", 3)
        p.publish(2, 0x3000, 6, clear_done=clear)
        assert (p.read("cmd_type"), p.read("gpa"), p.read("prefetch"), p.read("ret"), p.read("go")) == (2, 0x3000, 0, -1, 6)
        assert p.read("done") == (0 if clear else 5)


@pytest.mark.parametrize("path", PATHS)
def test_polls_give_up_after_n_reads_and_see_the_first_match(path: str) -> None:
    buf = bytearray(SHARED_SIZE)
    log: list[Access] = []
    p = port(path, buf, log)
    struct.pack_into("<i", buf, OFF_DONE, 4)
    assert not p.poll_eq("done", 5, 3) and p.poll_eq("done", 4, 1) and not p.poll_eq("done", 4, 0)
    assert p.poll_ne("done", 4, 0, 3) is None and p.poll_ne("done", 0, 1, 1) == 4 and p.poll_ne("done", 0, 1, 0) is None
    assert p.poll_eq("hdr_len", 0, 1) and p.poll_ne("gpa", 0, 0, 2) is None  # fields the C polls do not cover
    p.write("gpa", 1 << 32)  # 64 bits: its low 32 are 0
    assert p.poll_ne("gpa", 0, 0, 1) == 1 << 32 and p.poll_eq("gpa", 1 << 32, 1)
    struct.pack_into("<i", buf, OFF_GO, -7)
    assert p.poll_ne("go", 0, 7, 1) == -7
    if path == "instrumented":
        assert [a.where for a in log].count("done") == 3 + 1 + 3 + 1


# --- what the instrumented port reports ---------------------------------------------------
def test_the_hook_sees_each_access_before_it_and_the_log_after_with_values() -> None:
    buf = bytearray(SHARED_SIZE)
    seen: list[tuple] = []
    log: list[Access] = []

    def hook(a: Access) -> None:
        seen.append((a.side, a.kind, a.where, a.length, a.value, buf[OFF_GO]))

    p = InstrumentedPort(memoryview(buf), "guest", hook, log)
    p.write("go", 3)
    assert p.read("go") == 3
    p.write_bytes(OFF_IO_PAGE, b"ab")
    assert p.read_bytes(OFF_IO_PAGE, 2) == b"ab"
    p.barrier("mb")
    assert seen == [("guest", "write", "go", 4, 3, 0), ("guest", "read", "go", 4, None, 3),
                    ("guest", "write", OFF_IO_PAGE, 2, b"ab", 3), ("guest", "read", OFF_IO_PAGE, 2, None, 3),
                    ("guest", "barrier", "mb", 0, None, 3)]
    assert [(a.kind, a.where, a.value) for a in log] == [
        ("write", "go", 3), ("read", "go", 3), ("write", OFF_IO_PAGE, b"ab"), ("read", OFF_IO_PAGE, b"ab"),
        ("barrier", "mb", None)]
    assert trace_json(log)[2] == {"side": "guest", "kind": "write", "where": OFF_IO_PAGE, "length": 2, "value": "6162"}


def test_an_instrumented_port_without_hook_or_log_still_works() -> None:
    buf = bytearray(SHARED_SIZE)
    p = InstrumentedPort(memoryview(buf), "host")
    p.publish(1, 2, 3, clear_done=True)
    assert p.call(1, 2, 3, 1) is None and p.await_command(0, 1) == (3, 1, 2)


def test_the_instrumented_response_accesses_in_order() -> None:
    buf = bytearray(SHARED_SIZE)
    log: list[Access] = []
    p = InstrumentedPort(memoryview(buf), "guest", None, log)
    p.write_response(b"", bytes(PAGE_SIZE))
    p.write_response(b"xy", bytes(PAGE_SIZE))
    p.read_response(1)
    assert [(a.kind, a.where, a.length) for a in log] == [
        ("write", "hdr_len", 4), ("write", OFF_IO_PAGE, PAGE_SIZE),  # no header bytes when there are none
        ("write", "hdr_len", 4), ("write", OFF_HDR_DATA, 2), ("write", OFF_IO_PAGE, PAGE_SIZE),
        ("read", "hdr_len", 4)]  # over the limit: nothing more is read


# --- MHMAILBOX_NATIVE and a missing C module (decided at import: checked in a fresh interpreter) ---
_PROBE = (
    "import sys\n"
    "if sys.argv[1] == 'hide':\n"
    "    class Hide:\n"
    "        def find_spec(self, name, path=None, target=None):\n"
    "            if name == 'mhmailbox.impl._spin':\n"
    "                raise ImportError('no C module')\n"
    "    sys.meta_path.insert(0, Hide())\n"
    "from mhmailbox.impl import memory as m\n"
    "p = m.DirectPort(memoryview(bytearray(m.SHARED_SIZE)))\n"
    "p.publish(1, 2, 3, False)\n"
    "print(m._spin is None, m.NATIVE_AVAILABLE, p.native, p.timed_call is None, p.await_command(0, 1))\n"
)


def _probe(env_value: str | None, hide: bool = False) -> str:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "MHMAILBOX_NATIVE"}
    if env_value is not None:
        env["MHMAILBOX_NATIVE"] = env_value
    out = subprocess.run([sys.executable, "-c", _PROBE, "hide" if hide else "show"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(memory_mod._spin is None, reason="the native fast path was not built")
@pytest.mark.parametrize("value,native", [(None, True), ("1", True), ("0", False), ("no", True)])
def test_mhmailbox_native_selects_the_default_path(value: str | None, native: bool) -> None:
    assert _probe(value) == f"False {native} {native} {not native} (3, 1, 2)"


def test_without_the_c_module_the_python_path_is_the_default() -> None:
    assert _probe(None, hide=True) == "True False False True (3, 1, 2)"


def test_a_read_more_than_a_mebibyte_past_the_mailbox_faults() -> None:
    p = DirectPort(memoryview(bytearray(SHARED_SIZE)), native=False)
    assert len(p.read_bytes(SHARED_SIZE - 8, 8 + (1 << 20))) == 8 + (1 << 20)
    with pytest.raises(MemoryFault):
        p.read_bytes(SHARED_SIZE - 8, 8 + (1 << 20) + 1)
