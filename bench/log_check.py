"""Figures for docs/log.md: what recording a migration costs, and how fast check-log judges a log.

    python bench/log_check.py [--pages N]

Runs one unrecorded and one recorded hardened migration of N pages (default 64), then check-log on
the recorded log under sc and tso, and prints pages/s, log events and events/s.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

from mhmailbox.conformance.logcheck import check_log
from mhmailbox.impl.migrate import run_migration


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=64)
    a = ap.parse_args()
    ram = a.pages * 4096
    plain = run_migration(ram, "hardened")
    print(f"migrate, not recorded: {plain.pages} pages in {plain.seconds:.3f} s ({plain.pages / plain.seconds:.0f} pages/s)")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "run.jsonl")
        rec = run_migration(ram, "hardened", timeout=5.0, record=path)
        size = os.path.getsize(path)
        print(f"migrate --record: {rec.pages} pages in {rec.seconds:.3f} s ({rec.pages / rec.seconds:.0f} pages/s); "
              f"log {size / 1e6:.1f} MB")
        for memory in ("sc", "tso"):
            t0 = time.perf_counter()
            r = check_log(path, "hardened", memory=memory)
            dt = time.perf_counter() - t0
            print(f"check-log --memory {memory}: {r.verdict}, {r.events} events ({r.accesses} accesses) in {dt:.2f} s "
                  f"({r.events / dt:.0f} events/s)")


if __name__ == "__main__":
    main()
