"""Judge a recorded run (``mhmailbox-log 1``, :mod:`.logformat`) against the model: trace validation.

The oracle is the suite's: one :class:`~mhmailbox.model.observe.Observer` per judged side
(the model's own host or helper thread), fed each access abstracted as the rigs abstract
it (gpa classes, header lengths, page tags, provenance ghosts). Nothing here is a second
transition relation: this module only replays the log's memory and hands the model what
each side saw.

Memory: with ``writes: all`` every change of the shared area is in the log, so each read
must be explained by the writes before it under the chosen memory model (docs/log.md):

* ``sc``: a read sees the last write to its bytes in the log's order;
* ``tso`` (x86): each side's writes go through a FIFO store buffer that drains in program
  order, as late as the reads allow; a side sees its own buffered writes; ``mb`` drains;
* ``relaxed`` (Arm-like): as ``tso``, but a side's buffered writes to different places may
  drain in any order, except across its ``wmb``/``mb``.

A read no write explains is a divergence (the log is not a run of that memory model, or it
was edited). Provenance ghosts travel with the writes: a read's ghost is the ghost of the
write it saw, which is how ``order.response`` is judged on a run of both sides.
"""
from __future__ import annotations

import os
import struct
from collections import defaultdict
from typing import Any, Iterable

import attrs

from mhmailbox.impl.crypto import Provision
from mhmailbox.model import values as val
from mhmailbox.model.layout import FIELDS, HDR_MAX, OFF_HDR_DATA, OFF_HDR_LEN, OFF_IO_PAGE, PAGE_SIZE, SHARED_SIZE, in_shared_area
from mhmailbox.model.observe import Divergence, Observer
from mhmailbox.model.variants import OP_CLEANUP, OP_LOAD, OP_SAVE, VARIANTS

from .logformat import LogEvent, LogFormatError, LogHeader, parse_log
from .sessions import next_session, open_seal

#: the rigs' scaling: the deadline is D_TICKS model ticks (conformance/rig.py)
D_TICKS = 4
MEMORY_MODELS = ("sc", "tso", "relaxed")
#: monitors a log does not judge: those resting on system ghosts one side's observer does not
#: have (the rigs judge them by virtual time), and honest progress, which presumes a prompt
#: helper (a log does not say whether the helper was slow on purpose)
SYSTEM_FLAGS = frozenset({"timeout.no-false-timeout", "liveness.recovery", "liveness.honest-progress"})
_MODEL_FIELD = {"cmd_type": "cmd", "gpa": "gpa", "ret": "ret", "go": "go", "done": "done", "hdr_len": "hdr_len"}
#: (offset, width) -> (layout name, model field)
_AT = {(off, struct.calcsize(fmt)): (name, _MODEL_FIELD.get(name)) for name, (off, fmt) in FIELDS.items()}
_OPS = {"save": OP_SAVE, "load": OP_LOAD, "cleanup": OP_CLEANUP}
_HLEN_DEFAULT = {"rfc": 0, "hardened": 68}


@attrs.frozen
class Violation:
    prop: str
    line: int
    side: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"property": self.prop, "line": self.line, "side": self.side, "message": self.message}


@attrs.define
class LogReport:
    """What :func:`check_log` found. ``verdict``: ``conforms`` (exit 0), ``violated`` or
    ``diverges`` (exit 1)."""

    source: str
    protocol: str
    memory: str
    sides: tuple[str, ...]
    events: int = 0
    accesses: int = 0
    divergence: dict | None = None
    violations: list[Violation] = attrs.field(factory=list)
    judged: tuple[str, ...] = ()
    notes: list[str] = attrs.field(factory=list)

    @property
    def verdict(self) -> str:
        if self.divergence is not None:
            return "diverges"
        return "violated" if self.violations else "conforms"

    @property
    def exit_status(self) -> int:
        return 0 if self.verdict == "conforms" else 1

    def as_json(self) -> dict[str, Any]:
        return {"log": self.source, "protocol": self.protocol, "memory": self.memory, "sides": list(self.sides),
                "verdict": self.verdict, "events": self.events, "accesses": self.accesses,
                "divergence": self.divergence, "violations": [v.as_json() for v in self.violations],
                "properties_judged": list(self.judged), "notes": self.notes}


