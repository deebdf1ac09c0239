"""A stress run's log: the two sides' binary records merged into one order, then ``mhmailbox-log 1``.

Each process of a run writes its own records (:mod:`.stress_native`, ``mhstress_core.c``);
every record carries its number from the run's shared counter, so sorting the union by
number gives the one order in which the accesses hit the shared bytes. :func:`parse` reads
them as dicts close to the log format (docs/log.md), plus what only the stress checks use:
the stream items the host emitted (``put``), its error reports, and ``fault`` (a read
reaching more than 1 MiB past the shared area: a real host would have crashed there);
:func:`to_log` writes the format, which :func:`model_checks` hands to ``check-log``.

:func:`record_checks` judges what the host emitted, as the suite's rig does after a save:
``adversary.header-bound`` (the emitted length over 1024, or not the number of header bytes
that follow; or, as the model's flag has it, reads of the length in one save that saw
different values) and ``adversary.in-bounds`` (a read past the shared area, host memory in
the header, a fault).
"""
from __future__ import annotations

import json
from typing import Any, Iterable

import attrs

from mhmailbox.impl.memory import HOST_MEMORY_PATTERN
from mhmailbox.model.layout import HDR_MAX, OFF_HDR_LEN, SHARED_SIZE

from .ckit.host import PUBLISHED_DEADLINE_NS
from .logformat import LogHeader
from .stress_peers import RAM_SIZE as HELPER_RAM
from .stress_native import (BARRIER, BARRIER_NAME, CLOCK, ERROR, FAULT, OP, OP_NAME, PUT, RAM, READ, REC, RESULT,
                            WRITE)

_PUT_KIND = {0: "buffer", 1: "be32", 2: "be64", 3: "byte"}
#: Lines of the log shown before and after a violation.
EXCERPT_BEFORE, EXCERPT_AFTER = 12, 2


def parse(raw: bytes, side: str) -> list[dict[str, Any]]:
    """One process's records as log lines (a record cut short by the process's end is dropped)."""
    out: list[dict[str, Any]] = []
    pos, n = 0, len(raw)
    while pos + REC.size <= n:
        i, kind, aux, off, length = REC.unpack_from(raw, pos)
        pos += REC.size
        dlen = 0
        if kind in (READ, PUT, ERROR, RAM):
            dlen = length
        elif kind == WRITE:
            dlen = max(0, min(length, SHARED_SIZE - off))
        if pos + dlen > n:
            break
        data = raw[pos:pos + dlen]
        pos += dlen
        ev: dict[str, Any] = {"i": i, "side": side}
        if kind == READ:
            ev.update(ev="read", off=off, len=length, data=data.hex())
        elif kind == WRITE:
            ev.update(ev="write", off=off, data=data.hex())
        elif kind == BARRIER:
            ev.update(ev="barrier", kind=BARRIER_NAME.get(aux, "mb"))
        elif kind == CLOCK:
            ev.update(ev="clock", now_ns=off)
        elif kind == PUT:
            ev.update(ev="put", kind=_PUT_KIND.get(aux, "buffer"), data=data.hex())
        elif kind == OP:
            ev.update(op=OP_NAME.get(aux, str(aux)), **({"gpa": off} if OP_NAME.get(aux) in ("save", "load") else {}))
        elif kind == RESULT:
            ret = aux - (1 << 32) if aux >= 1 << 31 else aux
            ev.update(result="ok" if ret == 0 else "failed", ret=ret)
        elif kind == ERROR:
            ev.update(ev="error", text=data.decode("utf-8", "replace"))
        elif kind == FAULT:
            ev.update(ev="fault", off=off, len=length)
        elif kind == RAM:
            ev.update(ev="ram", gpa=off, data=data.hex())
        else:
            continue
        out.append(ev)
    return out


