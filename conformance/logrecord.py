"""Record the suite's runs as ``mhmailbox-log 1`` (docs/log.md): ``conform ... --record DIR``.

A :class:`RigRecorder` follows one rig: the side under test's accesses (the rig's
``record`` sink), the reference peer's (a tee on its port's log), every other change of
the shared area (the rig's scripted host, an adversary's writes and flips: found by
comparing the area with what the log has written so far, before each access), the host's
operations and their results, its clock, and the plaintext of the helper's private pages.
:func:`record_replay` runs a failing case's shrunk steps again with a recorder on.
"""
from __future__ import annotations

import io
import os
import struct
from typing import Any, Callable, Sequence

import attrs

from mhmailbox.impl.memory import Access, access_bytes
from mhmailbox.model import values as val
from mhmailbox.model.layout import FIELDS, OFF_HDR_DATA, OFF_HDR_LEN, OFF_IO_PAGE, PAGE_SIZE, SHARED_SIZE

from . import rig as rigmod
from .adapter import OperationFailed
from .logformat import LogHeader, LogWriter

#: regions of the shared area, in the order a diff is written (parameters, go last)
_REGIONS: list[tuple[int, int]] = sorted(
    ((off, struct.calcsize(fmt)) for name, (off, fmt) in FIELDS.items() if name not in ("go", "hdr_len")),
) + [(FIELDS["go"][0], 4), (32, OFF_HDR_LEN - 32), (OFF_HDR_LEN, 4), (OFF_HDR_DATA, OFF_IO_PAGE - OFF_HDR_DATA),
     (OFF_IO_PAGE, PAGE_SIZE)]
_PARAMS = {FIELDS[n][0] for n in ("cmd_type", "gpa", "ret")}
_WHOLE = {(FIELDS[n][0]) for n in FIELDS} | {OFF_IO_PAGE}  # regions written whole when any byte changed


@attrs.define(eq=False)
class RigRecorder:
    """The log of one rig's run, kept in memory (``text()``)."""

    rig: Any
    out: io.StringIO = attrs.field(factory=io.StringIO)
    writer: LogWriter = attrs.field(default=None)
    shadow: bytearray = attrs.field(factory=lambda: bytearray(SHARED_SIZE))
    clock_ns: int | None = None
    side: str = "host"  # the side under test
    pending: Any = None  # the last provisioning given for a next session, as logged
    peer: str = "guest"

    def __attrs_post_init__(self) -> None:
        rig = self.rig
        host_rig = isinstance(rig, rigmod.HostRig)
        self.side = "host" if host_rig else "guest"
        self.peer = "guest" if host_rig else "host"
        p = rig.provision  # the suite's throwaway key: with it the checker opens the helper's seals
        header = LogHeader(rig.impl.protocol, (self.side,), f"mhmailbox conform --impl {rig.impl.name}",
                           round(rigmod.TIMEOUT * 1e9), "all", rig.impl.valid_hdr_len,
                           rigmod.RAM_PAGES * PAGE_SIZE, None if p is None else (p.transfer_key, p.session_id))
        self.writer = LogWriter(self.out, header)
        self.shadow[:] = rig.mailbox
        for g in (val.G0, val.G1):
            a = rigmod.GPA[g]
            self.writer.ram("guest", a, bytes(rig.ram[a:a + PAGE_SIZE]))
        rig.record = self
        if host_rig:
            port_log = rig.peer.port.log
            sink = port_log.sink

            def tee(a: Access) -> None:
                self._access(a, "guest")
                sink(a)

            rig.peer.port.log = rigmod._Log(tee)  # noqa: SLF001 - the rig's own sink type
            rig.host = _RecordedHost(rig.host, self)

    def text(self) -> str:
        return self.out.getvalue()

    # the rig's record sink: the side under test's accesses, after they took effect
    def append(self, a: Access) -> None:
        self._access(a, self.side)

    def _access(self, a: Access, side: str) -> None:
        w = self.writer
        pending = getattr(self.rig, "pending", None)  # a helper rig's next provisioning
        if pending is not None and pending is not self.pending:
            self.pending = pending
            w.provision(pending.transfer_key, pending.session_id)
        if side == "host" and self.side == "host":
            now = round(self.rig.clock.now() * 1e9)
            if now != self.clock_ns:
                self.clock_ns = now
                w.clock("host", now)
        if a.kind == "barrier":
            self._diff(None)
            w.barrier(side, str(a.where))
            return
        off, data = access_bytes(a)
        self._diff((off, len(data)) if a.kind == "write" else None)
        if a.kind == "read":
            w.read(side, off, data)
        else:
            w.write(side, off, data)
            end = min(off + len(data), SHARED_SIZE)
            self.shadow[off:end] = self.rig.mailbox[off:end]

    def _diff(self, skip: tuple[int, int] | None) -> None:
        """Write what changed in the shared area without an access (scripted peers, adversaries)."""
        mb = self.rig.mailbox
        if mb == self.shadow:
            return
        go = slice(FIELDS["go"][0], FIELDS["go"][0] + 4)
        # the rig's scripted host publishes a command whole (cmd_type, gpa, ret, go), also the
        # parameters whose value did not change: the helper's model follows their provenance
        publish = self.side == "guest" and mb[go] != self.shadow[go]
        for off, n in _REGIONS:
            new, old = mb[off:off + n], self.shadow[off:off + n]
            if new == old and not (publish and off in _PARAMS):
                continue
            if skip is not None and skip[0] <= off and off + n <= skip[0] + skip[1]:
                continue  # the access itself rewrites it whole
            if off in _WHOLE:
                lo, hi = 0, n
            else:
                diff = [k for k in range(n) if new[k] != old[k]]
                lo, hi = diff[0], diff[-1] + 1
            self.writer.write(self.peer, off + lo, bytes(new[lo:hi]), by="adversary")
            self.shadow[off + lo:off + hi] = new[lo:hi]

    def op(self, op: str, gpa: int | None) -> None:
        self.writer.op("host", op, gpa)

    def result(self, op: str, ok: bool, error: str | None = None) -> None:
        self._diff(None)
        self.writer.result("host", op, ok, error)


