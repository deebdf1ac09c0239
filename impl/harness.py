"""A deterministic, thread-free pairing of a host and a guest helper for tests.

Both sides use an :class:`~.memory.InstrumentedPort` on one in-memory mailbox and a
:class:`~.clock.VirtualClock`. The default schedule is "the helper serves as soon as
the host polls": whenever the host reads ``done``, the guest's ``poll_once`` runs
first (unless ``guest_enabled`` is False: a stalled or dead helper). ``inject`` is
called before *every* access of either side, so a test (or a conformance adapter)
can flip bytes, run extra peer steps or advance time at any point. ``log`` records
every completed access with its value.
"""
from __future__ import annotations

from typing import Callable

import attrs

from mhmailbox.model.layout import PAGE_SIZE, SHARED_SIZE

from .clock import VirtualClock
from .crypto import Provision
from .guest import GuestHelper, Mode
from .host import Host
from .memory import Access, InstrumentedPort


@attrs.define(eq=False)
class Lockstep:
    mode: Mode
    mailbox: bytearray
    ram: bytearray
    clock: VirtualClock
    guest: GuestHelper
    host: Host
    log: list[Access]
    guest_enabled: bool = True
    inject: Callable[[Access, "Lockstep"], None] | None = None

    @classmethod
    def build(cls, mode: Mode = "hardened", *, ram_pages: int = 16, provision: Provision | None = None,
              timeout: float = 0.1, quantum: float = 0.01, burst: int = 1, ram: bytearray | None = None) -> "Lockstep":
        """A fresh pair; ``provision`` defaults to a new one (hardened only)."""
        if mode == "hardened" and provision is None:
            provision = Provision.generate()
        mailbox = bytearray(SHARED_SIZE)
        ram = bytearray(ram_pages * PAGE_SIZE) if ram is None else ram
        log: list[Access] = []
        clock = VirtualClock()
        gport = InstrumentedPort(memoryview(mailbox), "guest", None, log)
        hport = InstrumentedPort(memoryview(mailbox), "host", None, log)
        guest = GuestHelper(gport, memoryview(ram), mode, provision if mode == "hardened" else None)
        host = Host(hport, mode, clock, timeout=timeout, burst=burst, quantum=quantum)
        self = cls(mode, mailbox, ram, clock, guest, host, log)
        gport.hook = self._hook
        hport.hook = self._hook
        guest.start()
        return self

    def _hook(self, a: Access) -> None:
        if self.inject is not None:
            self.inject(a, self)
        if self.guest_enabled and a.side == "host" and a.kind == "read" and a.where == "done":
            self.guest.poll_once()

    def commands(self) -> list[int]:
        """cmd_type values the host published, in order (from the log)."""
        return [int(a.value) for a in self.log if a.side == "host" and a.kind == "write" and a.where == "cmd_type"]  # type: ignore[arg-type]
