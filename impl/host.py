"""The host (VMM) side: send a command, save a page, load a page, initialize, cleanup.

``rfc`` reproduces the published QEMU helpers *with* their weaknesses, so that the
conformance suite has something to catch: done is cleared and go set to 1; a
timed-out command resets nothing; ret is read with no read barrier; a failed INIT
is ignored; ``hdr.len`` is fetched three times (check, emitted be32, bytes copied);
cleanup does not clear ``initialized``.

``hardened`` is the fixed protocol (it matches the model's ``hardened`` variant):

* ``go`` carries a sequence number (u32, from 1, never 0, kept across migrations);
  the host writes cmd_type, gpa, prefetch=0, ret=-1, write barrier, go=seq;
* it polls until ``done == seq`` (any other value is ignored), read barrier, ret;
* after a timeout it remembers the pending seq and, before publishing the next command,
  waits (within that command's deadline) until ``done == pending``; if that wait times
  out the new command fails without touching the parameters;
* save: INIT must succeed; ``hdr.len`` is read once, checked, the header and the page
  are copied privately, the header's echoed seq/gpa/cmd are checked, then emitted;
* cleanup sends RESET and clears ``initialized``.

Every command returns within ``timeout`` + one polling burst (``quantum``), whatever
the guest does: the clock is read between bursts of ``burst`` reads of ``done``.
"""
from __future__ import annotations

import struct
from typing import Callable, Iterable, Iterator, Literal, NamedTuple

import attrs

from mhmailbox.model.layout import HDR_MAX, OFF_HDR_DATA, OFF_IO_PAGE, PAGE_SIZE, Cmd, Ret

from .clock import Clock, MonotonicClock
from .crypto import HDR_SIZE, MAGIC, VERSION
from .guest import MODES, Mode
from .memory import Port
from .stream import Record

_ECHO = struct.Struct("<4sHHIIQ")  # magic, version, cmd, seq, flags, gpa of the hardened header
#: What the published host returns on a timeout (-EIO).
EIO = -5
EINVAL = -22


class HostError(Exception):
    """A host operation failed; ``code`` is the errno-style value QEMU would return."""

    code = -1


class TimedOut(HostError):
    """The helper did not complete within the deadline (the outcome is unknown)."""

    code = EIO


class HelperDied(HostError):
    """The helper process is gone (seen between polling bursts)."""

    code = EIO


class GuestFailed(HostError):
    """The helper completed the command with a nonzero ``ret``."""

    def __init__(self, message: str, ret: int) -> None:
        super().__init__(message)
        self.ret = ret


class BadResponse(HostError):
    """The response header is unacceptable (too long, or echoes the wrong command)."""

    code = EINVAL


Status = Literal["ok", "timed_out", "helper_dead"]


class Reply(NamedTuple):
    """The outcome of one command. ``ret`` is None unless ``status == 'ok'``.

    ``elapsed`` is clock time from the command's start to its return (a NamedTuple:
    one is built per command on the hot path).
    """

    status: Status
    ret: int | None
    seq: int
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.ret == Ret.OK


#: Reply's constructor without its Python-level ``__new__`` (half the cost, on the hot path).
_reply = tuple.__new__


def _i32(seq: int) -> int:
    return seq - (1 << 32) if seq >= 1 << 31 else seq


