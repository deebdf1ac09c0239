"""The processes of a stress run that are written in Python: our peers, and our own host.

Each runs in a forked child on the run's mapping, through a :class:`StressPort` (every
access locked, numbered and logged by the native core):

* :func:`helper_main`: our reference helper (``GuestHelper``) polling like a vCPU; with
  ``adversarial``, it also does, at random, what the suite's hostile helpers do: rewrites
  the header length right after it raises ``done`` (a burst of alternating bad and honest
  values, the honest one last, at native speed: the double fetch's window is a
  microsecond), and after a command it serves (and now and then while idle) rewrites the
  length again, writes a late ``done``, a wrong ``ret``, clears ``go``, flips a byte of the header or the
  io page;
* :func:`host_main`: our Python host (``Host``, real clock, 100 ms deadline) running the
  run's operations, each logged as an operation and its result (a save's with the record):
  the host under test, or (adversarial or not) the peer of a helper under test.
"""
from __future__ import annotations

import ctypes
import os
import random
import signal
import struct
import time
from typing import Any, Callable, Sequence

from mhmailbox.impl.clock import MonotonicClock
from mhmailbox.impl.crypto import Provision
from mhmailbox.impl.guest import GuestHelper
from mhmailbox.impl.host import Host, HostError
from mhmailbox.impl.memory import MemoryFault
from mhmailbox.model.layout import (OFF_CMD_TYPE, OFF_DONE, OFF_GO, OFF_GPA, OFF_HDR_DATA, OFF_HDR_LEN, OFF_IO_PAGE, OFF_RET,
                                    PAGE_SIZE, SHARED_GPA)

from .stress_native import ERROR, OP, OP_CODE, PUT, RAM, RESULT, RunStopped, StressPort, core

#: Guest RAM the helper has (32 pages; the host saves pages 16 and 21, as the suite's G0 and G1).
RAM_SIZE = 32 * PAGE_SIZE
SAVE_GPAS = (16 * PAGE_SIZE, 21 * PAGE_SIZE)
#: Header lengths an adversary writes: over the cap, reaching into the io page, past the
#: shared area (host memory leaks into the record), and far past it (a real host faults).
BAD_LENGTHS = (1025, 2048, 0x17FC, 0x2000, 0x4000, 0x0010_0000, 0x7FFF_FFFF)
#: Adversarial actions and their weights; the header rewrites dominate (the double fetch).
ACTIONS = (("len-burst", 4), ("late-done", 3), ("ret", 2), ("go", 1), ("flip", 2))
_U32, _I32 = struct.Struct("<I"), struct.Struct("<i")


def attach(map_fd: int, log_fd: int, who: int, seed: int, delay: tuple[int, int]) -> Any:
    """The native core attached to the run's mapping and this process's log."""
    lib = core()
    if not lib.mhs_attach(map_fd, None, log_fd, who, seed, delay[0], delay[1]):
        raise OSError("cannot map the stress run's file")
    return lib


def _die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent ends (a peer never outlives its run)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def child(fn: Callable[[], None], stderr_fd: int | None = None) -> int:
    """Fork a child that runs ``fn`` and exits (0, or 3 on an exception: the report says so),
    its stderr on ``stderr_fd`` if given."""
    pid = os.fork()
    if pid:
        return pid
    _die_with_parent()
    if stderr_fd is not None:
        os.dup2(stderr_fd, 2)
    code = 0
    try:
        fn()
    except RunStopped:
        pass
    except BaseException:  # noqa: BLE001 - the child must never return into the parent's code
        import traceback

        traceback.print_exc()
        code = 3
    finally:
        try:
            core().mhs_flush()
        finally:
            os._exit(code)
    return 0  # pragma: no cover


def helper_main(map_fd: int, log_fd: int, protocol: str, adversarial: bool, seed: int, delay: tuple[int, int],
                ready_fd: int) -> None:
    """Our helper (and, adversarial, its hostile moves) until the run is stopped."""
    lib = attach(map_fd, log_fd, 1, seed, delay)
    rnd = random.Random(seed)
    port = StressPort(memoryview(bytearray(0)), "guest", lib=lib)
    ram = memoryview(bytearray(rnd.randbytes(RAM_SIZE)))
    prov = Provision(rnd.randbytes(32), rnd.randbytes(16)) if protocol == "hardened" else None
    helper = GuestHelper(port, ram, protocol, prov)
    for gpa in SAVE_GPAS:  # the private pages a save reads: their plaintext, for guest.confidential
        port.mark(RAM, 0, gpa, bytes(ram[gpa:gpa + PAGE_SIZE]))
    helper.start()
    os.write(ready_fd, b"r")
    os.close(ready_fd)
    idle, armed = 0, False
    try:
        while not lib.mhs_stopped():
            if adversarial and not armed and rnd.random() < 0.5:  # the double fetch, at native speed
                lib.mhs_arm_flip(OFF_DONE, OFF_HDR_LEN, rnd.choice(BAD_LENGTHS), rnd.randrange(2, 64),
                                 rnd.choice((0, 200, 1000, 5000)))
                armed = True
            if helper.poll_once():
                idle, armed = 0, False
                if adversarial and rnd.random() < 0.3:
                    _hostile(lib, port, rnd, protocol, helper.last_seq)
            else:
                idle += 1
                if adversarial and idle % 2000 == 0 and rnd.random() < 0.3:
                    _hostile(lib, port, rnd, protocol, helper.last_seq)
                if idle > 20000:
                    time.sleep(20e-6)  # a long idle spell: leave the core to the host
    except MemoryFault:
        pass


