"""Test rigs: an implementation's host (or helper) against a scripted peer, lockstep, no threads.

A rig owns the mailbox, guest RAM, the virtual clock and the model observer of
the side under test. Every access of the implementation is a scheduling point
(the port's hook): the rig first runs the peer actions scheduled for that access
index (drawn data, so every run replays exactly), then the access takes effect,
then the rig abstracts it and feeds it to the :class:`~mhmailbox.model.observe.Observer`.

Values are abstracted as docs/conformance.md describes: gpas to G0/G1/MAILBOX/
OUTSIDE by the concrete addresses the rig uses; io pages to page tags (the
plaintext of a RAM page, a page sealed by the helper in this migration epoch, or
other bytes); the helper's valid header length to the model's HLEN_OK; other
integers as they are. Provenance ghosts (who wrote a field, for which command)
are kept by the rig: the model's own ghosts for the side under test, the
reference peer's ghosts for the peer, 1 for an adversary's writes.

Violations are collected by property id in ``violations``; a
:class:`~mhmailbox.model.observe.Divergence` is kept in ``divergence``.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import attrs

from mhmailbox.impl.clock import VirtualClock
from mhmailbox.impl.crypto import HDR_SIZE, Provision, SessionCipher
from mhmailbox.impl.guest import GuestHelper
from mhmailbox.impl.memory import HOST_MEMORY_PATTERN, Access, InstrumentedPort, MemoryFault
from mhmailbox.impl.stream import Record
from mhmailbox.model import values as val
from mhmailbox.model.layout import (
    FIELDS,
    HDR_MAX,
    OFF_HDR_DATA,
    OFF_IO_PAGE,
    PAGE_SIZE,
    SHARED_GPA,
    SHARED_SIZE,
    Cmd,
    Ret,
    in_shared_area,
)
from mhmailbox.model.observe import Divergence, Observer
from mhmailbox.model.variants import VARIANTS

from .adapter import Implementation, OperationFailed
from .sessions import next_session, open_seal

#: Concrete addresses the rigs use for each abstract gpa class. No gpa is below 0x10000: a C
#: helper under test dereferences gpas in its own process, and Linux maps nothing below
#: vm.mmap_min_addr (65536), so RAM pages 0-15 exist but the rig never names them.
RAM_PAGES = 32
GPA = {val.G0: 16 * PAGE_SIZE, val.G1: 21 * PAGE_SIZE, val.MAILBOX: SHARED_GPA, val.OUTSIDE: 64 * PAGE_SIZE}
#: Virtual time: one polling burst (one read of done) is one quantum; the deadline is D quanta.
QUANTUM = 1 / 1024
D_TICKS = 4
TIMEOUT = D_TICKS * QUANTUM
#: Model monitors that rest on system-level ghosts (the model's own clock and "prompt" marks)
#: an observer of one side does not have; the suite checks these properties directly.
SYSTEM_FLAGS = frozenset({"timeout.no-false-timeout", "liveness.recovery"})
#: Peer "sleeps forever".
FOREVER = 1 << 20
#: :meth:`quiet_accesses` when no scripted peer action lies ahead.
UNLIMITED = 1 << 32
#: Called with each rig once built, before its peer or helper starts (``logrecord`` records runs).
BUILD_HOOKS: list[Callable[["RigBase"], None]] = []


def until_next(schedule: list, index: int) -> int:
    """Accesses from number ``index`` on before the first (access number, action) of ``schedule``
    due at or after it; :data:`UNLIMITED` when none is."""
    return min((k - index for k, _ in schedule if k >= index), default=UNLIMITED)

_FIELD_OF = {"cmd_type": "cmd", "gpa": "gpa", "ret": "ret", "go": "go", "done": "done", "hdr_len": "hdr_len"}


def gpa_class(gpa: int) -> int:
    if gpa == 0:  # a command with no page (INIT, RESET): hosts write 0, as published; the model's G0
        return val.G0
    for k, v in GPA.items():
        if gpa == v:
            return k
    if in_shared_area(gpa):
        return val.MAILBOX
    return val.OUTSIDE


#: Guest RAM as every rig starts it: page i filled with one byte of its own (built once, copied per rig).
PATTERN = b"".join(bytes([(7 * i + 1) % 251 + 1]) * PAGE_SIZE for i in range(RAM_PAGES))
#: The pages of :data:`PATTERN` (a private page's plaintext, for ``guest.confidential``).
PATTERN_PAGES = frozenset(PATTERN[p * PAGE_SIZE:(p + 1) * PAGE_SIZE] for p in range(RAM_PAGES))


def patterned_ram() -> bytearray:
    return bytearray(PATTERN)


def private_pages(original: bytes) -> frozenset[bytes]:
    """Every page of ``original`` RAM (the rigs' pattern's pages without rebuilding them)."""
    if original == PATTERN:
        return PATTERN_PAGES
    return frozenset(original[p * PAGE_SIZE:(p + 1) * PAGE_SIZE] for p in range(len(original) // PAGE_SIZE))


def _write_field(mailbox: bytearray, name: str, value: int) -> None:
    import struct

    off, fmt = FIELDS[name]
    if fmt == "<i":
        value = (value + (1 << 31)) % (1 << 32) - (1 << 31)
    elif fmt == "<I":
        value %= 1 << 32
    else:
        value %= 1 << 64
    struct.pack_into(fmt, mailbox, off, value)


def _read_field(mailbox: bytes | bytearray, name: str) -> int:
    import struct

    off, fmt = FIELDS[name]
    return struct.unpack_from(fmt, mailbox, off)[0]


@attrs.define(eq=False)
class _Log:
    """A list-like sink: the port appends each completed access; we react at once."""

    sink: Callable[[Access], None]

    def append(self, a: Access) -> None:
        self.sink(a)


@attrs.define(eq=False)
class RigBase:
    impl: Implementation
    mailbox: bytearray = attrs.field(factory=lambda: bytearray(SHARED_SIZE))
    ram: bytearray = attrs.field(factory=patterned_ram)
    clock: VirtualClock = attrs.field(factory=VirtualClock)
    prov: dict[str, int] = attrs.field(factory=lambda: {f: 0 for f in ("cmd", "gpa", "ret", "go", "done", "hdr_len", "io")})
    violations: dict[str, str] = attrs.field(factory=dict)
    divergence: Divergence | None = None
    events: list[str] = attrs.field(factory=list)
    accesses: int = 0
    trace: list[str] = attrs.field(factory=list)  # the side under test's accesses, for reports
    record: list[Access] | None = None  # set to a list to keep every access (wire form: dump_jsonl)

    def flag_message(self, prop: str) -> str:
        at = self.observer.flag_at.get(prop)
        if at is None:
            return f"model monitor v.{prop} set"
        return f"model monitor v.{prop} set at access #{at[0]} by model step {at[1]} ({at[2]})"

    def violate(self, prop: str, message: str) -> None:
        self.violations.setdefault(prop, message)

    @property
    def variant(self):
        return VARIANTS[self.impl.protocol](deadline=D_TICKS, quantum=1)

    def hlen_abstract(self, v: int) -> int:
        if v == self.impl.valid_hdr_len:
            return val.HLEN_OK
        return val.HLEN_OK + 1 if v == val.HLEN_OK else v

    def plain_tag(self, page: bytes, ram: bytes | bytearray, hint: int | None = None, only_hint: bool = False) -> int | None:
        """PLAIN(g) when ``page`` holds RAM page g's contents (``hint`` first: the gpa in use;
        ``only_hint``: a page the helper just copied out of RAM is only ever the hinted one)."""
        gs = ((hint,) if hint in (val.G0, val.G1) else ()) + (() if only_hint else (val.G0, val.G1))
        for g in gs:
            a = GPA[g]  # type: ignore[index]
            if page == bytes(ram[a:a + PAGE_SIZE]):
                return int(g) + 1  # type: ignore[arg-type]
        return None

    def note(self, a: Access) -> None:
        if self.record is not None:
            self.record.append(a)
        if len(self.trace) < 100000:
            v = a.value
            if isinstance(v, (bytes, bytearray)):
                v = f"<{len(v)} bytes>"
            self.trace.append(f"{a.side} {a.kind} {a.where}" + ("" if v is None else f" = {v}"))

    def _abstract(self, f: str, a: Access) -> int:
        """A concrete field value as the model's abstract value (gpa class, header length, page tag)."""
        v = a.value
        if f == "gpa":
            return gpa_class(int(v))  # type: ignore[arg-type]
        if f == "hdr_len":
            return self.hlen_abstract(int(v))  # type: ignore[arg-type]
        if f == "io":
            return self._io_tag(a)
        return int(v)  # type: ignore[arg-type]

    def _io_tag(self, a: Access) -> int:
        raise NotImplementedError