@attrs.define
class _RecordedHost:
    """The rig's host under test, its operations logged (``op`` before, ``result`` after)."""

    inner: Any
    rec: RigRecorder

    def _call(self, op: str, gpa: int | None, fn: Callable[[], Any]) -> Any:
        self.rec.op(op, gpa)
        try:
            out = fn()
        except OperationFailed as e:
            self.rec.result(op, False, str(e))
            raise
        except Exception as e:  # noqa: BLE001 - a crash ends the operation too; the rig judges it
            self.rec.result(op, False, f"{type(e).__name__}: {e}")
            raise
        self.rec.result(op, True)
        return out

    def initialize(self) -> None:
        self._call("init", None, self.inner.initialize)

    def save_page(self, gpa: int) -> Any:
        return self._call("save", gpa, lambda: self.inner.save_page(gpa))

    def load_page(self, record: Any) -> None:
        self._call("load", record.gpa, lambda: self.inner.load_page(record))

    def cleanup(self) -> None:
        self._call("cleanup", None, self.inner.cleanup)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class recording:
    """``with recording() as logs:`` every rig built inside is recorded; ``logs`` their recorders."""

    def __init__(self) -> None:
        self.recorders: list[RigRecorder] = []

    def _hook(self, rig: Any) -> None:
        self.recorders.append(RigRecorder(rig))

    def __enter__(self) -> list[RigRecorder]:
        rigmod.BUILD_HOOKS.append(self._hook)
        return self.recorders

    def __exit__(self, *exc: Any) -> None:
        rigmod.BUILD_HOOKS.remove(self._hook)


def record_replay(case_id: str, impl: Any, steps: Sequence) -> str:
    """The log of a reproducer's steps (a failing case's shrunk run), run again."""
    from .cases import replay

    with recording() as recs:
        replay(case_id, impl, steps)
    return recs[-1].text() if recs else ""


def log_name(case_id: str) -> str:
    """A case's log file name: ``host/stale-completion`` -> ``host-stale-completion.jsonl``."""
    return case_id.replace("/", "-") + ".jsonl"


def implementation_of(args: Any, side: str) -> Any:
    """The implementation a ``conform`` command line checked on ``side`` (built again: a C file's
    build is cached, a wire command says hello once more), for :func:`record_replay`."""
    import shlex

    if getattr(args, "exec_cmd", None) is not None:
        from .wire import wire_guest, wire_host

        return (wire_host if side == "host" else wire_guest)(args.exec_cmd, args.protocol)
    c_file = getattr(args, f"c_{side}", None)
    if c_file:
        from .ckit.guest import c_guest
        from .ckit.host import c_host

        opts = {"defines": tuple(args.define), "cflags": tuple(shlex.split(args.cflags))}
        return c_host(c_file, args.protocol, **opts) if side == "host" else c_guest(c_file, args.protocol,
                                                                                    entry=args.entry, **opts)
    return args.impl


def record_failures(args: Any, results: Sequence[Any]) -> list[str]:
    """``conform --record DIR``: the log of each failing case's shrunk run, written into DIR."""
    paths: list[str] = []
    impls: dict[str, Any] = {}
    for r in results:
        if r.verdict not in ("fail", "deviates") or not r.steps:
            continue
        side = r.case.side
        if side not in impls:
            impls[side] = implementation_of(args, side)
        text = record_replay(r.case.id, impls[side], r.steps)
        path = os.path.join(args.record, log_name(r.case.id))
        from mhmailbox.outfiles import write_atomically

        write_atomically(path, text)
        paths.append(path)
    for impl in impls.values():
        stop = getattr(impl, "stop", None)
        if callable(stop):
            stop()
    return paths


__all__ = ["RigRecorder", "implementation_of", "log_name", "record_failures", "record_replay",
           "recording"]
