"""The guest migration helper (the firmware side), in two modes.

``rfc`` follows the published OVMF loop exactly, weaknesses included: it clears ``go``
at start, copies pages in plaintext, checks no address on SAVE, silently skips (and
reports success for) a RESTORE into the mailbox, uses no fences and never writes the
response header.

``hardened`` is the fixed protocol: ``go`` carries the host's sequence number and the
helper never writes it; a command is due when ``go`` is neither 0 nor the last seq
served; it reads ``go``, fences, reads each parameter once; ENCRYPT/DECRYPT need a
successful INIT since the last RESET; a gpa inside the shared area or outside RAM is an
error; pages leave encrypted (:mod:`.crypto`) with a response header that echoes seq,
gpa and cmd; DECRYPT verifies before anything reaches RAM; then ret, fence, done=seq.

The helper is steppable (``poll_once``: at most one command, no blocking) for a
deterministic harness, and has a real loop (``run``) for its own process.
"""
from __future__ import annotations

import time
from typing import Callable, ClassVar, Literal

import attrs

from mhmailbox.model.layout import (
    OFF_IO_PAGE,
    PAGE_SIZE,
    SHARED_GPA,
    SHARED_SIZE,
    Cmd,
    Ret,
    in_shared_area,
)

from .crypto import HDR_SIZE, AuthError, Provision, SessionCipher
from .memory import Port

Mode = Literal["rfc", "hardened"]
MODES: tuple[Mode, ...] = ("rfc", "hardened")

_INIT, _ENCRYPT, _DECRYPT, _RESET = int(Cmd.INIT), int(Cmd.ENCRYPT), int(Cmd.DECRYPT), int(Cmd.RESET)
_OK, _INVALID, _AUTH = int(Ret.OK), int(Ret.INVALID), int(Ret.AUTH)


