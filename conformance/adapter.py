"""The interface an implementation under test provides: host side and guest side.

The conformance suite never calls an implementation's internals. It hands the
implementation a *port* on the 8 KiB mailbox (the published layout of
:mod:`mhmailbox.model.layout`), a virtual clock and, for a helper, guest RAM and a
provisioned session, and then drives it through the small protocols below. Every
mailbox access the implementation makes goes through the port, which calls the
suite's hook *before* the access (a scheduling point: the suite may run the peer,
flip bytes or advance the clock there) and appends the completed access, with the
value read or written, to the suite's log.

**Wire, for implementations in another language or process.** The port is the
contract: the layout (offsets, widths, little-endian) plus one event per access. A
process speaks it as JSON lines (``mhmailbox-wire 1``, :mod:`.wire`, docs/wire.md):
it maps the mailbox file, announces each access before making it, and waits for the
suite's answer to a read (the scheduling point). :func:`access_to_json` is the form of
a *recorded* access (the log of a run), not the wire.
Host operations end normally or raise :class:`OperationFailed`; any other
exception is a crash.
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import attrs

from mhmailbox.impl.clock import VirtualClock
from mhmailbox.impl.crypto import HDR_SIZE, Provision
from mhmailbox.impl.guest import GuestHelper
from mhmailbox.impl.host import Host, HostError
from mhmailbox.impl.memory import Access, InstrumentedPort
from mhmailbox.impl.stream import Record


class OperationFailed(Exception):
    """A host operation failed cleanly (timed out, refused, bad response): no record, no success."""


@runtime_checkable
class HostUnderTest(Protocol):
    """The host (VMM) side. Each method is one operation; all shared accesses via the port."""

    def initialize(self) -> None: ...
    def save_page(self, gpa: int) -> Record: ...
    def load_page(self, record: Record) -> None: ...
    def cleanup(self) -> None: ...
    def new_migration(self) -> None: ...


@runtime_checkable
class GuestUnderTest(Protocol):
    """The guest helper. ``start`` once at boot; ``poll_once`` reads go once and serves at most
    one command completely (no blocking); ``new_migration`` installs a new provisioned session."""

    def start(self) -> None: ...
    def poll_once(self) -> bool: ...
    def new_migration(self, provision: Provision | None) -> None: ...


#: The host operations the cases draw, one state-machine rule each.
HOST_OPERATIONS = frozenset({"save", "load", "cleanup"})


@attrs.frozen
class Implementation:
    """How to build one implementation's host and helper on the suite's port and clock.

    ``protocol`` names the model variant that is its oracle (``rfc`` or ``hardened``);
    ``valid_hdr_len`` is the response-header length its helper writes (the model's
    abstract valid length stands for it).
    """

    name: str
    protocol: str
    valid_hdr_len: int
    host_cls: type = Host
    guest_cls: type = GuestHelper

    @property
    def operations(self) -> frozenset[str]:
        """The host operations it has: the cases draw only these (a host written elsewhere, e.g.
        the published C file, may have no load), and a check that needs another is not run."""
        return HOST_OPERATIONS

    def operation_name(self, op: str) -> str:
        """How a report names operation ``op`` of this implementation."""
        return f"a {op} operation"

    def make_host(self, port: InstrumentedPort, clock: VirtualClock, *, timeout: float, quantum: float) -> "ImplHost":
        return ImplHost(self.host_cls(port, self.protocol, clock, timeout=timeout, burst=1, quantum=quantum))

    def make_guest(self, port: InstrumentedPort, ram: memoryview, provision: Provision | None) -> "ImplGuest":
        return ImplGuest(self.guest_cls(port, ram, self.protocol, provision if self.protocol == "hardened" else None))


@attrs.define
class ImplHost:
    """Adapter for :class:`mhmailbox.impl.host.Host` (both modes)."""

    host: Host

    def initialize(self) -> None:
        try:
            self.host.initialize()
        except HostError as e:
            raise OperationFailed(str(e)) from e

    def save_page(self, gpa: int) -> Record:
        try:
            return self.host.save_page(gpa)
        except HostError as e:
            raise OperationFailed(str(e)) from e

    def load_page(self, record: Record) -> None:
        try:
            self.host.load_page(record)
        except HostError as e:
            raise OperationFailed(str(e)) from e

    def cleanup(self) -> None:
        try:
            reply = self.host.cleanup()
        except HostError as e:
            raise OperationFailed(str(e)) from e
        if not reply.ok:
            raise OperationFailed(f"RESET: {reply.status} ret={reply.ret}")

    def new_migration(self) -> None:
        """The same host object goes on to another migration (nothing to do for this host)."""


@attrs.define
class ImplGuest:
    """Adapter for :class:`mhmailbox.impl.guest.GuestHelper` (both modes)."""

    helper: GuestHelper

    def start(self) -> None:
        self.helper.start()

    def poll_once(self) -> bool:
        return self.helper.poll_once()

    def new_migration(self, provision: Provision | None) -> None:
        if provision is not None and self.helper.mode == "hardened":
            self.helper.new_session(provision)


RFC = Implementation("rfc", "rfc", 0)
HARDENED = Implementation("hardened", "hardened", HDR_SIZE)
IMPLEMENTATIONS: dict[str, Implementation] = {"rfc": RFC, "hardened": HARDENED}


def access_to_json(a: Access) -> dict[str, Any]:
    """One access as a JSON-lines event (the wire form of the log)."""
    v = a.value
    return {"side": a.side, "kind": a.kind, "where": a.where, "len": a.length,
            "value": v.hex() if isinstance(v, (bytes, bytearray)) else v}


def access_from_json(d: dict[str, Any]) -> Access:
    v = d.get("value")
    if isinstance(d["where"], int) and isinstance(v, str):
        v = bytes.fromhex(v)
    return Access(d["side"], d["kind"], d["where"], d["len"], v)


def dump_jsonl(accesses: list[Access]) -> str:
    """A run's accesses as JSON lines (the wire form, e.g. to attach to a bug report)."""
    import json

    return "".join(json.dumps(access_to_json(a)) + "\n" for a in accesses)


def load_jsonl(text: str) -> list[Access]:
    import json

    return [access_from_json(json.loads(line)) for line in text.splitlines() if line.strip()]