def _hostile(lib: Any, port: StressPort, rnd: random.Random, protocol: str, last_seq: int) -> None:
    """One hostile move of the suite's adversarial helpers, at this moment."""
    act = rnd.choices([a for a, _ in ACTIONS], [w for _, w in ACTIONS])[0]
    if act == "len-burst":  # the double fetch: the length changes between the host's reads
        good = _U32.pack(port.read("hdr_len"))
        bad = _U32.pack(rnd.choice(BAD_LENGTHS))
        if lib.mhs_flip_burst(OFF_HDR_LEN, 4, bad, good, rnd.randrange(2, 64), rnd.choice((0, 200, 1000, 5000))) < 0:
            raise RunStopped("stopped")
    elif act == "late-done":
        time.sleep(rnd.random() * 2e-3)
        port.write_bytes(OFF_DONE, _I32.pack(1 if protocol == "rfc" else last_seq))
    elif act == "ret":
        port.write_bytes(OFF_RET, _I32.pack(rnd.choice((-1, 1, 0x7FFFFFFF))))
    elif act == "go":
        port.write_bytes(OFF_GO, _I32.pack(0))
    else:
        off = rnd.choice((OFF_HDR_DATA + rnd.randrange(64), OFF_IO_PAGE + rnd.randrange(PAGE_SIZE)))
        port.write_bytes(off, bytes([rnd.randrange(1, 256)]))


def host_main(map_fd: int, log_fd: int, protocol: str, ops: Sequence[tuple[str, int]], seed: int,
              delay: tuple[int, int], adversarial: bool = False) -> None:
    """Our Python host running ``ops`` (("save", gpa) or ("cleanup", 0)), each logged; as the peer
    of a helper under test, ``adversarial`` adds the suite's hostile host moves at random: the
    parameters rewritten right after go (a burst at native speed: gpa into the mailbox, past
    RAM or to the other page, ENCRYPT made DECRYPT, in a save: the gpa classes the model knows), and after an operation go written again, a byte of the
    io page or the header flipped, a bad header length."""
    lib = attach(map_fd, log_fd, 0, seed, delay)
    rnd = random.Random(seed ^ 0x5EED)
    port = StressPort(memoryview(bytearray(0)), "host", lib=lib)
    host = Host(port, protocol, MonotonicClock(), timeout=0.1)
    for op, gpa in ops:
        if lib.mhs_stopped():
            return
        hostile = adversarial and op == "save" and rnd.random() < 0.5
        port.mark(OP, OP_CODE[op], gpa)
        try:
            if op == "save":
                if hostile:  # the ENCRYPT's parameters change under the helper's reads (not the INIT's)
                    if not host.initialized:
                        host.initialize()
                    off, bad = rnd.choice(((OFF_GPA, SHARED_GPA), (OFF_GPA, RAM_SIZE + 4 * PAGE_SIZE),
                                           (OFF_GPA, SAVE_GPAS[1] if gpa == SAVE_GPAS[0] else SAVE_GPAS[0]),
                                           (OFF_CMD_TYPE, 2)))
                    lib.mhs_arm_flip(OFF_GO, off, bad, rnd.randrange(2, 32), rnd.choice((0, 200, 1000)))
                rec = host.save_page(gpa)
                for kind, data in ((1, _be32(rec.emitted_hdr_len)), (0, rec.header), (1, _be32(PAGE_SIZE)),
                                   (0, bytes(rec.page))):
                    port.mark(PUT, kind, 0, data)
            else:
                reply = host.cleanup()
                if not reply.ok:
                    raise HostError(f"RESET: {reply.status} ret={reply.ret}")
            port.mark(RESULT, 0)
        except HostError as e:
            port.mark(ERROR, 0, 0, str(e).encode())
            port.mark(RESULT, 0xFFFFFFFF)
        except MemoryFault as e:
            port.mark(ERROR, 0, 0, f"fault: {e}".encode())
            raise
        if adversarial and rnd.random() < 0.3:
            act = rnd.randrange(3)
            if act == 0:
                port.write_bytes(OFF_GO, _I32.pack(1 if protocol == "rfc" else host.seq))
            elif act == 1:
                port.write_bytes(OFF_IO_PAGE + rnd.randrange(PAGE_SIZE), bytes([rnd.randrange(1, 256)]))
            else:
                port.write_bytes(OFF_HDR_LEN, _U32.pack(rnd.choice(BAD_LENGTHS)))


def _be32(v: int) -> bytes:
    return struct.pack(">I", v & 0xFFFFFFFF)
