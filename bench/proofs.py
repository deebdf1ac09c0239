"""Time ``verify --engine all`` over the whole grid: wall time, per-engine totals, verdicts, slowest tasks.

    python bench/proofs.py [--engine bmc --engine pdr ...] [--time-limit 3] [--jobs 2] [--variant rfc] [--json out.json]

Runs the (cell, engine) tasks exactly as ``mhmailbox verify`` does (same
worker processes, same defaults: each Z3 engine ``--time-limit`` seconds per cell,
3 unless given; the explicit engine bounded by its state budget only). Z3 time
limits are wall-clock, so the figures are upper bounds set by that limit, and
``unknown`` counts say how often it was reached without an answer. Per-engine
totals add the tasks' own times (CPU-seconds, roughly); the wall time is what a
user waits.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict

from mhmailbox.model.engines import ENGINES, load_engines
from mhmailbox.model.runner import ALL_TIME_LIMIT, available_cpus, run_tasks, z3_time_limit
from mhmailbox.model.memory import MODELS
from mhmailbox.model.properties import CATALOG
from mhmailbox.model.protocol import cells


def main(argv=None) -> int:
    load_engines()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", action="append", choices=sorted(ENGINES))
    ap.add_argument("--variant", action="append")
    ap.add_argument("--memory", action="append", choices=MODELS)
    ap.add_argument("--guest", action="append")
    ap.add_argument("--time-limit", type=float, default=ALL_TIME_LIMIT, help="seconds per cell, Z3 engines")
    ap.add_argument("--jobs", type=int, default=available_cpus())
    ap.add_argument("--depth", type=int, default=None)
    ap.add_argument("--json", metavar="FILE")
    a = ap.parse_args(argv)
    engines = a.engine or sorted(ENGINES)
    explicit_args = argparse.Namespace(depth=a.depth, max_states=1_000_000, deadline=2, quantum=1, buffer=2,
                                       script=None, time_limit=None)
    todo = cells(a.variant or ["rfc", "hardened"], a.memory or list(MODELS), a.guest, list(CATALOG))
    tasks = [(cell, eng) for cell in todo for eng in engines]
    t0 = time.perf_counter()
    done = run_tasks(tasks, list(CATALOG), explicit_args, jobs=a.jobs,
                     per_engine_args=z3_time_limit(explicit_args, engines, a.time_limit))
    wall = time.perf_counter() - t0
    per_engine: dict[str, float] = defaultdict(float)
    verdicts: dict[str, Counter] = defaultdict(Counter)
    timings, rows = [], []
    for (cell, eng), rs in done.items():
        dt = max((r.seconds for r in rs), default=0.0)
        per_engine[eng] += dt
        timings.append((dt, eng, cell))
        for r in rs:
            verdicts[eng][r.verdict] += 1
            rows.append({"engine": eng, "cell": list(cell), "property": r.property, "verdict": r.verdict,
                         "depth": r.depth, "seconds": r.seconds})
    print(f"{len(todo)} cells x {len(engines)} engines, {a.jobs} jobs, Z3 time limit {a.time_limit:g} s per cell: "
          f"wall {wall:.1f} s")
    for eng in engines:
        print(f"  {eng:8s} {per_engine[eng]:7.1f} s   " + ", ".join(f"{k} {v}" for k, v in sorted(verdicts[eng].items())))
    print("slowest tasks:")
    for dt, eng, cell in sorted(timings, key=lambda x: x[0], reverse=True)[:8]:
        print(f"  {dt:6.1f} s  {eng:8s} {' '.join(cell)}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"wall": wall, "jobs": a.jobs, "time_limit": a.time_limit, "per_engine": per_engine,
                       "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
