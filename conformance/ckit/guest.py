"""Drive a built C helper, in its own process, as a GuestUnderTest on the rig's port and RAM.

One child process per helper object (so per Hypothesis example). The child runs the
helper's entry (``MigrationHandlerMain``), the usual loop that never returns, with guest
memory at its own gpas, as firmware sees it: the rig's RAM pages from ``RAM_LO`` (0x10000,
``vm.mmap_min_addr``: Linux maps nothing lower) as a memfd the suite maps too, the
unbacked gpas between the end of RAM and the mailbox (zeros; writes are lost, as the
Python helper's unbacked memory), and the mailbox at 0x820000. Any other address faults:
a crash of the case. The replay of the mailbox accesses is :mod:`.child`'s (shared with
the C host); the helper adds:

* **stepping**: every read of ``go`` goes to the suite (no read of it is folded), and the
  child is stopped there: ``start`` runs it from boot to its first read of ``go`` (its
  writes before that, e.g. the rfc helper clearing go, are replayed as they come);
  ``poll_once`` lets that read happen (a scheduling point, as every mailbox access) and
  runs one pass of the loop, to the next read of ``go``; True if ``done`` or ``ret`` was
  written in the pass;
* **guest RAM**: a write the child makes to RAM (seen through the instrumentation and
  the copies) marks it; at its next event the suite first copies the child's RAM into
  the rig's, so after every RAM write, and before any mailbox access after it, the rig's
  RAM holds the bytes. RAM accesses are not scheduling points: a host cannot touch
  private RAM, so a host action between a RAM access and the next mailbox access is
  indistinguishable from one at that mailbox access;
* **a full fence** (``MemoryFence``, EDK2's only barrier) is reported as what it is, ``mb``
  (the oracle and the barrier checks take it for the read or write barrier the procedure has);
* **provisioning**: ``MigrationProvisionGet`` answers with the newest provisioning the
  suite gave (at boot, then :meth:`new_migration`), as the Python helper's ``new_session``.
"""
from __future__ import annotations

import mmap
import os
from typing import Any

import attrs

from mhmailbox.impl.crypto import HDR_SIZE, Provision
from mhmailbox.impl.memory import InstrumentedPort, MemoryFault
from mhmailbox.model.layout import FIELDS

from .build import HELPER_ENTRY
from ..rig import GuestRig
from .child import (ANSWER_TIMEOUT, EV_PROVISION, EV_RAM, EV_READ, EV_RESULT, GO_ON, NO_FIELD, POLL_LIMIT,
                    CChildCrashed, Child, ChildImplementation)

#: The lowest gpa the child maps (Linux's vm.mmap_min_addr); the rig names no gpa below it.
RAM_LO = 0x10000
GO = (FIELDS["go"][0], 4)
_SERVED = {FIELDS["done"][0], FIELDS["ret"][0]}