def merge(*sides: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sides' lines in the run's one order (the shared counter's numbers)."""
    return sorted((e for s in sides for e in s), key=lambda e: e["i"])


def attach_records(lines: list[dict[str, Any]], side: str) -> None:
    """Fold each save's stream items into its result line, as the wire's save result has them
    (``hdr_len``, ``header``, ``page``: what the host emitted); the ``put`` lines stay."""
    items: list[dict[str, Any]] = []
    op = None
    for e in lines:
        if e["side"] != side:
            continue
        if "op" in e:
            op, items = e["op"], []
        elif e.get("ev") == "put":
            items.append(e)
        elif "result" in e and op == "save" and e["result"] == "ok":
            emitted = _emitted(items)
            if emitted is not None:
                e.update(emitted)


def _emitted(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """be32 length, header, be32 size, page: the published record's layout."""
    if len(items) < 4 or items[0]["kind"] != "be32" or items[2]["kind"] != "be32":
        return None
    return {"hdr_len": int(items[0]["data"], 16), "header": items[1]["data"], "page": items[3]["data"]}


@attrs.frozen
class Violation:
    """A property the run broke: where in the log (the line's ``i``) and why."""

    property: str
    message: str
    i: int
    side: str

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def record_checks(lines: list[dict[str, Any]], side: str = "host") -> list[Violation]:
    """What the host emitted and read, judged as the suite's rig judges a save; and, as the
    model judges it (the flag of its step that emits the page), a save whose reads of the
    header length did not all see the same value."""
    out: list[Violation] = []
    lengths: list[tuple[int, int]] = []  # (i, value) of this save's reads of hdr_len
    for e in lines:
        if e["side"] != side:
            continue
        if "op" in e:
            lengths = []
        elif e.get("ev") == "read" and e["off"] == OFF_HDR_LEN and e["len"] == 4:
            v = int.from_bytes(bytes.fromhex(e["data"]), "little")
            if lengths and v != lengths[0][1] and all(x == lengths[0][1] for _, x in lengths):
                out.append(Violation("adversary.header-bound", f"the host read the header length {len(lengths) + 1} "
                                     f"times in one save and saw {lengths[0][1]} (access {lengths[0][0]}), then {v}: "
                                     f"a double fetch the helper can race", e["i"], side))
            lengths.append((e["i"], v))
        if e.get("ev") == "fault":
            out.append(Violation("adversary.in-bounds", f"the host read {e['len']} bytes at mailbox offset "
                                 f"{e['off']:#x}, more than 1 MiB past the shared area (a real host crashes)",
                                 e["i"], side))
        elif e.get("ev") == "read" and e["off"] + e["len"] > SHARED_SIZE:
            out.append(Violation("adversary.in-bounds", f"the host read {e['len']} bytes at mailbox offset "
                                 f"{e['off']:#x}: past the shared area", e["i"], side))
        elif "hdr_len" in e:
            n, header = e["hdr_len"], bytes.fromhex(e["header"])
            if n > HDR_MAX or n != len(header):
                out.append(Violation("adversary.header-bound", f"emitted header length {n} with {len(header)} "
                                     f"header bytes", e["i"], side))
            if HOST_MEMORY_PATTERN in header:
                out.append(Violation("adversary.in-bounds", "the emitted header carries host memory from past "
                                     "the shared area", e["i"], side))
    return out


def to_log(lines: list[dict[str, Any]], protocol: str, source: str) -> list[str]:
    """The run as ``mhmailbox-log 1`` (docs/log.md), one JSON string per line, header first: both
    sides, every write in it. Stream items and error reports go into their operation's result
    (its ``error``); a read reaching more than 1 MiB past the shared area (a fault: nothing was
    read) has no event of the format and is judged by :func:`record_checks` alone."""
    head = LogHeader(protocol, ("host", "guest"), source, PUBLISHED_DEADLINE_NS, "all", ram_size=HELPER_RAM)
    out = [json.dumps(head.as_json())]
    op: dict[str, str] = {}
    errors: dict[str, list[str]] = {"host": [], "guest": []}
    for e in lines:
        side = e["side"]
        if "op" in e:
            op[side], errors[side] = e["op"], []
            d: dict[str, Any] = {"i": e["i"], "side": side, "ev": "op", "op": e["op"]}
            if "gpa" in e:
                d["gpa"] = e["gpa"]
        elif "result" in e:
            d = {"i": e["i"], "side": side, "ev": "result", "op": op.get(side, "save"), "result": e["result"]}
            if errors[side] or e["result"] == "failed":
                d["error"] = "; ".join(errors[side]) or f"returned {e.get('ret')}"
        elif e.get("ev") == "error":
            errors[side].append(e["text"])
            continue
        elif e.get("ev") in ("read", "write", "barrier", "clock", "ram"):
            if e.get("ev") == "write" and not e["data"]:
                continue  # a write wholly past the shared area: the process faulted on it
            d = {k: v for k, v in e.items() if k != "by"}
        else:  # put, fault
            continue
        out.append(json.dumps(d))
    return out


def model_checks(log: list[str], protocol: str, side: str) -> tuple[list[Violation], dict[str, Any] | None]:
    """The log judged by ``check-log`` (:func:`~.logcheck.check_log`, the suite's model as the
    oracle) on ``side``: its violations, and its divergence (None if the model followed)."""
    from .logcheck import check_log

    rep = check_log(log, protocol, side=side)
    at = [json.loads(x).get("i", 0) for x in log]  # line n of the log is at[n - 1]
    vs = [Violation(v.prop, v.message, at[min(v.line, len(at)) - 1], v.side) for v in rep.violations]
    div = rep.divergence
    if div is not None and div.get("i") is None:
        div = dict(div, i=at[-1])
    return vs, div


def excerpt(log: list[str], i: int, before: int = EXCERPT_BEFORE, after: int = EXCERPT_AFTER) -> list[str]:
    """The log's lines around the event numbered ``i``, each cut to 160 characters."""
    at = [json.loads(x).get("i", -1) for x in log]
    k = next((n for n, x in enumerate(at) if x >= i), len(log) - 1)
    return [_short(x) for x in log[max(1, k - before):k + after + 1]]


def _short(text: str, n: int = 160) -> str:
    return text if len(text) <= n else text[:n - 3] + "..."
