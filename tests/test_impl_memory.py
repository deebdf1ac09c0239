"""The memory access layer and the clocks."""
from __future__ import annotations

import multiprocessing as mp

import pytest

from mhmailbox.impl.clock import Clock, MonotonicClock, VirtualClock
from mhmailbox.impl.memory import (
    HOST_MEMORY_PATTERN,
    Access,
    DirectPort,
    InstrumentedPort,
    MappedFile,
    MemoryFault,
)
from mhmailbox.model.layout import OFF_GO, OFF_IO_PAGE, SHARED_SIZE


def _child_writes(path: str) -> None:
    m = MappedFile.attach(path)
    DirectPort(m.buf, "guest").write("done", 77)


def test_mapped_file_is_shared_between_processes() -> None:
    m = MappedFile.create(SHARED_SIZE)
    try:
        p = mp.get_context("fork").Process(target=_child_writes, args=(m.path,))
        p.start()
        p.join(10)
        assert DirectPort(m.buf).read("done") == 77
    finally:
        m.close()


def test_direct_and_instrumented_ports_agree_on_bytes() -> None:
    a, b = bytearray(SHARED_SIZE), bytearray(SHARED_SIZE)
    seen: list[Access] = []
    d, i = DirectPort(memoryview(a)), InstrumentedPort(memoryview(b), "host", seen.append, [])
    for port in (d, i):
        port.publish(2, 0x1000, -5, clear_done=True)
        port.complete(0, 9, clear_go=False, fence=True)
        port.write_bytes(OFF_IO_PAGE, b"xyz")
    assert a == b
    assert [x.where for x in seen[:7]] == ["cmd_type", "gpa", "prefetch", "ret", "done", "wmb", "go"]
    assert i.read_params() == d.read_params() == (2, 0x1000)
    assert d.poll_eq("done", 9, 1) and i.poll_ne("go", 0, 0, 1) == -5
    dst = bytearray(3)
    i.read_into(OFF_IO_PAGE, memoryview(dst))
    assert dst == b"xyz" and i.log is not None and i.log[-1].value == b"xyz"


def test_hook_runs_before_the_access_and_can_change_what_is_read() -> None:
    buf = bytearray(SHARED_SIZE)

    def flip(a: Access) -> None:
        if a.kind == "read" and a.where == "go":
            buf[OFF_GO] = 3

    assert InstrumentedPort(memoryview(buf), "host", flip).read("go") == 3


def test_reads_past_the_mailbox_leak_host_memory_then_fault() -> None:
    port = DirectPort(memoryview(bytearray(SHARED_SIZE)))
    data = port.read_bytes(SHARED_SIZE - 4, 20)
    assert data[:4] == bytes(4) and data[4:12] == HOST_MEMORY_PATTERN
    with pytest.raises(MemoryFault):
        port.read_bytes(0x804, 0xFFFFFFFF)
    with pytest.raises(MemoryFault):
        port.write_bytes(SHARED_SIZE - 1, b"ab")


def test_clocks() -> None:
    v = VirtualClock()
    assert isinstance(v, Clock) and isinstance(MonotonicClock(), Clock)
    v.spent(0.25)
    v.sleep(0.25)
    v.advance(0.5)
    assert v.now() == 1.0
    with pytest.raises(ValueError):
        v.advance(-1)
    m = MonotonicClock()
    t = m.now()
    m.spent(100.0)  # a real clock ignores it
    assert m.now() - t < 50


def test_trace_json_is_serialisable() -> None:
    import json

    from mhmailbox.impl.harness import Lockstep
    from mhmailbox.impl.memory import trace_json

    p = Lockstep.build("hardened")
    p.host.save_page(4096)
    rows = trace_json(p.log)
    assert json.loads(json.dumps(rows)) == rows
    assert rows[0] == {"side": "host", "kind": "write", "where": "cmd_type", "length": 8, "value": 0}


# --- the grouped operations: native C, pure-Python direct and instrumented paths agree ---

from hypothesis import given, strategies as st  # noqa: E402

from mhmailbox.impl import memory as memory_mod  # noqa: E402

_PATHS = ["python", "instrumented"] + (["native"] if memory_mod._spin is not None else [])
_i32 = st.integers(-(2**31), 2**31 - 1)
_u64 = st.integers(0, 2**64 - 1)
_ops = st.one_of(
    st.tuples(st.just("call"), _u64, _u64, _i32, st.integers(0, 3)),
    st.tuples(st.just("await_command"), _i32, st.integers(0, 3)),
    st.tuples(st.just("finish"), _i32, _i32),
    st.tuples(st.just("poll_eq"), st.sampled_from(["go", "done", "ret"]), _i32, st.integers(0, 3)),
    st.tuples(st.just("poll_ne"), st.sampled_from(["go", "done"]), _i32, _i32, st.integers(0, 3)),
    st.tuples(st.just("write"), st.sampled_from(["go", "done", "ret", "cmd_type", "gpa"]), _i32),
)


def _port(path: str, buf: bytearray, log: list):
    if path == "instrumented":
        return InstrumentedPort(memoryview(buf), "host", log.append, None)
    return DirectPort(memoryview(buf), "host", native=(path == "native"))


