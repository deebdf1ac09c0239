"""A host or helper in any language, in its own process, driven over JSON lines (``mhmailbox-wire 1``,
docs/wire.md).

The suite starts the command once per host or helper object (so per Hypothesis example), with
the mailbox as a file of 8 KiB it may map (``MHWIRE_MAILBOX``, also in the suite's hello; a
helper gets guest RAM as a second file),
and talks to it over its stdin (suite -> implementation) and stdout (implementation ->
suite), one JSON object per line. The replay is the C kit's (:mod:`.ckit.child`,
:mod:`.ckit.host`): every shared access the implementation announces *before* making it is
replayed on the rig's :class:`~mhmailbox.impl.memory.InstrumentedPort` (the scheduling
point), a read answered once the hook ran and the suite's mailbox was copied to the file,
a write carried with its value, a barrier as is, a clock read answered with the suite's
virtual clock scaled to the implementation's deadline.

A process that exits, sends nothing for ``answer_timeout`` seconds, polls one location
``poll_limit`` times with nothing in between, waits more than ``VIRTUAL_LIMIT`` deadlines of
virtual time, or breaks the format (the line is shown) is stopped and reported as a crash
(``robust``): a failed case, never a hung suite.
"""
from __future__ import annotations

import json
import mmap
import os
import shlex
import shutil
import subprocess
import tempfile
from typing import Any

import attrs

from mhmailbox.impl.clock import VirtualClock
from mhmailbox.impl.crypto import Provision
from mhmailbox.impl.memory import InstrumentedPort, MemoryFault
from mhmailbox.impl.stream import Record
from mhmailbox.model.layout import FIELDS, PAGE_SIZE, SHARED_SIZE

from .adapter import HOST_OPERATIONS, OperationFailed
from .ckit.child import BARRIER, ChildImplementation, CChildCrashed, CChildHung
from .ckit.host import CLOCK_ORIGIN_NS, PUBLISHED_DEADLINE_NS, CHost
from .wire_format import GUEST_OPERATIONS, WIRE_OPERATIONS, WIRE_VERSION

#: Reads of one location in a row, with nothing else in between, taken as a wait that never ends
#: (each is a round trip here: 100 000 take a few seconds, far past any deadline's worth of polls).
WIRE_POLL_LIMIT = 100_000
#: Seconds of real time with no line from the process before it is taken as hung.
WIRE_ANSWER_TIMEOUT = 30.0
#: The longest line accepted (a record is about 10 KB of hex).
MAX_LINE = 1 << 20


class WireBroken(CChildCrashed):
    """The process broke the format: a line that is not the JSON the wire expects."""


def _shown(line: bytes | str) -> str:
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    return repr(text[:200] + ("..." if len(text) > 200 else ""))


def _hex(d: dict, key: str, line: str) -> bytes:
    v = d.get(key)
    if not isinstance(v, str):
        raise WireBroken(f"`{key}` must be a hex string in {_shown(line)}")
    try:
        return bytes.fromhex(v)
    except ValueError:
        raise WireBroken(f"`{key}` is not hex in {_shown(line)}") from None


def _uint(d: dict, key: str, line: str) -> int:
    v = d.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise WireBroken(f"`{key}` must be a non-negative integer in {_shown(line)}")
    return v


