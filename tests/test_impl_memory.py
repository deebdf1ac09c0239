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