@attrs.define(eq=False)
class GuestHelper:
    """One migration helper: a mailbox port plus the guest's (private) RAM.

    ``ram`` is guest-physical memory from gpa 0; the shared area at ``SHARED_GPA`` is
    the mailbox itself (reached through ``port``), whatever RAM holds there.
    """

    port: Port
    ram: memoryview
    mode: Mode = "hardened"
    provision: Provision | None = attrs.field(default=None, repr=False)
    #: hardened: the last ``go`` value served (0: none yet)
    last_seq: int = 0
    #: hardened: a successful INIT since the last RESET
    initialized: bool = False
    #: hardened: sessions opened on the current provisioning (0: none yet)
    migration: int = 0
    #: commands completed (for tests and statistics)
    served: int = 0
    _cipher: SessionCipher | None = attrs.field(default=None, init=False, repr=False)
    _accepted: dict[int, int] = attrs.field(factory=dict, init=False, repr=False)
    _next: Provision | None = attrs.field(default=None, init=False, repr=False)
    _ct: bytearray = attrs.field(factory=lambda: bytearray(PAGE_SIZE + 16), init=False, repr=False)
    _pt: bytearray = attrs.field(factory=lambda: bytearray(PAGE_SIZE), init=False, repr=False)
    _ct_page: memoryview = attrs.field(init=False, repr=False)
    #: how pages are sealed and opened for a session (the conformance mutants swap it)
    cipher_class: ClassVar[type[SessionCipher]] = SessionCipher

    def __attrs_post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if self.mode == "hardened":
            if self.provision is None:
                raise ValueError("a hardened helper needs a Provision (transfer key, session id)")
        self._ct_page = memoryview(self._ct)[:PAGE_SIZE]

    def new_session(self, provision: Provision) -> None:
        """Hardened: provisioning for the next migration; it takes effect at the next INIT
        that opens a session (a session already open runs on until RESET)."""
        self._next = provision

    def _init(self) -> None:
        """INIT: open the next session unless one is open (a retried INIT changes nothing).

        A session is (provisioning, migration number): its own key, an empty replay window.
        The number is counted here, not sent by the host, so both helpers of a migration
        agree on it; a host that makes them disagree only loses the migration."""
        if not self.initialized:
            if self._next is not None:
                self.provision, self._next, self.migration = self._next, None, 0
            assert self.provision is not None
            self.migration += 1
            self._cipher = self.cipher_class(self.provision, self.migration)
            self._accepted = {}
        self.initialized = True

    # --- stepping ---------------------------------------------------------------
    def start(self) -> None:
        """What the helper does once when it boots: rfc clears ``go`` (a go written earlier is lost)."""
        if self.mode == "rfc":
            self.port.write("go", 0)

    def poll_once(self) -> bool:
        """Read ``go`` once; if a command is due, serve it completely. True if one was served."""
        g = self.port.read("go")
        if g == 0 or (self.mode == "hardened" and g == self.last_seq):
            return False
        self._serve(g)
        return True

    serve_one = poll_once

    def run(
        self,
        should_stop: Callable[[], bool],
        *,
        burst: int = 256,
        spin_bursts: int = 40,
        min_sleep: float = 50e-6,
        max_sleep: float = 1e-3,
        short_naps_for: float = 0.05,
    ) -> None:
        """Serve commands until ``should_stop()``, polling like a vCPU.

        Spin ``spin_bursts`` bursts of ``burst`` reads (yielding the CPU between bursts,
        which costs ~1 us when nobody else wants it); then nap ``min_sleep`` at a time
        for ``short_naps_for`` seconds (a host that lost its CPU for a moment finds the
        helper still quick), then back off exponentially to ``max_sleep`` so an idle
        helper does not starve the host of a core. ``should_stop`` is consulted only
        while idle. Call ``start`` first (once, at boot).
        """
        port = self.port
        rfc = self.mode == "rfc"
        poll = port.poll_ne
        await_command = port.await_command  # hardened: go, rmb, cmd_type, gpa in one grouped access
        execute = self._execute
        idle = 0
        nap = min_sleep
        idle_since = 0.0
        while True:
            if rfc:
                g = poll("go", 0, 0, burst)
                if g is not None:
                    self._serve_rfc(g)
            else:
                got = await_command(self.last_seq, burst)
                g = None
                if got is not None:
                    g = got[0]
                    execute(*got)
            if g is not None:
                self.served += 1
                idle = 0
                nap = min_sleep
                continue
            idle += 1
            if idle >= spin_bursts:
                if idle == spin_bursts:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > short_naps_for:
                    nap = min(nap * 2, max_sleep)
                if should_stop():
                    return
                time.sleep(nap)

    # --- commands -------------------------------------------------------------------
    def _serve(self, g: int) -> None:
        if self.mode == "rfc":
            self._serve_rfc(g)
        else:
            self._serve_hardened(g)
        self.served += 1

    def _serve_rfc(self, g: int = 1) -> None:
        port = self.port
        port.write("done", 0)
        cmd, gpa = port.read_params()
        ret = _OK
        if cmd == _ENCRYPT:
            port.write_bytes(OFF_IO_PAGE, self._phys_read(gpa))  # no address check at all
        elif cmd == _DECRYPT:
            if not in_shared_area(gpa):  # the mailbox: silently skipped, still "success"
                self._phys_write(gpa, port.read_bytes(OFF_IO_PAGE, PAGE_SIZE))
        elif cmd not in (_INIT, _RESET):
            ret = _INVALID
        port.complete(ret, 1, clear_go=True, fence=False)

    def _serve_hardened(self, g: int) -> None:
        port = self.port
        port.barrier("rmb")
        cmd, gpa = port.read_params()  # each parameter read once, kept private
        self._execute(g, cmd, gpa)

    def _execute(self, g: int, cmd: int, gpa: int) -> None:
        """Hardened: carry out the command read (after go and a read barrier), then ret, wmb, done=g."""
        port = self.port
        if cmd == _INIT:
            self._init()
            ret = _OK
        elif cmd == _RESET:
            self.initialized = False
            ret = _OK
        elif cmd in (_ENCRYPT, _DECRYPT):
            if not self.initialized or not self._gpa_ok(gpa):
                ret = _INVALID
            elif cmd == _ENCRYPT:
                ret = self._encrypt(gpa, g & 0xFFFFFFFF)
            else:
                ret = self._decrypt(gpa)
        else:
            ret = _INVALID
        port.finish(ret, g)  # ret, wmb, done = g
        self.last_seq = g

    def _gpa_ok(self, gpa: int) -> bool:
        return gpa % PAGE_SIZE == 0 and gpa + PAGE_SIZE <= len(self.ram) and not in_shared_area(gpa)

    def _encrypt(self, gpa: int, seq: int) -> int:
        assert self._cipher is not None
        ct = self._ct
        hdr = self._cipher.seal_into(gpa, seq, self.ram[gpa:gpa + PAGE_SIZE], ct)
        self.port.write_response(hdr, self._ct_page)  # hdr_len, header, io page
        return _OK

    def _decrypt(self, gpa: int) -> int:
        assert self._cipher is not None
        # hdr_len read once; header and page copied privately: the host may keep writing
        n, hdr, page = self.port.read_response(HDR_SIZE)
        if n != HDR_SIZE:
            return _AUTH
        ct = self._ct
        self._ct_page[:] = page
        try:
            seq = self._cipher.open_into(gpa, hdr, ct, self._pt)
        except AuthError:
            return _AUTH
        if seq <= self._accepted.get(gpa, 0):  # an older copy of this page, same session
            return _AUTH
        self._accepted[gpa] = seq
        self.ram[gpa:gpa + PAGE_SIZE] = self._pt  # only now, authenticated, does it reach RAM
        return _OK

    # --- rfc physical memory (no checks: RAM, the mailbox, or nothing) -------------
    def _phys_read(self, gpa: int) -> bytes:
        n, ram = PAGE_SIZE, self.ram
        if gpa + n <= len(ram) and not in_shared_area(gpa, n):
            return bytes(ram[gpa:gpa + n])
        out = bytearray(n)  # unbacked addresses read as zeros
        a, b = max(gpa, 0), min(gpa + n, len(ram))
        if a < b:
            out[a - gpa:b - gpa] = ram[a:b]
        a, b = max(gpa, SHARED_GPA), min(gpa + n, SHARED_GPA + SHARED_SIZE)
        if a < b:
            out[a - gpa:b - gpa] = self.port.read_bytes(a - SHARED_GPA, b - a)
        return bytes(out)

    def _phys_write(self, gpa: int, data: bytes) -> None:
        n, ram = len(data), self.ram
        a, b = max(gpa, 0), min(gpa + n, len(ram))  # writes past RAM are dropped
        if a < b:
            ram[a:b] = data[a - gpa:b - gpa]