@attrs.define(eq=False)
class WireProcess(CHost):
    """One process speaking the wire: its hello, its lines, the replay of its accesses (the C host's
    clock and replay; a side adds its operations)."""

    side = "host"
    known_ops = WIRE_OPERATIONS

    argv: tuple[str, ...] = attrs.field(default=(), kw_only=True)
    protocol: str = attrs.field(default="hardened", kw_only=True)
    workdir: Any = None
    mailbox_path: str = ""
    said_hello: bool = False
    operations: tuple[str, ...] = ()
    last_line: str = ""
    same_reads: int = 0
    last_read: tuple[int, int] | None = None

    def __attrs_post_init__(self) -> None:
        self.who = f"the process `{shlex.join(self.argv)}`"
        self._spawn({})

    # --- the process and its lines ------------------------------------------------------
    def _spawn(self, env: dict[str, str], fds: tuple[int, ...] = ()) -> None:
        if self.workdir is None:
            self.workdir = tempfile.TemporaryDirectory(prefix="mhwire-")
        path = os.path.join(self.workdir.name, "mailbox")
        with open(path, "wb") as f:
            f.write(bytes(SHARED_SIZE))
        fd = os.open(path, os.O_RDWR)
        try:
            self.shm = mmap.mmap(fd, SHARED_SIZE)
        finally:
            os.close(fd)
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        self.stderr = tempfile.TemporaryFile()
        env = dict(os.environ, MHWIRE_MAILBOX=path, MHWIRE_SIDE=self.side, MHWIRE_PROTOCOL=self.protocol, **env)
        try:
            self.proc = subprocess.Popen(list(self.argv), stdin=to_r, stdout=from_w, stderr=self.stderr, env=env)
        except OSError as e:
            for x in (to_r, to_w, from_r, from_w):
                os.close(x)
            self.dead = f"cannot start it: {e.strerror or e}"  # reported by the first operation
            return
        os.close(to_r)
        os.close(from_w)
        self.ev_fd, self.ans_fd = from_r, to_w
        self.mailbox_path = path

    def stop(self) -> None:
        super().stop()
        if self.workdir is not None:
            self.workdir.cleanup()
            self.workdir = None

    def _line(self) -> dict:
        """The next line from the process, parsed (WireBroken if it is not a JSON object)."""
        while b"\n" not in self.inbuf:
            if len(self.inbuf) > MAX_LINE:
                raise self._fail(WireBroken(f"{self.who} sent a line longer than {MAX_LINE} bytes: "
                                            f"{_shown(bytes(self.inbuf[:200]))}"))
            got = self._recv(len(self.inbuf) + 1)  # waits (crash, hang reported as the C kit does)
            self.inbuf[:0] = got
        i = self.inbuf.index(b"\n")
        raw = bytes(self.inbuf[:i])
        del self.inbuf[:i + 1]
        self.last_line = raw.decode("utf-8", "replace")
        try:
            d = json.loads(raw)
        except ValueError:
            raise self._fail(WireBroken(f"{self.who} broke the wire (not JSON) after access #{self.accesses}: "
                                        f"{_shown(raw)}")) from None
        if not isinstance(d, dict):
            raise self._fail(WireBroken(f"{self.who} broke the wire (not a JSON object): {_shown(raw)}"))
        return d

    def _put(self, d: dict) -> None:
        self.shm[:] = self.port.buf  # the rig's mailbox, as the process will see it
        self._send(json.dumps(d, separators=(",", ":")).encode() + b"\n")

    def _hello_fields(self) -> dict:
        return {"deadline_ns": self.deadline_ns, "clock_origin_ns": CLOCK_ORIGIN_NS}

    def _hello(self) -> None:
        self.said_hello = True
        self._put({"wire": WIRE_VERSION, "side": self.side, "protocol": self.protocol, "mailbox": self.mailbox_path,
                   "mailbox_size": SHARED_SIZE, **self._hello_fields()})
        d = self._line()
        if d.get("wire") != WIRE_VERSION:
            raise self._fail(WireBroken(f"{self.who} did not answer the hello with {{\"wire\": \"{WIRE_VERSION}\", ...}}: "
                                        f"{_shown(self.last_line)}"))
        ops = d.get("operations", list(self.known_ops))
        if not isinstance(ops, list) or any(o not in self.known_ops for o in ops):
            raise self._fail(WireBroken(f"`operations` must list some of {', '.join(self.known_ops)}: "
                                        f"{_shown(self.last_line)}"))
        self.operations = tuple(ops)

    # --- one operation --------------------------------------------------------------------
    def _run(self, request: dict) -> dict:
        """Send one operation and replay the process's accesses until its result line."""
        self._check_alive()
        try:
            if not self.said_hello:
                self._hello()
            self.items, self.errors = [], []
            self.op_start = self.clock.now() if self.clock is not None else 0.0
            self.reads_since_clock = self.writes_since_clock = 0
            self._put(request)
            while True:
                d = self._line()
                self._sync()
                if "result" in d:
                    return d
                self._wire_event(d)
        except MemoryFault as e:
            raise self._fail(e)
        except WireBroken as e:
            if self.dead is None:
                raise self._fail(e)
            raise

    def _wire_event(self, d: dict) -> None:
        line = self.last_line
        ev = d.get("ev")
        if ev == "read":
            off, n = _uint(d, "off", line), _uint(d, "len", line)
            self._check_range(off, n, line)
            self._spin(off, n)
            self.reads_since_clock += 1
            self._note("read", off, n)
            self._read(off, n)
            self._put({"data": bytes(self.port.buf[off:off + n]).hex()})
            return
        self.last_read, self.same_reads = None, 0
        if ev == "write":
            off, data = _uint(d, "off", line), _hex(d, "data", line)
            n = len(data)
            if n == 0:
                raise WireBroken(f"a write of no bytes: {_shown(line)}")
            self._note("write", off, n)
            self.on_write(off, n)
            if off + n > SHARED_SIZE:
                self.port.write_bytes(off, bytes(min(n, 1 << 20)))  # the hook, then the fault
            self.pending_write = (off, n)
            self._wrote(off, data)
        elif ev == "barrier":
            kind = d.get("kind")
            if kind not in BARRIER.values():
                raise WireBroken(f"a barrier's `kind` is wmb, rmb or mb: {_shown(line)}")
            self._note(kind)
            self.port.barrier(kind)
        elif ev == "clock":
            self._put({"now_ns": self._clock()})
        elif ev == "error":
            self.errors.append(str(d.get("text", "")))
        else:
            raise WireBroken(f"{self.who} broke the wire (unknown event) after access #{self.accesses}: {_shown(line)}")

    def _sync(self) -> None:
        """After each line: what a side keeps beside the mailbox (a helper's RAM) is brought in."""

    def _clock(self) -> int:
        """The C host's clock (scaled virtual time, the virtual-time limit), the report naming this process."""
        try:
            return super()._clock()
        except CChildHung as e:
            self.dead = str(e).replace("the C host", self.who, 1)
            raise CChildHung(self.dead) from None

    def _check_range(self, off: int, n: int, line: str) -> None:
        if n > SHARED_SIZE:  # (0 bytes: a host copying an empty header, as rfc's does)
            raise WireBroken(f"a read of {n} bytes: {_shown(line)}")

    def _spin(self, off: int, n: int) -> None:
        if self.last_read == (off, n):
            self.same_reads += 1
            if self.same_reads >= self.poll_limit:
                raise self._fail(CChildHung(
                    f"{self.who} read {n} bytes at {off:#x} {self.same_reads} times in a row with nothing else in "
                    f"between, after access #{self.accesses}: a wait that never ends"))
        else:
            self.last_read, self.same_reads = (off, n), 1

    def _outcome(self, d: dict, what: str) -> dict:
        """The result line of an operation: the line if ok, OperationFailed for a clean failure."""
        r = d.get("result")
        if r == "ok":
            return d
        if r == "failed":
            said = d.get("error") or "; ".join(self.errors) or "no reason given"
            raise OperationFailed(f"{what} failed: {said}")
        raise self._fail(WireBroken(f"`result` is \"ok\" or \"failed\": {_shown(self.last_line)}"))



