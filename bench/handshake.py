"""Mailbox round trips per second vs a raw two-process ping-pong, same run, same memory.

Baseline: two processes on one shared mapping (the same MappedFile kind as the
mailbox); the parent writes go=i, the child spins until go changes and writes done=i,
the parent spins until done==i. Ours: ``Host.send(INIT)`` through the hardened
protocol (params, barrier, go=seq, done==seq, barrier, ret) to a hardened
``GuestHelper`` in its own process. Rounds alternate; the best of each is reported. ``--pin`` puts parent and
child on different CPUs for both runs (two spinning processes sharing one core
measure the scheduler, not the protocol; but on a machine where another job keeps
one CPU busy, pinning makes things worse). The 1-minute load average is reported
so a reader can tell a quiet run from a contended one.

``native`` says whether the mailbox ran the C fast path of impl/_spin.c (polling
loops and the grouped accesses in C; ``MHMAILBOX_NATIVE=0`` turns it off). With
it, the same run also times a ping-pong whose spin loops are those same C polls
(``native_baseline_round_trips_per_s``): the raw floor when the waiting is native
but each side still goes through the interpreter once per round trip.

    python bench/handshake.py [--json] [--seconds 1.0] [--rounds 3] [--mode hardened]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import struct
import sys
import time

from mhmailbox.impl.crypto import Provision
from mhmailbox.impl.host import Host
from mhmailbox.impl.memory import NATIVE_AVAILABLE, DirectPort, MappedFile, _spin
from mhmailbox.impl.procs import HelperProcess, cpu_plan, host_affinity
from mhmailbox.model.layout import OFF_DONE, OFF_GO, SHARED_SIZE, Cmd

_I32 = struct.Struct("<i")


def _pong(path: str, ready, cpu, native: bool) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    m = MappedFile.attach(path)
    buf = m.buf
    up, pk = _I32.unpack_from, _I32.pack_into
    last = 0
    ready.set()
    if native:
        poll = _spin.poll_ne_i32
        while True:
            g = poll(buf, OFF_GO, last, last, 1 << 20)
            if g is not None:
                last = g
                if g < 0:
                    return
                pk(buf, OFF_DONE, g)
    while True:
        g = up(buf, OFF_GO)[0]
        if g != last:
            last = g
            if g < 0:
                return
            pk(buf, OFF_DONE, g)


def baseline(seconds: float, cpu: int | None, native: bool = False) -> float:
    """Raw ping-pong round trips per second (``native``: the spin loops are the C polls)."""
    m = MappedFile.create(SHARED_SIZE)
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    p = ctx.Process(target=_pong, args=(m.path, ready, cpu, native), daemon=True)
    p.start()
    ready.wait(10)
    buf = m.buf
    up, pk = _I32.unpack_from, _I32.pack_into
    i, n = 0, 0
    t0 = time.perf_counter()
    end = t0 + seconds
    poll = _spin.poll_eq_i32 if native else None
    while True:
        for _ in range(1000):
            i += 1
            pk(buf, OFF_GO, i)
            if poll is not None:
                while not poll(buf, OFF_DONE, i, 1 << 20):
                    pass
            else:
                while up(buf, OFF_DONE)[0] != i:
                    pass
        n += 1000
        if time.perf_counter() >= end:
            break
    dt = time.perf_counter() - t0
    pk(buf, OFF_GO, -1)
    p.join(5)
    m.close()
    return n / dt


def mailbox(seconds: float, mode: str, cpu: int | None) -> float:
    """Host.send round trips per second against a helper process."""
    mbox = MappedFile.create(SHARED_SIZE)
    ram = MappedFile.create(16 * 4096)
    prov = Provision.generate() if mode == "hardened" else None
    helper = HelperProcess.spawn(mbox.path, ram.path, mode, prov, cpu=cpu)
    host = Host(DirectPort(mbox.buf, "host"), mode, peer_alive=helper.alive)
    send, init = host.send, int(Cmd.INIT)  # the constant hoisted, as the baseline has none
    for _ in range(1000):  # warm up (the helper may be napping)
        send(Cmd.INIT)
    n = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        for _ in range(1000):
            r = send(init)
        if r.status != "ok":
            raise SystemExit(f"handshake failed: {r}")
        n += 1000
        if time.perf_counter() >= end:
            break
    dt = time.perf_counter() - t0
    helper.stop()
    mbox.close()
    ram.close()
    return n / dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mode", choices=("hardened", "rfc"), default="hardened")
    ap.add_argument("--pin", action="store_true", help="pin parent and child to different CPUs")
    a = ap.parse_args(argv)
    base, ours, nbase = [], [], []
    host_cpus, child_cpu = cpu_plan() if a.pin else (None, None)
    with host_affinity(host_cpus):  # both runs placed alike
        for _ in range(a.rounds):
            base.append(baseline(a.seconds, child_cpu))
            ours.append(mailbox(a.seconds, a.mode, child_cpu))
            if NATIVE_AVAILABLE:
                nbase.append(baseline(a.seconds, child_cpu, native=True))
    out = {
        "round_trips_per_s": round(max(ours), 1),
        "baseline_round_trips_per_s": round(max(base), 1),
        "ratio": round(max(ours) / max(base), 3),
        "native": NATIVE_AVAILABLE,
        "native_baseline_round_trips_per_s": round(max(nbase), 1) if nbase else None,
        "ratio_vs_native_baseline": round(max(ours) / max(nbase), 3) if nbase else None,
        "mode": a.mode,
        "cpus": os.cpu_count(),
        "rounds": a.rounds,
        "pinned": a.pin,
        "loadavg_1min": os.getloadavg()[0],
    }
    if a.json:
        print(json.dumps(out))
    else:
        print(f"mailbox ({a.mode}): {out['round_trips_per_s']:.0f} round trips/s; raw ping-pong: "
              f"{out['baseline_round_trips_per_s']:.0f}/s; ratio {out['ratio']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
