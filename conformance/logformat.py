"""The recorded-run log, ``mhmailbox-log 1`` (docs/log.md): JSON lines any source can write.

A log is what a run did, in one total order: a header line, then one line per event of
the host and/or the helper (reads with the bytes they saw, writes with their bytes,
barriers, clock reads, operations and their results, facts about the helper's RAM).
The events are the wire's (docs/wire.md), stamped with a global index ``i`` and the
side that made them, so a wire adapter, the C kit's runtime, the suite's rigs and our
own ``impl`` all write the same thing and :mod:`.logcheck` judges it against the model.

This module only reads and writes the format: :func:`parse_log` checks every line
(a :class:`LogFormatError` names the line), :class:`LogWriter` writes one.
"""
from __future__ import annotations

import json
import os
from typing import IO, Any, Iterable, Iterator

import attrs

from mhmailbox.model.layout import SHARED_SIZE

LOG_VERSION = "mhmailbox-log 1"
SIDES = ("host", "guest")
#: ev -> required fields (beside i, side, ev)
EVENTS: dict[str, tuple[str, ...]] = {
    "read": ("off", "len", "data"),
    "write": ("off", "data"),
    "barrier": ("kind",),
    "clock": ("now_ns",),
    "op": ("op",),
    "result": ("op", "result"),
    "ram": ("gpa", "data"),
    "provision": ("key", "session"),
}
HOST_OPS = ("init", "save", "load", "cleanup")
GUEST_OPS = ("start", "poll")
BARRIERS = ("wmb", "rmb", "mb")
#: ``writes`` in the header: "all" (every change of the mailbox is a write event, so reads are
#: checked against the writes before them) or "own" (only the listed sides' accesses are in it)
WRITES = ("all", "own")


