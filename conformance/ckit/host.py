"""Drive a built C host, in its own process, as a HostUnderTest on the suite's port and clock.

One child process per host object (so per Hypothesis example: a file's static state,
such as the published ``cmhs.initialized``, never leaks into the next example). The
replay of its mailbox accesses (reads, writes, barriers) is :mod:`.child`'s, shared with
the C helper; the host adds:

* a clock read: the suite's virtual clock, scaled so that the file's own deadline
  (``deadline_ns``, 100 ms as published) is the suite's deadline of 4 quanta. A clock read
  costs one quantum when the host has only read (polled) since its previous clock read of
  the operation: one polling burst is the polls between two clock reads;
* the record: ``qemu_put_be32``/``qemu_put_buffer`` items, a buffer in the shared area
  being a read (its true offset and length; past the area the rig's port supplies what a
  real host would leak, or faults); parsed as be32 length, header, be32 size, page.

A crash (a signal, an exit), a run of ``POLL_LIMIT`` polls of one location (a wait nothing
can end), an operation still running after ``VIRTUAL_LIMIT`` deadlines of virtual time
(a wait that reads the clock and ignores it), or a child that sends nothing for
``answer_timeout`` seconds of real time (a loop touching nothing shared) kills the child
and is reported as an exception the rig counts as a crash (``robust``), with the number
of the access it came after.
"""
from __future__ import annotations

import os
import struct
from typing import Any

import attrs

from mhmailbox.impl.clock import VirtualClock
from mhmailbox.impl.memory import InstrumentedPort
from mhmailbox.impl.stream import Record
from mhmailbox.model.layout import FIELDS, PAGE_SIZE

from ..adapter import HOST_OPERATIONS, OperationFailed
from .build import ENTRIES
from ..rig import HostRig
from .child import (ANSWER_TIMEOUT, EV_CLOCK, EV_ERROR, EV_GET, EV_PUT, EV_PUT_SHARED, EV_READ, EV_RESULT, GO_ON,
                    POLL_LIMIT, CChildCrashed, CChildHung, Child, ChildImplementation)

REQ = struct.Struct("<IIQQQ")
REQ_INIT, REQ_SAVE, REQ_LOAD, REQ_CLEANUP = 1, 2, 3, 4
PUT_BE32 = 1
#: The published host's deadline (MH_REQUEST_TIMEOUT_MS 100).
PUBLISHED_DEADLINE_NS = 100_000_000
#: Where the child's clock starts (so that 0 is never a special value).
CLOCK_ORIGIN_NS = 1_000_000_000
#: An operation still running after this many deadlines of virtual time is stopped.
VIRTUAL_LIMIT = 64
#: The C host's failures are the child's (the names the host side has always had).
CHostCrashed, CHostHung = CChildCrashed, CChildHung


@attrs.define(eq=False)
class CHost(Child):
    """One child process running the built file; the HostUnderTest protocol."""

    clock: VirtualClock = attrs.field(default=None, kw_only=True)
    timeout: float = attrs.field(default=0.0, kw_only=True)
    quantum: float = attrs.field(default=0.0, kw_only=True)
    deadline_ns: int = attrs.field(default=PUBLISHED_DEADLINE_NS, kw_only=True)
    initialized: bool = False
    # per operation
    items: list = attrs.field(factory=list)
    errors: list = attrs.field(factory=list)
    stream_in: bytes = b""
    op_start: float = 0.0
    reads_since_clock: int = 0
    writes_since_clock: int = 0

    def __attrs_post_init__(self) -> None:
        self.who = "the C host"
        self._spawn({"MHKIT_POLL_OFF": str(FIELDS["done"][0])})

    # --- replaying the child's accesses on the rig's port ---------------------------------
    def _clock(self) -> int:
        if self.reads_since_clock and not self.writes_since_clock:
            self.clock.spent(self.quantum)  # one polling burst
        self.reads_since_clock = self.writes_since_clock = 0
        now = self.clock.now()
        if now - self.op_start > VIRTUAL_LIMIT * self.timeout:
            raise self._fail(CHostHung(
                f"the C host was still waiting after {VIRTUAL_LIMIT} deadlines of virtual time "
                f"(access #{self.accesses}, {self.last_access}): a wait that never ends"))
        return CLOCK_ORIGIN_NS + round(now * self.deadline_ns / self.timeout)

    def _call(self, op: int, gpa: int = 0, size: int = 0) -> int:
        """Run one entry point to its end; its return value (signed)."""
        self._check_alive()
        self.items, self.errors = [], []
        self.op_start = self.clock.now()
        self.reads_since_clock = self.writes_since_clock = 0
        self.ahead = 0  # the child forgets its grant with each request too (a new script)
        self._send(REQ.pack(op, 0, gpa, size, 0))
        return self._serve()

    def on_write(self, off: int, n: int) -> None:
        self.writes_since_clock += 1

    def grant(self) -> int:
        """Accesses before the rig's next scripted peer action or boot (its reference helper runs
        only at a read of done, which always waits)."""
        return quiet_host_accesses(getattr(self.port.hook, "__self__", None))

    def _event(self, kind: int, aux: int, off: int, n: int, val: int) -> Any:
        """The host's own events: its reads (counted for the clock), the clock, the record, errors, the result."""
        if kind == EV_READ:
            self.reads_since_clock += 1
            self.read_now(off, n, waits=not aux)
        elif kind == EV_CLOCK:
            self._answer(self._clock())
        elif kind == EV_PUT:
            self.items.append((aux, self._recv(n)))
        elif kind == EV_PUT_SHARED:
            self._note("read", off, n)
            self.reads_since_clock += 1
            self.items.append((0, bytes(self.port.read_bytes(off, n))))
            self._answer()
        elif kind == EV_GET:
            data, self.stream_in = self.stream_in[:n], self.stream_in[n:]
            self._answer(len(data), data)
        elif kind == EV_ERROR:
            self.errors.append(self._recv(n).decode("utf-8", "replace"))
        elif kind == EV_RESULT:
            return val - (1 << 64) if val >= 1 << 63 else val
        else:
            return super()._event(kind, aux, off, n, val)
        return GO_ON

    # --- HostUnderTest ------------------------------------------------------------------
    def initialize(self) -> None:
        """``cgs_mh_init``: maps the shared area (no command: INIT goes with the first save)."""
        if not self.initialized:
            self.initialized = True
            self._call(REQ_INIT)

    def _failure(self, what: str) -> OperationFailed:
        said = f": {'; '.join(self.errors)}" if self.errors else ""
        return OperationFailed(f"{what}{said}")

    def save_page(self, gpa: int) -> Record:
        self.initialize()
        ret = self._call(REQ_SAVE, gpa, PAGE_SIZE)
        if ret != 0:
            raise self._failure(f"cgs_mh_save_encrypted_page returned {ret}")
        return parse_record(gpa, self.items)

    def load_page(self, record: Record) -> None:
        if "load" not in self.build.entries:
            raise OperationFailed("the file has no cgs_mh_load_encrypted_page")
        self.initialize()
        self.stream_in = struct.pack(">I", record.emitted_hdr_len & 0xFFFFFFFF) + record.header + \
            struct.pack(">I", len(record.page)) + record.page
        ret = self._call(REQ_LOAD, record.gpa)
        if ret != 0:
            raise self._failure(f"cgs_mh_load_encrypted_page returned {ret}")

    def cleanup(self) -> None:
        """``cgs_mh_cleanup`` returns nothing: an error it reports (error_report) is its failure."""
        self.initialize()
        self._call(REQ_CLEANUP)
        if self.errors:
            raise self._failure("cgs_mh_cleanup reported an error")

    def new_migration(self) -> None:
        """The same QEMU process goes on to another migration: nothing to do."""


