"""Export the certificates of every kind proof of a variant and re-check them all with cvc5.

    python bench/prove_certificates.py [--variant hardened] [--dir DIR] [--timeout 300] [--jobs 2]
        [--check-only] [--option learned-rewrite=true ...]

Prints, per cell, the proofs exported and the seconds taken; then cvc5's check
(``--jobs`` processes): obligations that hold, fail or time out, the wall-clock
time, cvc5's seconds per kind of obligation with the slowest of each, and the
slowest obligations. ``--option KEY=VALUE`` replaces the checker's cvc5 options
(``--option none``: cvc5's defaults), to measure them. Exit 1 unless every proof
exported and every obligation holds.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

from mhmailbox.model.memory import MODELS
from mhmailbox.model.properties import CATALOG
from mhmailbox.model.protocol import cells
from mhmailbox.proofs.certificate_check import OPTIONS, check
from mhmailbox.proofs.engines import run_unbounded


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="hardened")
    ap.add_argument("--memory", action="append", choices=MODELS)
    ap.add_argument("--dir", help="keep the certificates here (default: a temporary directory, removed)")
    ap.add_argument("--time-limit", type=float, default=120.0, help="kind's seconds per cell")
    ap.add_argument("--timeout", type=float, default=300.0, help="cvc5's seconds per obligation")
    ap.add_argument("--check-only", action="store_true", help="only re-check the certificates already in --dir")
    ap.add_argument("--verbose", action="store_true", help="a line per obligation as cvc5 answers")
    ap.add_argument("--jobs", type=int, default=2, help="cvc5 processes at a time (default 2)")
    ap.add_argument("--option", action="append", metavar="KEY=VALUE",
                    help="a cvc5 option instead of the checker's (repeatable; 'none' for cvc5's defaults)")
    a = ap.parse_args(argv)
    options = dict(OPTIONS)
    if a.option:
        options = dict(o.split("=", 1) for o in a.option if o != "none")
    if a.check_only and not a.dir:
        ap.error("--check-only needs --dir")
    directory = a.dir or tempfile.mkdtemp(prefix="mhmailbox-certs-")
    if a.dir:
        os.makedirs(a.dir, exist_ok=True)
    todo = [] if a.check_only else cells([a.variant], a.memory or list(MODELS), None, list(CATALOG))
    t0 = time.perf_counter()
    proved = total = 0
    for cell in todo:
        t1 = time.perf_counter()
        rs = run_unbounded("kind", cell, [], None, time_limit=a.time_limit, certificate=directory)
        n = sum(r.verdict == "proved" for r in rs)
        certified = sum("certificate in" in r.note for r in rs)
        proved += certified
        total += len(rs)
        print(f"{'/'.join(cell)}: {n} of {len(rs)} proved, {certified} certificates, "
              f"{time.perf_counter() - t1:.1f} s", flush=True)
    export = time.perf_counter() - t0
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(directory) for f in fs)
    if a.check_only:
        print(f"certificates in {directory}: {size / 1e6:.1f} MB", flush=True)
    else:
        print(f"exported {proved} certificates of {total} verdicts in {export:.1f} s ({size / 1e6:.1f} MB)", flush=True)
    t2 = time.perf_counter()
    def progress(i: int, n: int, o) -> None:
        if a.verbose:
            print(f"  {i}/{n} {o.status} {o.seconds:.2f} s {o.file}", flush=True)

    report = check(directory, timeout=a.timeout, progress=progress, jobs=a.jobs, options=options)
    c = report.counts()
    print(f"cvc5 {options or '(defaults)'}, {a.jobs} jobs: {len(report.proofs)} proofs, {len(report.obligations)} "
          f"obligations: {c['holds']} hold, {c['fails']} fail, {c['timeout']} time out in "
          f"{time.perf_counter() - t2:.1f} s")
    for kind in ("initiation", "consecution", "base", "step"):
        mine = [o for o in report.obligations if o.kind == kind]
        if mine:
            top = max(mine, key=lambda o: o.seconds)
            print(f"  {kind}: {len(mine)} files, {sum(o.seconds for o in mine):.1f} s of cvc5, "
                  f"slowest {top.seconds:.2f} s ({top.file})")
    for o in sorted(report.obligations, key=lambda o: -o.seconds)[:5]:
        print(f"  slowest: {o.seconds:7.2f} s  {o.file}")
    for o in report.obligations:
        if o.status != "holds":
            print(f"  {o.status}: {o.file}: {o.reason}")
    if not a.dir:
        shutil.rmtree(directory)
    return 0 if report.ok and proved == total and (proved or a.check_only) else 1


if __name__ == "__main__":
    sys.exit(main())
