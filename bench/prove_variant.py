"""Time `mhmailbox prove` per cell for a variant, from an empty store (so every cell is mined).

    python bench/prove_variant.py --variant examples/variants/reqid.py:RequestId [--memory sc ...]
        [--budget SECONDS] [--store PATH] [--certificate DIR] [--jobs N]

Prints, per cell: states explored, candidates, invariants kept, the seconds of each phase
(mining, Houdini, core, kind) and the verdicts; then, per memory model, the properties
proved out of those claimed, and the ones left unknown with kind's reason.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter

from mhmailbox.model.memory import MODELS
from mhmailbox.model.protocol import cells
from mhmailbox.model.user_variant import catalog_of, resolve_variant
from mhmailbox.proofs import store
from mhmailbox.proofs.prove import prove


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", required=True)
    ap.add_argument("--memory", action="append", choices=MODELS)
    ap.add_argument("--budget", type=float, default=1800.0, help="seconds for the whole run (default 1800)")
    ap.add_argument("--store", help="the store to write (default: a fresh temporary file)")
    ap.add_argument("--certificate", help="also write certificates into this directory")
    ap.add_argument("--jobs", type=int, default=1, help="cells at once (forked workers)")
    a = ap.parse_args(argv)
    name = resolve_variant(a.variant).name
    props = list(catalog_of([name]))
    path = a.store or os.path.join(tempfile.mkdtemp(prefix="mhmailbox-prove-"), "store.json")
    os.environ[store.USER_STORE_ENV] = path
    todo = cells([name], a.memory or list(MODELS), None, props)
    args = argparse.Namespace(deadline=2, quantum=1, buffer=2, script=None, depth=None, time_limit=None,
                              certificate=None)
    done = prove(todo, props, args, a.budget, path, certificate=a.certificate,
                 log=lambda m: print(m, file=sys.stderr, flush=True), jobs=a.jobs)
    print(f"{'cell':45s} {'states':>7s} {'cands':>6s} {'kept':>5s} {'mine':>6s} {'houd.':>6s} {'core':>6s} "
          f"{'kind':>6s} {'total':>6s}  verdicts")
    per_memory: dict[str, Counter] = {}
    unknown = []
    for p in done:
        s = p.seconds
        v = Counter(r.verdict for r in p.results)
        per_memory.setdefault(p.cell[1], Counter()).update(v)
        unknown += [(p.key, r.property, r.verdict, r.note) for r in p.results if r.verdict not in ("proved",)]
        print(f"{p.key:45s} {p.states:7d} {p.candidates:6d} {p.invariants:5d} {s.get('mine', 0):6.1f} "
              f"{s.get('houdini', 0):6.1f} {s.get('core', 0):6.1f} {s.get('kind', 0):6.1f} {s.get('total', 0):6.1f}  "
              + ", ".join(f"{n} {k}" for k, n in sorted(v.items())) + (f" ({p.source})" if p.source != "mined" else ""))
    for mem, v in per_memory.items():
        print(f"{mem}: {v['proved']} of {sum(v.values())} proved; " + ", ".join(f"{n} {k}" for k, n in sorted(v.items())))
    for key, prop, verdict, note in unknown:
        print(f"  {verdict}: {key} {prop}: {note}")
    print(f"store: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