@attrs.define(eq=False)
class WireHost(WireProcess):
    """A host process; the HostUnderTest protocol."""

    def initialize(self) -> None:
        self._outcome(self._run({"op": "init"}), "init")

    def save_page(self, gpa: int) -> Record:
        d = self._outcome(self._run({"op": "save", "gpa": gpa}), f"save {gpa:#x}")
        try:
            hlen = _uint(d, "hdr_len", self.last_line)
            header, page = _hex(d, "header", self.last_line), _hex(d, "page", self.last_line)
        except WireBroken as e:
            raise self._fail(e) from None
        if hlen > 0xFFFFFFFF:
            raise self._fail(WireBroken(f"`hdr_len` is a u32: {_shown(self.last_line)}"))
        return Record(gpa, header, page, hlen)

    def load_page(self, record: Record) -> None:
        if "load" not in self.operations and self.said_hello:
            raise OperationFailed("the process has no load operation")
        self._outcome(self._run({"op": "load", "gpa": record.gpa, "hdr_len": record.emitted_hdr_len & 0xFFFFFFFF,
                                 "header": record.header.hex(), "page": record.page.hex()}), f"load {record.gpa:#x}")

    def cleanup(self) -> None:
        self._outcome(self._run({"op": "cleanup"}), "cleanup")