@attrs.define(eq=False)
class Host:
    """One VMM's side of the mailbox (source or target; the same object can be both).

    ``peer_alive`` (optional) is consulted between bursts so a dead helper is reported
    as such rather than as a plain timeout.
    """

    port: Port
    mode: Mode = "hardened"
    clock: Clock = attrs.field(factory=MonotonicClock)
    #: seconds before a command gives up (published: 100 ms)
    timeout: float = 0.1
    #: reads of ``done`` between two clock reads (published: up to 1e8)
    burst: int = 256
    #: what one burst costs, for a virtual clock (a real clock measures it itself)
    quantum: float = 1e-4
    peer_alive: Callable[[], bool] | None = None
    #: after this long waiting, give the CPU away briefly between bursts (``Clock.relax``):
    #: a command normally completes within microseconds, so this only matters when the
    #: helper is not running, e.g. it shares our core on a busy machine
    relax_after: float = 1e-4
    initialized: bool = False
    #: hardened: the last seq published (0: none yet)
    seq: int = 0
    #: hardened: seq (u32) of a command that timed out and has not been seen done since
    pending: int | None = None
    #: the port's native ``timed_call`` when it can stand for the whole common case
    #: (hardened, a native DirectPort, the real clock), decided for the port and clock
    #: below; see ``_native_send`` (not an ``on_setattr`` hook: attrs would then route
    #: every attribute store, ``seq`` included, through a Python ``__setattr__``)
    _native: Callable[..., object] | None = attrs.field(default=None, init=False, repr=False)
    _native_port: object = attrs.field(default=None, init=False, repr=False)
    _native_clock: object = attrs.field(default=None, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")

    def _native_send(self) -> Callable[..., object] | None:
        """Decide (again) the C path for ``send`` for the current port and clock, and remember it.

        Only with the real clock (the C code reads CLOCK_MONOTONIC, which is
        ``time.monotonic``'s clock): a virtual or test clock must see every read.
        ``send`` calls this only when the port or the clock is not the one decided for.
        """
        timed = getattr(self.port, "timed_call", None)
        usable = self.mode == "hardened" and type(self.clock) is MonotonicClock
        self._native = timed if usable else None
        self._native_port, self._native_clock = self.port, self.clock
        return self._native

    # --- one command -----------------------------------------------------------
    def send(self, cmd: int, gpa: int = 0, *, start: float | None = None) -> Reply:
        """Publish one command and wait for it; never raises for the guest's behaviour.

        The deadline is ``start + timeout`` (``start`` defaults to now), shared by the
        wait for a pending command and the wait for this one.
        """
        if start is None and self.pending is None:
            if self._native_clock is self.clock and self._native_port is self.port:
                timed = self._native
            else:
                timed = self._native_send()
            if timed is not None:  # the common case, in C: seq, publish, first burst, Reply
                seq = self.seq % 0xFFFFFFFF + 1
                self.seq = seq
                r = timed(Reply, cmd, gpa, seq, self.burst)
                if r.__class__ is Reply:
                    return r  # type: ignore[return-value]
                return self._finish_wait(seq, r)  # type: ignore[arg-type]
        now = self.clock.now
        if start is None:
            start = now()
        if self.pending is None and self.mode == "hardened":  # the common case, inlined
            seq = self.seq % 0xFFFFFFFF + 1
            self.seq = seq
            go = seq - 0x100000000 if seq >= 0x80000000 else seq
            ret = self.port.call(cmd, gpa, go, self.burst)  # publish; first burst; rmb and ret if done
            if ret is not None:
                return _reply(Reply, ("ok", ret, seq, now() - start))
            return self._finish_wait(seq, start)
        failed = self._begin(cmd, gpa, start)
        return failed if failed is not None else self._end(start)

    def _finish_wait(self, seq: int, start: float, polled: bool = True) -> Reply:
        """Hardened: wait for published command ``seq`` (``polled``: its first burst is done),
        then rmb and ret; on timeout it stays pending."""
        status = self._wait(start, _i32(seq), polled=polled)
        if status == "ok":
            self.port.barrier("rmb")
            return Reply("ok", self.port.read("ret"), seq, self.clock.now() - start)
        self.pending = seq
        return Reply(status, None, seq, self.clock.now() - start)

    def _begin(self, cmd: int, gpa: int, start: float) -> Reply | None:
        """Publish (hardened: after the pending command is seen done); a Reply only on failure."""
        if self.mode == "rfc":
            self.port.publish(int(cmd), gpa, 1, clear_done=True)
            return None
        if self.pending is not None:
            status = self._wait(start, _i32(self.pending))
            if status != "ok":
                return Reply(status, None, self.pending, self.clock.now() - start)
            self.pending = None
        self.seq = self.seq % 0xFFFFFFFF + 1
        self.port.publish(int(cmd), gpa, _i32(self.seq), clear_done=False)
        return None

    def _end(self, start: float) -> Reply:
        """Wait for the published command's completion and read its ret."""
        if self.mode == "rfc":
            status = self._wait(start, None)
            # published: ret is read with no read barrier
            ret = self.port.read("ret") if status == "ok" else None
            return Reply(status, ret, 1, self.clock.now() - start)
        return self._finish_wait(self.seq, start, polled=False)

    def _wait(self, start: float, want: int | None, polled: bool = False) -> Status:
        """Poll ``done`` in bursts until it is ``want`` (rfc: nonzero) or the deadline passes.

        The clock is read after each burst; once past the deadline ``done`` is read one
        last time (as the published loop does), so a completion that landed during the
        last burst is not reported as a timeout. ``polled``: the caller has just done
        the first burst itself.
        """
        port, clock, burst = self.port, self.clock, self.burst
        relax = getattr(clock, "relax", None)  # optional for clocks written elsewhere
        while True:
            if polled:
                polled = False
            elif want is None:
                if port.poll_ne("done", 0, 0, burst) is not None:
                    return "ok"
            elif port.poll_eq("done", want, burst):
                return "ok"
            clock.spent(self.quantum)
            if clock.now() - start >= self.timeout:
                # as published: past the deadline, done is read once more
                if want is None:
                    return "ok" if port.poll_ne("done", 0, 0, 1) is not None else "timed_out"
                return "ok" if port.poll_eq("done", want, 1) else "timed_out"
            if relax is not None and clock.now() - start >= self.relax_after:
                relax()  # the helper (or another job) may need our core: let it in
            if self.peer_alive is not None and not self.peer_alive():
                # it may have completed just before dying: one last look
                if want is None:
                    return "ok" if port.poll_ne("done", 0, 0, 1) is not None else "helper_dead"
                return "ok" if port.poll_eq("done", want, 1) else "helper_dead"

    def _check(self, reply: Reply, what: str) -> int:
        if reply.status == "timed_out":
            raise TimedOut(f"{what}: helper did not complete (seq {reply.seq}) within {self.timeout * 1e3:g} ms")
        if reply.status == "helper_dead":
            raise HelperDied(f"{what}: helper process died (seq {reply.seq} never completed)")
        assert reply.ret is not None
        return reply.ret

    def _quiesce(self, start: float, what: str) -> None:
        """Hardened: a late helper may still be reading the shared area; wait it out."""
        if self.mode == "hardened" and self.pending is not None:
            status = self._wait(start, _i32(self.pending))
            self._check(Reply(status, 0, self.pending, 0.0), what)
            self.pending = None

    # --- operations ------------------------------------------------------------
    def initialize(self) -> Reply:
        """Send INIT; rfc marks initialized only on ret 0 and ignores failure, hardened raises."""
        reply = self.send(Cmd.INIT)
        if reply.ok:
            self.initialized = True
        elif self.mode == "hardened":
            ret = self._check(reply, "INIT")
            raise GuestFailed(f"INIT refused by the helper (ret {ret})", ret)
        return reply

    def save_page(self, gpa: int) -> Record:
        """ENCRYPT the page at ``gpa`` and return the record to emit (HostError otherwise)."""
        if not self.initialized:
            self.initialize()
        reply = self.send(Cmd.ENCRYPT, gpa)
        ret = self._check(reply, f"ENCRYPT {gpa:#x}")
        if ret != Ret.OK:
            raise GuestFailed(f"ENCRYPT {gpa:#x} failed (ret {ret})", ret)
        if self.mode == "rfc":
            return self._collect_rfc(gpa)
        return self._validate(gpa, reply.seq, *self._collect())

    def _collect_rfc(self, gpa: int) -> Record:
        port = self.port
        if port.read("hdr_len") > HDR_MAX:
            raise BadResponse(f"ENCRYPT {gpa:#x}: response header length over {HDR_MAX}")
        emitted = port.read("hdr_len")  # published: fetched again for the be32 ...
        header = port.read_bytes(OFF_HDR_DATA, port.read("hdr_len"))  # ... and again to copy
        return Record(gpa, header, port.read_bytes(OFF_IO_PAGE, PAGE_SIZE), emitted)

    def _collect(self) -> tuple[int, bytes, bytes]:
        """Hardened: hdr.len once into a private variable, then private copies."""
        return self.port.read_response(HDR_MAX)

    @staticmethod
    def _validate(gpa: int, seq: int, n: int, header: bytes, page: bytes) -> Record:
        if n > HDR_MAX:
            raise BadResponse(f"ENCRYPT {gpa:#x}: response header length {n} > {HDR_MAX}")
        if n != HDR_SIZE:
            raise BadResponse(f"ENCRYPT {gpa:#x}: response header length {n}, expected {HDR_SIZE}")
        magic, version, cmd, hseq, flags, hgpa = _ECHO.unpack_from(header)
        if magic != MAGIC or version != VERSION or cmd != Cmd.ENCRYPT or flags != 0 or hseq != seq or hgpa != gpa:
            raise BadResponse(
                f"ENCRYPT {gpa:#x}: response header does not echo this command "
                f"(seq {hseq} vs {seq}, gpa {hgpa:#x}, cmd {cmd})"
            )
        return Record(gpa, header, page)

    def save_pages(self, gpas: Iterable[int]) -> Iterator[Record]:
        """Save many pages; hardened pipelines them.

        The hardened host copies page *i*'s header and page privately, publishes ENCRYPT
        for page *i+1*, and only then validates and yields record *i*, so checking and
        emitting overlap the helper's work. Each record is yielded only once validated,
        and a HostError stops the iteration with no record for the failed page. Same
        commands, same accesses per command as ``save_page``.
        """
        if self.mode == "rfc":
            for gpa in gpas:
                yield self.save_page(gpa)
            return
        if not self.initialized:
            self.initialize()
        it = iter(gpas)
        gpa = next(it, None)
        if gpa is None:
            return
        start = self.clock.now()
        failed = self._begin(Cmd.ENCRYPT, gpa, start)
        outstanding = failed is None
        try:
            while True:
                reply = failed if failed is not None else self._end(start)
                outstanding = False
                ret = self._check(reply, f"ENCRYPT {gpa:#x}")
                if ret != Ret.OK:
                    raise GuestFailed(f"ENCRYPT {gpa:#x} failed (ret {ret})", ret)
                got = self._collect()
                seq, prev = reply.seq, gpa
                gpa = next(it, None)
                if gpa is not None:
                    start = self.clock.now()
                    failed = self._begin(Cmd.ENCRYPT, gpa, start)
                    outstanding = failed is None
                yield self._validate(prev, seq, *got)
                if gpa is None:
                    return
        finally:
            if outstanding:  # abandoned mid-command: treat it like a timeout
                self.pending = self.seq

    def load_page(self, rec: Record) -> None:
        """Put a record's header and page in the shared area and DECRYPT it to ``rec.gpa``."""
        if not self.initialized:
            self.initialize()
        start = self.clock.now()
        self._put(rec, start)
        self._finish_load(rec, self.send(Cmd.DECRYPT, rec.gpa, start=start))

    def _put(self, rec: Record, start: float) -> None:
        if len(rec.header) > HDR_MAX:
            raise BadResponse(f"load {rec.gpa:#x}: header length {len(rec.header)} > {HDR_MAX}")
        if len(rec.page) != PAGE_SIZE:
            raise BadResponse(f"load {rec.gpa:#x}: page length {len(rec.page)} != {PAGE_SIZE}")
        self._quiesce(start, f"load {rec.gpa:#x}")
        self.port.write_response(rec.header, rec.page)  # hdr_len, header, io page

    def _finish_load(self, rec: Record, reply: Reply) -> None:
        ret = self._check(reply, f"DECRYPT {rec.gpa:#x}")
        if ret != Ret.OK:
            kind = "authentication failed" if ret == Ret.AUTH else "failed"
            raise GuestFailed(f"DECRYPT {rec.gpa:#x} {kind} (ret {ret})", ret)

    def load_pages(self, records: Iterable[Record]) -> int:
        """Load many records; hardened overlaps fetching record *i+1* (e.g. decoding it
        from the stream) with the helper's DECRYPT of record *i*. Stops at the first
        failure (HostError, or whatever the iterable raises) after the command in flight
        has completed; returns the number of pages loaded."""
        if self.mode == "rfc":
            n = 0
            for rec in records:
                self.load_page(rec)
                n += 1
            return n
        if not self.initialized:
            self.initialize()
        it = iter(records)
        rec = next(it, None)
        n = 0
        while rec is not None:
            start = self.clock.now()
            self._put(rec, start)
            failed = self._begin(Cmd.DECRYPT, rec.gpa, start)
            try:
                nxt = next(it, None)
            finally:  # even if fetching the next record failed, settle this one first
                reply = failed if failed is not None else self._end(start)
                self._finish_load(rec, reply)
            n += 1
            rec = nxt
        return n

    def cleanup(self) -> Reply:
        """Send RESET; hardened also clears ``initialized`` so the next migration re-INITs."""
        reply = self.send(Cmd.RESET)
        if self.mode == "hardened":
            self.initialized = False
        return reply