@attrs.define(eq=False)
class _Pending:
    """A write not yet visible to the other side (tso, relaxed)."""

    off: int
    data: bytes
    ghost: int
    fence: int  # the writer's barrier count when it wrote (relaxed: order across barriers)
    line: int


@attrs.define(eq=False)
class _Judge:
    """One side judged by its model thread."""

    side: str
    obs: Observer
    lines: list[int] = attrs.field(factory=list)  # observer access number - 1 -> log line
    flagged: set[str] = attrs.field(factory=set)


class _Mailbox:
    """One guest's shared area in the log (``vm``): memory, buffers, ghosts, judges."""

    def __init__(self, chk: "_Checker", vm: str) -> None:
        self.chk, self.vm = chk, vm
        self.mem = bytearray(SHARED_SIZE)
        self.ghost: dict[str, int] = defaultdict(int)  # model field -> ghost of the committed write
        self.buf: dict[str, list[_Pending]] = {"host": [], "guest": []}
        self.fences: dict[str, int] = {"host": 0, "guest": 0}
        self.judges: dict[str, _Judge] = {}
        variant = VARIANTS[chk.protocol](deadline=D_TICKS, quantum=1)
        for side in chk.judge_sides:
            j = _Judge(side, Observer(variant, side, peek=lambda f, side=side: self._peek(side, f)))
            self.judges[side] = j
        self.clock = 0  # the host's last clock read
        self.cmd_start = 0
        #: a command's deadline window opened and the host has not accessed the mailbox since: its
        #: next clock read is the command's start (hosts read the clock as they begin a command)
        self.start_pending = False
        self.starts: dict[int, int] = {}  # deadline window -> when it started (the host's clock)
        self.windows = 0
        self.go_count = 0  # host gos seen on the wire (ghosts of a side not judged)
        self.serving = 0  # the ghost of the go the helper last read
        self.hdr_written = b""  # the helper's last response header
        self.hdr_read: dict[str, bytes] = {"host": b"", "guest": b""}
        self.guest_gpa = 0  # the concrete gpa the helper last read
        self.io_read: tuple | None = None  # registry entry of the page the helper last read
        self.snaps: dict[str, tuple] = {}  # side -> (memory, its buffer, ghosts) at its last access
        self.frozen: tuple[bytes, dict] | None = None  # memory and ghosts as last copied
        self.recent: dict[str, list] = {"host": [], "guest": []}  # each side's last accesses (barriers)
        p = chk.header.provision
        self.seals = _Seals(Provision(*p) if p is not None else None)
        if "host" in self.judges:
            self._model("host", None, lambda o: o.choose(role=0))

    # --- the model --------------------------------------------------------------------
    def _model(self, side: str, e: LogEvent | None, fn) -> Any:
        j = self.judges.get(side)
        if j is None:
            return None
        try:
            out = fn(j.obs)
        except Divergence as d:
            self.chk.diverged(self, j, d, e)
            del self.judges[side]
            return None
        if e is not None and j.obs.accesses > len(j.lines):
            j.lines.extend([e.line] * (j.obs.accesses - len(j.lines)))
        for prop in sorted(j.obs.flags() - SYSTEM_FLAGS - j.flagged):
            j.flagged.add(prop)
            at = j.obs.flag_at.get(prop)
            line = e.line if e is not None else 1
            where = ""
            if at is not None:
                line = j.lines[at[0] - 1] if 0 < at[0] <= len(j.lines) else line
                where = f" by model step {at[1]} ({at[2]})"
            self.chk.violate(prop, line, side, f"the {side}'s model monitor v.{prop} was set at line {line}{where}")
        if side == "host":
            if j.obs.windows != self.windows:
                self.windows = j.obs.windows
                self.cmd_start = self.clock
                self.start_pending = True
                self.starts[self.windows] = self.clock
            self._early_timeouts(j, e)
        return out

    def _early_timeouts(self, j: _Judge, e: LogEvent | None) -> None:
        """timeout.no-false-timeout, the half a log shows: a command the host gave up before its
        own clock had passed the deadline (the model takes an elided poll as that claim)."""
        dl = self.chk.header.deadline_ns
        for cid, w in j.obs.timeouts:
            took = self.clock - self.starts.get(w, self.cmd_start)
            if took < dl:
                self.chk.violate("timeout.no-false-timeout", e.line if e is not None else 1, "host",
                                 f"command #{cid} timed out {took / 1e6:.3f} ms after it started by the host's own "
                                 f"clock reads, before its deadline ({dl / 1e6:.3f} ms)")
        j.obs.timeouts.clear()

    def _peek(self, side: str, f: str) -> tuple[int, int]:
        """What ``side`` would have read of model field ``f`` at its previous access (a read the
        model may elide: the implementation decided on what it had seen then)."""
        mem, buf, ghost = self.snaps.get(side) or (bytes(self.mem), list(self.buf[side]), dict(self.ghost))
        if f == "io":
            n = struct.unpack_from("<I", mem, OFF_HDR_LEN)[0]
            hdr = bytes(mem[OFF_HDR_DATA:OFF_HDR_DATA + n]) if n <= HDR_MAX else b""
            page, _ = _view_in(mem, buf, OFF_IO_PAGE, PAGE_SIZE)
            return self.io_tag("peek", page, hdr), ghost.get("io", 0)
        name = "cmd_type" if f == "cmd" else f
        off, fmt = FIELDS[name]
        data, g = _view_in(mem, buf, off, struct.calcsize(fmt))
        return self.abstract(name, f, data), ghost.get(f, 0) if g is None else g

    def snapshot(self, side: str) -> None:
        """Keep what ``side`` sees now, for :meth:`_peek` after its next access (memory is copied
        only when a write reached it since the last copy)."""
        if self.frozen is None:
            self.frozen = (bytes(self.mem), dict(self.ghost))
        self.snaps[side] = (self.frozen[0], list(self.buf[side]), self.frozen[1])

    # --- abstraction ------------------------------------------------------------------
    def gpa_class(self, gpa: int) -> int:
        if gpa == 0:
            return val.G0
        if in_shared_area(gpa):
            return val.MAILBOX
        if self.chk.header.ram_size is not None and gpa >= self.chk.header.ram_size:
            return val.OUTSIDE
        return val.G0 if (gpa // PAGE_SIZE) % 2 == 0 else val.G1

    def hlen(self, v: int) -> int:
        if v == self.chk.hdr_len_ok:
            return val.HLEN_OK
        return val.HLEN_OK + 1 if v == val.HLEN_OK else v

    def abstract(self, name: str, f: str, data: bytes) -> int:
        v = struct.unpack(FIELDS[name][1], data)[0]
        if f == "gpa":
            return self.gpa_class(v)
        if f == "hdr_len":
            return self.hlen(v)
        return v

    def io_tag(self, side: str, page: bytes, header: bytes) -> int:
        """A page's tag as the model names it: a private page's plaintext (from ``ram`` events),
        a page a helper sealed earlier in this log (not a replay of an older copy), else FORGED."""
        plain = self.chk.plain(page)
        if plain is not None:
            return plain
        hit = self.chk.registry.get((header, page))
        if hit is None:
            if self.chk.header.writes == "own" and side == "guest":
                j = self.judges.get("guest")  # the host's writes are not in the log: trust the seal
                if j is not None and self.chk.protocol == "hardened":
                    return 4 + 2 * j.obs.env["guest.epoch"] + self.gpa_class(self.guest_gpa)
            return val.FORGED
        tag, epoch, gpa, seq = hit
        if side == "guest":
            self.io_read = hit
            if seq is not None and seq <= self.chk.accepted.get((epoch, gpa), -1):
                return val.FORGED  # a replay of a copy no newer than one accepted
        return tag

    def _expected_io(self) -> int:
        """The io tag the helper's model writes here (a seal the log cannot open is taken as it)."""
        j = self.judges.get("guest")
        if j is None:
            return val.FORGED
        o = j.obs
        for c in o._write_block() or [o._steps[o.env[o.pc_var]]]:  # noqa: SLF001 - the model's own step
            mem = c.step.mem
            if getattr(mem, "field", None) == "io" and c.value is not None:
                return int(c.value(o.env, {}))
        return val.FORGED

    # --- memory -----------------------------------------------------------------------
    def _commit(self, side: str, p: _Pending) -> None:
        """``p`` reaches memory: after the writes its side must drain first, and after every
        write to the same bytes made earlier in the log (one place's writes reach memory in the
        log's order)."""
        if p not in self.buf[side]:
            return
        q = self.buf[side]
        for x in list(q[:q.index(p)]):
            if self.chk.memory != "relaxed" or x.fence < p.fence or _overlap(x, p):
                self._commit(side, x)
        for other, oq in self.buf.items():
            if other != side:
                for x in [x for x in oq if x.line < p.line and _overlap(x, p)]:
                    self._commit(other, x)
        self.buf[side].remove(p)
        self.frozen = None
        self.mem[p.off:p.off + len(p.data)] = p.data
        for f in _fields_in(p.off, len(p.data)):
            self.ghost[f] = p.ghost

    def _view(self, side: str, off: int, n: int) -> tuple[bytes, int | None]:
        """The bytes ``side`` would read now (memory, then its own buffered writes), and the ghost
        of its own newest buffered write covering them (None: from memory)."""
        return _view_in(self.mem, self.buf[side], off, n)

    def _drainable(self, side: str, off: int, n: int, overlapping_only: bool = False) -> _Pending | None:
        """The next buffered write of ``side`` to commit to explain a read of [off, off+n) (what must
        reach memory before it, :meth:`_commit` commits first): tso the oldest, relaxed the oldest
        that touches the read; ``overlapping_only``: only one that touches it."""
        q = self.buf[side]
        touching = [p for p in q if p.off < off + n and off < p.off + len(p.data)]
        if overlapping_only or self.chk.memory == "relaxed":
            return touching[0] if touching else (None if overlapping_only or not q else q[0])
        return q[0] if q else None

    def read(self, e: LogEvent) -> int | None:
        """Check a read against the writes before it; the ghost of what it saw."""
        n = min(e.len, SHARED_SIZE - e.off)
        if self.chk.header.writes == "own":
            return None
        other = "guest" if e.side == "host" else "host"
        while True:
            view, g = self._view(e.side, e.off, n)
            if view == e.data[:n]:
                return g
            # not its own buffered write: those it overlaps reached memory before what it read
            p = self._drainable(e.side, e.off, n, overlapping_only=True) or self._drainable(other, e.off, n)
            if p is None:
                break
            self._commit(e.side if p in self.buf[e.side] else other, p)
        self.chk.memory_divergence(self, e, view)
        return None

    def write(self, e: LogEvent, ghost: int) -> None:
        n = min(e.len, SHARED_SIZE - e.off)
        if n <= 0:
            return  # wholly past the shared area (reported as adversary.in-bounds)
        p = _Pending(e.off, e.data[:n], ghost, self.fences[e.side], e.line)
        if self.chk.memory == "sc" or e.by:
            self.buf[e.side].append(p)
            self._commit(e.side, p)
        else:
            self.buf[e.side].append(p)

    def barrier(self, side: str, kind: str) -> None:
        self.fences[side] += 1
        if kind == "mb" or (self.chk.memory == "sc"):
            for p in list(self.buf[side]):
                self._commit(side, p)

    # --- events -----------------------------------------------------------------------
    def clock_read(self, e: LogEvent) -> None:
        if e.side == "host":
            self.clock = e.now_ns
            if self.start_pending:
                self.cmd_start = self.starts[self.windows] = e.now_ns

    def access(self, e: LogEvent) -> None:
        if e.side == "host":
            self.start_pending = False
        name, f = _AT.get((e.off, e.len), (None, None))
        if e.off == OFF_IO_PAGE and e.len == PAGE_SIZE:
            name = f = "io"
        if e.off + e.len > SHARED_SIZE:
            what = "read" if e.ev == "read" else "wrote"
            self.chk.violate("adversary.in-bounds", e.line, e.side,
                             f"the {e.side} {what} {e.len} bytes at {e.off:#x}: past the 8 KiB shared area")
        if e.side in self.chk.judge_sides and not e.by:
            self.barriers(e, (e.ev, name))
        if e.ev == "read":
            self._read(e, name, f)
        else:
            self._write(e, name, f)
        self.snapshot(e.side)

    def barriers(self, e: LogEvent, what: tuple) -> None:
        """``barriers``, judged on the accesses as the suite's rigs judge it: the host's wmb among
        the few accesses before go and rmb right before ret; the helper's rmb between go and the
        parameters, wmb between ret and done."""
        seen = self.recent[e.side]
        fence = {"write": ("wmb", "mb"), "read": ("rmb", "mb")}
        if what == ("write", "go") and e.side == "host" and not any(x in fence["write"] for x in seen[-6:]):
            self.chk.violate("barriers", e.line, "host", "the host wrote go with no write barrier after the parameters")
        elif what == ("read", "ret") and e.side == "host" and (not seen or seen[-1] not in fence["read"]):
            self.chk.violate("barriers", e.line, "host", "the host read ret with no read barrier after done")
        elif e.side == "guest" and what in (("read", "cmd_type"), ("write", "done")):
            after = ("read", "go") if what[1] == "cmd_type" else ("write", "ret")
            kinds = fence["read" if what[1] == "cmd_type" else "write"]
            since = seen[len(seen) - 1 - seen[::-1].index(after):] if after in seen else None
            if since is not None and not any(x in kinds for x in since):
                self.chk.violate("barriers", e.line, "guest", "the helper read the parameters with no read barrier "
                                 "after go" if what[1] == "cmd_type" else "the helper wrote done with no write "
                                 "barrier after ret")
        if what == ("read", "go") and e.side == "guest":
            seen.clear()  # the helper's next command starts at its read of go
        seen.append(what if what[0] != "barrier" else what[1])
        del seen[:-64]

    def _read(self, e: LogEvent, name: str | None, f: str | None) -> None:
        seen = self.read(e)
        if e.off == OFF_HDR_DATA:
            self.hdr_read[e.side] = e.data[:min(e.len, HDR_MAX)]
        if f is None or (e.side == "guest" and f == "hdr_len"):
            return  # filtered: the model folds the header into the io page's tag
        if f == "io":
            v = self.io_tag(e.side, e.data, self.hdr_read[e.side])
        else:
            v = self.abstract(name, f, e.data)  # type: ignore[arg-type]
        if seen is None:
            seen = self.ghost[f] if self.chk.header.writes == "all" else self._favourable(e.side)
        if e.side == "guest":
            if f == "go":
                self.serving = seen
            elif f == "gpa":
                self.guest_gpa = struct.unpack("<Q", e.data)[0]
        if e.side == "host" and f == "done" and "host" in self.judges:
            dl = self.chk.header.deadline_ns
            self.judges["host"].obs.set_time((self.clock - self.cmd_start) * D_TICKS // dl)
        self._model(e.side, e, lambda o: o.observe("read", f, v, seen))

    def _favourable(self, side: str) -> int:
        """A log of one side: the peer's values are taken as written for the command in flight."""
        j = self.judges.get("host")
        if side == "host" and j is not None:
            return 2 * j.obs.env["host.id"] + 1
        return 0

    def _write(self, e: LogEvent, name: str | None, f: str | None) -> None:
        ghost: int | None = None
        if e.side == "guest" and e.off == OFF_HDR_DATA:
            self.hdr_written = e.data
        if e.side == "guest" and "guest" in self.chk.judge_sides and f == "io" and not e.by \
                and self.chk.plain(e.data) is not None:
            self.chk.violate("guest.confidential", e.line, "guest",  # judged on the bytes, model or not
                             "the helper wrote a private page's plaintext (a `ram` event's bytes) to the io page")
        if e.by:
            ghost = 1
        elif f is not None and e.side in self.judges:
            if f == "io":
                v = self.io_tag("write", e.data, self.hdr_written if e.side == "guest" else self.hdr_read["host"])
                if e.side == "guest" and self.chk.plain(e.data) is None:
                    sealed = self.seals.tag(self, self.hdr_written, e.data)
                    if sealed is not None:
                        v = sealed  # opened with the log's provisioning
                    elif v == val.FORGED:
                        v = self._expected_io()  # no key: taken as the seal the model writes
                if e.side == "guest":
                    self._register(e.data, v)
            else:
                v = self.abstract(name, f, e.data)  # type: ignore[arg-type]
            if e.side == "guest" and f == "ret" and self.chk.protocol == "hardened":
                self._note_acceptance()
            ghost = self._model(e.side, e, lambda o: o.observe("write", f, v))
        elif f == "io" and e.side == "guest":
            self._register(e.data, val.FORGED)
        if ghost is None:  # not judged (or diverged): provenance on the wire, as the rigs keep it
            if e.side == "host":
                if f == "go":
                    self.go_count += 1
                    ghost = 2 * self.go_count
                else:
                    ghost = 2 * (self.go_count + 1)
            else:
                ghost = self.serving + 1
        self.write(e, ghost)

    def _register(self, page: bytes, tag: int) -> None:
        from mhmailbox.impl.crypto import PageHeader

        seq = None
        try:
            seq = PageHeader.parse(self.hdr_written).seq
        except Exception:  # noqa: BLE001 - an rfc response has no header; a bad one has no seq
            pass
        j = self.judges.get("guest")
        epoch = j.obs.env["guest.epoch"] if j is not None else 0
        self.chk.registry.setdefault((self.hdr_written, page), (tag, (self.vm, epoch), self.guest_gpa, seq))

    def _note_acceptance(self) -> None:
        j = self.judges.get("guest")
        if j is not None and self.io_read is not None and j.obs.env["guest.cmd"] == val.DECRYPT \
                and j.obs.env["guest.did"] == 1:
            _, sealed_in, gpa, seq = self.io_read  # keyed as the copy was sealed (vm, session)
            if seq is not None:
                self.chk.accepted[(sealed_in, gpa)] = max(self.chk.accepted.get((sealed_in, gpa), -1), seq)
        self.io_read = None

    def op(self, e: LogEvent) -> None:
        if e.side == "host":
            if e.op == "init":
                self._model("host", e, lambda o: _raise(Divergence(
                    o.accesses, "op init", o.at, o.expected(), o.state(),
                    "the model's host has no init operation (it sends INIT inside its first save or load)")))
                return
            g = val.G0 if e.gpa is None else self.gpa_class(e.gpa)
            if g not in (val.G0, val.G1):
                self.chk.report.notes.append(f"line {e.line}: a {e.op} of a gpa outside private RAM: the model's host "
                                      "only saves and loads private pages")
            self._model("host", e, lambda o: o.choose(op=_OPS[e.op], g=g if g in (val.G0, val.G1) else val.G0))

    def result(self, e: LogEvent) -> None:
        if e.side == "host":
            self._model("host", e, lambda o: o.finish(["idle"]))
        elif e.op == "poll":
            self._model("guest", e, lambda o: o.finish(["wait"]))


@attrs.define(eq=False)
class _Seals:
    """With the log's provisioning: the helper's sessions, followed as its model opens them (the
    first on the provisioning given last, migration 1; later ones the next migration of the same,
    as the suite's rig follows them), so that the pages it seals can be opened and named."""

    provision: Provision | None
    pending: Provision | None = None
    cipher: Any = None
    epoch: int = 0

    def tag(self, box: "_Mailbox", header: bytes, page: bytes) -> int | None:
        """The tag of a page the helper sealed; None when the log has no key."""
        j = box.judges.get("guest")
        if self.provision is None and self.pending is None or j is None:
            return None
        while self.epoch < j.obs.env["guest.epoch"]:
            self.epoch += 1
            self.cipher, self.provision = next_session(self.cipher, self.provision, self.pending)
            self.pending = None
        opened = open_seal(self.cipher, header, page)
        if opened is None:
            return val.FORGED
        h, plain = opened
        g = box.gpa_class(h.gpa)
        known = box.chk.ram_at.get(h.gpa)
        if g not in (val.G0, val.G1) or (known is not None and plain != known):
            return val.FORGED
        return 4 + 2 * self.epoch + g


def _view_in(mem: bytes | bytearray, buf: list[_Pending], off: int, n: int) -> tuple[bytes, int | None]:
    b = bytearray(mem[off:off + n])
    g = None
    for p in buf:
        lo, hi = max(off, p.off), min(off + n, p.off + len(p.data))
        if lo < hi:
            b[lo - off:hi - off] = p.data[lo - p.off:hi - p.off]
            g = p.ghost
    return bytes(b), g


def _overlap(a: _Pending, b: _Pending) -> bool:
    return a.off < b.off + len(b.data) and b.off < a.off + len(a.data)


def _raise(exc: Exception) -> None:
    raise exc


def _fields_in(off: int, n: int) -> list[str]:
    out = [f for (o, w), (_, f) in _AT.items() if f is not None and o < off + n and off < o + w]
    if off < OFF_IO_PAGE + PAGE_SIZE and OFF_IO_PAGE < off + n:
        out.append("io")
    return out


class _Checker:
    def __init__(self, header: LogHeader, protocol: str, side: str | None, memory: str, source: str) -> None:
        self.header, self.protocol, self.memory = header, protocol, memory
        self.judge_sides = (side,) if side else header.sides
        self.hdr_len_ok = header.hdr_len_ok if header.hdr_len_ok is not None else _HLEN_DEFAULT.get(protocol, 0)
        self.report = LogReport(source, protocol, memory, self.judge_sides)
        self.boxes: dict[str, _Mailbox] = {}
        self.ram: dict[bytes, int] = {}  # a private page's bytes -> its gpa class
        self.ram_at: dict[int, bytes] = {}  # gpa -> a private page's bytes
        self.registry: dict[tuple[bytes, bytes], tuple] = {}
        self.accepted: dict[tuple, int] = {}

    def box(self, vm: str) -> _Mailbox:
        if vm not in self.boxes:
            self.boxes[vm] = _Mailbox(self, vm)
        return self.boxes[vm]

    def plain(self, page: bytes) -> int | None:
        g = self.ram.get(bytes(page))
        return None if g is None else g + 1  # PLAIN(g)

    def violate(self, prop: str, line: int, side: str, message: str) -> None:
        if not any(v.prop == prop for v in self.report.violations):
            self.report.violations.append(Violation(prop, line, side, message))

    def diverged(self, box: _Mailbox, j: _Judge, d: Divergence, e: LogEvent | None) -> None:
        if self.report.divergence is not None:
            return
        line = e.line if e is not None else 1
        self.report.divergence = {"line": line, "i": e.i if e is not None else None, "side": j.side, "vm": box.vm,
                                  "kind": "model", **d.as_dict()}

    def memory_divergence(self, box: _Mailbox, e: LogEvent, view: bytes) -> None:
        if self.report.divergence is not None:
            return
        last = max((p.line for q in box.buf.values() for p in q), default=None)
        self.report.divergence = {
            "line": e.line, "i": e.i, "side": e.side, "vm": box.vm, "kind": "memory",
            "observed": f"read {e.len} bytes at {e.off:#x} = {_short(e.data)}",
            "model_at": None, "model_expects": [f"{_short(view)} (what the writes before it leave there under "
                                                f"{self.memory})"],
            "why": f"no write in the log explains the value read under {self.memory}"
                   + ("" if last is None else f" (the newest write still buffered is on line {last})"),
            "model_state": {}}

    def run(self, events: list[LogEvent]) -> LogReport:
        r = self.report
        for e in events:
            r.events += 1
            if self.report.divergence is not None:
                continue  # the first divergence ends the judgement; count the rest
            box = self.box(e.vm)
            if e.ev in ("read", "write"):
                r.accesses += 1
                box.access(e)
            elif e.ev == "barrier":
                r.accesses += 1
                box.barrier(e.side, e.kind)
                if e.side in self.judge_sides:
                    box.barriers(e, ("barrier", e.kind))
                if e.side == "host":
                    box.start_pending = False
                box._model(e.side, e, lambda o: o.observe("barrier", e.kind))  # noqa: SLF001
                box.snapshot(e.side)
            elif e.ev == "clock":
                box.clock_read(e)
            elif e.ev == "op":
                box.op(e)
            elif e.ev == "result":
                box.result(e)
            elif e.ev == "ram":
                if len(e.data) == PAGE_SIZE:
                    g = box.gpa_class(e.gpa)  # type: ignore[arg-type]
                    self.ram_at[e.gpa] = bytes(e.data)  # type: ignore[index]
                    if g in (val.G0, val.G1):
                        self.ram[bytes(e.data)] = g
            elif e.ev == "provision":
                box.seals.pending = Provision(e.data[:32], e.data[32:])
        props: set[str] = set()
        for box in self.boxes.values() or [self.box("")]:
            for side in self.judge_sides:
                props |= _monitors(self.protocol, side)
        direct = {"adversary.in-bounds"} | ({"memory"} if self.header.writes == "all" else set()) \
            | ({"timeout.no-false-timeout"} if "host" in self.judge_sides else set()) | {"barriers"}
        r.judged = tuple(sorted(props | direct))
        return r


def _monitors(protocol: str, side: str) -> set[str]:
    """The properties whose monitors are in this side's model thread (those a log judges)."""
    obs = Observer(VARIANTS[protocol](deadline=D_TICKS, quantum=1), side)
    out = set()
    for st in obs.thread.steps:
        for k, _ in st.updates:
            if k.startswith("v."):
                out.add(k[2:])
    return out - SYSTEM_FLAGS


def _short(b: bytes) -> str:
    h = b.hex()
    return h if len(h) <= 24 else h[:24] + f"... ({len(b)} bytes)"


def check_log(source: str | os.PathLike | Iterable[str], protocol: str | None = None, side: str | None = None,
              memory: str = "sc") -> LogReport:
    """Judge a log (a path or its lines) against the model of ``protocol`` (default: the header's).
    ``side``: judge only that side (default: the header's ``sides``). Raises
    :class:`~.logformat.LogFormatError` for a malformed log, ValueError for a bad argument."""
    if memory not in MEMORY_MODELS:
        raise ValueError(f"memory is one of {', '.join(MEMORY_MODELS)}")
    if side not in (None, "host", "guest"):
        raise ValueError("side is host or guest")
    header, events = parse_log(source)
    if protocol is None:
        protocol = header.protocol
    if protocol not in VARIANTS:
        raise ValueError(f"unknown protocol {protocol!r} (known: {', '.join(sorted(VARIANTS))})")
    if header.protocol != protocol:
        raise LogFormatError(1, f"the log was recorded with protocol {header.protocol}, not {protocol}")
    if side is not None and side not in header.sides:
        raise LogFormatError(1, f"the log's sides are {', '.join(header.sides)}: it has no complete {side} to judge")
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<lines>"
    return _Checker(header, protocol, side, memory, name).run(events)


__all__ = ["LogReport", "MEMORY_MODELS", "Violation", "check_log"]