# ====================================================================== host under test
@attrs.define(eq=False)
class HostRig(RigBase):
    """The implementation's host against the reference helper (``impl.protocol`` mode) plus
    scheduled peer actions. Operations: :meth:`save`, :meth:`load`, :meth:`cleanup`."""

    peer: GuestHelper = attrs.field(default=None)
    host: Any = None
    observer: Observer = attrs.field(default=None)
    original: bytes = b""
    booted: bool = True
    booted_at: float = 0.0  # when the peer booted (virtual time)
    wake: float = 0.0  # the peer serves only from this time on
    schedule: list = attrs.field(factory=list)
    op_access: int = 0
    cmd_start: float = 0.0
    serving_ghost: int = 1
    peer_params: list = attrs.field(factory=list)
    snap: bytes = b""
    snap_prov: dict = attrs.field(factory=dict)
    provision: Provision | None = None
    completed: dict = attrs.field(factory=dict)  # host command id -> when the peer completed it
    window_starts: dict = attrs.field(factory=dict)  # model deadline window -> when it opened
    last_window: int = 0
    boot_at: int | None = None  # the peer boots just before this host access (counted from 0)
    host_accesses: int = 0
    wire: dict = attrs.field(factory=lambda: {f: ("i", 0) for f in ("cmd", "gpa", "ret", "go", "done", "hdr_len", "io")})
    wire_go: int = 0
    serving_wire: int | None = None
    done_seen: tuple = ("i", 0)
    wire_go_in_op: int = 0
    ret_read: bool = False
    op_failed: bool = False  # a command of this operation failed or timed out (seen on the wire)
    dead: bool = False  # the host crashed: later operations are not run

    @classmethod
    def build(cls, impl: Implementation, *, booted: bool = True) -> "HostRig":
        self = cls(impl)
        self.original = bytes(self.ram)
        self.booted = booted
        self.provision = Provision.generate() if impl.protocol == "hardened" else None
        pport = InstrumentedPort(memoryview(self.mailbox), "guest", None, _Log(self._peer_access))  # type: ignore[arg-type]
        self.peer = GuestHelper(pport, memoryview(self.ram), impl.protocol, self.provision)  # type: ignore[arg-type]
        hport = InstrumentedPort(memoryview(self.mailbox), "host", self._hook, _Log(self._access))  # type: ignore[arg-type]
        self.host = impl.make_host(hport, self.clock, timeout=TIMEOUT, quantum=QUANTUM)
        self.observer = Observer(self.variant, "host", peek=self._peek)
        self.observer.choose(role=0)
        self.snap, self.snap_prov = bytes(self.mailbox), dict(self.prov)
        for hook in BUILD_HOOKS:
            hook(self)
        if booted:
            self.peer.start()
        return self

    # --- peer --------------------------------------------------------------------------
    def _peer_access(self, a: Access) -> None:
        f = _FIELD_OF.get(a.where) if isinstance(a.where, str) else ("io" if a.where == OFF_IO_PAGE else None)
        self._peer_wire(a, f)
        if a.kind == "read":
            if f == "go":
                self.serving_ghost = self.prov["go"] + 1 if self.prov["go"] else 1
                self.peer_params = []
            elif f in ("cmd", "gpa"):
                self.peer_params.append(self.prov[f])
                if self.prov[f] + 1 != self.serving_ghost:
                    self.violate("order.publish", f"the helper read {f} written for another command than the go it serves "
                                 f"(provenance {self.prov[f]} vs go {self.serving_ghost - 1})")
        elif a.kind == "write" and f is not None:
            self.prov[f] = self.serving_ghost if a.where != "go" or a.value else 1
            if f == "done" and a.value and self.serving_ghost % 2 == 1:
                self.completed.setdefault(self.serving_ghost // 2, self.clock.now())

    # --- wire-level provenance: which go (counted on the wire) each value belongs to ------------
    # Independent of the model, so order.publish and order.response are still judged once the
    # model has stopped at a divergence (the mutant report's "properties alone").
    def _peer_wire(self, a: Access, f: str | None) -> None:
        if f is None:
            return
        if a.kind == "read" and f == "go":
            src = self.wire["go"]
            self.serving_wire = src[1] if src[0] == "h" else None
        elif a.kind == "read" and f in ("cmd", "gpa") and self.serving_wire is not None:
            if self.wire[f] != ("h", self.serving_wire) and self.wire[f][0] == "h":
                self.violate("order.publish", f"the helper serving go #{self.serving_wire} read {f} written for go "
                             f"#{self.wire[f][1]} (on the wire)")
        elif a.kind == "write" and f != "go":
            self.wire[f] = ("g", self.serving_wire or 0)

    def _host_wire(self, a: Access, f: str | None) -> None:
        if f is None or a.kind == "barrier":
            return
        if a.kind == "write":
            if f == "go":
                if self.wire_go_in_op and not self.ret_read:  # the previous command never completed
                    self.op_failed = True
                self.wire_go += 1
                self.wire_go_in_op += 1
                self.ret_read = False
                self.wire["go"] = ("h", self.wire_go)
            else:
                self.wire[f] = ("h", self.wire_go + 1)
        elif f == "done":
            self.done_seen = self.wire["done"]
        elif f in ("ret", "io"):
            if f == "ret":
                self.ret_read = True
                if a.value != 0:
                    self.op_failed = True
            both = (self.done_seen, self.wire["ret"]) if f == "ret" else (self.wire["io"],)
            for w in both:
                if w[0] == "g" and w[1] != self.wire_go:
                    self.violate("order.response", f"the host took a {'completion' if f == 'ret' else 'page'} the "
                                 f"helper produced for go #{w[1]} as the answer to go #{self.wire_go} (on the wire)")

    def _peer_serve(self) -> None:
        if self.booted and self.clock.now() >= self.wake:
            self.peer.poll_once()

    def _run_action(self, act: Sequence[Any]) -> None:
        kind = act[0]
        self.events.append(f"peer:{kind}")
        if kind == "sleep":  # slow: serve nothing for this many quanta from now
            self.wake = self.clock.now() + act[1] * QUANTUM
        elif kind == "silent":
            self.wake = float(FOREVER)
        elif kind == "wake":
            self.wake = 0.0
        elif kind == "boot":
            if not self.booted:
                self.booted = True
                self.booted_at = self.clock.now()
                self.peer.start()
        elif kind == "serve":  # the peer runs now, whatever the host is doing
            if self.booted:
                self.peer.poll_once()
        elif kind == "write":  # an adversary's write of a field (any field, host-owned too)
            _, name, value = act
            if name == "done" and isinstance(value, str):  # relative to the current go (seq guesses)
                value = _read_field(self.mailbox, "go") + int(value)
            _write_field(self.mailbox, name, int(value))
            self.prov[_FIELD_OF.get(name, name)] = 1
            self.wire[_FIELD_OF.get(name, name)] = ("a", 0)
        elif kind == "hdr_len":
            _write_field(self.mailbox, "hdr_len", int(act[1]))
            self.prov["hdr_len"] = 1
            self.wire["hdr_len"] = ("a", 0)
        elif kind == "flip":  # a torn or tampered byte in the header or io page
            _, where, off, byte = act
            base = OFF_IO_PAGE if where == "io" else OFF_HDR_DATA
            self.mailbox[base + off % (PAGE_SIZE if where == "io" else HDR_MAX)] ^= byte or 1
            self.prov["io" if where == "io" else "hdr_len"] = 1
            self.wire["io" if where == "io" else "hdr_len"] = ("a", 0)
        else:  # pragma: no cover
            raise ValueError(f"unknown peer action {act!r}")

    # --- the host's accesses --------------------------------------------------------
    def quiet_accesses(self) -> int:
        """How many of the host's next accesses this rig does nothing before (a driver may let
        reads run ahead without a round trip there): it acts at the indices of its schedule
        (``op_access`` is the next), boots the helper at access ``boot_at`` (counting
        ``host_accesses``), and runs the helper at a read of done (which always waits)."""
        quiet = until_next(self.schedule, self.op_access)
        if self.boot_at is not None and self.boot_at >= self.host_accesses:
            quiet = min(quiet, self.boot_at - self.host_accesses)
        return quiet

    def _hook(self, a: Access) -> None:
        i = self.op_access
        self.op_access += 1
        if self.boot_at is not None and self.host_accesses == self.boot_at:
            self._run_action(("boot",))
        self.host_accesses += 1
        for k, act in self.schedule:
            if k == i:
                self._run_action(act)
        if a.kind == "read" and a.where == "done":
            self._peer_serve()

    def _io_tag(self, a: Access) -> int:
        return self.plain_tag(bytes(a.value), self.original) or val.FORGED  # type: ignore[arg-type]

    def _peek(self, f: str) -> tuple[int, int]:
        """The value the host would have read at its previous access (elided reads)."""
        if f == "io":
            return val.FORGED, self.snap_prov["io"]
        v = _read_field(self.snap, "cmd_type" if f == "cmd" else f)
        return (self.hlen_abstract(v) if f == "hdr_len" else gpa_class(v) if f == "gpa" else v), self.snap_prov[f]

    def _access(self, a: Access) -> None:
        self.accesses += 1
        self.note(a)
        obs = self.observer
        if a.kind == "barrier":
            f: str | None = str(a.where)
        elif isinstance(a.where, str):
            f = _FIELD_OF.get(a.where)
        else:
            f = "io" if a.where == OFF_IO_PAGE and a.length == PAGE_SIZE else None
            if a.kind == "read" and a.where == OFF_HDR_DATA and isinstance(a.value, bytes):
                if a.length > SHARED_SIZE - OFF_HDR_DATA or HOST_MEMORY_PATTERN in a.value:
                    self.violate("adversary.in-bounds", f"the host read {a.length} header bytes at 0x804: past the shared area")
        self._host_wire(a, f)
        if self.divergence is not None:
            return
        if f is not None:
            try:
                if a.kind == "read" and f == "done":
                    obs.set_time(int(round((self.clock.now() - self.cmd_start) / QUANTUM)))
                if a.kind == "barrier":
                    obs.observe("barrier", f)
                elif a.kind == "read":
                    obs.observe("read", f, self._abstract(f, a), self.prov[f])
                else:
                    g = obs.observe("write", f, self._abstract(f, a))
                    self.prov[f] = g if g is not None else self.prov[f]
            except Divergence as d:
                self.divergence = d
        self._after_model_step()
        self.snap, self.snap_prov = bytes(self.mailbox), dict(self.prov)

    def _after_model_step(self) -> None:
        """Command bookkeeping after the model moved: starts, and the time of each return/timeout."""
        obs = self.observer
        if obs.windows == self.last_window and not obs.timeouts and not obs.returns:
            return  # most accesses: no command started or returned
        if obs.windows != self.last_window:  # first: a command may start and return in one step
            for w in range(self.last_window + 1, obs.windows + 1):
                self.window_starts[w] = self.clock.now()
            self.last_window = obs.windows
            self.cmd_start = self.window_starts[self.last_window]
        now = self.clock.now()
        for cid, w in obs.timeouts:
            start = self.window_starts.get(w, now)
            done_at = self.completed.get(cid)
            if done_at is not None and done_at < start + TIMEOUT - 1e-9:
                self.violate("timeout.no-false-timeout", f"command #{cid} timed out although the helper completed it "
                             f"{(done_at - start) / QUANTUM:.0f} quanta after it started (deadline {D_TICKS})")
            if now - start < TIMEOUT - 1e-9:
                self.violate("timeout.no-false-timeout", f"command #{cid} timed out after "
                             f"{(now - start) / QUANTUM:.0f} quanta, before its deadline ({D_TICKS})")
        obs.timeouts.clear()
        for cid, w in obs.returns:
            took = now - self.window_starts.get(w, now)
            if took > TIMEOUT + QUANTUM + 1e-9:
                self.violate("timeout.bounded-wait", f"command #{cid} returned after {took / QUANTUM:.0f} quanta "
                             f"(bound: deadline {D_TICKS} + 1 quantum)")
        obs.returns.clear()

    # --- operations -------------------------------------------------------------------
    def _op(self, op: int, g: int, schedule: Sequence, call: Callable[[], Any]) -> Any:
        acc0 = len(self.trace)
        prompt_at_start = self.clock.now() >= self.wake  # a helper not yet booted may still be "prompt"
        booted_at_start = self.booted
        self.schedule = [tuple(x) for x in schedule]
        self.op_access = 0
        self.wire_go_in_op, self.ret_read, self.op_failed = 0, False, False
        self.cmd_start = self.clock.now()
        start = self.clock.now()
        ids0 = self.observer.env["host.id"]
        out: Any = None
        failed = False
        if self.dead:
            return None
        if self.divergence is None:
            try:
                self.observer.choose(op=op, g=g)
            except Divergence as d:
                self.divergence = d
        try:
            out = call()
        except OperationFailed:
            failed = True
        except MemoryFault as e:
            self.violate("adversary.in-bounds", f"the host faulted: {e}")
            self.violate("robust", f"the host faulted: {e}")
            failed = self.dead = True
        except Exception as e:  # noqa: BLE001 - any other exception is a crash
            self.violate("robust", f"the host crashed: {type(e).__name__}: {e}")
            failed = self.dead = True
        if self.divergence is None and not self.dead:
            try:
                self.observer.finish(["idle"])
            except Divergence as d:
                self.divergence = d
            self._after_model_step()
        if self.wire_go_in_op and not self.ret_read:
            self.op_failed = True
        if self.op_failed and not failed and op in (1, 2):
            self.violate("adversary.error-no-data", "a command of this operation failed or timed out, and the "
                         "operation still reported success" + (" and emitted a record" if op == 1 else ""))
        # per operation too: the model counts its commands; once it has stopped at a divergence,
        # the gos published on the wire do (at least the two of an INIT and its command), so a
        # host that never gives up fails this by virtual time whatever else it does
        if self.divergence is None:
            ncmd = max(1, self.observer.env["host.id"] - ids0)
        else:
            ncmd = max(2, self.wire_go_in_op)
        elapsed = self.clock.now() - start
        if elapsed > ncmd * (TIMEOUT + QUANTUM) + 1e-9:
            self.violate("timeout.bounded-wait", f"an operation of {ncmd} command(s) took {elapsed / QUANTUM:.0f} quanta "
                         f"(bound {ncmd} x (deadline {D_TICKS} + 1 quantum))")
        for fl in self.observer.flags() - SYSTEM_FLAGS:
            self.violate(fl, self.flag_message(fl))
        self.observer.history.clear()
        self._check_barriers(acc0)
        # liveness.recovery: an operation started while the peer is prompt (awake; booted, or
        # booting strictly before the first command's deadline, in virtual time: a host that
        # makes fewer accesses per command is not judged by where the boot falls among them),
        # with no slow or late action of its own, must succeed
        booted_in_time = booted_at_start or (self.booted and self.booted_at < start + TIMEOUT - 1e-9)
        calm = prompt_at_start and booted_in_time and not any(
            a[0] in ("sleep", "silent", "serve") for _, a in self.schedule)
        if calm and failed:
            self.violate("liveness.recovery", "an operation failed although the helper had been prompt since before it started")
        return None if failed else (out if out is not None else True)

    def _check_barriers(self, start: int) -> None:
        """host/barriers: wmb between the parameters and go; rmb between seeing done and reading ret."""
        t = self.trace[start:]
        for i, line in enumerate(t):
            if line.startswith("host write go") and not any(x.startswith(("host barrier wmb", "host barrier mb"))
                                                            for x in t[max(0, i - 6):i]):
                self.violate("barriers", "the host wrote go with no write barrier after the parameters")
            if line.startswith("host read ret") and i > 0 and not t[i - 1].startswith(("host barrier rmb", "host barrier mb")):
                self.violate("barriers", "the host read ret with no read barrier after done")

    def save(self, g: int, schedule: Sequence = ()) -> Record | None:
        rec = self._op(1, g, schedule, lambda: self.host.save_page(GPA[g]))
        if isinstance(rec, Record):
            n = rec.emitted_hdr_len
            if n > HDR_MAX or n != len(rec.header):
                self.violate("adversary.header-bound", f"emitted header length {n} with {len(rec.header)} header bytes")
            if HOST_MEMORY_PATTERN in rec.header:
                self.violate("adversary.in-bounds", "the emitted header carries host memory from past the shared area")
            return rec
        return None

    def load(self, rec: Record, schedule: Sequence = ()) -> bool:
        return self._op(2, gpa_class(rec.gpa), schedule, lambda: self.host.load_page(rec)) is not None

    def cleanup(self, schedule: Sequence = ()) -> bool:
        ok = self._op(3, 0, schedule, self.host.cleanup) is not None
        if self.provision is not None:
            # the migration ended; what follows is its target side, whose helper is provisioned
            # for the same migration (the reference peer plays the source's and the target's
            # helper): its next session is that migration's first, where the records load
            self.peer.new_session(self.provision)
        return ok

    def progress_check(self, ok: bool, what: str) -> None:
        """With an honest, prompt peer an operation must succeed (liveness.honest-progress)."""
        if not ok:
            self.violate("liveness.honest-progress", f"{what} failed although the helper was honest and prompt")


# ====================================================================== helper under test
@attrs.define(eq=False)
class GuestRig(RigBase):
    """The implementation's helper against a scripted (possibly hostile) host.

    The rig publishes commands itself (the protocol of ``impl.protocol``) and calls the
    helper's ``poll_once``; scheduled host actions run before the helper's k-th access.
    """

    guest: Any = None
    observer: Observer = attrs.field(default=None)
    original: bytes = b""
    #: the provisioning the helper's sessions are opened on, and the one given for the next
    provision: Provision | None = None
    pending: Provision | None = None
    #: the session the helper must be in (docs/hardened.md, "Sessions and replays"): the
    #: model's epoch says when one opened; the rig follows with the key it must use
    cipher: SessionCipher | None = None
    session_epoch: int = 0
    schedule: list = attrs.field(factory=list)
    op_access: int = 0
    seq: int = 0
    ncmd: int = 0
    last_hdr: bytes = b""
    last_hdr_read: bytes = b""
    registry: dict = attrs.field(factory=dict)  # (header, page) -> (g, epoch, seq)
    accepted: dict = attrs.field(factory=dict)  # (epoch, gpa) -> newest seq the model accepted
    io_read: tuple | None = None  # (g, epoch, seq) of the page the helper last read, if sealed
    records: list = attrs.field(factory=list)  # (header, page, gpa) produced by ENCRYPT
    snap: bytes = b""
    snap_prov: dict = attrs.field(factory=dict)
    served: list = attrs.field(factory=list)  # per poll: the helper's accesses (kind, where)

    @classmethod
    def build(cls, impl: Implementation) -> "GuestRig":
        self = cls(impl)
        self.original = bytes(self.ram)
        if impl.protocol == "hardened":
            self.provision = Provision.generate()
        port = InstrumentedPort(memoryview(self.mailbox), "guest", self._hook, _Log(self._access))  # type: ignore[arg-type]
        self.guest = impl.make_guest(port, memoryview(self.ram), self.provision)
        self.observer = Observer(self.variant, "guest", peek=self._peek)
        self.snap, self.snap_prov = bytes(self.mailbox), dict(self.prov)
        for hook in BUILD_HOOKS:
            hook(self)
        self._guard(self.guest.start)
        return self

    # --- abstraction --------------------------------------------------------------------
    def _follow_sessions(self) -> None:
        """Open, on the rig's side, every session the model's helper opened since last asked:
        the first on the provisioning given last (migration 1), later ones on the same
        provisioning with the next migration number."""
        epoch = self.observer.env["guest.epoch"]
        while self.session_epoch < epoch:
            self.session_epoch += 1
            self.cipher, self.provision = next_session(self.cipher, self.provision, self.pending)
            self.pending = None

    def _page_tag(self, header: bytes, page: bytes, *, produced: bool) -> int:
        hint = self.observer.env["guest.gpa"]
        if self.impl.protocol != "hardened":
            return self.plain_tag(page, self.ram, hint, only_hint=produced) or val.FORGED
        pt = self.plain_tag(page, self.ram, hint, only_hint=produced)
        if pt is not None:
            return pt
        if produced:  # the helper just sealed it: which page, bound to which session
            self._follow_sessions()
            opened = open_seal(self.cipher, header, page)
            if opened is None:
                return val.FORGED
            h, plain = opened
            g = gpa_class(h.gpa)
            if g not in (val.G0, val.G1) or plain != self.ram[h.gpa:h.gpa + PAGE_SIZE]:
                return val.FORGED
            self.registry[(header, page)] = (g, self.session_epoch, h.seq)
            return 4 + 2 * self.session_epoch + g
        hit = self.registry.get((header, page))
        if hit is None:
            return val.FORGED
        g, epoch, seq = hit
        # a replay: a copy no newer than the newest the helper accepted for that gpa in that
        # session (the target cannot know what the source sealed since; docs/hardened.md)
        if seq <= self.accepted.get((epoch, g), 0):
            return val.FORGED
        return 4 + 2 * epoch + g

    def _io_tag(self, a: Access) -> int:
        if a.kind == "write":
            return self._page_tag(self.last_hdr, bytes(a.value), produced=True)  # type: ignore[arg-type]
        self.io_read = self.registry.get((self.last_hdr_read, bytes(a.value)))  # type: ignore[arg-type]
        return self._page_tag(self.last_hdr_read, bytes(a.value), produced=False)  # type: ignore[arg-type]

    def _note_acceptance(self) -> None:
        """Just before the helper writes ret: if the *model* carried out a DECRYPT (authentic
        page, RAM written), that copy is now the newest accepted for its gpa. Taken from the
        model, not from ret or the command the suite sent (a hostile host may have turned the
        DECRYPT into something else after go)."""
        env = self.observer.env
        if self.io_read is not None and env["guest.cmd"] == val.DECRYPT and env["guest.did"] == 1:
            g, epoch, seq = self.io_read
            self.accepted[(epoch, g)] = max(self.accepted.get((epoch, g), 0), seq)
        self.io_read = None

    def _peek(self, f: str) -> tuple[int, int]:
        if f == "io":
            n = _read_field(self.snap, "hdr_len")
            hdr = self.snap[OFF_HDR_DATA:OFF_HDR_DATA + n] if n <= HDR_SIZE else b""
            return self._page_tag(hdr, self.snap[OFF_IO_PAGE:], produced=False), self.snap_prov["io"]
        v = _read_field(self.snap, "cmd_type" if f == "cmd" else f)
        return (gpa_class(v) if f == "gpa" else v), self.snap_prov[f]

    # --- the helper's accesses -------------------------------------------------------
    def quiet_accesses(self) -> int:
        """How many of the helper's next accesses this rig runs no host action before: it acts
        only at the indices of its schedule (``op_access`` is the next one)."""
        return until_next(self.schedule, self.op_access)

    def _hook(self, a: Access) -> None:
        i = self.op_access
        self.op_access += 1
        for k, act in self.schedule:
            if k == i:
                self._run_action(act)

    def _access(self, a: Access) -> None:
        self.accesses += 1
        self.note(a)
        self.served.append((a.kind, a.where))
        if a.kind == "write" and a.where == OFF_HDR_DATA:
            self.last_hdr = bytes(a.value)  # type: ignore[arg-type]
        if a.kind == "read" and a.where == OFF_HDR_DATA:
            self.last_hdr_read = bytes(a.value)  # type: ignore[arg-type]
        if a.kind == "write" and a.where == "ret" and self.divergence is None and self.impl.protocol == "hardened":
            self._note_acceptance()
        if a.kind == "write" and a.where == OFF_IO_PAGE and isinstance(a.value, bytes):
            if a.value in private_pages(self.original):  # G0 and G1 (plain_tag's) among them
                self.violate("guest.confidential", "the helper wrote a private page's plaintext to the io page")
        if self.divergence is not None:
            return
        if a.kind == "barrier":
            f: str | None = str(a.where)
        elif isinstance(a.where, str):
            f = _FIELD_OF.get(a.where)
            if a.kind == "read" and f == "hdr_len":
                f = None  # filtered: the model folds the header into the io page tag
        else:
            f = "io" if a.where == OFF_IO_PAGE and a.length == PAGE_SIZE else None
        if f is not None:
            try:
                if a.kind == "barrier":
                    self.observer.observe("barrier", f)
                elif a.kind == "read":
                    self.observer.observe("read", f, self._abstract(f, a), self.prov[f])
                else:
                    g = self.observer.observe("write", f, self._abstract(f, a))
                    self.prov[f] = g if g is not None else self.prov[f]
            except Divergence as d:
                self.divergence = d
        self.snap, self.snap_prov = bytes(self.mailbox), dict(self.prov)

    def _guard(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - the helper must survive any host
            self.violate("robust", f"the helper crashed: {type(e).__name__}: {e}")
            return None

    # --- the scripted host ---------------------------------------------------------------
    def _host_write(self, name: str, value: int) -> None:
        _write_field(self.mailbox, name, value)
        self.prov[_FIELD_OF[name]] = 2 * self.ncmd

    def _run_action(self, act: Sequence[Any]) -> None:
        kind = act[0]
        self.events.append(f"host:{kind}")
        if kind == "param":  # change a parameter after go
            _, name, value = act
            self._host_write(name, GPA[value] if name == "gpa" else value)
        elif kind == "go":  # go written again (same value, or a new one) without waiting
            self._host_write("go", self.seq if self.impl.protocol == "hardened" else 1)
        elif kind == "flip":
            _, off, byte = act
            self.mailbox[OFF_IO_PAGE + off % PAGE_SIZE] ^= byte or 1
            self.prov["io"] = 2 * self.ncmd
        else:  # pragma: no cover
            raise ValueError(f"unknown host action {act!r}")

    def publish(self, cmd: int, gpa: int) -> None:
        """Publish one command as the protocol's host does (no waiting)."""
        self.ncmd += 1
        self._host_write("cmd_type", cmd)
        self._host_write("gpa", gpa)
        self._host_write("ret", -1)
        if self.impl.protocol == "hardened":
            self.seq += 1
            self._host_write("go", self.seq)
        else:
            self._host_write("done", 0)
            self._host_write("go", 1)

    def complete(self) -> bool:
        d = _read_field(self.mailbox, "done")
        return d == self.seq if self.impl.protocol == "hardened" else d != 0

    def command(self, cmd: int, g: int, schedule: Sequence = (), *, put: tuple[bytes, bytes] | None = None,
                polls: int = 3) -> int | None:
        """Put a request (DECRYPT), publish, let the helper poll until done; ret (None: no answer)."""
        self.schedule = [tuple(x) for x in schedule]
        self.op_access = 0
        if put is not None:
            hdr, page = put
            self._host_write("hdr_len", len(hdr))
            self.mailbox[OFF_HDR_DATA:OFF_HDR_DATA + len(hdr)] = hdr
            self.mailbox[OFF_IO_PAGE:OFF_IO_PAGE + PAGE_SIZE] = page
            self.prov["io"] = 2 * (self.ncmd + 1)
        self.publish(cmd, GPA.get(g, g))
        self.snap, self.snap_prov = bytes(self.mailbox), dict(self.prov)
        for _ in range(polls):
            self.served = []
            self._guard(self.guest.poll_once)
            self._check_barriers()
            if self.divergence is None:
                try:
                    self.observer.finish(["wait"])
                except Divergence as d:
                    self.divergence = d
            if self.complete():
                break
        if self.impl.protocol == "hardened":
            self._follow_sessions()  # before anyone gives the helper another provisioning
        for fl in self.observer.flags():
            self.violate(fl, self.flag_message(fl))
        if self.ram != self.original:
            self.violate("guest.integrity", "guest RAM no longer holds its own pages (a page not authentic for its gpa was written)")
        if not self.complete():
            return None
        ret = _read_field(self.mailbox, "ret")
        gc = gpa_class(GPA.get(g, g))
        if ret == Ret.OK and not self.schedule and cmd in (int(Cmd.ENCRYPT), int(Cmd.DECRYPT)) and gc not in (val.G0, val.G1):
            if gc == val.OUTSIDE or cmd == int(Cmd.ENCRYPT):  # read or wrote outside RAM, or the mailbox as RAM
                self.violate("guest.gpa-checked", f"{Cmd(cmd).name} at {val.GPA_NAMES[gc]} answered success")
            else:  # a RESTORE into the mailbox: skipped, yet "success"
                self.violate("guest.refusal-reported", f"DECRYPT at {val.GPA_NAMES[gc]} was not carried out, yet answered success")
        return ret

    def _check_barriers(self) -> None:
        """guest/barriers: rmb after go and before the parameters; wmb before done."""
        s = self.served
        if not any(k == "write" and w == "done" and True for k, w in s):
            return
        try:
            i_go = s.index(("read", "go"))
            i_cmd = s.index(("read", "cmd_type"))
        except ValueError:
            return
        if not {("barrier", "rmb"), ("barrier", "mb")} & set(s[i_go:i_cmd]):  # a full barrier does too
            self.violate("barriers", "the helper read the parameters with no read barrier after go")
        last_done = max(i for i, x in enumerate(s) if x == ("write", "done"))
        last_ret = max((i for i, x in enumerate(s) if x == ("write", "ret")), default=-1)
        if last_ret >= 0 and not {("barrier", "wmb"), ("barrier", "mb")} & set(s[last_ret:last_done]):
            self.violate("barriers", "the helper wrote done with no write barrier after ret")

    # --- helpers for the machines ---------------------------------------------------------
    def encrypt(self, g: int, schedule: Sequence = ()) -> int | None:
        ret = self.command(int(Cmd.ENCRYPT), g, schedule)
        if ret == Ret.OK and g in (val.G0, val.G1):
            n = _read_field(self.mailbox, "hdr_len")
            hdr = bytes(self.mailbox[OFF_HDR_DATA:OFF_HDR_DATA + min(n, HDR_MAX)])
            page = bytes(self.mailbox[OFF_IO_PAGE:OFF_IO_PAGE + PAGE_SIZE])
            self.records.append((hdr, page, g))
        return ret

    def decrypt(self, hdr: bytes, page: bytes, g: int, schedule: Sequence = ()) -> int | None:
        self.last_hdr_read = b""
        return self.command(int(Cmd.DECRYPT), g, schedule, put=(hdr, page))

    def new_migration(self) -> int | None:
        """A new migration as an honest host starts one: RESET if a session may be open,
        provisioning for the next session (hardened), then INIT."""
        if self.ncmd and self.command(int(Cmd.RESET), 0) != Ret.OK:
            return None
        if self.impl.protocol == "hardened":
            self.pending = Provision.generate()
            self.guest.new_migration(self.pending)
        return self.command(int(Cmd.INIT), 0)