@attrs.define(eq=False)
class CGuest(Child):
    """One child process running the built helper; the GuestUnderTest protocol."""

    ram: memoryview = attrs.field(default=None, kw_only=True)
    provision: Provision | None = attrs.field(default=None, kw_only=True)
    ram_map: mmap.mmap | None = None
    at_go: bool = False  # the child waits before a read of go
    served: bool = False  # done or ret written in this pass

    def __attrs_post_init__(self) -> None:
        self.who = "the C helper"
        top = len(self.ram)
        if top <= RAM_LO:
            raise ValueError(f"guest RAM of {top:#x} bytes ends below {RAM_LO:#x}, the lowest gpa a process can map")
        rfd = os.memfd_create("mhkit-ram")
        os.ftruncate(rfd, top - RAM_LO)
        self.ram_map = mmap.mmap(rfd, top - RAM_LO)
        self.ram_map[:] = self.ram[RAM_LO:]
        self._spawn({"MHKIT_POLL_OFF": str(NO_FIELD), "MHKIT_NOFOLD_OFF": str(GO[0]), "MHKIT_RAM_LO": str(RAM_LO),
                     "MHKIT_RAM_TOP": str(top), "MHKIT_RAM_FD": str(rfd)}, (rfd,))

    def stop(self) -> None:
        super().stop()
        if self.ram_map is not None:
            self.ram_map.close()
            self.ram_map = None

    def grant(self) -> int:
        """Accesses before the scripted host's next action: the rig's schedule is a list of
        (access index in the command, action), and it does nothing between (docs/ckit.md)."""
        return quiet_accesses(getattr(self.port.hook, "__self__", None))

    def on_write(self, off: int, n: int) -> None:
        if off in _SERVED:
            self.served = True

    def _event(self, kind: int, aux: int, off: int, n: int, val: int) -> Any:
        if kind == EV_READ:
            if (off, n) == GO:
                self.at_go = True
                return None  # one pass ends where the next begins
            self.read_now(off, n, waits=not aux)
        elif kind == EV_RAM:
            self.ram[RAM_LO:] = self.ram_map  # type: ignore[index]
            self._send(b"\0" * 8)
        elif kind == EV_PROVISION:
            p = self.provision
            if p is None:
                self._answer(1)
            else:
                self._answer(0, p.transfer_key + p.session_id)
        elif kind == EV_RESULT:
            raise self._fail(CChildCrashed(f"the C helper's entry returned ({val & 0xFFFFFFFF:#x}); a helper's "
                                           f"loop never ends, after access #{self.accesses} ({self.last_access})"))
        else:
            return super()._event(kind, aux, off, n, val)
        return GO_ON

    # --- GuestUnderTest --------------------------------------------------------------
    def start(self) -> None:
        """Boot: run the helper to its first read of go."""
        self._check_alive()
        self._serve()

    def poll_once(self) -> bool:
        """Let the waiting read of go happen, run one pass of the loop; True if a command was served."""
        self._check_alive()
        self.served = False
        if self.at_go:
            self.at_go = False
            try:
                self.read_now(*GO)
            except MemoryFault as e:
                raise self._fail(e)
        self._serve()
        return self.served

    def new_migration(self, provision: Provision | None) -> None:
        """The provisioning ``MigrationProvisionGet`` answers from now on (it takes effect at the
        INIT that opens the next session, as the helper asks for it then)."""
        if provision is not None:
            self.provision = provision


def quiet_accesses(rig: Any) -> int:
    """How many of the helper's next accesses need no round trip: what a :class:`GuestRig` says
    (:meth:`GuestRig.quiet_accesses`); 0 for any other hook (a test's own), whose actions the
    kit cannot foresee."""
    return rig.quiet_accesses() if type(rig) is GuestRig else 0


@attrs.frozen
class CGuestImplementation(ChildImplementation):
    """A built C helper as an :class:`Implementation`; each ``make_guest`` is a fresh child."""

    def make_host(self, port: Any, clock: Any, *, timeout: float, quantum: float) -> Any:
        raise NotImplementedError("a C helper has no host side: check a C host with c_host")

    def make_guest(self, port: InstrumentedPort, ram: memoryview, provision: Provision | None) -> CGuest:
        return self._fresh(lambda: CGuest(self.build, port, self.answer_timeout, self.poll_limit, server=self.server,
                                          run_ahead=self.run_ahead, ram=ram, provision=provision))


def c_guest(sources: list[str] | str, protocol: str = "hardened", *, entry: str = HELPER_ENTRY,
            defines: tuple[str, ...] = (), cflags: tuple[str, ...] = (), answer_timeout: float = ANSWER_TIMEOUT,
            poll_limit: int = POLL_LIMIT) -> CGuestImplementation:
    """Build C helper file(s) and describe them as an Implementation (the reproducers call this)."""
    from .build import build

    srcs = [sources] if isinstance(sources, str) else list(sources)
    b = build(srcs, defines=defines, cflags=cflags, helper_entry=entry)
    name = "c:" + ",".join(os.path.basename(s) for s in srcs)
    return CGuestImplementation(name, protocol, 0 if protocol == "rfc" else HDR_SIZE, build=b,
                                answer_timeout=answer_timeout, poll_limit=poll_limit)



