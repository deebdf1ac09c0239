"""``mhmailbox stress``: an implementation and a peer on real concurrency, every access logged.

A *run* is one fresh pair of processes on one fresh shared mapping (a memfd: the 8 KiB
mailbox, then the control page of :mod:`.stress_native`): the peer (our reference helper,
or an adversarial one) boots, then the host under test runs a few operations (saves of
two pages, now and then a cleanup) while the peer serves, and hostile moves land when the
scheduler says. Both sides' accesses are numbered by one counter and logged; the merged
log (:mod:`.stress_log`, ``mhmailbox-log 1``) is judged by ``check-log`` (the suite's model
as the oracle, on the host) and by the checks of what the host emitted; a run with a
violation keeps its log. Runs follow each other until the time budget is spent (or, by
default, the first violation).
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Sequence

import attrs

from mhmailbox.model.properties import BY_ID

from .stress_log import Violation, attach_records, excerpt, merge, model_checks, parse, record_checks, to_log
from .stress_native import CONTROL_SIZE, core, host_runtime
from .stress_exec import exec_host_main
from .stress_peers import RAM_SIZE as HELPER_RAM
from .stress_peers import SAVE_GPAS, child, helper_main, host_main

MAP_SIZE = 0x2000 + CONTROL_SIZE
#: Offsets in the run's file of the stop flag and the ready word (the control page: next,
#: serving, stop, ready).
STOP_AT, READY_AT = 0x2000 + 8, 0x2000 + 12
#: Where a C helper's RAM starts (the lowest gpa a process can map: the kit's ``RAM_LO``).
C_RAM_LO = 0x10000
#: Operations per run.
OPS_PER_RUN = 6
#: A host that has not finished its operations after this long is stopped (a hang).
RUN_LIMIT_S = 30.0
#: The default delay: a chance in percent per access, and its longest spin in ns.
DEFAULT_DELAY = (25, 500)


@attrs.frozen
class Target:
    """What is under test: ``kind`` "c-host" (a built file), "impl" (our Python host) or "exec"
    (a process speaking the wire, ``argv``)."""

    kind: str
    protocol: str
    name: str
    binary: str = ""
    argv: tuple[str, ...] = ()
    #: the side under test; "guest" (our Python helper, ``impl``): our host is the peer
    side: str = "host"


@attrs.define
class Finding:
    """One violation, with the run it came from and where its log went."""

    violation: Violation
    run: int
    seed: int
    after_s: float
    #: saves the session had made when the run that found it ended (the tries it took)
    saves: int
    log: str | None
    excerpt: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {**self.violation.as_dict(), "run": self.run, "seed": self.seed, "after_s": round(self.after_s, 3),
                "saves": self.saves, "log": self.log, "excerpt": self.excerpt}


@attrs.define
class StressReport:
    """What a stress session did and found."""

    target: Target
    peer: str
    seconds: float = 0.0
    runs: int = 0
    operations: int = 0
    saves: int = 0
    accesses: int = 0
    findings: list[Finding] = attrs.field(factory=list)
    log_dir: str | None = None
    delay: tuple[int, int] = DEFAULT_DELAY
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"implementation": self.target.name, "side": self.target.side, "protocol": self.target.protocol,
                "peer": self.peer,
                "seed": self.seed, "delay": {"percent": self.delay[0], "max_ns": self.delay[1]},
                "seconds": round(self.seconds, 3), "runs": self.runs, "operations": self.operations,
                "saves": self.saves, "accesses": self.accesses,
                "accesses_per_second": round(self.accesses / self.seconds, 1) if self.seconds else 0.0,
                "runs_per_second": round(self.runs / self.seconds, 2) if self.seconds else 0.0,
                "violations": [f.as_dict() for f in self.findings], "log_dir": self.log_dir,
                "verdict": "violated" if self.findings else "nothing found"}


def build_c_host(files: Sequence[str], defines: Sequence[str] = (), cflags: Sequence[str] = (),
                 helper_entry: str | None = None) -> str:
    """The user's C host (a helper with ``helper_entry``) built with the stress runtime
    (UsageError, one line, on any problem)."""
    from .ckit.build import build

    return build(files, defines=defines, cflags=cflags, runtime=host_runtime(), helper_entry=helper_entry).binary


def _ops(rnd: random.Random) -> list[tuple[str, int]]:
    return [("cleanup", 0) if rnd.random() < 0.15 else ("save", rnd.choice(SAVE_GPAS)) for _ in range(OPS_PER_RUN)]


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def _wait(pid: int, deadline: float) -> int | None:
    """The child's status (as subprocess gives it), or None if it is still running at ``deadline``."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.0005)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def one_run(target: Target, adversarial: bool, seed: int,
            delay: tuple[int, int]) -> tuple[list[str], list[dict[str, Any]], list[Violation]]:
    """One run: its log (``mhmailbox-log 1`` lines), the merged records behind it, and the
    violations judged on them (the first of each property)."""
    rnd = random.Random(seed)
    ops = _ops(rnd)
    map_fd = os.memfd_create("mhstress-run")
    os.ftruncate(map_fd, MAP_SIZE)
    logs = [os.memfd_create(f"mhstress-log-{s}") for s in ("host", "guest")]
    stderr = tempfile.TemporaryFile()
    ready_r, ready_w = os.pipe()
    helper_seed = rnd.getrandbits(32)
    guest = target.side == "guest"  # our helper under test, our host its peer (adversarial or not)
    if target.kind == "c-guest":  # the C helper under test: it says it has booted in the control page
        hrnd = random.Random(helper_seed)
        env = dict(os.environ, MHS_MAP_FD=str(map_fd), MHS_LOG_FD=str(logs[1]), MHS_SEED=str(helper_seed),
                   MHS_DELAY_PCT=str(delay[0]), MHS_DELAY_NS=str(delay[1]), MHS_RAM_LO=str(C_RAM_LO),
                   MHS_RAM_TOP=str(HELPER_RAM), MHS_RAM_PAGES=" ".join(str(g) for g in SAVE_GPAS),
                   **({"MHS_PROVISION": hrnd.randbytes(48).hex()} if target.protocol == "hardened" else {}))
        peer = subprocess.Popen([target.binary], env=env, pass_fds=(map_fd, logs[1]), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=stderr).pid
        os.close(ready_w)
        booted = time.monotonic() + 10.0
        while int.from_bytes(os.pread(map_fd, 4, READY_AT), "little") == 0 and time.monotonic() < booted:
            time.sleep(0.0005)
    else:
        peer = child(lambda: helper_main(map_fd, logs[1], target.protocol, adversarial and not guest, helper_seed,
                                         delay, ready_w), stderr.fileno() if guest else None)
        os.close(ready_w)
    extra: list[Violation] = []
    host_pid = 0
    try:
        if target.kind != "c-guest" and not os.read(ready_r, 1):
            raise RuntimeError("the peer helper died before booting")
        if target.kind == "c-host":
            env = dict(os.environ, MHS_MAP_FD=str(map_fd), MHS_LOG_FD=str(logs[0]), MHS_SEED=str(seed),
                       MHS_DELAY_PCT=str(delay[0]), MHS_DELAY_NS=str(delay[1]),
                       MHS_OPS=" ".join(f"s{g}" if op == "save" else "c" for op, g in ops))
            proc = subprocess.Popen([target.binary], env=env, pass_fds=(map_fd, logs[0]), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=stderr)
            host_pid = proc.pid
        elif target.kind == "exec":
            host_pid = child(lambda: exec_host_main(map_fd, logs[0], target.argv, target.protocol, ops, seed, delay),
                             stderr.fileno())
        else:
            host_pid = child(lambda: host_main(map_fd, logs[0], target.protocol, ops, seed, delay, adversarial and guest),
                             None if guest else stderr.fileno())
        status = _wait(host_pid, time.monotonic() + RUN_LIMIT_S)
        if status is None:
            os.kill(host_pid, signal.SIGTERM)  # a C host writes out its log first
            if _wait(host_pid, time.monotonic() + 1.0) is None:
                _kill(host_pid)
            extra.append(Violation("robust", f"the host had not finished its {len(ops)} operations after "
                                   f"{RUN_LIMIT_S:g} s of real time (a wait that never ends)", 1 << 62, "host"))
        elif status != 0:
            how = f"was killed by {signal.Signals(-status).name}" if status < 0 else f"exited with status {status}"
            stderr.seek(0)
            last = stderr.read().decode("utf-8", "replace").strip().splitlines()
            extra.append(Violation("robust", f"the host {how}" + (f"; it printed: {last[-1]}" if last else ""),
                                   1 << 62, "host"))
        host_pid = 0
    finally:
        os.close(ready_r)
        os.pwrite(map_fd, (1).to_bytes(4, "little"), STOP_AT)
        if host_pid:
            _kill(host_pid)
        status = _wait(peer, time.monotonic() + 5.0)
        if status is None:
            _kill(peer)
        if guest and status:  # the helper under test crashed (our own peers exit 0)
            stderr.seek(0)
            last = stderr.read().decode("utf-8", "replace").strip().splitlines()
            how = f"was killed by {signal.Signals(-status).name}" if status < 0 else f"exited with status {status}"
            extra.append(Violation("robust", f"the helper {how}" + (f"; it printed: {last[-1]}" if last else ""),
                                   1 << 62, "guest"))
        stderr.close()
        os.close(map_fd)
    try:
        lines = merge(parse(_read_all(logs[0]), "host"), parse(_read_all(logs[1]), "guest"))
    finally:
        for fd in logs:
            os.close(fd)
    attach_records(lines, "host")
    log = to_log(lines, target.protocol, f"mhmailbox stress: {target.name}, seed {seed}")
    found, div = model_checks(log, target.protocol, target.side)
    if div is not None:
        found.append(Violation("divergence", f"the model of {target.protocol} cannot follow the {target.side} here: "
                               f"{div.get('why') or div.get('message') or div}", div["i"], target.side))
    if not guest:
        found += record_checks(lines, "host")
    for v in extra:  # a crash or hang: placed at the end of what the log holds
        found.append(attrs.evolve(v, i=lines[-1]["i"] if lines else 0))
    first: dict[str, Violation] = {}  # one per property and run: the first in the log's order
    for v in sorted(found, key=lambda v: v.i):
        if judged(v.property, target.side, adversarial):
            first.setdefault(v.property, v)
    return log, lines, list(first.values())


