"""A host in any language under stress: a process speaking the wire (docs/wire.md), ``--exec``.

The driver (a forked child of the stress run) starts the command, says the wire's hello and
asks for the run's operations, one at a time. The process announces each access before it
makes it, as over the wire: the driver makes that access on the run's shared mapping itself
(locked, numbered, logged, after the random spin), and answers a read with the bytes read. The
process's mailbox file is its own copy: before each answer the driver copies the shared
mailbox into it, as it was at the read, so a process that reads its file sees what the driver
read, and a write it makes to its file touches nothing shared (the driver already made it).
The clock is the real one (CLOCK_MONOTONIC, in ns). A process that dies, stops answering
(30 s) or breaks the format ends the driver with a one-line reason on stderr (exit 4): the
run reports it as ``robust``.
"""
from __future__ import annotations

import ctypes
import json
import mmap
import os
import select
import struct
import subprocess
import sys
import tempfile
from typing import IO, Any, Sequence

from mhmailbox.model.layout import PAGE_SIZE, SHARED_SIZE

from .ckit.host import PUBLISHED_DEADLINE_NS
from .stress_native import BARRIER_CODE, CLOCK, ERROR, OP, OP_CODE, PUT, RESULT, RunStopped
from .stress_peers import attach
from .wire_format import WIRE_VERSION

#: Seconds of silence after which the process is taken for hung.
SILENCE_S = 30.0


class WireBroken(Exception):
    """The process died, went silent or broke the format: the reason, in one line."""


class _Lines:
    """The process's stdout, a line at a time, from its raw fd (a buffered reader would hold
    lines that select() then does not see)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        self.proc, self.fd, self.buf = proc, proc.stdout.fileno(), b""

    def next(self) -> str:
        while b"\n" not in self.buf:
            ready, _, _ = select.select([self.fd], [], [], SILENCE_S)
            if not ready:
                raise WireBroken(f"sent nothing for {SILENCE_S:g} s of real time")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                code = self.proc.wait()
                raise WireBroken(f"exited with status {code}" if code >= 0 else f"was killed by signal {-code}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode("utf-8", "replace")


def _line(lines: _Lines) -> dict[str, Any]:
    text = lines.next()
    try:
        d = json.loads(text)
    except json.JSONDecodeError:
        d = None
    if not isinstance(d, dict):
        raise WireBroken(f"broke the wire: {text.strip()[:200]!r}")  # (quoted: it may be any bytes)
    return d


def exec_host_main(map_fd: int, log_fd: int, argv: Sequence[str], protocol: str, ops: Sequence[tuple[str, int]],
                   seed: int, delay: tuple[int, int]) -> None:
    """Drive the process through ``ops``; exit 4 with the reason on stderr if it misbehaves."""
    lib = attach(map_fd, log_fd, 0, seed, delay)
    work = tempfile.mkdtemp(prefix="mhstress-exec-")
    path = os.path.join(work, "mailbox")
    with open(path, "wb") as fh:
        fh.write(bytes(SHARED_SIZE))
    fd = os.open(path, os.O_RDWR)
    own = mmap.mmap(fd, SHARED_SIZE)
    hello = {"wire": WIRE_VERSION, "side": "host", "protocol": protocol, "mailbox": path, "mailbox_size": SHARED_SIZE,
             "deadline_ns": PUBLISHED_DEADLINE_NS, "clock_origin_ns": 0}
    env = dict(os.environ, MHWIRE_MAILBOX=path, MHWIRE_SIDE="host", MHWIRE_PROTOCOL=protocol)
    proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
                            bufsize=1)
    assert proc.stdin is not None
    try:
        _drive(lib, proc.stdin, _Lines(proc), own, hello, ops)
    except WireBroken as e:
        print(f"the process {e}", file=sys.stderr)
        lib.mhs_flush()
        os._exit(4)
    finally:
        proc.kill()
        proc.wait()
        own.close()
        os.close(fd)
        os.unlink(path)
        os.rmdir(work)


def _drive(lib: Any, tx: IO[str], rx: _Lines, own: mmap.mmap, hello: dict, ops: Sequence[tuple[str, int]]) -> None:
    def say(d: dict) -> None:
        try:
            tx.write(json.dumps(d, separators=(",", ":")) + "\n")
            tx.flush()
        except BrokenPipeError:
            raise WireBroken("closed its input") from None

    say(hello)
    h = _line(rx)
    if h.get("wire") != WIRE_VERSION:
        raise WireBroken(f"answered the hello with wire {h.get('wire')!r}, not {WIRE_VERSION!r}")
    has = set(h["operations"]) if isinstance(h.get("operations"), list) else set(OP_CODE)  # none listed: all, as conform
    buf = ctypes.create_string_buffer(SHARED_SIZE + (1 << 20))
    snap = ctypes.create_string_buffer(SHARED_SIZE)
    for op, gpa in ops:
        if op not in has:
            continue
        lib.mhs_mark(OP, OP_CODE[op], gpa, 0, b"", 0)
        say({"op": op, "gpa": gpa} if op == "save" else {"op": op})
        while True:
            d = _line(rx)
            ev = d.get("ev")
            try:
                if ev == "read":
                    off, n = int(d["off"]), int(d["len"])
                    r = lib.mhs_read_snapshot(off, n, buf, snap)
                    if r == -2:
                        raise RunStopped("stopped")
                    if r < 0:
                        raise WireBroken(f"read {n} bytes at {off:#x}, more than 1 MiB past the shared area")
                    own[:] = snap.raw
                    say({"data": ctypes.string_at(buf, n).hex()})
                elif ev == "write":
                    data, off = bytes.fromhex(d["data"]), int(d["off"])
                    r = lib.mhs_write(off, len(data), data)
                    if r == -2:
                        raise RunStopped("stopped")
                    if r < 0:
                        raise WireBroken(f"wrote {len(data)} bytes at {off:#x}: past the shared area")
                elif ev == "barrier":
                    lib.mhs_barrier(BARRIER_CODE[d["kind"]])
                elif ev == "clock":
                    now = lib.mhs_now_ns()
                    lib.mhs_mark(CLOCK, 0, now, 0, b"", 0)
                    say({"now_ns": now})
                elif ev == "error":
                    text = str(d.get("text", "")).encode()
                    lib.mhs_mark(ERROR, 0, 0, len(text), text, len(text))
                elif d.get("result") == "ok":
                    if op == "save":
                        header, page = bytes.fromhex(d["header"]), bytes.fromhex(d["page"])
                        for kind, data in ((1, struct.pack(">I", int(d["hdr_len"]) & 0xFFFFFFFF)), (0, header),
                                           (1, struct.pack(">I", PAGE_SIZE)), (0, page)):
                            lib.mhs_mark(PUT, kind, 0, len(data), data, len(data))
                    lib.mhs_mark(RESULT, 0, 0, 0, b"", 0)
                    break
                elif d.get("result") == "failed":
                    text = str(d.get("error", "")).encode()
                    lib.mhs_mark(ERROR, 0, 0, len(text), text, len(text))
                    lib.mhs_mark(RESULT, 0xFFFFFFFF, 0, 0, b"", 0)
                    break
                else:
                    raise WireBroken(f"broke the wire: {json.dumps(d)[:200]}")
            except (KeyError, ValueError, TypeError) as e:
                raise WireBroken(f"broke the wire ({e}): {json.dumps(d)[:200]}") from None
