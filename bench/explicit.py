"""Explicit-state checker throughput: states/s per cell and for the default run of both variants.

    python bench/explicit.py [--json] [--variant rfc|hardened ...]

Prints figures; asserts nothing (speed goals are read, not tested).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from mhmailbox.model.check import check_cell
from mhmailbox.model.memory import MODELS
from mhmailbox.model.protocol import cells


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append", choices=["rfc", "hardened"])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--max-states", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    rows = []
    t0 = time.perf_counter()
    for cell in cells(args.variant or ["rfc", "hardened"], MODELS):
        t = time.perf_counter()
        rs = check_cell(*cell, max_states=args.max_states)
        dt = time.perf_counter() - t
        states = rs[0].states if rs else 0
        rows.append({"cell": "/".join(cell), "states": states, "seconds": round(dt, 3),
                     "states_per_s": round(states / dt) if dt else None,
                     "exhaustive": all(r.exhaustive or r.verdict == "violated" for r in rs)})
        if not args.json:
            print(f"{rows[-1]['cell']:<40} {states:>9} states {dt:7.2f} s {rows[-1]['states_per_s']:>9} states/s",
                  flush=True)
    total = time.perf_counter() - t0
    states = sum(r["states"] for r in rows)
    summary = {"cells": len(rows), "states": states, "seconds": round(total, 2),
               "states_per_s": round(states / total), "slowest": sorted(rows, key=lambda r: -r["seconds"])[:3]}
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=1))
    else:
        print(f"\n{summary['cells']} cells, {states} states in {total:.1f} s: {summary['states_per_s']} states/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
