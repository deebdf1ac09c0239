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
* a barrier: ``port.barrier`` (no wait);
* running ahead: the answer to a read the child waited on says how many of its next
  accesses no peer action comes before (:meth:`Child.grant`; 0 unless a side knows its
  peer's script). A read among them does not wait (its event says so): the driver replays
  it later, in order, on the port (hook, log, oracle as for any read) and sees the bytes the
  child saw, since nothing but the child's own writes, replayed before it, changed them.

Each child is forked by the implementation's :class:`ForkServer` (a process of the built file
that has done its dynamic linking and run none of the file's code), so it starts as an exec'd
one would, for a fork's cost.

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
import socket
import struct
import subprocess
import tempfile
import weakref
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
class ForkServer:
    """One process of the built file that has done its dynamic linking and nothing else, and
    forks a fresh child per example on request (the runtime's ``fork_server``): the child's
    static state is the file's initial one, as after an exec, for a fork's cost. It reaps its
    children only when asked (:meth:`wait`, :meth:`kill`), so a pid held here is never reused."""

    binary: str
    proc: subprocess.Popen | None = None
    sock: socket.socket | None = None

    def _request(self, msg: bytes, fds: tuple[int, ...] = ()) -> int:
        assert self.sock is not None
        try:
            socket.send_fds(self.sock, [msg], list(fds)) if fds else self.sock.send(msg)
            out = self.sock.recv(64)
        except OSError:
            out = b""
        if not out:
            self.close()
            raise CChildCrashed("the kit's fork server died")
        return int(out)

    def spawn(self, env: dict[str, str], fds: tuple[int, ...]) -> int:
        """A fresh child with ``env`` added and ``fds`` (stderr, events, answers, mailbox [, RAM]); its pid."""
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            self.proc = subprocess.Popen([self.binary], pass_fds=(theirs.fileno(),),
                                         env=dict(os.environ, MHKIT_ZYGOTE_FD=str(theirs.fileno())),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            theirs.close()
            self.sock = ours
        pid = self._request(b"S" + "".join(f"{k}={v}\n" for k, v in env.items()).encode(), fds)
        if pid <= 0:
            raise CChildCrashed(f"the kit's fork server could not start a child ({pid})")
        return pid

    def wait(self, pid: int) -> int:
        """Wait for the child to end; its status as subprocess gives it (minus the signal)."""
        return self._request(b"W%d" % pid)

    def kill(self, pid: int) -> None:
        """Kill the child; the server reaps it before its next answer (no round trip now)."""
        if self.sock is None or self.proc is None or self.proc.poll() is not None:
            return  # the server is gone, and its children with it (their pids may be anyone's now)
        os.kill(pid, signal.SIGKILL)  # not reaped yet, so the pid is still the child's
        try:
            self.sock.send(b"R%d" % pid)
        except OSError:
            self.close()

    def close(self) -> None:
        """Stop the server: it reaps the children it was asked to, then ends when it reads the
        end of its socket (so that their CPU time comes to this process's children's); killed
        if it does not within 5 s (its children die with it: their parent-death signal)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


@attrs.define(eq=False)
class Child:
    """The child process and the replay of its mailbox accesses; subclasses add their own
    events (:meth:`_event`) and what the child is told at start (:meth:`_spawn`)."""

    build: Build
    port: InstrumentedPort
    answer_timeout: float = ANSWER_TIMEOUT
    poll_limit: int = POLL_LIMIT
    who: str = "the C code"
    server: ForkServer | None = None  # where children come from (None: a fresh exec each)
    run_ahead: bool = True  # False: every read waits (to measure what running ahead saves)
    proc: subprocess.Popen | None = None
    pid: int = 0  # a child of the fork server, until reaped
    shm: mmap.mmap | None = None
    stderr: Any = None
    ev_fd: int = -1
    ans_fd: int = -1
    inbuf: bytearray = attrs.field(factory=bytearray)
    pending_write: tuple[int, int] | None = None
    accesses: int = 0  # shared accesses of this child, for crash reports
    last: tuple[str, int, int] | None = None  # the last of them (kind, offset, length), named on demand
    polls_folded: int = 0  # reads repeated locally (runs of polls), for figures
    ahead: int = 0  # accesses the child may still make without waiting (granted with the last answer)
    ran_ahead: int = 0  # reads it made without waiting, for figures
    dead: str | None = None

    def _spawn(self, env: dict[str, str], fds: tuple[int, ...] = ()) -> None:
        """Start the child with the mailbox memfd, the pipes, ``env`` and the extra ``fds``."""
        mfd = os.memfd_create("mhkit-mailbox")
        os.ftruncate(mfd, SHARED_SIZE)
        self.shm = mmap.mmap(mfd, SHARED_SIZE)
        ev_r, ev_w = os.pipe()
        ans_r, ans_w = os.pipe()
        self.stderr = tempfile.TemporaryFile()  # what the C code prints (an assert's message) goes in a crash report
        env = dict(MHKIT_POLL_LIMIT=str(self.poll_limit), **env)
        try:
            if self.server is not None:
                self.pid = self.server.spawn(env, (self.stderr.fileno(), ev_w, ans_r, mfd, *fds))
            else:
                self.proc = subprocess.Popen([self.build.binary], pass_fds=(ev_w, ans_r, mfd, *fds),
                                             env=dict(os.environ, MHKIT_FDS=f"{ev_w},{ans_r},{mfd}", **env),
                                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr)
        finally:
            for fd in (ev_w, ans_r, mfd, *fds):
                os.close(fd)
        self.ev_fd, self.ans_fd = ev_r, ans_w

    def stop(self) -> None:
        """Kill the child (if alive) and release the pipes and the mapping."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.pid and self.server is not None:
            pid, self.pid = self.pid, 0
            self.server.kill(pid)
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
                code = self._exit_code()
                how = f"was killed by {_signal_name(code)}" if code < 0 else f"exited with status {code}"
                raise self._fail(CChildCrashed(
                    f"{self.who} {how} after access #{self.accesses} ({self.last_access}){self._last_words()}"))
            self.inbuf += chunk
        out = bytes(self.inbuf[:n])
        del self.inbuf[:n]
        return out

    def _exit_code(self) -> int:
        """The status the child ended with (it closed its end of the events: it is gone)."""
        if self.proc is not None:
            return self.proc.wait()
        if self.pid and self.server is not None:
            pid, self.pid = self.pid, 0
            return self.server.wait(pid)
        return 0

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
        self.last = (kind, off, n)

    @property
    def last_access(self) -> str:
        """The last shared access in words, for crash reports (named only when one is written)."""
        if self.last is None:
            return "none yet"
        kind, off, n = self.last
        name = FIELD_AT.get((off, n))
        return kind if kind in BARRIER.values() else f"{kind} {name[0] if name else f'{n} bytes at {off:#x}'}"

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
                    self._spend()
                    self._note("write", off, n)
                    self.on_write(off, n)
                    if off + n > SHARED_SIZE:
                        self.port.write_bytes(off, bytes(min(n, 1 << 20)))  # the hook, then the fault
                    self.pending_write = (off, n)
                elif kind == EV_BARRIER:  # nor for a barrier
                    b = BARRIER.get(aux, "mb")
                    self._spend()
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

    def grant(self) -> int:
        """How many of the child's next accesses no peer action comes before (they may run
        without waiting); asked right after a read's hook ran. 0: every read waits."""
        return 0

    def _spend(self) -> None:
        if self.ahead:
            self.ahead -= 1

    def read_now(self, off: int, n: int, waits: bool = True) -> None:
        """Replay a read; if the child waits on it, let it go on, with the accesses it may now make
        without waiting. A read it made without waiting must fall within what it was granted."""
        if not waits:
            if not self.ahead:
                raise self._fail(CChildCrashed(f"{self.who}'s runtime ran ahead of what the suite allowed"))
            self.ran_ahead += 1
        self._spend()
        self._note("read", off, n)
        self._read(off, n)
        if waits:
            self.ahead = self.grant() if self.run_ahead else 0
            self._answer(self.ahead)


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
    #: False: every read waits for the suite (the speed-up off, for benches and tests)
    run_ahead: bool = attrs.field(default=True, kw_only=True)
    #: forks the children (started at the first, stopped by :meth:`stop`); None: an exec each
    server: ForkServer | None = attrs.field(
        default=attrs.Factory(lambda self: ForkServer(self.build.binary) if self.build else None, takes_self=True),
        kw_only=True, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.server is not None:
            weakref.finalize(self, self.server.close)

    def _fresh(self, start: Any) -> Any:
        """Stop every child, then start one with ``start()`` and keep it to stop later."""
        self._stop_children()
        child = start()
        self.live.append(child)
        return child

    def _stop_children(self) -> None:
        while self.live:
            self.live.pop().stop()

    def stop(self) -> None:
        """Stop every child this implementation started, and the fork server (so that their CPU
        time is counted in this process's children's, and nothing is left running)."""
        self._stop_children()
        if self.server is not None:
            self.server.close()