@attrs.define(eq=False)
class WireGuest(WireProcess):
    """A helper process; the GuestUnderTest protocol. Guest RAM is a second file (``ram`` in the
    hello, ``MHWIRE_RAM``), at gpa 0: the rig's RAM is copied into it before each operation and
    back after each line, so a RAM write is in the rig's RAM before the process's next mailbox access
    (RAM accesses are not scheduling points: no host can touch private RAM)."""

    side = "guest"
    known_ops = GUEST_OPERATIONS
    ram: Any = attrs.field(default=None, kw_only=True)
    provision: Provision | None = attrs.field(default=None, kw_only=True)
    ram_map: mmap.mmap | None = None
    ram_path: str = ""
    served: bool = False
    provision_due: bool = False

    def _spawn(self, env: dict[str, str], fds: tuple[int, ...] = ()) -> None:
        self.workdir = tempfile.TemporaryDirectory(prefix="mhwire-")
        self.ram_path = os.path.join(self.workdir.name, "ram")
        with open(self.ram_path, "wb") as f:
            f.write(bytes(self.ram))
        fd = os.open(self.ram_path, os.O_RDWR)
        try:
            self.ram_map = mmap.mmap(fd, len(self.ram))
        finally:
            os.close(fd)
        super()._spawn({"MHWIRE_RAM": self.ram_path, **env}, fds)

    def stop(self) -> None:
        if self.ram_map is not None:
            self.ram_map.close()
            self.ram_map = None
        super().stop()

    def _hello_fields(self) -> dict:
        return {"ram": self.ram_path, "ram_size": len(self.ram), **_provision_fields(self.provision)}

    def _sync(self) -> None:
        if self.ram_map is not None and self.ram_map[:] != self.ram:
            self.ram[:] = self.ram_map

    def on_write(self, off: int, n: int) -> None:
        if off in (FIELDS["done"][0], FIELDS["ret"][0]):
            self.served = True

    def _clock(self) -> int:
        raise WireBroken(f"{self.who} read the clock: a helper has no clock on the wire")

    def _op(self, request: dict, what: str) -> None:
        self._check_alive()
        self.ram_map[:] = self.ram  # type: ignore[index]
        if self.provision_due:
            self.provision_due = False
            self._outcome(self._run({"op": "provision", **_provision_fields(self.provision)}), "provision")
        self._outcome(self._run(request), what)

    # --- GuestUnderTest ---------------------------------------------------------------------
    def start(self) -> None:
        self._op({"op": "start"}, "start")

    def poll_once(self) -> bool:
        self.served = False
        self._op({"op": "poll"}, "poll")
        return self.served

    def new_migration(self, provision: Provision | None) -> None:
        """The provisioning for the next migration, given to the process before its next start or poll
        (as the C kit's helper asks for it; a helper takes it at the INIT that opens a session)."""
        if provision is not None:
            self.provision, self.provision_due = provision, True


def _provision_fields(p: Provision | None) -> dict:
    """A hardened helper's provisioning, as the wire carries it (none for rfc)."""
    return {"provision": None if p is None else {"key": p.transfer_key.hex(), "session": p.session_id.hex()}}


@attrs.frozen
class WireHostImplementation(ChildImplementation):
    """A command speaking the wire as an :class:`Implementation`; each ``make_host`` is a fresh process."""

    argv: tuple[str, ...] = attrs.field(default=(), kw_only=True)
    declared: tuple[str, ...] = attrs.field(default=WIRE_OPERATIONS, kw_only=True)
    deadline_ns: int = attrs.field(default=PUBLISHED_DEADLINE_NS, kw_only=True)

    @property
    def operations(self) -> frozenset[str]:
        """The operations the process declared in its hello (checked once by :func:`wire_host`)."""
        return HOST_OPERATIONS & frozenset(self.declared)

    def operation_name(self, op: str) -> str:
        return f"the process's {op} operation"

    def make_host(self, port: InstrumentedPort, clock: VirtualClock, *, timeout: float, quantum: float) -> WireHost:
        return self._fresh(lambda: WireHost(None, port, self.answer_timeout, self.poll_limit, clock=clock,
                                            timeout=timeout, quantum=quantum, deadline_ns=self.deadline_ns,
                                            argv=self.argv, protocol=self.protocol))

    def make_guest(self, port: Any, ram: Any, provision: Any) -> Any:
        raise NotImplementedError("a host process has no helper side: check a helper with wire_guest")


