"""The C kit's speed-ups change no result: every case with them and without, compared.

    python bench/ckit_same.py [--examples N] [--shrink-seconds S] [--case ID]

For the C rendering of the published helper (examples/c/rfc-helper) and the published host file
(read from the reference files beside the repository when they are there, with
``--define MH_BUSYLOOP_TIMEOUT=1000``), each case is run twice, derandomized: as the kit runs
it (a fork server, reads that run ahead) and as it ran before (an exec per example, every read
waiting: ``run_ahead=False, server=None``). Prints one line per case and run, then how many
cases have the same verdict, property, message, reproducer, failing trace and divergence in
both; the differences, if any. Shrinking is bounded in time: give it enough (the default, 120 s)
that it ends on its own in both runs, or the two may stop at different reproducers.
"""
from __future__ import annotations

import argparse
import os
import sys

import attrs

from mhmailbox.conformance.ckit import c_guest, c_host, run_c_case
from mhmailbox.conformance.runner import select

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLISHED = os.path.join(os.path.dirname(REPO), "shared", "reference", "qemu-rfc", "confidential-ram.c")
RFC_HELPER = os.path.join(REPO, "examples", "c", "rfc-helper", "ConfidentialMigrationRfc.c")


def builds() -> dict:
    """name -> (side, the implementation); the published host only where its file is."""
    out = {"rfc-helper": ("guest", c_guest([RFC_HELPER], "rfc"))}
    if os.path.isfile(PUBLISHED):
        out["published"] = ("host", c_host([PUBLISHED], "rfc", defines=("MH_BUSYLOOP_TIMEOUT=1000",)))
    else:
        print(f"(the published host file is not at {PUBLISHED}: its cases are not compared)")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=30)
    p.add_argument("--shrink-seconds", type=float, default=120.0)
    p.add_argument("--case", action="append", default=[])
    a = p.parse_args()
    results: dict[str, dict[str, tuple]] = {}
    for name, (side, impl) in builds().items():
        for mode, im in (("now", impl), ("before", attrs.evolve(impl, run_ahead=False, server=None))):
            for c in select(side, a.case):
                r = run_c_case(c, im, examples=a.examples, shrink_seconds=a.shrink_seconds)
                results.setdefault(f"{name} {c.id}", {})[mode] = (r.verdict, r.prop, r.message, r.reproducer,
                                                                  r.trace, r.divergence)
                print(f"{mode:6} {name:10} {c.id:28} {r.verdict:8} {r.prop or '':28} {r.examples:5} examples "
                      f"{r.seconds:6.1f} s", flush=True)
        impl.stop()
    differ = [k for k, v in results.items() if v["now"] != v["before"]]
    print(f"{len(results) - len(differ)} of {len(results)} cases the same (verdict, property, message, reproducer, "
          f"trace, divergence)")
    for k in differ:
        print(f"DIFFERS {k}:\n  now    {results[k]['now'][:4]}\n  before {results[k]['before'][:4]}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
