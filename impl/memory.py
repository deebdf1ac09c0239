"""Shared memory and the two access paths every mailbox access goes through.

* :class:`MappedFile` is a real shared mapping (``mmap`` of a file, in ``/dev/shm`` when
  there is one), so a helper in another process, or an implementation in another
  language, attaches to the same bytes by path.
* A :class:`Port` is one side's view of the 8 KiB mailbox (the published layout of
  :mod:`mhmailbox.model.layout`). Host and guest code touch the mailbox *only* through
  a port. :class:`DirectPort` does each access with one ``struct`` call on the mapping
  (production speed); :class:`InstrumentedPort` calls ``hook(Access(...))`` before
  every field read/write, byte-range read/write and barrier, so a harness can run the
  peer, flip bytes or advance a virtual clock between any two accesses, with no threads.

Grouped operations (``publish``, ``complete``, ``read_params``, ``poll_*``) exist so the
direct path can fuse several contiguous accesses into one ``struct`` call; the
instrumented path always decomposes them into the individual accesses, in the order
documented on each method, which is the order the protocol text gives.

Native fast path: when the optional C module ``mhmailbox.impl._spin`` (impl/_spin.c)
was built, :class:`DirectPort` runs its polling loops and the hardened grouped
operations (``call``, ``await_command``, ``finish``) in C: the same accesses in
the same order, with volatile loads/stores and release/acquire fences for
wmb/rmb. A round trip then costs one C call per side instead of a dozen
interpreter-level accesses. ``DirectPort(native=False)`` (or the environment
variable ``MHMAILBOX_NATIVE=0``) forces the pure-Python path; tests check that
both paths and the instrumented decomposition leave the same bytes and return
the same values.

Barriers: CPython performs each access as a ``memcpy`` inside an opaque C call, so
program order is kept by the compiler, and x86-TSO keeps store->store and load->load
order: ``wmb``/``rmb`` are compiler barriers on x86 (as in QEMU), hence no-ops on the
direct path. They are still *events* on the instrumented path, so a weak-memory harness
can see where they are.
"""
from __future__ import annotations

import functools
import mmap
import os
import struct
import tempfile
from typing import Any, Callable, Literal, Union

import attrs

from mhmailbox.model.layout import (
    FIELDS,
    OFF_CMD_TYPE,
    OFF_DONE,
    OFF_GO,
    OFF_GPA,
    OFF_HDR_DATA,
    OFF_HDR_LEN,
    OFF_IO_PAGE,
    OFF_RET,
    PAGE_SIZE,
    SHARED_SIZE,
)

try:  # the optional native fast path (a C extension built at install time)
    from . import _spin
except ImportError:  # no compiler at install time, or a big-endian machine
    _spin = None  # type: ignore[assignment]

#: True when DirectPort can use the C fast path (and MHMAILBOX_NATIVE is not 0).
NATIVE_AVAILABLE = _spin is not None and os.environ.get("MHMAILBOX_NATIVE", "1") != "0"

AccessKind = Literal["read", "write", "barrier"]
Side = Literal["host", "guest"]

#: What a host "reads" past the end of the shared area (stands for the QEMU heap that a
#: real out-of-bounds ``memcpy`` would leak into the stream); lets a test see the leak.
HOST_MEMORY_PATTERN = b"HOSTMEM!"
#: A read reaching further than this past the mailbox would fault a real host.
HOST_FAULT_LIMIT = 1 << 20


class MemoryFault(Exception):
    """An access so far out of bounds that a real host process would have crashed."""


@attrs.frozen
class Access:
    """One shared-memory access, reported to the hook *before* it takes effect.

    ``where`` is a field name of ``layout.FIELDS`` for field accesses, an ``int`` offset
    into the mailbox for byte ranges, or ``'wmb'``/``'rmb'``/``'mb'`` for barriers.
    ``value`` is the value about to be written (``int`` or ``bytes``); ``None`` for reads
    and barriers (completed reads, with their values, go to ``InstrumentedPort.log``).
    """

    side: Side
    kind: AccessKind
    where: Union[str, int]
    length: int
    value: Union[int, bytes, None] = None


