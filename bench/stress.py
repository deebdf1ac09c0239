"""Figures for ``mhmailbox stress`` (docs/conformance.md, "Stress runs on real concurrency").

    python bench/stress.py find [--file PATH] [--sessions 10] [--delay-ns 500] [--budget 300]
        the published host file (default ../shared/reference/qemu-rfc/confidential-ram.c, unedited)
        against the adversarial helper, one session per seed until the header double fetch
        (adversary.header-bound or adversary.in-bounds) is found: seconds, runs and saves each took
    python bench/stress.py soak [--seconds 600] [--target impl|c|both|c-guest|impl-guest]
        our hardened host (the Python one, our C one in examples/c/hardened-host, or both in turn)
        against the adversarial helper, or our hardened helper (C: examples/c/hardened-helper, or
        Python) against the adversarial host, for the whole time: runs and accesses per second, findings

Real concurrency on a shared machine: the figures depend on the load (printed before and after).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from mhmailbox.conformance.stress import DEFAULT_DELAY, Target, build_c_host, stress

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLISHED = os.path.join(os.path.dirname(REPO), "shared", "reference", "qemu-rfc", "confidential-ram.c")
HARDENED_C = os.path.join(REPO, "examples", "c", "hardened-host", "confidential-ram.c")
HARDENED_HELPER = os.path.join(REPO, "examples", "c", "hardened-helper", "ConfidentialMigrationHardened.c")
DOUBLE_FETCH = ("adversary.header-bound", "adversary.in-bounds")


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def find(args: argparse.Namespace) -> None:
    target = Target("c-host", "rfc", "published", build_c_host([args.file]))
    delay = (DEFAULT_DELAY[0], args.delay_ns) if args.delay_ns else (0, 0)
    print(f"{args.file} against the adversarial helper, delays "
          + (f"{delay[0]}% up to {delay[1]} ns" if delay[1] else "off") + f"; {_load()}")
    took = []
    for seed in range(args.sessions):
        rep = stress(target, seconds=args.budget, seed=seed, delay=delay, stop_on=DOUBLE_FETCH)
        hit = [f for f in rep.findings if f.violation.property in DOUBLE_FETCH]
        if hit:
            f = hit[0]
            took.append((f.after_s, f.run, f.saves))
            print(f"  seed {seed}: {f.violation.property} after {f.after_s:.2f} s, run {f.run}, {f.saves} saves "
                  f"(other properties on the way: {sorted({g.violation.property for g in rep.findings} - set(DOUBLE_FETCH))})")
        else:
            print(f"  seed {seed}: not found in {rep.seconds:.0f} s ({rep.runs} runs, {rep.saves} saves)")
    if took:
        s, r, v = zip(*took)
        print(f"found in {len(took)} of {args.sessions} sessions: seconds median {statistics.median(s):.2f} "
              f"(min {min(s):.2f}, max {max(s):.2f}); runs median {statistics.median(r):g} (max {max(r)}); "
              f"saves median {statistics.median(v):g} (max {max(v)}); {_load()}")


def soak(args: argparse.Namespace) -> None:
    targets = []
    if args.target in ("impl", "both"):
        targets.append(Target("impl", "hardened", "Python host hardened"))
    if args.target in ("c", "both"):
        targets.append(Target("c-host", "hardened", "C host examples/c/hardened-host", build_c_host([HARDENED_C])))
    if args.target == "c-guest":
        targets.append(Target("c-guest", "hardened", "C helper examples/c/hardened-helper",
                              build_c_host([HARDENED_HELPER], helper_entry="MigrationHandlerMain"), side="guest"))
    if args.target == "impl-guest":
        targets.append(Target("impl", "hardened", "Python helper hardened", side="guest"))
    for t in targets:
        peer = "host" if t.side == "guest" else "helper"
        print(f"{t.name} against the adversarial {peer} for {args.seconds:g} s; {_load()}", flush=True)
        t0 = time.process_time()
        rep = stress(t, seconds=args.seconds, seed=args.seed, keep_going=True, log_dir=args.logs)
        d = rep.as_dict()
        print(f"  {d['runs']} runs, {d['operations']} operations ({d['saves']} saves), {d['accesses']:,} logged "
              f"accesses in {d['seconds']:.0f} s: {d['runs_per_second']} runs/s, {d['accesses_per_second']:,.0f} "
              f"accesses/s (coordinator CPU {time.process_time() - t0:.0f} s); {_load()}")
        by: dict[str, int] = {}
        for f in rep.findings:
            by[f.violation.property] = by.get(f.violation.property, 0) + 1
        print(f"  findings: {by or 'none'}" + (f" (logs in {args.logs})" if rep.findings and args.logs else ""))
        for f in rep.findings[:5]:
            print(f"    run {f.run}: {f.violation.property}: {f.violation.message}")
        sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    f = sub.add_parser("find")
    f.add_argument("--file", default=PUBLISHED)
    f.add_argument("--sessions", type=int, default=10)
    f.add_argument("--delay-ns", type=int, default=DEFAULT_DELAY[1])
    f.add_argument("--budget", type=float, default=300.0, help="seconds per session at most")
    s = sub.add_parser("soak")
    s.add_argument("--seconds", type=float, default=600.0)
    s.add_argument("--target", choices=("impl", "c", "both", "c-guest", "impl-guest"), default="both")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--logs", help="keep the logs of runs with findings here")
    args = ap.parse_args()
    if args.what == "find" and not os.path.isfile(args.file):
        sys.exit(f"error: {args.file}: no such file (the published host is read from ../shared beside the repository)")
    find(args) if args.what == "find" else soak(args)


if __name__ == "__main__":
    main()
