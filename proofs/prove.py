"""``mhmailbox prove``: find, check and store the invariants ``kind`` needs for a variant, then prove.

For each cell of the variant (memory model x guest x host where a property
applies) on the generalized model:

1. a set already stored for this exact model (same fingerprint, in the user's
   store or the package's) is reused as it is;
2. otherwise candidates are *mined* from the states the explicit engine reaches
   at a few deadline/quantum values (:mod:`.mining`), joined by the hand-written
   lemmas (:mod:`.lemmas`) and any set stored for the cell (past :data:`JOINT_LIMIT`
   candidates, without those guarded by both threads' joint position), and *Houdini*
   (:mod:`.houdini`) keeps the largest subset that is inductive; when time is
   left the set is shrunk to an inductive core (a faster ``kind``, smaller
   certificates);
3. the set goes into the user's store (:func:`.store.user_store`, or
   ``--store``), which ``verify --engine kind|pdr`` reads first;
4. ``kind`` then runs with it: ``proved`` per property, or ``violated`` with a
   trace, or ``unknown`` with the reason.

The budget is shared out over the cells still to do, the cheap ones (a silent
or adversarial helper) first, so that what they leave goes to the cells where
both threads run; within a cell mining gets
a quarter of its share, Houdini up to three quarters, ``kind`` the rest (at
least :data:`MIN_KIND` seconds).
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Callable, Sequence

import attrs

from mhmailbox.model.check import Result
from mhmailbox.model.runner import forked_map

from .engines import _with_coverage, run_unbounded
from .general import general_model
from .houdini import counterexample_steps, houdini, inductive_core
from .invariant import cell_key
from .mining import SAMPLES, mine, sample_states
from .store import lookup, save_cell, with_lemmas
from .symbolic import UNBOUNDED, Symbolic

MIN_KIND = 10.0
#: past this many mined candidates, those guarded by both threads' joint position (the largest
#: family) are left out: Houdini over 20k candidates did not finish where 4-8k did (docs/proofs.md)
JOINT_LIMIT = 6000


@attrs.define
class CellProof:
    """What ``prove`` did in one cell and what ``kind`` then proved there."""

    cell: tuple
    key: str
    source: str = ""  # "reused" (a stored set for this model), "mined", or "none"
    states: int = 0
    candidates: int = 0
    invariants: int = 0
    finished: bool = True
    seconds: dict = attrs.Factory(dict)
    results: list = attrs.Factory(list)
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"cell": list(self.cell), "key": self.key, "source": self.source, "states": self.states,
                "candidates": self.candidates, "invariants": self.invariants, "houdini_finished": self.finished,
                "seconds": self.seconds, "reason": self.reason, "results": [r.to_json() for r in self.results]}


def prove_cell(cell: tuple, props: list, args: argparse.Namespace | None, share: float, store_path: str,
               certificate: str | None = None, log: Callable[[str], None] = lambda m: None) -> CellProof:
    """Find, check and store the invariants of one cell within ``share`` seconds, then run ``kind``."""
    t0 = time.perf_counter()
    model, system, _ = general_model(cell, props, args)
    out = CellProof(cell, cell_key(model))
    if not model.properties:
        out.source, out.reason = "none", "no property applies"
        return out
    sym = Symbolic(system, UNBOUNDED)
    invs, stored = lookup(model, sym)
    if invs is not None:
        out.source, out.candidates, out.invariants = "reused", len(invs), len(invs)
        log(f"{out.key}: reusing {len(invs)} invariants proved for this model")
    else:
        out.source = "mined"
        per_sample = share * 0.25 / len(SAMPLES)
        rows = sample_states(system, time_limit=per_sample)
        out.states = len(rows)
        mined = mine(model, system, rows=rows, joint_limit=JOINT_LIMIT)
        out.seconds["mine"] = round(time.perf_counter() - t0, 2)  # exploring and mining
        cands = with_lemmas(model, mined)
        known = {c.name for c in cands}
        cands += [c for c in stored or [] if c.name not in known]
        out.candidates = len(cands)
        log(f"{out.key}: {len(rows)} states explored, {len(cands)} candidates; Houdini...")
        t1 = time.perf_counter()
        invs, out.finished = houdini(sym, cands, t0 + share * 0.75)
        out.seconds["houdini"] = round(time.perf_counter() - t1, 2)
        if out.finished and invs:
            t2 = time.perf_counter()
            try:
                core = inductive_core(sym, invs, t0 + share * 0.85)
            except AssertionError:  # some monitor needs k > 1 relative to the set: keep it whole
                core = None
            if core is not None:
                invs = core
            out.seconds["core"] = round(time.perf_counter() - t2, 2)
        out.invariants = len(invs)
        if out.finished:
            save_cell(store_path, model, sym, invs)
            log(f"{out.key}: {len(invs)} of {len(cands)} candidates inductive, stored")
        else:
            out.reason = f"Houdini did not finish within the budget ({len(cands)} candidates); nothing stored"
            log(f"{out.key}: {out.reason}")
    t3 = time.perf_counter()
    left = max(MIN_KIND, share - (t3 - t0))
    out.results = _with_coverage(run_unbounded("kind", cell, props, args, time_limit=left, certificate=certificate),
                                 cell, props, args)  # vacuous, as verify says
    out.seconds["kind"] = round(time.perf_counter() - t3, 2)
    if invs and out.finished:
        _explain_unknown(out.results, model, sym, invs)
    out.seconds["total"] = round(time.perf_counter() - t0, 2)
    return out


#: seconds to find the step that shows why one property is not proved (under a second measured)
WHY_LIMIT = 20.0


def _explain_unknown(results: list[Result], model, sym, invs: list) -> None:
    """Add to each "needs a strengthening invariant" the step where the proved set falls short:
    from a state that satisfies every invariant, into a violation (see :func:`counterexample_steps`)."""
    index = {m.id: i for i, m in enumerate(sym.system.monitors)}
    todo = [r for r in results if r.verdict == "unknown" and "strengthening" in r.note and r.property in index]
    steps = counterexample_steps(sym, model, invs, [index[r.property] for r in todo], WHY_LIMIT)
    for r in todo:
        step = steps[index[r.property]]
        if step is not None:
            r.note += (f"; relative to the {len(invs)} invariants stored, the step {step} reaches a "
                       "violation from a state they allow (an invariant about those steps is missing, "
                       "or a longer run does violate it)")


#: cells in this order get their share of the budget: the cheap ones first, so that what they leave
#: goes to the cells where both threads run (mined sets of thousands, Houdini in minutes)
COST = {"silent": 0, "adversarial": 1, "honest": 3, "slow": 4}


def cost(cell: tuple) -> tuple:
    _variant, memory, guest, host = cell
    return (2 if host == "adversarial" else COST.get(guest, 5), memory)


def prove(cells: Sequence[tuple], props: list, args: argparse.Namespace | None, budget: float, store_path: str,
          certificate: str | None = None, log: Callable[[str], None] = lambda m: None,
          progress=None, jobs: int = 1) -> list[CellProof]:
    """:func:`prove_cell` for every cell, cheapest first (:func:`cost`), the results in the order
    of ``cells``. One at a time, the budget is shared out over the cells still to do; with
    ``jobs`` > 1, that many cells run at once in forked workers, each with ``jobs`` / (cells)
    of the budget."""
    end = time.perf_counter() + budget
    order = sorted(range(len(cells)), key=lambda i: cost(cells[i]))
    out: dict[int, CellProof] = {}
    if jobs > 1:
        share = max(MIN_KIND, budget * min(jobs, len(cells)) / len(cells))
        items = [(i, cells[i], props, args, share, store_path, certificate) for i in order]
        for n, (i, proof, lines) in enumerate(forked_map(_prove_item, items, jobs), 1):
            for line in lines:
                log(line)
            out[i] = proof
            if progress is not None:
                progress.finish("/".join(cells[i]))
        return [out[i] for i in range(len(cells))]
    for n, i in enumerate(order):
        share = max(MIN_KIND, (end - time.perf_counter()) / (len(cells) - n))
        log(f"[{n + 1}/{len(cells)}] {'/'.join(cells[i])} ({share:.0f} s)")
        if progress is not None:  # mhmailbox.progress.Progress
            progress.start("/".join(cells[i]))
        out[i] = prove_cell(cells[i], props, args, share, store_path, certificate, log)
        if progress is not None:
            progress.finish()
    return [out[i] for i in range(len(cells))]


def _prove_item(item: tuple) -> tuple[int, CellProof, list[str]]:
    """One cell in a forked worker: its proof and its log lines (printed by the parent)."""
    i, cell, props, args, share, store_path, certificate = item
    lines: list[str] = [f"{'/'.join(cell)} ({share:.0f} s)"]
    return i, prove_cell(cell, props, args, share, store_path, certificate, lines.append), lines


def verdicts(proofs: Sequence[CellProof]) -> list[Result]:
    return [r for p in proofs for r in p.results]