class LogFormatError(Exception):
    """A line of the log is not ``mhmailbox-log 1``; ``line`` is its number (1 = the header)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@attrs.frozen
class LogHeader:
    """The first line: what was recorded, and how to read it."""

    protocol: str
    sides: tuple[str, ...]
    source: str
    deadline_ns: int
    writes: str
    #: the concrete response-header length a conforming helper writes (the model's HLEN_OK)
    hdr_len_ok: int | None = None
    #: guest RAM size in bytes (a gpa at or past it is outside RAM); None: unknown
    ram_size: int | None = None
    #: (transfer key, session id) the helper was provisioned with: lets the checker open its
    #: seals (a test's throwaway key; leave it out of a log of a real deployment)
    provision: tuple[bytes, bytes] | None = None

    def as_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"log": LOG_VERSION, "protocol": self.protocol, "sides": list(self.sides),
                             "source": self.source, "deadline_ns": self.deadline_ns, "writes": self.writes}
        if self.hdr_len_ok is not None:
            d["hdr_len_ok"] = self.hdr_len_ok
        if self.ram_size is not None:
            d["ram_size"] = self.ram_size
        if self.provision is not None:
            d["provision"] = {"key": self.provision[0].hex(), "session": self.provision[1].hex()}
        return d


@attrs.frozen
class LogEvent:
    """One event line. ``line`` is its line number in the file; ``data`` is decoded bytes."""

    line: int
    i: int
    side: str
    ev: str
    off: int = 0
    len: int = 0
    data: bytes = b""
    kind: str = ""
    now_ns: int = 0
    op: str = ""
    gpa: int | None = None
    result: str = ""
    error: str = ""
    #: "adversary": a write no side's program made (a hostile peer, a test rig's injection)
    by: str = ""
    #: which guest's mailbox (a migration has a source and a target): "" when there is one
    vm: str = ""


def _int(d: dict, key: str, line: int, lo: int = 0, hi: int | None = None) -> int:
    v = d.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < lo or (hi is not None and v > hi):
        bound = f" in [{lo}, {hi}]" if hi is not None else f" >= {lo}"
        raise LogFormatError(line, f"`{key}` must be an integer{bound}, got {json.dumps(v)[:60]}")
    return v


def _hex(d: dict, key: str, line: int) -> bytes:
    v = d.get(key)
    if not isinstance(v, str):
        raise LogFormatError(line, f"`{key}` must be a hex string, got {json.dumps(v)[:60]}")
    try:
        return bytes.fromhex(v)
    except ValueError:
        raise LogFormatError(line, f"`{key}` is not hex: {v[:60]!r}") from None


def _choice(d: dict, key: str, line: int, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    v = d.get(key)
    if v not in allowed:
        raise LogFormatError(line, f"`{key}` must be one of {', '.join(allowed)}, got {json.dumps(v)[:60]}")
    return v  # type: ignore[return-value]


def _object(text: str, line: int) -> dict:
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise LogFormatError(line, f"not JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(d, dict):
        raise LogFormatError(line, "not a JSON object")
    return d


def parse_header(text: str, line: int = 1) -> LogHeader:
    d = _object(text, line)
    if d.get("log") != LOG_VERSION:
        raise LogFormatError(line, f"the first line must be the header {{\"log\": \"{LOG_VERSION}\", ...}}, "
                                   f"got log={json.dumps(d.get('log'))[:60]}")
    protocol = d.get("protocol")
    if not isinstance(protocol, str) or not protocol:
        raise LogFormatError(line, "`protocol` must name the protocol (rfc, hardened)")
    sides = d.get("sides")
    if not isinstance(sides, list) or not sides or any(s not in SIDES for s in sides) or len(set(sides)) != len(sides):
        raise LogFormatError(line, f"`sides` must list host and/or guest, got {json.dumps(sides)[:60]}")
    source = d.get("source", "")
    if not isinstance(source, str):
        raise LogFormatError(line, "`source` must be a string")
    deadline = _int(d, "deadline_ns", line, 1)
    writes = d.get("writes", "all" if len(sides) == 2 else "own")
    if writes not in WRITES:
        raise LogFormatError(line, f"`writes` must be one of {', '.join(WRITES)}")
    hok = _int(d, "hdr_len_ok", line) if "hdr_len_ok" in d else None
    ram = _int(d, "ram_size", line, 1) if "ram_size" in d else None
    prov = _provision(d["provision"], line) if d.get("provision") is not None else None
    return LogHeader(protocol, tuple(sides), source, deadline, writes, hok, ram, prov)


def _provision(d: Any, line: int) -> tuple[bytes, bytes]:
    """A provisioning: ``{"key": 32 bytes hex, "session": 16 bytes hex}``."""
    if not isinstance(d, dict):
        raise LogFormatError(line, "`provision` is {\"key\": hex, \"session\": hex}")
    key, session = _hex(d, "key", line), _hex(d, "session", line)
    if len(key) != 32 or len(session) != 16:
        raise LogFormatError(line, "a provisioning is a 32-byte key and a 16-byte session id")
    return key, session


def parse_event(text: str, line: int) -> LogEvent:
    d = _object(text, line)
    i = _int(d, "i", line)
    side = _choice(d, "side", line, SIDES)
    ev = _choice(d, "ev", line, EVENTS)
    for k in EVENTS[ev]:
        if k not in d:
            raise LogFormatError(line, f"a {ev} event needs `{k}`")
    vm = d.get("vm", "")
    if not isinstance(vm, str):
        raise LogFormatError(line, "`vm` must be a string")
    kw: dict[str, Any] = {"vm": vm}
    if ev == "read":
        kw.update(off=_int(d, "off", line, 0, SHARED_SIZE - 1), len=_int(d, "len", line),
                  data=_hex(d, "data", line))
        if len(kw["data"]) != kw["len"]:
            raise LogFormatError(line, f"a read of {kw['len']} bytes with {len(kw['data'])} bytes of `data`")
    elif ev == "write":
        kw.update(off=_int(d, "off", line), data=_hex(d, "data", line))
        if not kw["data"]:
            raise LogFormatError(line, "a write of no bytes")
        kw["len"] = len(kw["data"])
        by = d.get("by", "")
        if by not in ("", "adversary"):
            raise LogFormatError(line, "`by` is \"adversary\" when present")
        kw["by"] = by
    elif ev == "barrier":
        kw["kind"] = _choice(d, "kind", line, BARRIERS)
    elif ev == "clock":
        kw["now_ns"] = _int(d, "now_ns", line)
    elif ev in ("op", "result"):
        kw["op"] = _choice(d, "op", line, HOST_OPS if side == "host" else GUEST_OPS)
        if "gpa" in d:
            kw["gpa"] = _int(d, "gpa", line)
        if ev == "result":
            kw["result"] = _choice(d, "result", line, ("ok", "failed"))
            err = d.get("error", "")
            kw["error"] = err if isinstance(err, str) else json.dumps(err)
        elif kw["op"] in ("save", "load") and kw.get("gpa") is None:
            raise LogFormatError(line, f"a {kw['op']} op needs `gpa`")
    elif ev == "ram":
        kw.update(gpa=_int(d, "gpa", line), data=_hex(d, "data", line))
    elif ev == "provision":
        key, session = _provision(d, line)
        kw.update(data=key + session)
    return LogEvent(line, i, side, ev, **kw)


def _lines(source: str | os.PathLike | Iterable[str]) -> Iterator[str]:
    if isinstance(source, (str, os.PathLike)):
        with open(source, encoding="utf-8") as f:
            yield from f
    else:
        yield from source


def parse_log(source: str | os.PathLike | Iterable[str]) -> tuple[LogHeader, list[LogEvent]]:
    """Read a whole log (a path, or its lines): the header and the events in order. Blank lines
    are skipped; ``i`` must increase strictly. :class:`LogFormatError` at the first bad line."""
    header: LogHeader | None = None
    events: list[LogEvent] = []
    last = -1
    for n, text in enumerate(_lines(source), 1):
        if not text.strip():
            continue
        if header is None:
            header = parse_header(text, n)
            continue
        e = parse_event(text, n)
        if e.side not in header.sides and header.writes == "own":
            raise LogFormatError(n, f"an event of the {e.side}, which the header's `sides` does not list")
        if e.i <= last:
            raise LogFormatError(n, f"`i` must increase from line to line: {e.i} after {last}")
        last = e.i
        events.append(e)
    if header is None:
        raise LogFormatError(1, "an empty log (no header line)")
    return header, events


@attrs.define(eq=False)
class LogWriter:
    """Writes a log: the header at once, then one line per call. ``counter`` (a callable
    returning the next global index) lets several writers in several processes share one
    order; by default the writer counts itself."""

    out: IO[str]
    header: LogHeader
    counter: Any = None
    n: int = 0

    def __attrs_post_init__(self) -> None:
        self.out.write(json.dumps(self.header.as_json()) + "\n")

    def event(self, side: str, ev: str, vm: str = "", **fields: Any) -> None:
        if self.counter is not None:
            i = self.counter()
        else:
            i = self.n
        self.n += 1
        d: dict[str, Any] = {"i": i, "side": side, "ev": ev}
        if vm:
            d["vm"] = vm
        for k, v in fields.items():
            if v is None:
                continue
            d[k] = v.hex() if isinstance(v, (bytes, bytearray, memoryview)) else v
        self.out.write(json.dumps(d) + "\n")

    def read(self, side: str, off: int, data: bytes, vm: str = "") -> None:
        self.event(side, "read", vm, off=off, len=len(data), data=bytes(data))

    def write(self, side: str, off: int, data: bytes, vm: str = "", by: str | None = None) -> None:
        self.event(side, "write", vm, off=off, data=bytes(data), by=by)

    def barrier(self, side: str, kind: str, vm: str = "") -> None:
        self.event(side, "barrier", vm, kind=kind)

    def clock(self, side: str, now_ns: int, vm: str = "") -> None:
        self.event(side, "clock", vm, now_ns=int(now_ns))

    def op(self, side: str, op: str, gpa: int | None = None, vm: str = "") -> None:
        self.event(side, "op", vm, op=op, gpa=gpa)

    def result(self, side: str, op: str, ok: bool, error: str | None = None, vm: str = "") -> None:
        self.event(side, "result", vm, op=op, result="ok" if ok else "failed", error=error or None)

    def ram(self, side: str, gpa: int, data: bytes, vm: str = "") -> None:
        self.event(side, "ram", vm, gpa=gpa, data=bytes(data))

    def provision(self, key: bytes, session: bytes, vm: str = "") -> None:
        self.event("guest", "provision", vm, key=bytes(key), session=bytes(session))


__all__ = ["EVENTS", "LOG_VERSION", "LogEvent", "LogFormatError", "LogHeader", "LogWriter", "parse_event",
           "parse_header", "parse_log"]
