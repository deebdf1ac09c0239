"""A whole migration across real processes: source VM -> stream file -> target VM.

Each side is a :class:`VM`: a RAM file, a mailbox file (the published 8 KiB layout)
and a helper process; the host runs in the calling process. The source host saves
every RAM page except the shared area's into the stream (written to ``FILE.partial``
and renamed only when complete, so an aborted save never looks like a finished
stream); the target host loads the stream strictly (a record reaches the target
helper only once fully decoded and valid) and the target helper writes a page to RAM
only after authenticating it (hardened).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
from typing import Any, Callable

import attrs

from mhmailbox.model.layout import PAGE_SIZE, SHARED_GPA, SHARED_SIZE, in_shared_area

from .crypto import Provision
from .guest import Mode
from .host import Host, HostError
from .memory import DirectPort, MappedFile
from .procs import HelperProcess, cpu_plan, host_affinity
from .stream import StreamError, StreamReader, StreamWriter

Progress = Callable[[str, int, int], None]  # phase, done, total


class MigrationFailed(Exception):
    """The migration could not complete (helper death, timeout, refused page, bad stream)."""


def pattern_page(gpa: int) -> bytes:
    """Deterministic, page-specific contents (so a moved page is visible)."""
    return hashlib.blake2b(gpa.to_bytes(8, "little"), digest_size=64).digest() * (PAGE_SIZE // 64)


def migratable_pages(ram_size: int) -> list[int]:
    """Every page gpa of RAM except the shared area's."""
    return [g for g in range(0, ram_size - ram_size % PAGE_SIZE, PAGE_SIZE) if not in_shared_area(g)]


def same_ram(a: memoryview, b: memoryview) -> bool:
    """RAM equality outside the shared area (which migration skips)."""
    lo, hi = SHARED_GPA, SHARED_GPA + SHARED_SIZE
    return a[:lo] == b[:lo] and a[hi:] == b[hi:]


@attrs.define(eq=False)
class VM:
    """A guest: RAM file + mailbox file + helper process, and a host for its mailbox."""

    ram: MappedFile
    mailbox: MappedFile
    helper: HelperProcess
    mode: Mode

    #: records this VM's host and helper (``migrate --record``), under this name
    recorder: Any = None
    name: str = ""

    @classmethod
    def launch(cls, ram_size: int, mode: Mode, provision: Provision | None, *, fill: bool = False,
               cpu: int | None = None, recorder: Any = None, name: str = "") -> "VM":
        ram = MappedFile.create(ram_size, prefix="mhmailbox-ram-")
        mailbox = MappedFile.create(SHARED_SIZE, prefix="mhmailbox-mbox-")
        if fill:
            buf = ram.buf
            for gpa in range(0, ram_size - ram_size % PAGE_SIZE, PAGE_SIZE):
                buf[gpa:gpa + PAGE_SIZE] = pattern_page(gpa)
        try:
            if recorder is not None:
                helper = recorder.helper_process(mailbox.path, ram.path, provision, name)
            else:
                helper = HelperProcess.spawn(mailbox.path, ram.path, mode, provision, cpu=cpu)
        except BaseException:
            ram.close()
            mailbox.close()
            raise
        return cls(ram, mailbox, helper, mode, recorder, name)

    def host(self, timeout: float = 0.1) -> Host:
        if self.recorder is not None:
            return self.recorder.host(self.mailbox, self.name, peer_alive=self.helper.alive)
        return Host(DirectPort(self.mailbox.buf, "host"), self.mode, timeout=timeout, peer_alive=self.helper.alive)

    def close(self) -> None:
        self.helper.stop()
        self.ram.close()
        self.mailbox.close()


def _failure(what: str, exc: Exception, vm: VM) -> MigrationFailed:
    tail = "" if vm.helper.alive() else f" ({vm.helper.describe()})"
    return MigrationFailed(f"{what}: {exc}{tail}")


def save_vm(vm: VM, host: Host, path: str, progress: Progress | None = None) -> int:
    """Save every migratable page of ``vm`` into the stream file ``path``; pages saved."""
    gpas = migratable_pages(vm.ram.size)
    partial = path + ".partial"
    ok = False
    try:
        with open(partial, "wb", buffering=1 << 20) as f:
            w = StreamWriter(f, vm.mode, len(gpas))
            i = 0
            try:
                for rec in host.save_pages(gpas):
                    w.write(rec)
                    i += 1
                    if progress is not None and i & 1023 == 0:
                        progress("save", i, len(gpas))
            except HostError as exc:
                raise _failure(f"save of page {gpas[i]:#x} ({i} of {len(gpas)} saved)", exc, vm) from exc
            w.finish()
        host.cleanup()
        os.replace(partial, path)
        ok = True
    finally:
        if not ok:
            try:
                os.unlink(partial)
            except FileNotFoundError:
                pass
    if progress is not None:
        progress("save", len(gpas), len(gpas))
    return len(gpas)


