"""Maintainers' operations on the package's store of proved invariants.

``python -m mhmailbox.proofs.invariants`` (see :mod:`.invariants`) runs them:
mine and prove new sets (:func:`generate`), re-prove the stored sets after a
model or lemma change (:func:`refingerprint`), shrink them to inductive cores
(:func:`shrink`). Users prove their own variants with ``mhmailbox prove``
(:mod:`.prove`), which writes the user's store instead.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

from mhmailbox.model.properties import CATALOG

from .general import general_model
from .houdini import houdini, inductive_core
from .invariant import cell_key, to_json
from .mining import mine
from .store import load, put, save, stored, stored_candidates, stored_cells, with_lemmas
from .symbolic import UNBOUNDED, Symbolic


def refingerprint(log=print, only: Any = None, cells: Sequence[tuple] = ()) -> None:
    """Re-prove every stored set (``only(key)`` selects some) with Houdini and record the
    fingerprint of the model it holds for. The sets get every current lemma back (a lemma
    changed since may hold now); ``cells`` with no stored set get one from the lemmas alone."""
    data = load()
    fps = data.setdefault("_fingerprints", {})
    for cell in cells:
        model, _, _ = general_model(cell, list(CATALOG), None)
        if model.properties:
            data.setdefault(cell_key(model), [])
    for key, model, sym in stored_cells(data, only):
        cands = with_lemmas(model, stored(model, data))
        t0 = time.perf_counter()
        invs, ok = houdini(sym, cands, time.perf_counter() + 600)
        if ok:
            put(data, model, sym, invs)
        else:
            fps.pop(key, None)
        log(f"{key}: {len(invs)} of {len(cands)} inductive{'' if ok else ' (TIME OUT)'} "
            f"in {time.perf_counter() - t0:.1f} s")
    save(data)


def shrink(log=print, only: Any = None, time_limit: float = 600.0) -> None:
    """Replace each stored set (``only(key)`` selects) by its inductive core (see
    :func:`inductive_core`); a set whose core cannot be computed in time stays as it is."""
    data = load()
    for key, model, sym in stored_cells(data, only):
        cands = stored_candidates(model, data[key])
        t0 = time.perf_counter()
        try:
            core = inductive_core(sym, cands, time.perf_counter() + time_limit)
        except AssertionError:  # some monitor is not 1-inductive relative to the set (kind needs k > 1)
            log(f"{key}: kept whole (a monitor is not 1-inductive relative to it; kind proves it with k > 1)")
            continue
        if core is None:
            log(f"{key}: kept ({len(cands)} invariants; no core within {time_limit:g} s)")
            continue
        data[key] = [[i.name, to_json(i.expr)] for i in core]
        log(f"{key}: {len(core)} of {len(cands)} invariants in {time.perf_counter() - t0:.1f} s")
    save(data)


def generate(cells, time_limit: float = 120.0, log=print, joint: bool = True) -> dict[str, Any]:
    """A store of freshly mined and proved sets for ``cells`` (a cell Houdini cannot finish is left out)."""
    out: dict[str, Any] = {"_fingerprints": {}}
    for cell in cells:
        model, system, _ = general_model(cell, list(CATALOG), None)
        if not model.properties:
            continue
        t0 = time.perf_counter()
        cands = with_lemmas(model, mine(model, system, joint=joint))
        sym = Symbolic(system, UNBOUNDED)
        invs, ok = houdini(sym, cands, time.perf_counter() + time_limit)
        log(f"{cell_key(model)}: {len(cands)} candidates, {len(invs)} inductive"
            f"{'' if ok else ' (TIME OUT: none kept)'} in {time.perf_counter() - t0:.1f} s")
        if ok:
            put(out, model, sym, invs)
    return out