@given(st.lists(_ops, max_size=12))
def test_grouped_operations_agree_on_every_path(ops) -> None:
    """Same return values and same bytes, whichever path runs the grouped operations."""
    results = {}
    for path in _PATHS:
        buf, log = bytearray(SHARED_SIZE), []
        port = _port(path, buf, log)
        out = []
        for op, *args in ops:
            if op == "write":
                name, v = args
                port.write(name, v % 2**64 if name in ("cmd_type", "gpa") else v)
                out.append(None)
            else:
                out.append(getattr(port, op)(*args))
        results[path] = (out, bytes(buf))
    first = results["python"]
    for path, got in results.items():
        assert got == first, path


def test_grouped_operations_decompose_in_protocol_order() -> None:
    buf, log = bytearray(SHARED_SIZE), []
    port = _port("instrumented", buf, log)
    assert port.call(1, 0x2000, 7, 2) is None  # nobody answered
    assert [(a.kind, a.where) for a in log] == [
        ("write", "cmd_type"), ("write", "gpa"), ("write", "prefetch"), ("write", "ret"),
        ("barrier", "wmb"), ("write", "go"), ("read", "done"), ("read", "done")]
    log.clear()
    assert port.await_command(0, 1) == (7, 1, 0x2000)
    port.finish(0, 7)
    assert [(a.kind, a.where) for a in log] == [
        ("read", "go"), ("barrier", "rmb"), ("read", "cmd_type"), ("read", "gpa"),
        ("write", "ret"), ("barrier", "wmb"), ("write", "done")]
    log.clear()
    assert port.call(0, 0, 7, 1) == -1  # done == go already: rmb, then ret (publish set it to -1)
    assert [(a.kind, a.where) for a in log][-3:] == [("read", "done"), ("barrier", "rmb"), ("read", "ret")]


@pytest.mark.skipif(memory_mod._spin is None, reason="the native fast path was not built")
def test_native_path_refuses_a_released_or_short_mailbox() -> None:
    m = MappedFile.create(SHARED_SIZE)
    port = DirectPort(m.buf, native=True)
    m.close()
    with pytest.raises(ValueError):
        port.call(0, 0, 1, 1)
    with pytest.raises(ValueError, match="at least"):
        memory_mod._spin.poll_eq_i32(bytearray(64), 0x1C, 0, 1)


def test_native_flag_without_the_module_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(memory_mod, "_spin", None)
    with pytest.raises(ValueError, match="native=False"):
        DirectPort(memoryview(bytearray(SHARED_SIZE)), native=True)


# --- the host's native common case (DirectPort.timed_call) ---

import struct  # noqa: E402
import time  # noqa: E402

from mhmailbox.impl.host import Host, Reply  # noqa: E402
from mhmailbox.model.layout import OFF_DONE, OFF_RET  # noqa: E402

_native_only = pytest.mark.skipif(memory_mod._spin is None, reason="the native fast path was not built")


@_native_only
@given(_u64, _u64, st.integers(1, 2**32 - 1), _i32, st.booleans())
def test_timed_call_does_what_call_does(cmd, gpa, seq, ret, answered) -> None:
    """Same bytes as ``call`` with go = seq as i32; a Reply when done == go, else the start time."""
    go = seq - 2**32 if seq >= 2**31 else seq
    bufs = []
    for timed in (False, True):
        buf = bytearray(SHARED_SIZE)
        port = DirectPort(memoryview(buf), "host", native=True)
        if answered:  # a helper that had already answered: done == go, and its ret
            struct.pack_into("<ii", buf, OFF_RET, 0, 0)
            struct.pack_into("<i", buf, OFF_DONE, go)
        if timed:
            before = time.monotonic()
            r = port.timed_call(Reply, cmd, gpa, seq, 3)
            after = time.monotonic()
            if answered:
                assert type(r) is Reply and r[:3] == ("ok", -1, seq) and 0 <= r.elapsed <= after - before
            else:
                assert type(r) is float and before <= r <= after  # time.monotonic's clock
        else:
            port.call(cmd, gpa, go, 3)
        bufs.append(bytes(buf))
    assert bufs[0] == bufs[1]


@_native_only
def test_timed_call_refuses_a_reply_type_that_is_not_a_tuple() -> None:
    port = DirectPort(memoryview(bytearray(SHARED_SIZE)), "host", native=True)
    with pytest.raises(TypeError, match="tuple subtype"):
        port.timed_call(dict, 1, 0, 1, 1)


@_native_only
def test_host_uses_the_native_path_only_with_the_real_clock() -> None:
    """The C path reads CLOCK_MONOTONIC: a virtual clock must keep seeing every read."""
    m = MappedFile.create(SHARED_SIZE)
    try:
        host = Host(DirectPort(m.buf, "host", native=True), "hardened", timeout=0.02)
        t0 = time.monotonic()
        r = host.send(1)  # nobody answers: the C first burst, then the Python wait
        assert r.status == "timed_out" and host.pending == r.seq == 1
        assert 0.02 <= r.elapsed <= time.monotonic() - t0
        struct.pack_into("<i", m.buf, OFF_DONE, 1)  # the late completion ...
        struct.pack_into("<i", m.buf, OFF_RET, 0)
        r = host.send(1)  # ... is consumed by the next send (Python path: pending), which then times out
        assert r.status == "timed_out" and r.seq == 2
        assert host._native_send() is not None
        host.clock = VirtualClock()
        assert host._native_send() is None  # decided again for the new clock
        r = host.send(1, 0)
        assert r.status == "timed_out" and r.elapsed == pytest.approx(0.02, abs=2 * host.quantum)
        rfc = Host(DirectPort(m.buf, "host", native=True), "rfc")
        assert rfc._native_send() is None
    finally:
        m.close()