Hook = Callable[[Access], None]


def trace_json(log: list[Access]) -> list[dict[str, object]]:
    """An access log as JSON-ready dicts (bytes as hex), for trace validation against a model."""
    return [
        {"side": a.side, "kind": a.kind, "where": a.where, "length": a.length,
         "value": a.value.hex() if isinstance(a.value, (bytes, bytearray)) else a.value}
        for a in log
    ]


def _shm_dir() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


@attrs.define(eq=False)
class MappedFile:
    """A file mapped shared into this process: the mailbox, or a guest's RAM.

    Create it in one process, pass ``path`` to another, ``attach`` there. Everything
    written through ``buf`` is visible to every process that mapped the file.
    """

    path: str
    size: int
    _fd: int = attrs.field(repr=False)
    _map: mmap.mmap = attrs.field(repr=False)
    buf: memoryview = attrs.field(repr=False)
    owner: bool = False

    @classmethod
    def create(cls, size: int, path: str | None = None, prefix: str = "mhmailbox-") -> "MappedFile":
        """A new zero-filled mapping of ``size`` bytes (a temp file unless ``path``)."""
        if path is None:
            fd, path = tempfile.mkstemp(prefix=prefix, dir=_shm_dir())
        else:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        os.ftruncate(fd, size)
        m = mmap.mmap(fd, size)
        return cls(path=path, size=size, fd=fd, map=m, buf=memoryview(m), owner=True)

    @classmethod
    def attach(cls, path: str, size: int | None = None) -> "MappedFile":
        """Map an existing file (created by another process or another language)."""
        fd = os.open(path, os.O_RDWR)
        if size is None:
            size = os.fstat(fd).st_size
        m = mmap.mmap(fd, size)
        return cls(path=path, size=size, fd=fd, map=m, buf=memoryview(m), owner=False)

    def close(self, unlink: bool | None = None) -> None:
        """Unmap; the creator unlinks the file by default."""
        try:
            self.buf.release()
            self._map.close()
        except (BufferError, ValueError):  # a caller still holds a slice: leave the mapping
            pass
        try:
            os.close(self._fd)
        except OSError:
            pass
        if self.owner if unlink is None else unlink:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


# --- ports --------------------------------------------------------------------------

_FIELD = {name: (struct.Struct(fmt), off) for name, (off, fmt) in FIELDS.items()}
_I32 = struct.Struct("<i")
_I32_FIELDS = {name: off for name, (off, fmt) in FIELDS.items() if fmt == "<i"}  # the C polls' fields
_CMD_GPA = struct.Struct("<QQ")  # cmd_type, gpa: contiguous at 0x00
_U32 = struct.Struct("<I")
_HDR_ROOM = OFF_IO_PAGE - OFF_HDR_DATA  # header bytes that fit before the io page
_PARAMS4 = struct.Struct("<QQii")  # cmd_type, gpa, prefetch, ret: contiguous at 0x00
assert OFF_GPA == OFF_CMD_TYPE + 8 and OFF_RET == OFF_GPA + 12


