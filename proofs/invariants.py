"""``python -m mhmailbox.proofs.invariants``: the maintainers' command line for the package's store.

Mines and proves the strengthening invariants of the built-in variants into
``invariants.json`` beside this file (:mod:`.maintain`), re-proves them after a
model change (``--refingerprint``), shrinks them (``--core``) and lists where a
failing proof starts (``--roots``). Users prove their own variants with
``mhmailbox prove`` (:mod:`.prove`), which writes the user's store.
"""
from __future__ import annotations

import json
import sys
import time
from typing import Sequence

from mhmailbox.cli import finite_positive
from mhmailbox.errors import UsageError
from mhmailbox.model.memory import MODELS
from mhmailbox.model.properties import CATALOG
from mhmailbox.model.protocol import cells
from mhmailbox.outfiles import check_output, write_atomically

from .general import general_model
from .houdini import roots
from .invariant import cell_key
from .maintain import generate, refingerprint, shrink
from .store import load, save, stored, with_lemmas
from .symbolic import UNBOUNDED, Symbolic


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="mine and prove strengthening invariants; write invariants.json")
    ap.add_argument("--variant", action="append")
    ap.add_argument("--memory", action="append")
    ap.add_argument("--guest", action="append")
    ap.add_argument("--time-limit", type=finite_positive, default=120.0)
    ap.add_argument("--no-joint", action="store_true",
                    help="leave out candidates guarded by both threads' positions (smaller, for big cells)")
    ap.add_argument("--refingerprint", action="store_true",
                    help="re-prove every stored set and record the fingerprint of the model it holds for")
    ap.add_argument("--roots", action="store_true",
                    help="list the lemmas not inductive relative to the whole stored set, with the first one's "
                         "counterexample to induction (where a failing proof starts)")
    ap.add_argument("--core", action="store_true",
                    help="shrink every selected stored set to an inductive core that proves the same monitors")
    ap.add_argument("--out", metavar="FILE", help="write the new sets to FILE instead of the store "
                    "(so several mining runs can go in parallel); merge them with --merge")
    ap.add_argument("--merge", metavar="FILE", nargs="+", help="merge sets written with --out into the store")
    ap.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    a = ap.parse_args(argv)
    if a.out:
        check_output(a.out, force=a.force, what="--out")  # before the mining, not after it
    if a.merge:
        data = load()
        for path in a.merge:
            with open(path, encoding="utf-8") as fh:
                new = json.load(fh)
            data["_fingerprints"] = {**data.get("_fingerprints", {}), **new.pop("_fingerprints", {})}
            data.update(new)
        save(data)
        return 0
    todo = cells(a.variant or ["hardened"], a.memory or list(MODELS), a.guest, list(CATALOG))
    if a.roots:
        data = load()
        for cell in todo:
            model, system, _ = general_model(cell, list(CATALOG), None)
            if not model.properties:
                continue
            sym = Symbolic(system, UNBOUNDED)
            print(f"{cell_key(model)}:")
            found = roots(sym, model, with_lemmas(model, stored(model, data)), time.perf_counter() + a.time_limit * 5)
            print(f"  {len(found)} root lemma(s)")
        return 0
    if a.refingerprint or a.core:
        def only(key: str) -> bool:
            variant, memory, guest, _host, _sb = key.split("/")
            return ((not a.variant or variant in a.variant) and (not a.memory or memory in a.memory)
                    and (not a.guest or guest in a.guest))

        log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
        if a.core:
            shrink(log=log, only=only, time_limit=a.time_limit * 5)
        refingerprint(log=log, only=only, cells=todo)
        return 0
    new = generate(todo, a.time_limit, log=lambda m: print(m, file=sys.stderr, flush=True), joint=not a.no_joint)
    if a.out:
        write_atomically(a.out, json.dumps(new))
        return 0
    data = load()
    fps = {**data.get("_fingerprints", {}), **new.pop("_fingerprints")}
    data.update(new)
    data["_fingerprints"] = fps
    save(data)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UsageError as exc:
        print(f"error: python -m mhmailbox.proofs.invariants: {exc}", file=sys.stderr)
        sys.exit(2)