@attrs.frozen
class WireGuestImplementation(ChildImplementation):
    """A command speaking the wire's guest side as an :class:`Implementation`; each ``make_guest`` is a
    fresh process."""

    argv: tuple[str, ...] = attrs.field(default=(), kw_only=True)

    def make_host(self, port: Any, clock: Any, *, timeout: float, quantum: float) -> Any:
        raise NotImplementedError("a helper process has no host side: check a host with wire_host")

    def make_guest(self, port: InstrumentedPort, ram: Any, provision: Provision | None) -> WireGuest:
        return self._fresh(lambda: WireGuest(None, port, self.answer_timeout, self.poll_limit, argv=self.argv,
                                             protocol=self.protocol, ram=ram, provision=provision))


def wire_host(command: str | list[str], protocol: str = "hardened", *, answer_timeout: float = WIRE_ANSWER_TIMEOUT,
              poll_limit: int = WIRE_POLL_LIMIT, deadline_ns: int = PUBLISHED_DEADLINE_NS) -> WireHostImplementation:
    """Describe a command speaking the wire as an Implementation, after one hello with it (which must
    succeed: ``OperationFailed`` says why not, e.g. a wrong version or a process that died)."""
    from mhmailbox.impl.crypto import HDR_SIZE

    argv = _argv(command)
    impl = WireHostImplementation(f"wire:{shlex.join(argv)}", protocol, 0 if protocol == "rfc" else HDR_SIZE,
                                  build=None, answer_timeout=answer_timeout, poll_limit=poll_limit,
                                  argv=argv, deadline_ns=deadline_ns)
    port = InstrumentedPort(memoryview(bytearray(SHARED_SIZE)), "host", None, None)  # type: ignore[arg-type]
    declared = _handshake(WireHost(None, port, impl.answer_timeout, impl.poll_limit, clock=VirtualClock(), timeout=1.0,
                                   quantum=0.25, argv=impl.argv, protocol=impl.protocol))
    return attrs.evolve(impl, declared=declared)


def wire_guest(command: str | list[str], protocol: str = "hardened", *, answer_timeout: float = WIRE_ANSWER_TIMEOUT,
               poll_limit: int = WIRE_POLL_LIMIT) -> WireGuestImplementation:
    """Describe a command speaking the wire's guest side as an Implementation, after one hello with it."""
    from mhmailbox.impl.crypto import HDR_SIZE

    argv = _argv(command)
    impl = WireGuestImplementation(f"wire:{shlex.join(argv)}", protocol, 0 if protocol == "rfc" else HDR_SIZE,
                                   build=None, answer_timeout=answer_timeout, poll_limit=poll_limit, argv=argv)
    port = InstrumentedPort(memoryview(bytearray(SHARED_SIZE)), "guest", None, None)  # type: ignore[arg-type]
    _handshake(WireGuest(None, port, answer_timeout, poll_limit, argv=argv, protocol=protocol,
                         ram=memoryview(bytearray(PAGE_SIZE)), provision=None))
    return impl


def _argv(command: str | list[str]) -> tuple[str, ...]:
    argv = tuple(shlex.split(command)) if isinstance(command, str) else tuple(command)
    if not argv:
        raise ValueError("an empty command")
    if shutil.which(argv[0]) is None:
        raise FileNotFoundError(f"{argv[0]}: no such command (not a file, not on PATH)")
    return argv


def _handshake(host: WireProcess) -> tuple[str, ...]:
    """Exchange hellos with a process just started, stop it: the operations it declares."""
    try:
        if host.dead is None:
            host._hello()
    except (CChildCrashed, CChildHung) as e:
        raise OperationFailed(str(e)) from None
    finally:
        host.stop()
    if host.dead is not None:
        raise OperationFailed(host.dead)
    return host.operations


__all__ = ["WIRE_VERSION", "WireGuest", "WireGuestImplementation", "WireHost", "WireHostImplementation", "wire_guest",
           "wire_host"]