def _read_padded(buf: memoryview, off: int, n: int) -> bytes:
    """Bytes [off, off+n) of the mailbox; past its end, what a real host would leak."""
    end = off + n
    if end <= len(buf):
        return bytes(buf[off:end])
    if end - len(buf) > HOST_FAULT_LIMIT:
        raise MemoryFault(f"read of {n} bytes at mailbox offset {off:#x} runs {end - len(buf)} bytes past the shared area")
    inside = bytes(buf[off:]) if off < len(buf) else b""
    outside = end - max(off, len(buf))
    start = max(off, len(buf)) - len(buf)
    pat = HOST_MEMORY_PATTERN * ((start + outside) // len(HOST_MEMORY_PATTERN) + 2)
    return inside + pat[start % len(HOST_MEMORY_PATTERN):][:outside]


def _check_write(buf: memoryview, off: int, n: int) -> None:
    if off < 0 or off + n > len(buf):
        raise MemoryFault(f"write of {n} bytes at mailbox offset {off:#x} leaves the shared area")


@attrs.define(eq=False)
class DirectPort:
    """Production path: every access is one ``struct`` call (or one C call) on the mapping, no hooks.

    ``native`` (default: whether the C module is available) selects the C fast path
    for polling and the hardened grouped operations.
    """

    buf: memoryview
    side: Side = "host"
    native: bool = attrs.field(default=NATIVE_AVAILABLE)
    #: The hardened grouped operations (documented on ``_call``, ``_await_command`` and
    #: ``_finish``), bound once: on the native path straight to the C functions (a
    #: ``functools.partial`` over the mapping, no Python frame on the hot path).
    call: Callable[[int, int, int, int], "int | None"] = attrs.field(init=False, repr=False)
    await_command: Callable[[int, int], "tuple[int, int, int] | None"] = attrs.field(init=False, repr=False)
    finish: Callable[[int, int], None] = attrs.field(init=False, repr=False)
    #: Native only (else None): ``timed_call(reply_type, cmd, gpa, seq, n)``, the host's
    #: whole common-case command (``call`` with go = seq, timed on ``time.monotonic``'s
    #: clock, the reply built in C); the reply, or the start time if done != go after n reads.
    timed_call: "Callable[[type, int, int, int, int], object] | None" = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if len(self.buf) < SHARED_SIZE:
            raise ValueError(f"mailbox must be at least {SHARED_SIZE} bytes")
        if self.native and _spin is None:
            raise ValueError("the native fast path (mhmailbox.impl._spin) was not built; use native=False")
        if self.native:
            self.call = functools.partial(_spin.call, self.buf)
            self.await_command = functools.partial(_spin.await_command, self.buf)
            self.finish = functools.partial(_spin.complete, self.buf)
            self.timed_call = functools.partial(_spin.timed_call, self.buf)
        else:
            self.call, self.await_command, self.finish = self._call, self._await_command, self._finish
            self.timed_call = None

    # single accesses
    def read(self, name: str) -> int:
        s, off = _FIELD[name]
        return s.unpack_from(self.buf, off)[0]

    def write(self, name: str, value: int) -> None:
        s, off = _FIELD[name]
        s.pack_into(self.buf, off, value)

    def read_bytes(self, off: int, n: int) -> bytes:
        return _read_padded(self.buf, off, n)

    def read_into(self, off: int, dst: memoryview) -> None:
        """Copy ``len(dst)`` bytes at ``off`` into a private buffer (inside the mailbox only)."""
        n = len(dst)
        if off < 0 or off + n > len(self.buf):
            dst[:] = _read_padded(self.buf, off, n)
        else:
            dst[:] = self.buf[off:off + n]

    def write_bytes(self, off: int, data: bytes) -> None:
        _check_write(self.buf, off, len(data))
        self.buf[off:off + len(data)] = data

    def barrier(self, kind: str) -> None:
        """wmb/rmb/mb: compiler barriers on x86-TSO; a function call already is one."""

    # grouped accesses (see InstrumentedPort for their exact decomposition)
    def publish(self, cmd: int, gpa: int, go: int, clear_done: bool) -> None:
        _PARAMS4.pack_into(self.buf, 0, cmd, gpa, 0, -1)
        if clear_done:
            _I32.pack_into(self.buf, OFF_DONE, 0)
        _I32.pack_into(self.buf, OFF_GO, go)

    def complete(self, ret: int, done: int, clear_go: bool, fence: bool) -> None:
        _I32.pack_into(self.buf, OFF_RET, ret)
        if clear_go:
            _I32.pack_into(self.buf, OFF_GO, 0)
        _I32.pack_into(self.buf, OFF_DONE, done)

    def _finish(self, ret: int, done: int) -> None:
        """``finish``: the hardened completion: ret, wmb, done."""
        self.complete(ret, done, clear_go=False, fence=True)

    def read_params(self) -> tuple[int, int]:
        return _CMD_GPA.unpack_from(self.buf, 0)

    def write_response(self, header: bytes, page: bytes | memoryview) -> None:
        buf, n = self.buf, len(header)
        if n > _HDR_ROOM or len(page) != PAGE_SIZE:
            _check_write(buf, OFF_HDR_DATA, n)
            _check_write(buf, OFF_IO_PAGE, len(page))
        _U32.pack_into(buf, OFF_HDR_LEN, n)
        buf[OFF_HDR_DATA:OFF_HDR_DATA + n] = header
        buf[OFF_IO_PAGE:OFF_IO_PAGE + PAGE_SIZE] = page

    def read_response(self, max_len: int) -> tuple[int, bytes, bytes]:
        buf = self.buf
        n = _U32.unpack_from(buf, OFF_HDR_LEN)[0]
        if n > max_len:
            return n, b"", b""
        return n, _read_padded(buf, OFF_HDR_DATA, n), bytes(buf[OFF_IO_PAGE:OFF_IO_PAGE + PAGE_SIZE])

    def _call(self, cmd: int, gpa: int, go: int, n: int) -> int | None:
        """``call``: publish(cmd, gpa, go), then up to ``n`` reads of done; if done == go: rmb, ret.

        The hardened host's whole common-case command in one grouped operation; None
        when done did not become ``go`` within the ``n`` reads (the caller goes on polling).
        """
        self.publish(cmd, gpa, go, False)
        if self.poll_eq("done", go, n):
            return _I32.unpack_from(self.buf, OFF_RET)[0]
        return None

    def _await_command(self, last: int, n: int) -> tuple[int, int, int] | None:
        """``await_command``: up to ``n`` reads of go; once neither 0 nor ``last``: rmb, cmd_type, gpa."""
        g = self.poll_ne("go", 0, last, n)
        if g is None:
            return None
        cmd, gpa = _CMD_GPA.unpack_from(self.buf, 0)
        return g, cmd, gpa

    def poll_eq(self, name: str, want: int, n: int) -> bool:
        """Read ``name`` up to ``n`` times; True as soon as it equals ``want``."""
        if self.native and name in _I32_FIELDS:
            return _spin.poll_eq_i32(self.buf, _I32_FIELDS[name], want, n)
        s, off = _FIELD[name]
        up, buf = s.unpack_from, self.buf
        for _ in range(n):
            if up(buf, off)[0] == want:
                return True
        return False

    def poll_ne(self, name: str, a: int, b: int, n: int) -> int | None:
        """Read ``name`` up to ``n`` times; the first value that is neither ``a`` nor ``b``."""
        if self.native and name in _I32_FIELDS:
            return _spin.poll_ne_i32(self.buf, _I32_FIELDS[name], a, b, n)
        s, off = _FIELD[name]
        up, buf = s.unpack_from, self.buf
        for _ in range(n):
            v = up(buf, off)[0]
            if v != a and v != b:
                return v
        return None


@attrs.define(eq=False)
class InstrumentedPort:
    """Test path: ``hook(Access)`` before every access; completed reads are logged.

    The hook may do anything to the shared bytes (run the peer's ``poll_once``, flip a
    field, advance a :class:`~mhmailbox.impl.clock.VirtualClock`); the access then sees
    the result. ``log`` (if not ``None``) receives each access after it took effect,
    reads carrying the value actually read: a trace for validation against a model.
    """

    buf: memoryview
    side: Side
    hook: Hook | None = None
    log: list[Access] | None = None

    def _ev(self, kind: AccessKind, where: Union[str, int], length: int, value: Union[int, bytes, None] = None) -> None:
        if self.hook is not None:
            self.hook(Access(self.side, kind, where, length, value))

    def _done(self, kind: AccessKind, where: Union[str, int], length: int, value: Union[int, bytes, None]) -> None:
        if self.log is not None:
            self.log.append(Access(self.side, kind, where, length, value))

    def read(self, name: str) -> int:
        s, off = _FIELD[name]
        self._ev("read", name, s.size)
        v = s.unpack_from(self.buf, off)[0]
        self._done("read", name, s.size, v)
        return v

    def write(self, name: str, value: int) -> None:
        s, off = _FIELD[name]
        self._ev("write", name, s.size, value)
        s.pack_into(self.buf, off, value)
        self._done("write", name, s.size, value)

    def read_bytes(self, off: int, n: int) -> bytes:
        self._ev("read", off, n)
        v = _read_padded(self.buf, off, n)
        self._done("read", off, n, v)
        return v

    def read_into(self, off: int, dst: memoryview) -> None:
        self._ev("read", off, len(dst))
        v = _read_padded(self.buf, off, len(dst))
        dst[:] = v
        self._done("read", off, len(dst), v)

    def write_bytes(self, off: int, data: bytes) -> None:
        data = bytes(data)
        self._ev("write", off, len(data), data)
        _check_write(self.buf, off, len(data))
        self.buf[off:off + len(data)] = data
        self._done("write", off, len(data), data)

    def barrier(self, kind: str) -> None:
        self._ev("barrier", kind, 0)
        self._done("barrier", kind, 0, None)

    def publish(self, cmd: int, gpa: int, go: int, clear_done: bool) -> None:
        """cmd_type, gpa, prefetch=0, ret=-1, [done=0], wmb, go."""
        self.write("cmd_type", cmd)
        self.write("gpa", gpa)
        self.write("prefetch", 0)
        self.write("ret", -1)
        if clear_done:
            self.write("done", 0)
        self.barrier("wmb")
        self.write("go", go)

    def complete(self, ret: int, done: int, clear_go: bool, fence: bool) -> None:
        """ret, [go=0], [wmb], done."""
        self.write("ret", ret)
        if clear_go:
            self.write("go", 0)
        if fence:
            self.barrier("wmb")
        self.write("done", done)

    def finish(self, ret: int, done: int) -> None:
        """ret, wmb, done: the hardened completion."""
        self.complete(ret, done, clear_go=False, fence=True)

    def read_params(self) -> tuple[int, int]:
        """cmd_type, then gpa."""
        return self.read("cmd_type"), self.read("gpa")

    def call(self, cmd: int, gpa: int, go: int, n: int) -> int | None:
        """publish (as above), up to ``n`` reads of done; if done == go: rmb, ret; else None."""
        self.publish(cmd, gpa, go, False)
        if self.poll_eq("done", go, n):
            self.barrier("rmb")
            return self.read("ret")
        return None

    def await_command(self, last: int, n: int) -> tuple[int, int, int] | None:
        """Up to ``n`` reads of go; once it is neither 0 nor ``last``: rmb, cmd_type, gpa."""
        g = self.poll_ne("go", 0, last, n)
        if g is None:
            return None
        self.barrier("rmb")
        cmd, gpa = self.read_params()
        return g, cmd, gpa

    def write_response(self, header: bytes, page: bytes | memoryview) -> None:
        """hdr_len, header bytes (if any), io page: the response (guest) or request (host)."""
        self.write("hdr_len", len(header))
        if header:
            self.write_bytes(OFF_HDR_DATA, header)
        self.write_bytes(OFF_IO_PAGE, page)

    def read_response(self, max_len: int) -> tuple[int, bytes, bytes]:
        """hdr_len once; if it is <= max_len, the header bytes and the io page (else empty)."""
        n = self.read("hdr_len")
        if n > max_len:
            return n, b"", b""
        return n, self.read_bytes(OFF_HDR_DATA, n), self.read_bytes(OFF_IO_PAGE, PAGE_SIZE)

    def poll_eq(self, name: str, want: int, n: int) -> bool:
        for _ in range(n):
            if self.read(name) == want:
                return True
        return False

    def poll_ne(self, name: str, a: int, b: int, n: int) -> int | None:
        for _ in range(n):
            v = self.read(name)
            if v != a and v != b:
                return v
        return None


def access_bytes(a: Access) -> tuple[int, bytes]:
    """An access's (mailbox offset, bytes): a field's value packed as the layout stores it."""
    if isinstance(a.where, str):
        s, off = _FIELD[a.where]
        bits = 8 * s.size
        v = int(a.value) % (1 << bits)  # type: ignore[arg-type]
        if s.format.endswith(("i", "q")) and v >= 1 << (bits - 1):
            v -= 1 << bits
        return off, s.pack(v)
    return int(a.where), bytes(a.value or b"")  # type: ignore[arg-type]


class AccessCounter:
    """One global order of accesses across processes (docs/log.md): a shared 64-bit counter and
    the lock it is taken under. Create it before forking the processes that share it."""

    def __init__(self) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        self.value = ctx.Value("Q", 0, lock=True)
        self.lock = self.value.get_lock()


#: (side, field) each side polls: a read there that repeats the port's previous event is not logged
_POLLED = frozenset({("guest", "go"), ("host", "done")})


@attrs.define(eq=False)
class RecordingPort(InstrumentedPort):
    """An instrumented port that logs each access as an ``mhmailbox-log 1`` event (docs/log.md)
    on ``out``, stamped with the next index of a shared :class:`AccessCounter`. The access and
    its index are taken under the counter's lock, so the log's order is the order in which the
    accesses happened (recording serializes them: a recorded run is sequentially consistent).
    A poll (the helper's read of ``go``, the host's of ``done``) that repeats this port's
    previous event is made without the lock and not written: an idle helper polls ``go``
    millions of times, and the models loop there (a host's clock read ends a run of polls). Production code uses :class:`DirectPort`:
    recording costs nothing when it is off."""

    counter: AccessCounter | None = None
    out: Any = None  # a text file
    vm: str = ""
    last: tuple = ()
    last_i: int = -1
    skipped: int = 0

    def __attrs_post_init__(self) -> None:
        self.hook, self.log = self._before, self  # type: ignore[assignment]

    def _before(self, a: Access) -> None:
        self.counter.lock.acquire()  # type: ignore[union-attr]

    def append(self, a: Access) -> None:
        """The access took effect: write it, release the lock."""
        try:
            c = self.counter.value  # type: ignore[union-attr]
            if a.kind == "barrier":
                d: dict[str, Any] = {"ev": "barrier", "kind": a.where}
            else:
                off, data = access_bytes(a)
                d = {"ev": a.kind, "off": off, "data": data.hex()}
                if a.kind == "read":
                    d["len"] = len(data)
            key = tuple(d.items())
            i = c.value
            c.value = i + 1
            self.last, self.last_i = key, i
            self.event(i, d)
        finally:
            self.counter.lock.release()  # type: ignore[union-attr]

    def event(self, i: int, d: dict[str, Any]) -> None:
        import json

        head: dict[str, Any] = {"i": i, "side": self.side}
        if self.vm:
            head["vm"] = self.vm
        self.out.write(json.dumps({**head, **d}) + "\n")

    def note(self, d: dict[str, Any]) -> None:
        """An event that is not an access (a clock read, an operation), in the same order."""
        with self.counter.lock:  # type: ignore[union-attr]
            c = self.counter.value  # type: ignore[union-attr]
            i = c.value
            c.value = i + 1
            self.last, self.last_i = (), i
            self.event(i, d)

    def read(self, name: str) -> int:
        if self.last and (self.side, name) in _POLLED:  # a poll that sees nothing new: no lock
            s, off = _FIELD[name]
            v = s.unpack_from(self.buf, off)[0]
            if self.last == (("ev", "read"), ("off", off), ("data", s.pack(v).hex()), ("len", s.size)):
                self.skipped += 1
                return v
        return InstrumentedPort.read(self, name)

    def _guarded(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except MemoryFault:
            self.counter.lock.release()  # type: ignore[union-attr]  # the access never happened
            raise

    def read_bytes(self, off: int, n: int) -> bytes:
        return self._guarded(lambda: InstrumentedPort.read_bytes(self, off, n))

    def read_into(self, off: int, dst: memoryview) -> None:
        self._guarded(lambda: InstrumentedPort.read_into(self, off, dst))

    def write_bytes(self, off: int, data: bytes) -> None:
        self._guarded(lambda: InstrumentedPort.write_bytes(self, off, data))


Port = Union[DirectPort, InstrumentedPort]

__all__ = [
    "Access", "AccessCounter", "DirectPort", "RecordingPort", "access_bytes", "HOST_MEMORY_PATTERN", "Hook", "InstrumentedPort", "MappedFile",
    "MemoryFault", "Port", "trace_json",
]
