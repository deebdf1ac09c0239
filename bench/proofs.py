"""Time the engines over the whole grid: per-engine totals, verdict counts, slowest cells.

    python bench/proofs.py [--engine bmc --engine pdr ...] [--time-limit 20] [--variant rfc] [--json out.json]

Every Z3 call is time-limited (``--time-limit`` seconds per cell and engine), so
the figures are upper bounds set by that limit; ``unknown`` counts say how often
it was reached without an answer.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict

from mhmailbox.model.cli import ENGINES, _load_engines
from mhmailbox.model.memory import MODELS
from mhmailbox.model.properties import CATALOG
from mhmailbox.model.protocol import cells


def main(argv=None) -> int:
    _load_engines()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", action="append", choices=sorted(ENGINES))
    ap.add_argument("--variant", action="append")
    ap.add_argument("--memory", action="append", choices=MODELS)
    ap.add_argument("--guest", action="append")
    ap.add_argument("--time-limit", type=float, default=20.0)
    ap.add_argument("--depth", type=int, default=None)
    ap.add_argument("--json", metavar="FILE")
    a = ap.parse_args(argv)
    engines = a.engine or sorted(ENGINES)
    args = argparse.Namespace(depth=a.depth, max_states=1_000_000, time_limit=a.time_limit, deadline=2, quantum=1,
                              buffer=2, script=None)
    todo = cells(a.variant or ["rfc", "hardened"], a.memory or list(MODELS), a.guest, list(CATALOG))
    per_engine = defaultdict(float)
    verdicts: dict[str, Counter] = defaultdict(Counter)
    timings = []
    rows = []
    t_all = time.perf_counter()
    for cell in todo:
        for eng in engines:
            t0 = time.perf_counter()
            rs = ENGINES[eng](cell, list(CATALOG), args)
            dt = time.perf_counter() - t0
            per_engine[eng] += dt
            timings.append((dt, eng, cell))
            for r in rs:
                verdicts[eng][r.verdict] += 1
                rows.append({"engine": eng, "cell": list(cell), "property": r.property, "verdict": r.verdict,
                             "depth": r.depth, "seconds": round(dt, 2)})
            print(f"{eng:8s} {' '.join(cell):42s} {dt:6.1f} s  "
                  + ", ".join(f"{k} {v}" for k, v in sorted(Counter(r.verdict for r in rs).items())),
                  file=sys.stderr, flush=True)
    total = time.perf_counter() - t_all
    print(f"\n{len(todo)} cells, time limit {a.time_limit} s per cell and engine, total {total:.1f} s")
    for eng in engines:
        print(f"  {eng:8s} {per_engine[eng]:7.1f} s   " + ", ".join(f"{k} {v}" for k, v in sorted(verdicts[eng].items())))
    print("slowest cells:")
    for dt, eng, cell in sorted(timings, reverse=True)[:8]:
        print(f"  {dt:6.1f} s  {eng:8s} {' '.join(cell)}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"total": total, "per_engine": per_engine, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
