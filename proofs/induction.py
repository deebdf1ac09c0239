"""k-induction over the generalized model, strengthened by proved invariants.

For k = 1, 2, ...:

* base case: no violation within k - 1 steps from the initial states (bit-vector
  BMC of the generalized model; a violation found there is a real trace, re-executed
  on the explicit model);
* inductive step: no path s0 .. sk (from *any* state satisfying the proved
  invariants of :mod:`.store`) where the property holds in s0 .. s(k-1)
  and fails in sk (integer arithmetic, so unbounded).

Both holding for the same k proves the property for every reachable state of
the generalized model. Without invariants the step rarely closes here: the
monitors are flags over a program counter, and unreachable states at a pc
(say, at ``save.page`` with two different header lengths) break the step
however long the path, because the guest may spin for ever while the host
stays put. docs/proofs.md says which invariants would close which property.
"""
from __future__ import annotations

import time

import z3

from . import bmc as bmc_mod
from .pdr import Verdict, cex_searcher
from .store import proved
from .symbolic import Symbolic

MAX_K = 6


def prove(sym: Symbolic, model, time_limit: float) -> dict[int, Verdict]:
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    mons = list(range(len(sym.system.monitors)))
    inv = proved(sym, model, deadline=t0 + time_limit * 0.6)
    out: dict[int, Verdict] = {}
    # the inductive step, incrementally: one solver, path extended one step at a time
    solver = z3.SolverFor("QF_LIA")
    states = [sym.state("0")]
    if inv.exprs:
        solver.add(inv.formula(states[0]))
    base_ok = -1  # base case checked up to this length
    k = 0
    pending = set(mons)
    base = cex_searcher(sym, mons)  # one unrolling, extended as k grows
    while pending and k < MAX_K:
        k += 1
        # base case up to k - 1
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        if base_ok < k - 1:
            run = base.run(k - 1, left)
            for m, c in run.found.items():
                if m not in pending:
                    continue
                out[m] = Verdict("violated", depth=c.length, cex=c,
                                 note="k-induction base case: shortest trace in the generalized model")
                pending.discard(m)
            if run.stopped in ("time", "unknown"):
                break
            base_ok = k - 1
        # extend the step path to length k
        s, t = states[-1], sym.state(str(k))
        solver.add(*sym.trans(s, t, sym.selectors(f"k{k}"), sym.params(f"k{k}")))
        if inv.exprs:
            solver.add(inv.formula(t))
        states.append(t)
        for m in sorted(pending):
            solver.add(z3.Not(sym.bad(m, s)))  # holds in s0 .. s(k-1) (for every pending monitor)
        for m in sorted(pending):
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            lit = z3.Bool(f"stepbad{m}@{k}")
            solver.add(lit == sym.bad(m, t))
            bmc_mod.set_timeout(solver, left)
            r = solver.check(lit)
            if r == z3.unsat:
                out[m] = Verdict("proved", depth=k, invariants=inv,
                                 note=f"{k}-inductive" + (f" relative to {len(inv.names)} proved invariants"
                                                          if inv.names else ""))
        pending -= {m for m in out}
        for m in out:
            base.drop(m)
    for m in mons:
        if m not in out:
            out[m] = Verdict("unknown", depth=max(base_ok, 0),
                             note=f"not k-inductive for k <= {k} (no violation within {max(base_ok, 0)} steps); "
                                  "needs a strengthening invariant" if k else "out of time")
    return out
