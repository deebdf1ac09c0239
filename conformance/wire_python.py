"""Our Python host or helper (or a mutant) as a process speaking mhmailbox-wire 1: a wire adapter in Python.

``python -m mhmailbox.conformance.wire_python [--side host|guest] [--impl rfc|hardened] [--mutant ID]``
runs the host of :mod:`mhmailbox.impl.host` (or the helper of :mod:`mhmailbox.impl.guest`, on the
RAM file too) on the mailbox file of the suite's hello, its port an
:class:`~mhmailbox.impl.memory.InstrumentedPort` whose hook announces each access before it is
made (and waits for the suite's answer to a read) and its clock the suite's. Two uses: a second
adapter to copy (beside examples/rust/), and a check of the wire itself: the same host must get
the same verdicts over the wire as in the suite's own process, and a mutant must still be caught.
"""
from __future__ import annotations

import argparse
import json
import mmap
import struct
import sys
from typing import IO, Any

import attrs

from mhmailbox.impl.crypto import Provision
from mhmailbox.impl.guest import GuestHelper
from mhmailbox.impl.host import Host, HostError
from mhmailbox.impl.memory import Access, InstrumentedPort
from mhmailbox.impl.stream import Record
from mhmailbox.model.layout import FIELDS, SHARED_SIZE

from .wire_format import GUEST_OPERATIONS, WIRE_OPERATIONS, WIRE_VERSION


@attrs.define
class Wire:
    """The process's end of the wire: announce an access, wait for the answer to a read or a clock read."""

    rx: IO[str]
    tx: IO[str]

    def say(self, d: dict) -> None:
        self.tx.write(json.dumps(d, separators=(",", ":")) + "\n")

    def ask(self, d: dict) -> dict:
        self.say(d)
        self.tx.flush()
        line = self.rx.readline()
        if not line:
            raise SystemExit(0)  # the suite is gone
        return json.loads(line)

    def announce(self, a: Access) -> None:
        """The port's hook: called before every access, with the value of a write."""
        if a.kind == "barrier":
            self.say({"ev": "barrier", "kind": a.where})
            return
        if isinstance(a.where, str):
            off, fmt = FIELDS[a.where]
            data = None if a.value is None else struct.pack(fmt, a.value)
        else:
            off, data = a.where, a.value
        if a.kind == "read":
            self.ask({"ev": "read", "off": off, "len": a.length})
        else:
            self.say({"ev": "write", "off": off, "data": bytes(data or b"").hex()})


@attrs.define
class WireClock:
    """The suite's virtual clock, in ns since its origin: integers, so that no rounding of a
    fraction of a second makes the host miss its deadline by one burst (``timeout`` is in ns too)."""

    wire: Wire
    origin_ns: int

    def now(self) -> float:
        return float(self.wire.ask({"ev": "clock"})["now_ns"] - self.origin_ns)

    def spent(self, seconds: float) -> None:
        """Nothing: the suite charges a burst of polls at the clock read after it."""


def serve(host: Host, wire: Wire) -> None:
    """Run the suite's operations on ``host`` until it closes the wire."""
    for line in wire.rx:
        op = json.loads(line)
        out: dict[str, Any] = {"result": "ok"}
        try:
            if op["op"] == "init":
                host.initialize() if not host.initialized else None
            elif op["op"] == "save":
                rec = host.save_page(op["gpa"])
                out.update(hdr_len=rec.emitted_hdr_len, header=rec.header.hex(), page=bytes(rec.page).hex())
            elif op["op"] == "load":
                host.load_page(Record(op["gpa"], bytes.fromhex(op["header"]), bytes.fromhex(op["page"]), op["hdr_len"]))
            elif op["op"] == "cleanup":
                reply = host.cleanup()
                if not reply.ok:
                    out = {"result": "failed", "error": f"RESET: {reply.status} ret={reply.ret}"}
        except HostError as e:
            out = {"result": "failed", "error": str(e)}
        wire.say(out)
        wire.tx.flush()


def serve_guest(helper: GuestHelper, wire: Wire) -> None:
    """Run the suite's helper operations until it closes the wire."""
    for line in wire.rx:
        op = json.loads(line)
        if op["op"] == "start":
            helper.start()
        elif op["op"] == "poll":
            helper.poll_once()
        elif op["op"] == "provision" and helper.mode == "hardened":
            helper.new_session(_provision(op["provision"]))
        wire.say({"result": "ok"})
        wire.tx.flush()


def _provision(d: dict | None) -> Provision | None:
    return None if d is None else Provision(bytes.fromhex(d["key"]), bytes.fromhex(d["session"]))


def _map(path: str, size: int) -> mmap.mmap:
    with open(path, "r+b") as f:
        return mmap.mmap(f.fileno(), size)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m mhmailbox.conformance.wire_python", description=__doc__.splitlines()[0])
    p.add_argument("--side", choices=("host", "guest"), default="host")
    p.add_argument("--impl", choices=("rfc", "hardened"), default="hardened")
    p.add_argument("--mutant", metavar="ID", help="a mutant of `mhmailbox conform --mutants` (of the side) instead")
    args = p.parse_args(argv)
    base = Host if args.side == "host" else GuestHelper
    cls, mode = base, args.impl
    if args.mutant:
        from .mutants import BY_ID

        m = BY_ID.get(args.mutant)
        cls = None if m is None else m.impl.host_cls if args.side == "host" else m.impl.guest_cls
        if cls is None or cls is base:
            p.error(f"no {args.side} mutant {args.mutant}")
        mode = "hardened"
    wire = Wire(sys.stdin, sys.stdout)
    hello = json.loads(sys.stdin.readline() or "{}")
    if hello.get("wire") != WIRE_VERSION:
        sys.exit(f"expected the suite's hello ({WIRE_VERSION})")
    shm = _map(hello["mailbox"], SHARED_SIZE)
    ops = WIRE_OPERATIONS if args.side == "host" else GUEST_OPERATIONS
    wire.say({"wire": WIRE_VERSION, "name": f"python {args.mutant or mode} {args.side}", "operations": list(ops)})
    wire.tx.flush()
    port = InstrumentedPort(memoryview(shm), args.side, wire.announce, None)
    if args.side == "guest":
        ram = memoryview(_map(hello["ram"], hello["ram_size"]))
        serve_guest(cls(port, ram, mode, _provision(hello["provision"]) if mode == "hardened" else None), wire)
        return
    clock = WireClock(wire, hello["clock_origin_ns"])
    serve(cls(port, mode, clock, timeout=float(hello["deadline_ns"]), burst=1), wire)


if __name__ == "__main__":
    main()
