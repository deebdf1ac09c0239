"""One built C file running in its own process, its shared accesses replayed on the rig's port.

What the C host and the C helper drivers share (:mod:`.host`, :mod:`.guest`): the child
process (the mailbox is a shared memfd the child maps at gpa 0x820000), the event pipe
and the answer pipe, and the replay of the accesses every side makes:

* a read: ``port.read(field)`` or ``port.read_bytes(off, n)`` (the hook runs, the value
  is taken from the rig's mailbox and logged); the rig's mailbox is copied into the
  shared mapping; the child is told to go on, and reads the same bytes;
* a write: the child does not wait; the value is known once the write is done, so it
  comes with the child's next event, and the driver replays the write then as
  ``port.write``/``port.write_bytes`` (hook, then the write, then the log). Nothing can
  tell the two orders apart: the child's next read waits until every event before it
  has run, in order. A write outside the shared area faults (MemoryFault);
* a barrier: ``port.barrier`` (no wait).

A crash (a signal, an exit), a run of ``POLL_LIMIT`` reads of one location with nothing
in between (a wait nothing can end), or a child that sends nothing for ``answer_timeout``
seconds of real time (a loop touching nothing shared) kills the child and is reported as
an exception the rig counts as a crash (``robust``), with the number of the access it
came after and the last line the child printed.
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

from mhmailbox.impl.memory import InstrumentedPort, MemoryFault
from mhmailbox.model.layout import FIELDS, SHARED_SIZE

from ..adapter import Implementation
from .build import Build

EV = struct.Struct("<IIQQQ")
U64 = struct.Struct("<Q")
(EV_READ, EV_WRITE, EV_BARRIER, EV_CLOCK, EV_PUT, EV_PUT_SHARED, EV_GET, EV_ERROR, EV_RESULT, EV_POLLS,
 EV_WROTE, EV_SPIN, EV_RAM, EV_PROVISION) = range(1, 15)
BARRIER = {1: "wmb", 2: "rmb", 3: "mb"}
#: (offset, length) of each field of the published layout -> its name and signedness
FIELD_AT = {(off, struct.calcsize(fmt)): (name, fmt == "<i") for name, (off, fmt) in FIELDS.items()}
#: A run of this many reads of one location with nothing in between is a wait that never ends
#: (10 runs of the published busy loop; nothing can change the value while the child runs).
POLL_LIMIT = 10**9
#: Seconds of real time with no event from the child before it is taken as hung (a loop that
#: touches nothing shared); generous, so that a loaded machine is never mistaken for a hang.
ANSWER_TIMEOUT = 60.0
#: An offset no field has: "no field is polled" / "no read stops the child".
NO_FIELD = 0xFFFFFFFF


class CChildCrashed(Exception):
    """The C code died (a signal or an exit), or its runtime broke the wire."""


class CChildHung(Exception):
    """The C code stopped answering (no event within the real-time limit), or waits for ever."""


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


@attrs.define(eq=False)
class Child:
    """The child process and the replay of its mailbox accesses; subclasses add their own
    events (:meth:`_event`) and what the child is told at start (:meth:`_spawn`)."""

    build: Build
    port: InstrumentedPort
    answer_timeout: float = ANSWER_TIMEOUT
    poll_limit: int = POLL_LIMIT
    who: str = "the C code"
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

    def _spawn(self, env: dict[str, str], fds: tuple[int, ...] = ()) -> None:
        """Start the child with the mailbox memfd, the pipes, ``env`` and the extra ``fds``."""
        mfd = os.memfd_create("mhkit-mailbox")
        os.ftruncate(mfd, SHARED_SIZE)
        self.shm = mmap.mmap(mfd, SHARED_SIZE)
        ev_r, ev_w = os.pipe()
        ans_r, ans_w = os.pipe()
        env = dict(os.environ, MHKIT_FDS=f"{ev_w},{ans_r},{mfd}", MHKIT_POLL_LIMIT=str(self.poll_limit), **env)
        self.stderr = tempfile.TemporaryFile()  # what the C code prints (an assert's message) goes in a crash report
        self.proc = subprocess.Popen([self.build.binary], pass_fds=(ev_w, ans_r, mfd, *fds), env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr)
        for fd in (ev_w, ans_r, mfd, *fds):
            os.close(fd)
        self.ev_fd, self.ans_fd = ev_r, ans_w

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

    def _check_alive(self) -> None:
        if self.dead is not None:
            raise CChildCrashed(f"{self.who} is gone ({self.dead})")

    def _recv(self, n: int) -> bytes:
        while len(self.inbuf) < n:
            ready, _, _ = select.select([self.ev_fd], [], [], self.answer_timeout)
            if not ready:
                raise self._fail(CChildHung(
                    f"{self.who} sent nothing for {self.answer_timeout:g} s of real time after access "
                    f"#{self.accesses} ({self.last_access}): a wait that never ends"))
            chunk = os.read(self.ev_fd, 65536)
            if not chunk:
                code = self.proc.wait() if self.proc is not None else 0
                how = f"was killed by {_signal_name(code)}" if code < 0 else f"exited with status {code}"
                raise self._fail(CChildCrashed(
                    f"{self.who} {how} after access #{self.accesses} ({self.last_access}){self._last_words()}"))
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

    def _send(self, data: bytes) -> None:
        try:
            os.write(self.ans_fd, data)
        except BrokenPipeError:
            pass

    def _note(self, kind: str, off: int = 0, n: int = 0) -> None:
        self.accesses += 1
        name = FIELD_AT.get((off, n))
        self.last_access = kind if kind in BARRIER.values() else \
            f"{kind} {name[0] if name else f'{n} bytes at {off:#x}'}"

    def _wrote(self, off: int, data: bytes) -> None:
        """The pending write is done and left ``data``: replay it on the port (hook, write, log)."""
        if self.pending_write != (off, len(data)):
            raise self._fail(CChildCrashed(f"{self.who}'s runtime reported a value for a write it did not announce"))
        self.pending_write = None
        field = FIELD_AT.get((off, len(data)))
        if field is not None:
            self.port.write(field[0], int.from_bytes(data, "little", signed=field[1]))
        else:
            self.port.write_bytes(off, data)

    def _read(self, off: int, n: int) -> bytes | int:
        field = FIELD_AT.get((off, n))
        return self.port.read(field[0]) if field is not None else self.port.read_bytes(off, n)

    def _event(self, kind: int, aux: int, off: int, n: int, val: int) -> Any:
        """A side's own event; return :data:`GO_ON` to go on serving, anything else ends :meth:`_serve`."""
        raise self._fail(CChildCrashed(f"{self.who}'s runtime sent an unknown event {kind}"))

    def _serve(self) -> Any:
        """Replay the child's events until a side's own event ends the run; its value."""
        try:
            while True:
                kind, aux, off, n, val = EV.unpack(self._recv(EV.size))
                if kind == EV_POLLS:
                    self.polls_folded += val
                elif kind == EV_SPIN:
                    field = FIELD_AT.get((off, n))
                    raise self._fail(CChildHung(
                        f"{self.who} read {field[0] if field else f'{n} bytes at {off:#x}'} {val} times in a row "
                        f"with nothing else in between, after access #{self.accesses}: a wait that never ends"))
                elif kind == EV_WROTE:
                    self._wrote(off, self._recv(n))
                elif kind == EV_WRITE:  # the child does not wait: its value comes with the next event
                    self._note("write", off, n)
                    self.on_write(off, n)
                    if off + n > SHARED_SIZE:
                        self.port.write_bytes(off, bytes(min(n, 1 << 20)))  # the hook, then the fault
                    self.pending_write = (off, n)
                elif kind == EV_BARRIER:  # nor for a barrier
                    b = BARRIER.get(aux, "mb")
                    self._note(b)
                    self.port.barrier(b)
                else:
                    out = self._event(kind, aux, off, n, val)
                    if out is not GO_ON:
                        return out
        except MemoryFault as e:
            raise self._fail(e)

    def on_write(self, off: int, n: int) -> None:
        """A write was announced (a side counts them)."""

    def read_now(self, off: int, n: int) -> None:
        """Replay a read the child waits on, then let it go on."""
        self._note("read", off, n)
        self._read(off, n)
        self._answer()


#: What :meth:`Child._event` returns to go on serving.
GO_ON = object()


@attrs.frozen
class ChildImplementation(Implementation):
    """A built C file as an :class:`Implementation` (``run_case`` and the CLI take it as is): each
    host or helper it makes is a fresh child, and the previous one is stopped (one example at a time)."""

    build: Build = attrs.field(default=None, kw_only=True)
    answer_timeout: float = attrs.field(default=ANSWER_TIMEOUT, kw_only=True)
    poll_limit: int = attrs.field(default=POLL_LIMIT, kw_only=True)
    live: list = attrs.field(factory=list, kw_only=True, eq=False, repr=False)

    def _fresh(self, start: Any) -> Any:
        """Stop every child, then start one with ``start()`` and keep it to stop later."""
        self.stop()
        child = start()
        self.live.append(child)
        return child

    def stop(self) -> None:
        """Stop every child this implementation started."""
        while self.live:
            self.live.pop().stop()
