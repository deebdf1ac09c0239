"""Record a real run of our host and helpers as one ``mhmailbox-log 1`` (docs/log.md).

Each process (the host, every helper) writes its own part file through a
:class:`~mhmailbox.impl.memory.RecordingPort`; all take their indices from one
:class:`~mhmailbox.impl.memory.AccessCounter` created before the helpers fork, so the
parts merge by index into one total order (:meth:`RunRecorder.finish`). The host's
clock reads and its operations (save, load, cleanup, with their results) are events too.
``mhmailbox migrate --record FILE`` uses it; so can a stress run (``helper_process`` and
``host`` are the two halves).
"""
from __future__ import annotations

import heapq
import json
import os
import signal
import tempfile
from typing import Any, Callable, Iterable, Iterator

import attrs

from .clock import Clock, MonotonicClock
from .crypto import HDR_SIZE, Provision
from .guest import GuestHelper, Mode
from .host import Host, HostError
from .memory import AccessCounter, MappedFile, RecordingPort
from .procs import HelperProcess, _context
from .stream import Record

LOG_VERSION = "mhmailbox-log 1"


@attrs.define(eq=False)
class RecordingClock:
    """The host's clock, each read an event (``clock``, in integer nanoseconds)."""

    inner: Clock
    port: RecordingPort

    def now(self) -> float:
        t = self.inner.now()
        self.port.note({"ev": "clock", "now_ns": int(t * 1e9)})
        return t

    def spent(self, seconds: float) -> None:
        self.inner.spent(seconds)

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)

    def relax(self) -> None:
        relax = getattr(self.inner, "relax", None)
        if relax is not None:
            relax()


@attrs.define(eq=False)
class RecordingHost(Host):
    """A host whose operations are events: ``op`` before, ``result`` after. Pages are saved and
    loaded one operation at a time (the same accesses per command as the pipelined path)."""

    recorder: Any = None

    def _op(self, op: str, gpa: int | None, fn: Callable[[], Any]) -> Any:
        port: RecordingPort = self.port  # type: ignore[assignment]
        port.note({"ev": "op", "op": op, **({} if gpa is None else {"gpa": gpa})})
        try:
            out = fn()
        except HostError as e:
            port.note({"ev": "result", "op": op, "result": "failed", "error": str(e)})
            raise
        ok = getattr(out, "ok", True)
        port.note({"ev": "result", "op": op, "result": "ok" if ok else "failed"})
        return out

    def save_page(self, gpa: int) -> Record:
        return self._op("save", gpa, lambda: Host.save_page(self, gpa))

    def save_pages(self, gpas: Iterable[int]) -> Iterator[Record]:
        for gpa in gpas:
            yield self.save_page(gpa)

    def load_page(self, rec: Record) -> None:
        self._op("load", rec.gpa, lambda: Host.load_page(self, rec))

    def load_pages(self, records: Iterable[Record]) -> int:
        n = 0
        for rec in records:
            self.load_page(rec)
            n += 1
        return n

    def cleanup(self) -> Any:
        return self._op("cleanup", None, lambda: Host.cleanup(self))


def _helper_main(mailbox_path: str, ram_path: str, mode: Mode, secret: tuple[bytes, bytes] | None, ready: Any,
                 stop: Any, counter: AccessCounter, part: str, vm: str) -> None:
    """A helper process whose every mailbox access is logged into ``part``."""
    parent = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the host's to handle: it stops this helper
    mailbox, ram = MappedFile.attach(mailbox_path), MappedFile.attach(ram_path)
    prov = Provision(*secret) if secret is not None else None
    with open(part, "w", encoding="utf-8", buffering=1) as out:  # a killed helper keeps its lines
        port = RecordingPort(mailbox.buf, "guest", counter=counter, out=out, vm=vm)
        helper = GuestHelper(port, ram.buf, mode, prov)  # type: ignore[arg-type]
        helper.start()
        ready.set()
        helper.run(lambda: stop.is_set() or os.getppid() != parent)


@attrs.define(eq=False)
class RunRecorder:
    """The parts of one recorded run, merged by :meth:`finish` into ``path``."""

    path: str
    mode: Mode
    timeout: float
    ram_size: int
    source: str = "mhmailbox migrate"
    #: the helpers' provisioning, written into the header so that check-log can open their seals
    #: (our migrations' throwaway key; None keeps keys out of the log)
    provision: Provision | None = None
    counter: AccessCounter = attrs.field(factory=AccessCounter)
    workdir: Any = attrs.field(factory=lambda: tempfile.TemporaryDirectory(prefix="mhmailbox-log-"))
    parts: list = attrs.field(factory=list)
    files: list = attrs.field(factory=list)

    def _part(self, name: str) -> str:
        p = os.path.join(self.workdir.name, f"{name}.jsonl")
        self.parts.append(p)
        return p

    def helper_process(self, mailbox_path: str, ram_path: str, provision: Provision | None, vm: str = "",
                       start_timeout: float = 10.0) -> HelperProcess:
        """Start a recording helper on these files; returns once it has booted."""
        ctx = _context()
        ready, stop = ctx.Event(), ctx.Event()
        secret = (provision.transfer_key, provision.session_id) if provision is not None else None
        p = ctx.Process(target=_helper_main, name=f"mh-helper-rec-{vm}", daemon=True,
                        args=(mailbox_path, ram_path, self.mode, secret, ready, stop, self.counter,
                              self._part(f"guest-{vm}"), vm))
        p.start()
        if not ready.wait(start_timeout):
            p.kill()
            p.join()
            raise RuntimeError(f"recording helper did not start within {start_timeout} s (exit code {p.exitcode})")
        return HelperProcess(p, stop, self.mode)

    def host(self, mailbox: MappedFile, vm: str = "", *, peer_alive: Callable[[], bool] | None = None) -> Host:
        """A host on ``mailbox`` whose accesses, clock reads and operations are recorded."""
        out = open(self._part(f"host-{vm}"), "w", encoding="utf-8", buffering=1 << 16)
        self.files.append(out)
        port = RecordingPort(mailbox.buf, "host", counter=self.counter, out=out, vm=vm)
        return RecordingHost(port, self.mode, RecordingClock(MonotonicClock(), port), timeout=self.timeout,
                             peer_alive=peer_alive, recorder=self)

    def header(self) -> dict[str, Any]:
        return {"log": LOG_VERSION, "protocol": self.mode, "sides": ["host", "guest"], "source": self.source,
                "deadline_ns": int(round(self.timeout * 1e9)), "writes": "all",
                "hdr_len_ok": HDR_SIZE if self.mode == "hardened" else 0, "ram_size": self.ram_size,
                **({} if self.provision is None else {"provision": {"key": self.provision.transfer_key.hex(),
                                                                    "session": self.provision.session_id.hex()}})}

    def finish(self) -> int:
        """Merge the parts (the helpers must have stopped) into ``path``; the number of events."""
        from mhmailbox.outfiles import write_atomically

        for f in self.files:
            f.close()
        handles = [open(p, encoding="utf-8") for p in self.parts if os.path.exists(p)]
        try:
            merged = heapq.merge(*handles, key=lambda line: json.loads(line)["i"])
            lines = [json.dumps(self.header()) + "\n", *merged]
        finally:
            for h in handles:
                h.close()
        write_atomically(self.path, "".join(lines))
        self.workdir.cleanup()
        return len(lines) - 1


__all__ = ["RecordingClock", "RecordingHost", "RunRecorder"]