def load_vm(vm: VM, host: Host, path: str, progress: Progress | None = None) -> int:
    """Load the stream ``path`` into ``vm``; pages loaded. MigrationFailed on any refusal."""
    count = [0, 0]  # records decoded, announced

    def records(reader: StreamReader):
        count[1] = reader.header.page_count
        for rec in reader:
            yield rec
            count[0] += 1
            if progress is not None and count[0] & 1023 == 0:
                progress("load", count[0], count[1])

    with open(path, "rb", buffering=1 << 20) as f:
        try:
            reader = StreamReader(f, expect_mode=vm.mode, ram_size=vm.ram.size)
            n = host.load_pages(records(reader))
        except StreamError as exc:
            raise MigrationFailed(f"target refused the stream: {exc}") from exc
        except HostError as exc:
            raise _failure(f"load failed after {count[0]} of {count[1]} pages", exc, vm) from exc
    host.cleanup()
    if progress is not None:
        progress("load", n, count[1])
    return n


@attrs.frozen
class MigrationReport:
    mode: str
    pages: int
    seconds: float
    save_seconds: float
    load_seconds: float
    verified: bool
    plaintext_pages_in_stream: int
    stream_bytes: int

    def summary(self) -> dict[str, object]:
        """The CLI's ``--json`` object (exactly these keys)."""
        s = max(self.seconds, 1e-9)
        return {
            "mode": self.mode,
            "pages": self.pages,
            "seconds": round(self.seconds, 6),
            "pages_per_s": round(self.pages / s, 1),
            "mib_per_s": round(self.pages * PAGE_SIZE / s / (1 << 20), 2),
            "verified": self.verified,
            "plaintext_pages_in_stream": self.plaintext_pages_in_stream,
        }


def count_plaintext_pages(path: str, source_ram: memoryview) -> int:
    """Records whose page bytes equal the source's plaintext page at that gpa."""
    n = 0
    with open(path, "rb", buffering=1 << 20) as f:
        try:
            for rec in StreamReader(f):
                if source_ram[rec.gpa:rec.gpa + PAGE_SIZE] == rec.page:
                    n += 1
        except StreamError:  # count what precedes a malformed record (the target refused it anyway)
            pass
    return n


def run_migration(ram_size: int, mode: Mode = "hardened", *, stream_path: str | None = None,
                  timeout: float = 0.1, progress: Progress | None = None, pin: bool = False,
                  record: str | None = None) -> MigrationReport:
    """Source VM with patterned RAM -> stream -> target VM; verify; report.

    ``record``: write the run, both VMs' hosts and helpers in one order, as an
    ``mhmailbox-log 1`` into this file (docs/log.md; slow: every access is logged).

    ``pin``: helpers on one CPU, the host on the others, for the timed part (see
    ``cpu_plan``); off by default, because on a shared machine a pinned helper cannot
    escape a busy CPU.
    """
    if ram_size % PAGE_SIZE or ram_size <= 0:
        raise ValueError("RAM size must be a positive multiple of 4096")
    provision = Provision.generate() if mode == "hardened" else None
    tmpdir = None
    if stream_path is None:
        tmpdir = tempfile.TemporaryDirectory(prefix="mhmailbox-stream-")
        stream_path = os.path.join(tmpdir.name, "stream.bin")
    host_cpus, helper_cpu = cpu_plan() if pin else (None, None)
    recorder = None
    if record is not None:
        from .recording import RunRecorder

        recorder = RunRecorder(record, mode, timeout, ram_size, provision=provision)
    try:
        return _migrate(ram_size, mode, provision, stream_path, timeout, progress, host_cpus, helper_cpu, recorder)
    finally:
        if tmpdir is not None:
            tmpdir.cleanup()
        if recorder is not None:  # also (above all) the log of a run that failed
            recorder.finish()


def _migrate(ram_size: int, mode: Mode, provision: Provision | None, stream_path: str, timeout: float,
             progress: Progress | None, host_cpus: set[int] | None, helper_cpu: int | None,
             recorder: Any) -> MigrationReport:
    src = VM.launch(ram_size, mode, provision, fill=True, cpu=helper_cpu, recorder=recorder, name="source")
    try:
        tgt = VM.launch(ram_size, mode, provision, cpu=helper_cpu, recorder=recorder, name="target")
        try:
            with host_affinity(host_cpus):
                t0 = time.perf_counter()
                pages = save_vm(src, src.host(timeout), stream_path, progress)
                t1 = time.perf_counter()
                load_vm(tgt, tgt.host(timeout), stream_path, progress)
                t2 = time.perf_counter()
            verified = same_ram(src.ram.buf, tgt.ram.buf)
            plain = count_plaintext_pages(stream_path, src.ram.buf)
            size = os.path.getsize(stream_path)
        finally:
            tgt.close()
    finally:
        src.close()
    return MigrationReport(mode, pages, t2 - t0, t1 - t0, t2 - t1, verified, plain, size)
