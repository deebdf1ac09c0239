"""Does bmc reach the explicit engine's counterexamples? Per property: explicit depth, bmc depth, seconds.

    python bench/bmc_depth.py [--time-limit 120] [--jobs 2] [--memory tso --guest honest --host faithful ...] [--plain] [--json out.json]

For each rfc cell (default: every one, both hosts: the 53 explicit violations of
the acceptance item "bmc finds every rfc violation at the explicit length") the
explicit engine (BFS, at most 1M states, as ``mhmailbox verify``) gives every
violation's shortest length; bmc then runs on the same cell, as ``verify
--engine bmc`` does, with ``--time-limit`` seconds for the whole cell. A row
per property: the explicit verdict and depth, bmc's (``violated`` at a length,
which must equal the explicit one, or ``holds-to-depth`` k), and when bmc found
it (seconds since the cell's run started). ``--plain`` runs bmc without the
search options (``proofs.bmc.PLAIN``: no partial-order reduction, no lemmas),
for before/after figures. Z3 is single-threaded here: ``--jobs`` runs that many
cells at once (forked workers, rows printed in cell order), one core each.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import attrs

from mhmailbox.model.check import check_cell
from mhmailbox.model.runner import forked_map
from mhmailbox.model.protocol import Bounds, build, cells
from mhmailbox.proofs import bmc as bmc_mod
from mhmailbox.proofs.symbolic import EXACT, Symbolic


def run_cell(cell: tuple, time_limit: float, depth: int, options: bmc_mod.Options) -> list[dict]:
    t = time.perf_counter()
    explicit = {r.property: r for r in check_cell(*cell, max_states=1_000_000)}
    t_explicit = time.perf_counter() - t
    model = build(*cell, Bounds())
    system = model.system.reduced()
    sym = Symbolic(system, EXACT, sort="bv")
    run = bmc_mod.bmc(sym, bmc_mod.compiled_factory(system), depth, time_limit, options=options)
    rows = []
    for mi, prop in enumerate(model.properties):
        e = explicit[prop.id]
        cex = run.found.get(mi)
        row = {"variant": cell[0], "memory": cell[1], "guest": cell[2], "host": cell[3], "property": prop.id,
               "explicit": e.verdict, "explicit_depth": e.depth, "explicit_seconds": round(t_explicit, 2),
               "bmc": "violated" if cex else "holds-to-depth", "bmc_depth": cex.length if cex else run.depth,
               "bmc_seconds": cex.seconds if cex else round(run.seconds, 1), "bmc_stopped": run.stopped}
        if cex and (e.verdict != "violated" or e.depth != cex.length):
            row["mismatch"] = True  # would be a bug: bmc's traces are shortest
        if not cex and e.verdict == "violated" and e.depth <= run.depth:
            row["mismatch"] = True  # would be a bug: bmc claimed a depth past a real violation
        rows.append(row)
    return rows


def _run(task: tuple) -> list[dict]:
    return run_cell(*task)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory", action="append", choices=["sc", "tso", "relaxed"])
    ap.add_argument("--guest", action="append")
    ap.add_argument("--host", action="append", choices=["faithful", "adversarial"])
    ap.add_argument("--time-limit", type=float, default=120.0, help="seconds of bmc per cell")
    ap.add_argument("--depth", type=int, default=60)
    ap.add_argument("--plain", action="store_true", help="bmc without the search options (before/after)")
    ap.add_argument("--split", action="store_true", help="one solver per cone of influence")
    ap.add_argument("--milestones", action="store_true", help="also prove program-counter milestones")
    ap.add_argument("--jobs", type=int, default=1, help="cells run at once (one core each)")
    ap.add_argument("--json", metavar="FILE", help="write the rows as JSON ('-' for stdout)")
    a = ap.parse_args(argv)
    options = bmc_mod.PLAIN if a.plain else attrs.evolve(bmc_mod.DEFAULT, split=a.split, milestones=a.milestones)
    todo = [c for c in cells(["rfc"], a.memory or ["sc", "tso", "relaxed"], a.guest) if not a.host or c[3] in a.host]
    if not todo:
        ap.error("no rfc cell matches --memory/--guest/--host")
    tasks = [(cell, a.time_limit, a.depth, options) for cell in todo]
    rows: list[dict] = []
    results = forked_map(_run, tasks, a.jobs, ordered=True) if a.jobs > 1 else map(_run, tasks)
    for (_, memory, guest, host), got in zip(todo, results):
        rows += got
        if a.json != "-":
            for r in got:
                if r["explicit"] != "violated" and r["bmc"] != "violated":
                    continue
                print(f"{r['memory']:8} {r['guest']:11} {r['host']:11} {r['property']:26} explicit {r['explicit_depth']:3}  "
                      f"bmc {r['bmc']:14} {r['bmc_depth']:3}  {r['bmc_seconds']:7.1f}s"
                      + ("  MISMATCH" if r.get("mismatch") else ""), flush=True)
            held = [r for r in got if r["explicit"] != "violated"]
            if held:
                print(f"{memory:8} {guest:11} {host:11} ({len(held)} properties hold: bmc holds-to-depth {held[0]['bmc_depth']}"
                      f", stopped: {held[0]['bmc_stopped']})", flush=True)
    want = [r for r in rows if r["explicit"] == "violated"]
    hit = [r for r in want if r["bmc"] == "violated"]
    bad = [r for r in rows if r.get("mismatch")]
    summary = {"options": attrs.asdict(options), "time_limit": a.time_limit, "violations": len(want),
               "found": len(hit), "mismatches": len(bad)}
    if a.json:
        text = json.dumps({"summary": summary, "rows": rows}, indent=2)
        if a.json == "-":
            print(text)
        else:
            with open(a.json, "w") as f:
                f.write(text + "\n")
    if a.json != "-":
        print(f"bmc found {len(hit)} of {len(want)} explicit violations at their lengths "
              f"({a.time_limit:g} s per cell); mismatches: {len(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
