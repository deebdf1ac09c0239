"""What coverage costs: the explicit engine's recording, and the Z3 engines' reachability runs.

    python bench/coverage.py [--variant rfc --variant hardened] [--memory sc ...] [--json]

For each variant, over every cell: the time of :func:`mhmailbox.model.coverage.reachability`
for the whole catalog (the exploration bmc, kind and pdr run per cell to learn
whether each passing property's monitor is reached; it stops at the first witness
of each), the properties whose monitors no run reaches, and the explicit
exploration of one large cell with the coverage recording and with the recording
stripped from the generated code (the per-transition cost of ``Compiled.hits``).
One process, no workers: the figures are CPU-seconds on the machine at hand.
"""
from __future__ import annotations

import argparse
import json
import time

import attrs

from mhmailbox.model.coverage import reachability
from mhmailbox.model.explore import explore
from mhmailbox.model.memory import MODELS
from mhmailbox.model.properties import CATALOG
from mhmailbox.model.protocol import build, cells

#: a cell with half a million states (rfc, sc, slow helper): long enough to time the recording
BIG_CELL = ("rfc", "sc", "slow", "faithful")


def without_recording(compiled):
    """The same compiled model with the ``hits[...] = 1`` lines left out of its generated code."""
    src = "\n".join(line for line in compiled.source.split("\n") if "hits[" not in line)
    ns: dict = {"hits": bytearray(len(compiled.hits))}
    exec(compile(src, "<bench>", "exec"), ns)  # noqa: S102 - the model's own generated code
    return attrs.evolve(compiled, successors=ns["successors"], settle=ns["settle"], hits=ns["hits"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append")
    ap.add_argument("--memory", action="append", choices=MODELS)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    out: dict = {"reachability": [], "recording": {}}
    for v in args.variant or ["hardened", "rfc"]:
        t0 = time.perf_counter()
        n = unreached = 0
        for cell in cells([v], args.memory or list(MODELS)):
            reach = reachability(cell, CATALOG, time_limit=None)
            n += len(reach)
            unreached += sum(r.reached is False for r in reach.values())
        out["reachability"].append({"variant": v, "properties": n, "unreached": unreached,
                                    "seconds": round(time.perf_counter() - t0, 2)})
    system = build(*BIG_CELL).system.reduced()
    with_rec = system.compile()
    plain = without_recording(with_rec)
    for name, compiled in (("with", with_rec), ("without", plain), ("with", with_rec), ("without", plain)):
        t0 = time.perf_counter()
        ex = explore(compiled, 10_000, stop_when_all_found=False)
        out["recording"].setdefault(name, []).append(round(time.perf_counter() - t0, 2))
        out["recording"]["states"] = ex.states
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    for r in out["reachability"]:
        print(f"reachability {r['variant']}: {r['properties']} property verdicts over its cells, "
              f"{r['unreached']} monitors unreached, {r['seconds']:.1f} s")
    rec = out["recording"]
    print(f"explicit {'/'.join(BIG_CELL)} ({rec['states']} states): {min(rec['with']):.2f} s with coverage "
          f"recording, {min(rec['without']):.2f} s without (best of two)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