def judged(prop: str, side: str, adversarial: bool) -> bool:
    """Whether a violation of ``prop`` counts against the ``side`` under test with this peer: the
    catalog's rule (a host property only against the helper behaviours it lists, e.g. not
    order.response against a hostile helper, which can always forge a completion; a helper
    property whatever the host does); ``divergence`` and ``robust`` always count."""
    p = BY_ID.get(prop)
    if p is None:
        return True
    if side == "guest":
        return p.side == "guest"
    return p.side == "host" and p.applies("adversarial" if adversarial else "honest", "faithful")


def stress(target: Target, *, seconds: float, adversarial: bool = True, seed: int | None = None,
           delay: tuple[int, int] = DEFAULT_DELAY, log_dir: str | None = None, keep_going: bool = False,
           stop_on: Sequence[str] = (), progress: Callable[[StressReport], None] | None = None) -> StressReport:
    """Runs until ``seconds`` are spent, or the first run with a violation (unless ``keep_going``;
    with ``stop_on``, the first with a violation of one of those properties)."""
    core()  # built before the clock starts (and before any fork)
    seed = random.SystemRandom().getrandbits(32) if seed is None else seed
    rep = StressReport(target, "adversarial" if adversarial else "honest", delay=delay, seed=seed, log_dir=log_dir)
    seeds = random.Random(seed)
    t0 = time.monotonic()
    last_progress = t0
    while time.monotonic() - t0 < seconds:
        run_seed = seeds.getrandbits(32)
        log, lines, violations = one_run(target, adversarial, run_seed, delay)
        rep.runs += 1
        rep.operations += sum(1 for e in lines if e["side"] == "host" and "op" in e)
        rep.saves += sum(1 for e in lines if e.get("op") == "save" and e["side"] == "host")
        rep.accesses += sum(1 for e in lines if e.get("ev") in ("read", "write", "barrier"))
        now = time.monotonic()
        if violations:
            path = None
            if log_dir is not None:
                path = os.path.join(log_dir, f"mhstress-run-{rep.runs}.jsonl")
                with open(path, "w") as fh:
                    fh.write("".join(x + "\n" for x in log))
            for v in violations:
                rep.findings.append(Finding(v, rep.runs, run_seed, now - t0, rep.saves, path, excerpt(log, v.i)))
            if any(v.property in stop_on for v in violations) if stop_on else not keep_going:
                break
        if progress is not None and now - last_progress >= 1.0:
            rep.seconds = now - t0
            progress(rep)
            last_progress = now
    rep.seconds = time.monotonic() - t0
    return rep


def progress_line(rep: StressReport) -> None:
    """One line on stderr, rewritten in place (only on a terminal)."""
    sys.stderr.write(f"\rstress: {rep.seconds:5.1f} s, {rep.runs} runs, {rep.saves} saves, {rep.accesses:,} accesses, "
                     f"{len(rep.findings)} violations ")
    sys.stderr.flush()
