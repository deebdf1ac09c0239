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

from typing import Callable, Literal

import attrs

from mhmailbox.model.layout import HDR_MAX, OFF_HDR_DATA, OFF_IO_PAGE, PAGE_SIZE, Cmd, Ret

from .clock import Clock, MonotonicClock
from .crypto import HDR_SIZE, PageHeader
from .guest import MODES, Mode
from .memory import Port
from .stream import Record

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


@attrs.frozen
class Reply:
    """The outcome of one command. ``ret`` is None unless ``status == 'ok'``."""

    status: Status
    ret: int | None
    seq: int
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.ret == Ret.OK


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
    burst: int = 2000
    #: what one burst costs, for a virtual clock (a real clock measures it itself)
    quantum: float = 1e-4
    peer_alive: Callable[[], bool] | None = None
    initialized: bool = False
    #: hardened: the last seq published (0: none yet)
    seq: int = 0
    #: hardened: seq (u32) of a command that timed out and has not been seen done since
    pending: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")

    # --- one command -----------------------------------------------------------
    def send(self, cmd: int, gpa: int = 0, *, start: float | None = None) -> Reply:
        """Publish one command and wait for it; never raises for the guest's behaviour.

        The deadline is ``start + timeout`` (``start`` defaults to now), shared by the
        wait for a pending command and the wait for this one.
        """
        if start is None:
            start = self.clock.now()
        if self.mode == "rfc":
            self.port.publish(int(cmd), gpa, 1, clear_done=True)
            status = self._wait(start, None)
            # published: ret is read with no read barrier
            ret = self.port.read("ret") if status == "ok" else None
            return Reply(status, ret, 1, self.clock.now() - start)
        if self.pending is not None:
            status = self._wait(start, _i32(self.pending))
            if status != "ok":
                return Reply(status, None, self.pending, self.clock.now() - start)
            self.pending = None
        self.seq = self.seq % 0xFFFFFFFF + 1
        go = _i32(self.seq)
        self.port.publish(int(cmd), gpa, go, clear_done=False)
        status = self._wait(start, go)
        if status != "ok":
            self.pending = self.seq
            return Reply(status, None, self.seq, self.clock.now() - start)
        self.port.barrier("rmb")
        return Reply("ok", self.port.read("ret"), self.seq, self.clock.now() - start)

    def _wait(self, start: float, want: int | None) -> Status:
        """Poll ``done`` in bursts until it is ``want`` (rfc: nonzero) or the deadline passes."""
        port, clock, burst = self.port, self.clock, self.burst
        while True:
            if want is None:
                if port.poll_ne("done", 0, 0, burst) is not None:
                    return "ok"
            elif port.poll_eq("done", want, burst):
                return "ok"
            clock.spent(self.quantum)
            if clock.now() - start >= self.timeout:
                return "timed_out"
            if self.peer_alive is not None and not self.peer_alive():
                return "helper_dead"

    def _check(self, reply: Reply, what: str) -> int:
        if reply.status == "timed_out":
            raise TimedOut(f"{what}: helper did not complete (seq {reply.seq}) within {self.timeout * 1e3:g} ms")
        if reply.status == "helper_dead":
            raise HelperDied(f"{what}: helper process died (seq {reply.seq} never completed)")
        assert reply.ret is not None
        return reply.ret

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
        port = self.port
        if self.mode == "rfc":
            if port.read("hdr_len") > HDR_MAX:
                raise BadResponse(f"ENCRYPT {gpa:#x}: response header length over {HDR_MAX}")
            emitted = port.read("hdr_len")  # published: fetched again for the be32 ...
            header = port.read_bytes(OFF_HDR_DATA, port.read("hdr_len"))  # ... and again to copy
            return Record(gpa, header, port.read_bytes(OFF_IO_PAGE, PAGE_SIZE), hdr_len=emitted)
        n = port.read("hdr_len")  # once, into a private variable
        if n > HDR_MAX:
            raise BadResponse(f"ENCRYPT {gpa:#x}: response header length {n} > {HDR_MAX}")
        header = port.read_bytes(OFF_HDR_DATA, n)
        page = port.read_bytes(OFF_IO_PAGE, PAGE_SIZE)
        if n != HDR_SIZE:
            raise BadResponse(f"ENCRYPT {gpa:#x}: response header length {n}, expected {HDR_SIZE}")
        h = PageHeader.parse(header)
        if not h.well_formed() or h.seq != reply.seq or h.gpa != gpa:
            raise BadResponse(
                f"ENCRYPT {gpa:#x}: response header does not echo this command "
                f"(seq {h.seq} vs {reply.seq}, gpa {h.gpa:#x}, cmd {h.cmd})"
            )
        return Record(gpa, header, page)

    def load_page(self, rec: Record) -> None:
        """Put a record's header and page in the shared area and DECRYPT it to ``rec.gpa``."""
        if not self.initialized:
            self.initialize()
        if len(rec.header) > HDR_MAX:
            raise BadResponse(f"load {rec.gpa:#x}: header length {len(rec.header)} > {HDR_MAX}")
        if len(rec.page) != PAGE_SIZE:
            raise BadResponse(f"load {rec.gpa:#x}: page length {len(rec.page)} != {PAGE_SIZE}")
        start = self.clock.now()
        if self.mode == "hardened" and self.pending is not None:
            # a late helper may still be reading the shared area: wait before overwriting it
            status = self._wait(start, _i32(self.pending))
            self._check(Reply(status, 0, self.pending, 0.0), f"load {rec.gpa:#x}")
            self.pending = None
        port = self.port
        port.write("hdr_len", len(rec.header))
        if rec.header:
            port.write_bytes(OFF_HDR_DATA, rec.header)
        port.write_bytes(OFF_IO_PAGE, rec.page)
        reply = self.send(Cmd.DECRYPT, rec.gpa, start=start)
        ret = self._check(reply, f"DECRYPT {rec.gpa:#x}")
        if ret != Ret.OK:
            kind = "authentication failed" if ret == Ret.AUTH else "failed"
            raise GuestFailed(f"DECRYPT {rec.gpa:#x} {kind} (ret {ret})", ret)

    def cleanup(self) -> Reply:
        """Send RESET; hardened also clears ``initialized`` so the next migration re-INITs."""
        reply = self.send(Cmd.RESET)
        if self.mode == "hardened":
            self.initialized = False
        return reply
