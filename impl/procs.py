"""Real concurrency: each guest helper in its own process, attached by file path.

The helper process maps the mailbox file and the RAM file, runs
:meth:`GuestHelper.start` (then signals ready, so a host never writes ``go`` before an
rfc helper's boot-time ``go=0``), and polls like a vCPU until told to stop or until its
parent disappears. The host side keeps a :class:`HelperProcess` handle whose
``alive`` is what :class:`~mhmailbox.impl.host.Host` calls between polling bursts.
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import sys
from multiprocessing.process import BaseProcess
from typing import Any, Callable, Iterator

import attrs

from .crypto import Provision
from .guest import GuestHelper, Mode
from .memory import DirectPort, MappedFile


def cpu_plan() -> tuple[set[int] | None, int | None]:
    """(CPUs for the host, CPU for the helpers), or (None, None) with fewer than 2 CPUs.

    Two busy-polling processes that the scheduler puts on one core make every round
    trip wait for a time slice (measured: 100x slower, at random); pinning host and
    helpers apart, as a VMM pins vCPUs, removes that.
    """
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None, None
    if len(cpus) < 2:
        return None, None
    return set(cpus[:-1]), cpus[-1]


@contextlib.contextmanager
def host_affinity(cpus: set[int] | None) -> Iterator[None]:
    """Pin the calling process to ``cpus`` for the duration (restored afterwards)."""
    if not cpus:
        yield
        return
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, old)


def _context() -> Any:
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


def _helper_main(mailbox_path: str, ram_path: str, mode: Mode, secret: tuple[bytes, bytes] | None,
                 ready: Any, stop: Any, cpu: int | None, run_kwargs: dict[str, Any]) -> None:
    """Entry point of a helper process."""
    parent = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the host's to handle: it stops this helper
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    mailbox = MappedFile.attach(mailbox_path)
    ram = MappedFile.attach(ram_path)
    prov = Provision(*secret) if secret is not None else None
    helper = GuestHelper(DirectPort(mailbox.buf, "guest"), ram.buf, mode, prov)
    helper.start()
    ready.set()
    helper.run(lambda: stop.is_set() or os.getppid() != parent, **run_kwargs)


@attrs.define(eq=False)
class HelperProcess:
    """A running guest helper (a vCPU of the helper VM), seen from the host's process."""

    process: BaseProcess
    stop_event: Any = attrs.field(repr=False)
    mode: Mode

    @classmethod
    def spawn(cls, mailbox_path: str, ram_path: str, mode: Mode, provision: Provision | None = None,
              *, cpu: int | None = None, start_timeout: float = 10.0, **run_kwargs: Any) -> "HelperProcess":
        """Start a helper on these files (pinned to ``cpu`` if given) and wait until it has booted."""
        ctx = _context()
        ready, stop = ctx.Event(), ctx.Event()
        secret = (provision.transfer_key, provision.session_id) if provision is not None else None
        p = ctx.Process(target=_helper_main, name=f"mh-helper-{mode}",
                        args=(mailbox_path, ram_path, mode, secret, ready, stop, cpu, run_kwargs), daemon=True)
        p.start()
        if not ready.wait(start_timeout):
            p.kill()
            p.join()
            raise RuntimeError(f"helper process did not start within {start_timeout} s (exit code {p.exitcode})")
        return cls(p, stop, mode)

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.is_alive()

    def describe(self) -> str:
        code = self.process.exitcode
        if code is None:
            return f"helper pid {self.pid} is running"
        if code < 0:
            return f"helper pid {self.pid} was killed by signal {signal.Signals(-code).name}"
        return f"helper pid {self.pid} exited with code {code}"

    def stop(self, timeout: float = 5.0) -> int | None:
        """Ask the helper to stop (it notices when idle); kill it if it does not."""
        self.stop_event.set()
        self.process.join(timeout)
        if self.process.is_alive():
            self.kill()
        return self.process.exitcode

    def kill(self) -> None:
        """SIGKILL, as a crash would; reaped at once."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join()

    def pause(self) -> None:
        """SIGSTOP: a stalled vCPU."""
        assert self.pid is not None
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGCONT)


def main(argv: list[str] | None = None) -> int:
    """Run one helper in the foreground on existing files (for hosts in other languages).

    ``python -m mhmailbox.impl.procs --mailbox PATH --ram PATH [--mode hardened --secret-file F]``;
    the secret file holds the 32-byte transfer key then the 16-byte session id.
    """
    from mhmailbox.cli import UsageError, _Parser
    from mhmailbox.model.layout import PAGE_SIZE, SHARED_SIZE

    ap = _Parser(prog="python -m mhmailbox.impl.procs", description=main.__doc__.splitlines()[0])
    ap.add_argument("--mailbox", required=True, help="file holding the 8 KiB shared area")
    ap.add_argument("--ram", required=True, help="file holding guest RAM (gpa 0 at offset 0)")
    ap.add_argument("--mode", choices=("rfc", "hardened"), default="hardened")
    ap.add_argument("--secret-file", help="48 bytes: transfer key, session id (hardened)")
    try:
        a = ap.parse_args(argv)
        prov = None
        if a.mode == "hardened":
            if not a.secret_file:
                raise UsageError("--secret-file is required in hardened mode")
            raw = _read_file(a.secret_file, "--secret-file")
            if len(raw) != 48:
                raise UsageError(f"--secret-file: {a.secret_file} holds {len(raw)} bytes, not 48 "
                                 "(32-byte transfer key, 16-byte session id)")
            prov = Provision(raw[:32], raw[32:])
        mailbox = _attach(a.mailbox, "--mailbox", lambda n: n >= SHARED_SIZE, f"at least {SHARED_SIZE} bytes")
        ram = _attach(a.ram, "--ram", lambda n: n > 0 and n % PAGE_SIZE == 0, f"a positive multiple of {PAGE_SIZE} bytes")
    except UsageError as exc:
        message = str(exc) if str(exc).startswith(ap.prog) else f"{ap.prog}: {exc}"  # argparse's has it
        print(f"error: {message}", file=sys.stderr)
        return 2
    helper = GuestHelper(DirectPort(mailbox.buf, "guest"), ram.buf, a.mode, prov)
    helper.start()
    try:
        helper.run(lambda: False)
    except KeyboardInterrupt:
        pass
    return 0


def _read_file(path: str, what: str) -> bytes:
    from mhmailbox.cli import UsageError

    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise UsageError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None


def _attach(path: str, what: str, size_ok: Callable[[int], bool], wanted: str) -> MappedFile:
    """Map an existing file for the foreground helper; UsageError (one line) if it cannot be."""
    from mhmailbox.cli import UsageError

    try:
        size = os.stat(path).st_size
        if not os.path.isfile(path):
            raise UsageError(f"{what}: {path} is not a regular file")
        if not size_ok(size):
            raise UsageError(f"{what}: {path} holds {size} bytes; expected {wanted}")
        return MappedFile.attach(path)
    except OSError as exc:
        raise UsageError(f"{what}: cannot map {path}: {exc.strerror or exc}") from None

if __name__ == "__main__":
    raise SystemExit(main())
