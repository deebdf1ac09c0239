"""Does check-log see, in a recorded run, what the suite saw? For each one-fault mutant: the first
case that fails on it (as `conform --mutants` finds it), its shrunk run recorded (as `conform
--record` does), and check-log's verdict on that log.

    python bench/log_mutants.py [--examples N] [--mutant ID ...]
"""
from __future__ import annotations

import argparse
import time

from mhmailbox.conformance.logcheck import check_log
from mhmailbox.conformance.logrecord import record_replay
from mhmailbox.conformance.mutants import BY_ID, MUTANTS
from mhmailbox.conformance.runner import run_case, select


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=60)
    ap.add_argument("--mutant", action="append", default=[])
    a = ap.parse_args()
    seen = 0
    chosen = [BY_ID[m] for m in a.mutant] or list(MUTANTS)
    for m in chosen:
        t0 = time.perf_counter()
        side = "host" if m.id.startswith("host") else "guest"
        for case in select(side):
            r = run_case(case, m.impl, examples=a.examples, shrink_seconds=4.0)
            if r.verdict in ("fail", "deviates"):
                break
        else:
            print(f"{m.id:30} survives the suite")
            continue
        log = check_log(record_replay(case.id, m.impl, r.steps).splitlines(), m.impl.protocol)
        found = [v.prop for v in log.violations] + (["divergence"] if log.divergence else [])
        seen += bool(found)
        where = f"line {log.divergence['line']}" if log.divergence else (
            f"line {log.violations[0].line}" if log.violations else "")
        print(f"{m.id:30} {case.id:26} suite: {r.prop or 'divergence':24} check-log: {log.verdict:9} "
              f"{', '.join(found) or '-':40} {where:9} {time.perf_counter() - t0:5.1f} s", flush=True)
    print(f"check-log saw {seen} of {len(chosen)} mutants in their recorded failing runs")


if __name__ == "__main__":
    main()
