"""The native half of ``mhmailbox stress``: the logged-access core, built once per process.

``mhstress_core.c`` (in the C kit's runtime folder) holds the run's lock, the global access
counter and the per-process log; a C host links it through ``mhstress_host.c`` (the stress
runtime), a Python side loads it with ctypes (:func:`core`) and reaches the mailbox through
a :class:`StressPort`, so that both sides' accesses are numbered by the same counter.
"""
from __future__ import annotations

import atexit
import ctypes
import functools
import os
import shutil
import struct
import tempfile
from typing import Any, Union

import attrs

from mhmailbox.impl.memory import InstrumentedPort, MemoryFault
from mhmailbox.model.layout import FIELDS

from .ckit.build import _kit_file, _run, find_compiler

#: Record kinds of the log (mhstress_core.c).
READ, WRITE, BARRIER, CLOCK, PUT, OP, RESULT, ERROR, FAULT, RAM = range(1, 11)
#: A log record's fixed part: number, kind, aux, offset, length.
REC = struct.Struct("<QIIQQ")
#: Barrier kinds as the runtime numbers them (mhkit.h).
BARRIER_CODE = {"wmb": 1, "rmb": 2, "mb": 3}
BARRIER_NAME = {v: k for k, v in BARRIER_CODE.items()}
#: Operation codes of OP records.
OP_CODE = {"init": 1, "save": 2, "load": 3, "cleanup": 4}
OP_NAME = {v: k for k, v in OP_CODE.items()}
#: The control page after the mailbox in the run's file.
CONTROL_SIZE = 4096


class RunStopped(Exception):
    """The coordinator stopped the run while this side waited for the lock."""


@functools.lru_cache(maxsize=None)
def _workdir() -> str:
    work = tempfile.mkdtemp(prefix="mhstress-")
    atexit.register(shutil.rmtree, work, True)
    return work


@functools.lru_cache(maxsize=None)
def host_runtime(cc: str | None = None) -> str:
    """The stress runtime for a C host, compiled once per process (no sanitizer, no builtins)."""
    cc = cc or find_compiler()
    obj = os.path.join(_workdir(), "mhstress_host.o")
    _run([cc, "-c", "-O2", "-fno-builtin", "-fno-tree-loop-distribute-patterns", "-w",
          _kit_file("runtime", "mhstress_host.c"), "-o", obj], "compiling the stress runtime")
    return obj


@functools.lru_cache(maxsize=None)
def core(cc: str | None = None) -> Any:
    """The core as a ctypes library (the Python sides' accesses)."""
    cc = cc or find_compiler()
    so = os.path.join(_workdir(), "libmhstress.so")
    _run([cc, "-shared", "-fPIC", "-O2", "-fno-tree-loop-distribute-patterns", "-w", _kit_file("runtime", "mhstress_core.c"), "-o", so],
         "compiling the stress core")
    lib = ctypes.CDLL(so)
    u64, u32, p = ctypes.c_uint64, ctypes.c_uint32, ctypes.c_char_p
    lib.mhs_attach.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int, u32, u64, u32, u32]
    lib.mhs_attach.restype = ctypes.c_void_p
    lib.mhs_read.argtypes = [u64, u64, ctypes.c_void_p]
    lib.mhs_read_snapshot.argtypes = [u64, u64, ctypes.c_void_p, ctypes.c_void_p]
    lib.mhs_write.argtypes = [u64, u64, p]
    lib.mhs_barrier.argtypes = [u32]
    lib.mhs_flip_burst.argtypes = [u64, u64, p, p, u32, u32]
    lib.mhs_arm_flip.argtypes = [u64, u64, u32, u32, u32]
    lib.mhs_arm_flip.restype = None
    lib.mhs_mark.argtypes = [u32, u32, u64, u64, p, u64]
    lib.mhs_mark.restype = None
    lib.mhs_folded.restype = u64
    lib.mhs_now_ns.restype = u64
    return lib


_FIELD = {name: (struct.Struct(fmt), off) for name, (off, fmt) in FIELDS.items()}


@attrs.define(eq=False)
class StressPort(InstrumentedPort):
    """A port whose every access is one logged access of the run (lock, number, access, log):
    our Python host or helper runs on it unchanged, against a peer in another process. The
    grouped operations decompose into these, as on the instrumented port."""

    lib: Any = None
    _scratch: Any = attrs.field(factory=lambda: ctypes.create_string_buffer(8192 + (1 << 20)), repr=False)

    def _check(self, r: int, what: str) -> None:
        if r == -2:
            raise RunStopped("the run was stopped")
        if r < 0:
            raise MemoryFault(what)

    def read(self, name: str) -> int:
        s, off = _FIELD[name]
        self._check(self.lib.mhs_read(off, s.size, self._scratch), name)
        return s.unpack_from(self._scratch.raw[:s.size])[0]

    def write(self, name: str, value: int) -> None:
        s, off = _FIELD[name]
        self._check(self.lib.mhs_write(off, s.size, s.pack(value)), name)

    def read_bytes(self, off: int, n: int) -> bytes:
        self._check(self.lib.mhs_read(off, n, self._scratch),
                    f"read of {n} bytes at mailbox offset {off:#x} runs more than 1 MiB past the shared area")
        return ctypes.string_at(self._scratch, n)

    def read_into(self, off: int, dst: memoryview) -> None:
        dst[:] = self.read_bytes(off, len(dst))

    def write_bytes(self, off: int, data: Union[bytes, bytearray, memoryview]) -> None:
        data = bytes(data)
        self._check(self.lib.mhs_write(off, len(data), data),
                    f"write of {len(data)} bytes at mailbox offset {off:#x} leaves the shared area")

    def barrier(self, kind: str) -> None:
        self._check(self.lib.mhs_barrier(BARRIER_CODE[kind]), kind)

    def mark(self, kind: int, aux: int = 0, off: int = 0, data: bytes = b"", length: int | None = None) -> None:
        """Log an event that is not a shared access (an operation, its result, a stream item)."""
        self.lib.mhs_mark(kind, aux & 0xFFFFFFFF, off & (2**64 - 1), len(data) if length is None else length,
                          data, len(data))