def quiet_host_accesses(rig: Any) -> int:
    """How many of the host's next accesses need no round trip: what a :class:`HostRig` says
    (:meth:`HostRig.quiet_accesses`); 0 for any other hook (a test's own)."""
    return rig.quiet_accesses() if type(rig) is HostRig else 0


def parse_record(gpa: int, items: list[tuple[int, bytes]]) -> Record:
    """The record from the operation's qemu_put_* items: be32 header length, the buffers up
    to the next be32 (the header as copied), be32 page size, the rest (the page)."""
    be32 = [i for i, (k, _) in enumerate(items) if k == PUT_BE32]
    if len(be32) < 2 or be32[0] != 0:
        raise OperationFailed(f"the save returned 0 but emitted no record of the published form "
                              f"({len(items)} qemu_put_* items)")
    hlen = int.from_bytes(items[0][1], "big")
    header = b"".join(b for _, b in items[1:be32[1]])
    page = b"".join(b for _, b in items[be32[1] + 1:])
    return Record(gpa, header, page, hlen)


@attrs.frozen
class CHostImplementation(ChildImplementation):
    """A built C host as an :class:`Implementation`; each ``make_host`` is a fresh child."""

    deadline_ns: int = attrs.field(default=PUBLISHED_DEADLINE_NS, kw_only=True)

    @property
    def has_load(self) -> bool:
        return "load" in self.build.entries

    @property
    def operations(self) -> frozenset[str]:
        """The entry points the file defines (the published one has no load)."""
        return HOST_OPERATIONS & self.build.entries

    def operation_name(self, op: str) -> str:
        return ENTRIES[op]

    def make_host(self, port: InstrumentedPort, clock: VirtualClock, *, timeout: float, quantum: float) -> CHost:
        return self._fresh(lambda: CHost(self.build, port, self.answer_timeout, self.poll_limit, server=self.server,
                                         run_ahead=self.run_ahead, clock=clock, timeout=timeout, quantum=quantum,
                                         deadline_ns=self.deadline_ns))

    def make_guest(self, port: Any, ram: Any, provision: Any) -> Any:
        raise NotImplementedError("a C host has no helper side: check a C helper with c_guest")


def c_host(sources: list[str] | str, protocol: str = "rfc", *, defines: tuple[str, ...] = (),
           cflags: tuple[str, ...] = (), deadline_ns: int = PUBLISHED_DEADLINE_NS,
           answer_timeout: float = ANSWER_TIMEOUT, poll_limit: int = POLL_LIMIT) -> CHostImplementation:
    """Build C host file(s) and describe them as an Implementation (the reproducers call this)."""
    from .build import build

    srcs = [sources] if isinstance(sources, str) else list(sources)
    b = build(srcs, defines=defines, cflags=cflags)
    name = "c:" + ",".join(os.path.basename(s) for s in srcs)
    return CHostImplementation(name, protocol, 0 if protocol == "rfc" else _hardened_hdr_len(), build=b,
                               deadline_ns=deadline_ns, answer_timeout=answer_timeout, poll_limit=poll_limit)


def _hardened_hdr_len() -> int:
    from mhmailbox.impl.crypto import HDR_SIZE

    return HDR_SIZE
