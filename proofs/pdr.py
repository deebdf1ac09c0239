"""Unbounded proofs with Spacer (IC3/PDR over constrained Horn clauses).

One uninterpreted predicate ``Inv`` over the state variables; one Horn rule
per transition (Spacer reasons about each rule separately, which works far
better than one rule with a selector):

    init(s)                                    -> Inv(s)
    Inv(s) /\\ cond_j(s, p) /\\ p in dom_j        -> Inv(upd_j(s, p))      for every transition j
    Inv(s) /\\ bad_m(s)                          -> false                  (the query, per monitor)

``unsat`` means no bad state is reachable: proved for the generalized model.
``sat`` means a bad state is reachable; the trace is then searched for with
BMC on the same generalized model (Spacer's own derivations are slow to turn
into states) and re-executed on the explicit model.
"""
from __future__ import annotations

import time

import attrs
import z3

from . import bmc as bmc_mod
from .store import proved
from .symbolic import Symbolic, _in_domain


@attrs.define
class Verdict:
    verdict: str
    depth: int = 0
    note: str = ""
    cex: object = None
    #: for a verdict proved by k-induction (k = ``depth``) relative to a proved set: that set
    #: (a :class:`.invariant.Proved`), from which a certificate is written
    invariants: object = None


def horn(sym: Symbolic, timeout_ms: int, strengthen=None) -> tuple[z3.Fixedpoint, z3.FuncDeclRef, dict]:
    fp = z3.Fixedpoint()
    fp.set("engine", "spacer")
    fp.set("timeout", max(1, timeout_ms))
    fp.set("spacer.random_seed", bmc_mod.SEED)
    sorts = [z3.IntSort()] * len(sym.names) + [z3.BoolSort()]
    inv = z3.Function("Inv", *sorts)
    fp.register_relation(inv)
    s = sym.state("s")
    p = sym.params("p")
    sv = [s[n] for n in sym.names]
    fp.declare_var(*(sv + list(p.values())))
    fp.rule(inv(*sv), sym.init(s))
    extra = [] if strengthen is None else [strengthen(s)]
    for tr in sym.transitions:
        memo: dict = {}
        body = [inv(*sv), sym.to_z3(tr.cond, s, p, memo)] + [_in_domain(p[n], d) for n, d in tr.params] + extra
        head = [sym.to_z3(tr.updates[n], s, p, memo) if n in tr.updates else s[n] for n in sym.names]
        fp.rule(inv(*head), body)
    return fp, inv, s


def _query(sym: Symbolic, bad, deadline: float, strengthen=None) -> str:
    left = deadline - time.perf_counter()
    if left <= 0.05:
        return "unknown"
    fp, inv, s = horn(sym, int(left * 1000), strengthen)
    try:
        r = fp.query(z3.And(inv(*[s[n] for n in sym.names]), bad(s)))
    except z3.Z3Exception:
        return "unknown"
    if r == z3.unsat:
        return "proved"
    if r == z3.sat:
        return "violated"
    return "unknown"


def _relative_inductive(sym: Symbolic, inv, mons, deadline: float) -> set[int]:
    """Monitors whose negation is inductive relative to the proved invariants (and false initially)."""
    if not inv.exprs:
        return set()
    out = set()
    s, t = sym.state("r0"), sym.state("r1")
    init = z3.SolverFor("QF_LIA")
    init.add(sym.init(s))
    step = z3.SolverFor("QF_LIA")
    step.add(inv.formula(s), *sym.trans(s, t, sym.selectors("r"), sym.params("r")))
    for m in mons:
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        for solver, lits in ((init, [sym.bad(m, s)]), (step, [z3.Not(sym.bad(m, s)), sym.bad(m, t)])):
            bmc_mod.set_timeout(solver, left)
            names = [z3.Bool(f"q{m}.{i}.{id(solver)}") for i in range(len(lits))]
            for n, e in zip(names, lits):
                solver.add(n == e)
            if solver.check(names) != z3.unsat:
                break
        else:
            out.add(m)
    return out


def prove(sym: Symbolic, model, time_limit: float) -> dict[int, Verdict]:
    """Spacer, seeded with the invariants of :mod:`.store` that are proved at this run.

    A monitor already inductive relative to those invariants needs no search; the
    others go to Spacer (without the invariants in the clauses: thousands of
    conjuncts in every rule body slow it down more than they help).
    """
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    mons = list(range(len(sym.system.monitors)))
    inv = proved(sym, model, deadline=t0 + time_limit * 0.6)
    out: dict[int, Verdict] = {}
    for m in _relative_inductive(sym, inv, mons, t0 + time_limit * 0.8):
        out[m] = Verdict("proved", invariants=inv,
                         note=f"inductive relative to {len(inv.names)} proved invariants (Spacer not needed)")
    rest = [m for m in mons if m not in out]
    if rest:
        everything = _query(sym, lambda s: z3.Or([sym.bad(m, s) for m in rest]),
                            time.perf_counter() + (deadline - time.perf_counter()) * 0.5)
        if everything == "proved":
            for m in rest:
                out[m] = Verdict("proved", note="Spacer: inductive invariant found (all remaining monitors at once)")
            rest = []
    pending = []
    for i, m in enumerate(rest):
        share = (deadline - time.perf_counter()) / max(1, len(rest) - i)
        r = _query(sym, lambda s, m=m: sym.bad(m, s), time.perf_counter() + share)
        if r == "violated":
            pending.append(m)
            out[m] = Verdict("violated", note="Spacer: a bad state is reachable in the generalized model")
        elif r == "proved":
            out[m] = Verdict("proved", note="Spacer: inductive invariant found")
        else:
            out[m] = Verdict("unknown", note="Spacer: no answer within the time limit")
    if pending:
        left = deadline - time.perf_counter()
        run = _cex_search(sym, model, max(1.0, left), pending)
        for m in pending:
            c = run.found.get(m)
            if c is not None:
                out[m] = Verdict("violated", depth=c.length, cex=c,
                                 note="Spacer: reachable; shortest trace in the generalized model (BMC)")
            else:
                out[m].note += f"; no trace extracted (BMC reached depth {run.depth})"
    return out


def _cex_search(sym: Symbolic, model, time_limit: float, monitors, depth: int = 200):
    """Shortest counterexamples in the generalized model (bit-vector BMC, re-executed exactly)."""
    return cex_searcher(sym, monitors).run(depth, time_limit)


def cex_searcher(sym: Symbolic, monitors) -> bmc_mod.Search:
    """A resumable search for shortest counterexamples in the generalized model (bit-vector BMC)."""
    bv = Symbolic(sym.system, sym.gen, sort="bv")
    return bmc_mod.Search(bv, bmc_mod.compiled_factory(sym.system), monitors)
