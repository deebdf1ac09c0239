"""Drive a built C host, in its own process, as a HostUnderTest on the suite's port and clock.

One child process per host object (so per Hypothesis example: a file's static state,
such as the published ``cmhs.initialized``, never leaks into the next example). The
mailbox is a shared memfd the child maps at gpa 0x820000 of its guest RAM. The child
reports each access to the shared area (kind, offset, length) over a pipe and blocks;
the driver replays it on the rig's :class:`InstrumentedPort`, so the rig's hook (the
scheduling point), its log and its oracle see it exactly as for a Python host:

* a read: ``port.read(field)`` or ``port.read_bytes(off, n)`` (the hook runs, the value
  is taken from the rig's mailbox and logged); the rig's mailbox is copied into the
  shared mapping; the child is told to go on, and reads the same bytes;
* a write: the child does not wait; the value is known once the write is done, so it
  comes with the child's next event, and the driver replays the write then as
  ``port.write``/``port.write_bytes`` (hook, then the write, then the log). Nothing can
  tell the two orders apart: the child's next read waits until every event before it
  has run, in order. A write outside the shared area faults (MemoryFault);
* a barrier (``smp_wmb``/``smp_rmb``/``smp_mb``, or a fence): ``port.barrier`` (no wait);
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

import mmap
import os
import select
import signal
import struct
import subprocess
import tempfile
from typing import Any

import attrs

from mhmailbox.impl.clock import VirtualClock
from mhmailbox.impl.memory import InstrumentedPort, MemoryFault
from mhmailbox.impl.stream import Record
from mhmailbox.model.layout import FIELDS, PAGE_SIZE, SHARED_SIZE

from ..adapter import Implementation, OperationFailed
from .build import Build

EV = struct.Struct("<IIQQQ")
REQ = struct.Struct("<IIQQQ")
U64 = struct.Struct("<Q")
(EV_READ, EV_WRITE, EV_BARRIER, EV_CLOCK, EV_PUT, EV_PUT_SHARED, EV_GET, EV_ERROR, EV_RESULT, EV_POLLS,
 EV_WROTE, EV_SPIN) = range(1, 13)
REQ_INIT, REQ_SAVE, REQ_LOAD, REQ_CLEANUP = 1, 2, 3, 4
PUT_BE32 = 1
BARRIER = {1: "wmb", 2: "rmb", 3: "mb"}
#: (offset, length) of each field of the published layout -> its name and signedness
FIELD_AT = {(off, struct.calcsize(fmt)): (name, fmt == "<i") for name, (off, fmt) in FIELDS.items()}
#: The published host's deadline (MH_REQUEST_TIMEOUT_MS 100).
PUBLISHED_DEADLINE_NS = 100_000_000
#: Where the child's clock starts (so that 0 is never a special value).
CLOCK_ORIGIN_NS = 1_000_000_000
#: An operation still running after this many deadlines of virtual time is stopped.
VIRTUAL_LIMIT = 64
#: A run of this many reads of one location with nothing in between is a wait that never ends
#: (10 runs of the published busy loop; nothing can change the value while the child runs).
POLL_LIMIT = 10**9
#: Seconds of real time with no event from the child before it is taken as hung (a loop that
#: touches nothing shared); generous, so that a loaded machine is never mistaken for a hang.
ANSWER_TIMEOUT = 60.0


class CHostCrashed(Exception):
    """The C host died (a signal or an exit) during an operation."""


class CHostHung(Exception):
    """The C host stopped answering (no event within the real-time limit), or ran on past the
    virtual-time limit: a wait that never ends."""


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


@attrs.define(eq=False)
class CHost:
    """One child process running the built file; the HostUnderTest protocol."""

    build: Build
    port: InstrumentedPort
    clock: VirtualClock
    timeout: float
    quantum: float
    deadline_ns: int = PUBLISHED_DEADLINE_NS
    answer_timeout: float = ANSWER_TIMEOUT
    poll_limit: int = POLL_LIMIT
    proc: subprocess.Popen | None = None
    shm: mmap.mmap | None = None
    stderr: Any = None
    ev_fd: int = -1
    ans_fd: int = -1
    inbuf: bytearray = attrs.field(factory=bytearray)
    pending_write: tuple[int, int] | None = None
    accesses: int = 0  # shared accesses of this child, for crash reports
    last_access: str = "none yet"
    polls_folded: int = 0  # reads repeated locally (runs of polls), for figures
    dead: str | None = None
    initialized: bool = False
    # per operation
    items: list = attrs.field(factory=list)
    errors: list = attrs.field(factory=list)
    stream_in: bytes = b""
    op_start: float = 0.0
    reads_since_clock: int = 0
    writes_since_clock: int = 0

    def __attrs_post_init__(self) -> None:
        mfd = os.memfd_create("mhkit-mailbox")
        os.ftruncate(mfd, SHARED_SIZE)
        self.shm = mmap.mmap(mfd, SHARED_SIZE)
        ev_r, ev_w = os.pipe()
        ans_r, ans_w = os.pipe()
        env = dict(os.environ, MHKIT_FDS=f"{ev_w},{ans_r},{mfd}", MHKIT_POLL_LIMIT=str(self.poll_limit),
                   MHKIT_POLL_OFF=str(FIELDS["done"][0]))
        self.stderr = tempfile.TemporaryFile()  # what the C code prints (an assert's message) goes in a crash report
        self.proc = subprocess.Popen([self.build.binary], pass_fds=(ev_w, ans_r, mfd), env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr)
        for fd in (ev_w, ans_r, mfd):
            os.close(fd)
        self.ev_fd, self.ans_fd = ev_r, ans_w

    # --- the child ------------------------------------------------------------------
    def stop(self) -> None:
        """Kill the child (if alive) and release the pipes and the mapping."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.ev_fd, self.ans_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.ev_fd = self.ans_fd = -1
        if self.shm is not None:
            self.shm.close()
            self.shm = None
        if self.stderr is not None:
            self.stderr.close()
            self.stderr = None

    def _last_words(self) -> str:
        """The last line the child wrote to stderr, if any (e.g. a failed assert)."""
        if self.stderr is None:
            return ""
        self.stderr.seek(max(0, self.stderr.seek(0, os.SEEK_END) - 300))
        lines = self.stderr.read().decode("utf-8", "replace").strip().splitlines()
        return f"; it printed: {lines[-1].strip()}" if lines else ""

    def _fail(self, exc: Exception) -> Exception:
        self.dead = str(exc)
        self.stop()
        return exc

    def _recv(self, n: int) -> bytes:
        while len(self.inbuf) < n:
            ready, _, _ = select.select([self.ev_fd], [], [], self.answer_timeout)
            if not ready:
                raise self._fail(CHostHung(
                    f"the C host sent nothing for {self.answer_timeout:g} s of real time after access "
                    f"#{self.accesses} ({self.last_access}): a wait that never ends"))
            chunk = os.read(self.ev_fd, 65536)
            if not chunk:
                code = self.proc.wait() if self.proc is not None else 0
                how = f"was killed by {_signal_name(code)}" if code < 0 else f"exited with status {code}"
                raise self._fail(CHostCrashed(
                    f"the C host {how} after access #{self.accesses} ({self.last_access}){self._last_words()}"))
            self.inbuf += chunk
        out = bytes(self.inbuf[:n])
        del self.inbuf[:n]
        return out

    def _answer(self, value: int = 0, payload: bytes = b"") -> None:
        self.shm[:] = self.port.buf  # the rig's mailbox, as the child will see it
        try:
            os.write(self.ans_fd, U64.pack(value & (2**64 - 1)) + payload)
        except BrokenPipeError:
            pass  # it died: the next read reports how

    def _note(self, kind: str, off: int = 0, n: int = 0) -> None:
        self.accesses += 1
        name = FIELD_AT.get((off, n))
        self.last_access = kind if kind in BARRIER.values() else \
            f"{kind} {name[0] if name else f'{n} bytes at {off:#x}'}"

    # --- replaying the child's accesses on the rig's port ---------------------------------
    def _wrote(self, off: int, data: bytes) -> None:
        """The pending write is done and left ``data``: replay it on the port (hook, write, log)."""
        if self.pending_write != (off, len(data)):
            raise self._fail(CHostCrashed("the C host's runtime reported a value for a write it did not announce"))
        self.pending_write = None
        field = FIELD_AT.get((off, len(data)))
        if field is not None:
            self.port.write(field[0], int.from_bytes(data, "little", signed=field[1]))
        else:
            self.port.write_bytes(off, data)

    def _read(self, off: int, n: int) -> bytes | int:
        field = FIELD_AT.get((off, n))
        return self.port.read(field[0]) if field is not None else self.port.read_bytes(off, n)

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
        if self.dead is not None:
            raise CHostCrashed(f"the C host is gone ({self.dead})")
        self.items, self.errors = [], []
        self.op_start = self.clock.now()
        self.reads_since_clock = self.writes_since_clock = 0
        try:
            os.write(self.ans_fd, REQ.pack(op, 0, gpa, size, 0))
        except BrokenPipeError:
            pass
        try:
            return self._serve()
        except MemoryFault as e:
            raise self._fail(e)

    def _serve(self) -> int:
        while True:
            kind, aux, off, n, val = EV.unpack(self._recv(EV.size))
            if kind == EV_POLLS:
                self.polls_folded += val
                continue
            if kind == EV_SPIN:
                field = FIELD_AT.get((off, n))
                raise self._fail(CHostHung(
                    f"the C host read {field[0] if field else f'{n} bytes at {off:#x}'} {val} times in a row with "
                    f"nothing else in between, after access #{self.accesses}: a wait that never ends"))
            if kind == EV_WROTE:
                self._wrote(off, self._recv(n))
            elif kind == EV_READ:
                self._note("read", off, n)
                self.reads_since_clock += 1
                self._read(off, n)
                self._answer()
            elif kind == EV_WRITE:  # the child does not wait: its value comes with the next event
                self._note("write", off, n)
                self.writes_since_clock += 1
                if off + n > SHARED_SIZE:
                    self.port.write_bytes(off, bytes(min(n, 1 << 20)))  # the hook, then the fault
                self.pending_write = (off, n)
            elif kind == EV_BARRIER:  # nor for a barrier
                self._note(BARRIER.get(aux, "mb"))
                self.port.barrier(BARRIER.get(aux, "mb"))
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
                raise self._fail(CHostCrashed(f"the C host's runtime sent an unknown event {kind}"))

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
class CHostImplementation(Implementation):
    """A built C host as an :class:`Implementation` (``run_case`` and the CLI take it as is).

    Each ``make_host`` starts a fresh child and stops the previous one (one example at a time).
    """

    build: Build = attrs.field(default=None, kw_only=True)
    deadline_ns: int = attrs.field(default=PUBLISHED_DEADLINE_NS, kw_only=True)
    answer_timeout: float = attrs.field(default=ANSWER_TIMEOUT, kw_only=True)
    poll_limit: int = attrs.field(default=POLL_LIMIT, kw_only=True)
    live: list = attrs.field(factory=list, kw_only=True, eq=False, repr=False)

    @property
    def has_load(self) -> bool:
        return "load" in self.build.entries

    def make_host(self, port: InstrumentedPort, clock: VirtualClock, *, timeout: float, quantum: float) -> CHost:
        self.stop()
        host = CHost(self.build, port, clock, timeout, quantum, self.deadline_ns, self.answer_timeout, self.poll_limit)
        self.live.append(host)
        return host

    def make_guest(self, port: Any, ram: Any, provision: Any) -> Any:
        raise NotImplementedError("the C kit checks hosts only (helpers: a later slice)")

    def stop(self) -> None:
        """Stop every child this implementation started."""
        while self.live:
            self.live.pop().stop()


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
