"""Strengthening invariants: written down per cell, each checked inductive relative to the others.

Monitors are flags over program counters, and neither k-induction nor a
time-limited PDR run gets far without facts such as "when the host is at
``save.page``, the three header lengths it read are equal" or "when the host
reads ``ret`` after an accepted ``done``, the ghost of ``ret`` is the current
command's". Such facts are *candidate invariants* here, in three shapes, each
guarded by one thread's program counter (or unguarded):

* ``pc == c -> x == v``      (a constant at that step),
* ``pc == c -> x == y + b``  (two variables in step, e.g. copies of one read),
* ``pc == c -> x == 2*y + b`` (provenance ghosts: ``2*id + 1`` is "the guest,
  for the host's command id").

Candidates are *mined* from states the explicit engine reaches in the
generalized model at a few deadline/quantum values (``python -m
mhmailbox.proofs.invariants`` writes them to ``invariants.json`` beside this
file), then *proved* with Houdini: the set is repeatedly checked for
``init => I`` and ``I /\\ T => I'`` on the generalized model (integers, free
deadline/quantum), dropping every candidate a counterexample falsifies, until
what is left is inductive. Only the survivors are used, so a stale or wrong
candidate costs time, never soundness. Each survivor is named (thread, step
label, relation) so a reader can check it against the protocol.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from typing import Any, Sequence

import attrs
import z3

from mhmailbox.model.expr import And, C, Expr, In, Not, Or, V

STORE = os.path.join(os.path.dirname(__file__), "invariants.json")


@attrs.frozen
class Invariant:
    name: str
    expr: Expr


@attrs.define
class Proved:
    names: list
    exprs: list
    sym: Any = None
    dropped: int = 0

    def formula(self, s):
        memo: dict = {}
        return z3.And([self.sym.to_z3(e, s, None, memo) for e in self.exprs]) if self.exprs else z3.BoolVal(True)


# ---------------------------------------------------------------- (de)serialization

def to_json(e: Expr) -> Any:
    if e.op in ("var", "param"):
        return [e.op, e.args[0]]
    if e.op == "const":
        return e.args[0]
    return [e.op] + [to_json(a) for a in e.args]


def from_json(x: Any) -> Expr:
    if isinstance(x, int):
        return C(x)
    op = x[0]
    if op in ("var", "param"):
        return Expr(op, (x[1],))
    return Expr(op, tuple(from_json(a) for a in x[1:]))


def cell_key(model) -> str:
    return f"{model.variant}/{model.memory}/{model.guest}/{model.host}/sb={model.bounds.capacity}"


# ---------------------------------------------------------------- mining candidates

def mine(model, system, samples: Sequence[tuple[int, int]] = ((2, 1), (1, 1), (3, 2), (2, 3)),
         max_states: int = 60_000, depth: int = 80, joint: bool = True) -> list[Invariant]:
    """Candidate invariants true in every state the explicit engine reaches (several D, Q).

    ``joint=False`` leaves out the candidates guarded by the joint position of both
    threads (the largest family): for cells whose hand-written lemmas (:mod:`.lemmas`)
    already say how the threads' positions relate, and where Houdini over the full
    set does not finish in time."""
    import numpy as np

    from mhmailbox.model.explore import explore

    from .symbolic import with_initial

    names = list(system.variables)
    rows = []
    for D, Q in samples:
        sysv = with_initial(system, {"k.D": D, "k.Q": Q})
        ex = explore(sysv.compile(), depth, max_states=max_states, stop_when_all_found=False)
        rows.extend(ex.trail_states)
    R = np.array(rows, dtype=np.int64)
    pcs = [n for n in names if n.endswith(".pc")]
    skip = {"k.D", "k.Q"}
    cols = [i for i, n in enumerate(names) if n not in skip]
    out: list[Invariant] = []

    def rel(block: np.ndarray, guard: Expr | None, where: str) -> None:
        first = block[0]
        const = {i for i in cols if (block[:, i] == first[i]).all()}
        for i in sorted(const):
            n = names[i]
            if guard is not None and n in pcs and n in str(guard):
                continue
            e = V(n).eq(int(first[i]))
            out.append(Invariant(f"{where}: {n} == {int(first[i])}", e if guard is None else Or(Not(guard), e)))
        var = [i for i in cols if i not in const]
        norm = {i: block[:, i] - first[i] for i in var}
        for mult in (1, 2):
            keys: dict[bytes, list[int]] = defaultdict(list)
            for i in var:
                keys[norm[i].tobytes()].append(i)
            for j in var:
                target = (mult * norm[j]).tobytes()
                for i in keys.get(target, []):
                    if i == j or (mult == 1 and i > j):
                        continue
                    b = int(first[i] - mult * first[j])
                    rhs: Expr = V(names[j]) if mult == 1 else V(names[j]) + V(names[j])
                    e = V(names[i]).eq(rhs + b if b >= 0 else rhs - (-b)) if b else V(names[i]).eq(rhs)
                    txt = f"{names[i]} == {'' if mult == 1 else '2*'}{names[j]}" + (f" {'+' if b >= 0 else '-'} {abs(b)}" if b else "")
                    out.append(Invariant(f"{where}: {txt}", e if guard is None else Or(Not(guard), e)))

    init = np.array([system.variables[n] for n in names], dtype=np.int64)

    def tagged(block: np.ndarray, guard: Expr | None, where: str) -> None:
        """``x == 2*y + b`` unless both still hold their initial values: a value and the
        provenance ghost of the command that wrote it (``mg.done == 2*m.done + 1`` once
        the helper has written done at all), which a plain equality misses."""
        for j in cols:
            if names[j] in pcs:
                continue
            yj = block[:, j]
            for i in cols:
                if i == j or names[i] in pcs:
                    continue
                xi = block[:, i]
                fresh = (xi == init[i]) & (yj == init[j])
                if fresh.all() or not fresh.any():
                    continue  # never written here, or never initial here (rel() covers it)
                d = xi[~fresh] - 2 * yj[~fresh]
                if not (d == d[0]).all() or (yj[~fresh] == yj[~fresh][0]).all():
                    continue  # no relation, or y constant once written (a constant is not a tag)
                b = int(d[0])
                rhs: Expr = V(names[j]) + V(names[j])
                e = Or(V(names[i]).eq(rhs + b if b >= 0 else rhs - (-b)),
                       And(V(names[i]).eq(int(init[i])), V(names[j]).eq(int(init[j]))))
                txt = f"{names[i]} == 2*{names[j]} {'+' if b >= 0 else '-'} {abs(b)} or both initial"
                out.append(Invariant(f"{where}: {txt}", e if guard is None else Or(Not(guard), e)))

    clock = [n for n in ("host.t", "host.nc", "x.el") if n in names]
    terms: list[tuple[str, Expr, Any]] = [(n, V(n), R[:, names.index(n)]) for n in clock]
    if "k.D" in names:
        d, q = R[:, names.index("k.D")], R[:, names.index("k.Q")]
        terms += [("k.D", V("k.D"), d), ("k.Q", V("k.Q"), q), ("k.D + k.Q", V("k.D") + V("k.Q"), d + q)]
        for n in clock:
            x = R[:, names.index(n)]
            terms += [(f"{n} + k.Q", V(n) + V("k.Q"), x + q)]
        out.append(Invariant("always: k.D >= 1", V("k.D").ge(1)))
        out.append(Invariant("always: k.Q >= 1", V("k.Q").ge(1)))

    def bounds(block: np.ndarray, sel, guard: Expr | None, where: str) -> None:
        lo, hi = block.min(axis=0), block.max(axis=0)
        for i in cols:
            n = names[i]
            if lo[i] < hi[i] and n not in pcs:
                vals = sorted(set(block[:, i].tolist()))
                if 2 < len(vals) <= 6:  # a small set of values (return addresses, codes)
                    e = In(V(n), [int(v) for v in vals])
                    out.append(Invariant(f"{where}: {n} in {vals}", e if guard is None else Or(Not(guard), e)))
            if lo[i] == hi[i]:
                if guard is None and 0 <= lo[i] <= 1:  # a flag or a 0/1 variable never set here
                    out.append(Invariant(f"{where}: 0 <= {n} <= 1", And(V(n).ge(0), V(n).le(1))))
                continue
            for e, txt in ((V(n).ge(int(lo[i])), f"{n} >= {int(lo[i])}"), (V(n).le(int(hi[i])), f"{n} <= {int(hi[i])}")):
                out.append(Invariant(f"{where}: {txt}", e if guard is None else Or(Not(guard), e)))
        for na, ea, va in terms:
            for nb, eb, vb in terms:
                if na != nb and (va[sel] <= vb[sel]).all():
                    e = ea.le(eb)
                    out.append(Invariant(f"{where}: {na} <= {nb}", e if guard is None else Or(Not(guard), e)))

    flags = [i for i in cols if names[i] not in pcs and set(np.unique(R[:, i]).tolist()) == {0, 1}]

    def order(block: np.ndarray, guard: Expr | None, where: str) -> None:
        """``a <= b`` between two 0/1 variables (a set implies b set); guarded ones only where
        the relation does not hold everywhere (then the unguarded candidate says it)."""
        for i in flags:
            for j in flags:
                if i == j or (guard is not None and (R[:, i] <= R[:, j]).all()):
                    continue
                if (block[:, i] <= block[:, j]).all():
                    e = V(names[i]).le(V(names[j]))
                    out.append(Invariant(f"{where}: {names[i]} <= {names[j]}", e if guard is None else Or(Not(guard), e)))

    order(R, None, "always")
    # positions refined by the operation the host is in (its return address): a flag
    # relation may hold at a shared step (send.*) only for some callers, e.g. "initialized
    # implies the helper's INIT succeeded" everywhere but inside cleanup's RESET
    if "host.pc" in names and "host.ret_to" in names:
        kp, kr = names.index("host.pc"), names.index("host.ret_to")
        for c in sorted(set(R[:, kp].tolist())):
            at = R[:, kp] == c
            label = model.label("host", int(c))
            order(R[at], V("host.pc").eq(int(c)), f"host at {label}")
            if not label.startswith("send"):  # ret_to only means something inside the call
                continue
            for v in sorted(set(R[at, kr].tolist())):
                sel = at & (R[:, kr] == v)
                guard = And(V("host.pc").eq(int(c)), V("host.ret_to").eq(int(v)))
                where = f"host at {label} returning to {model.label('host', int(v))}"
                block = R[sel]
                for i in cols:  # what the caller fixes (its command, its flags)
                    if names[i] not in pcs and (block[:, i] == block[0, i]).all() and not (R[at, i] == block[0, i]).all():
                        out.append(Invariant(f"{where}: {names[i]} == {int(block[0, i])}",
                                             Or(Not(guard), V(names[i]).eq(int(block[0, i])))))
                order(block, guard, where)
    for pv in pcs:  # steps never reached in the mined states
        seen = sorted(set(R[:, names.index(pv)].tolist()))
        out.append(Invariant(f"always: {pv[:-3]} only at reached steps ({len(seen)})", In(V(pv), [int(x) for x in seen])))
    rel(R, None, "always")
    tagged(R, None, "always")
    bounds(R, np.ones(len(R), dtype=bool), None, "always")
    if joint and len(pcs) >= 2:  # joint positions of the threads, and "once the clock has moved" there
        ks = [names.index(pv) for pv in pcs]
        locs = sorted(set(tuple(int(x) for x in r) for r in R[:, ks].tolist()))
        out.append(Invariant(f"always: the threads only at the {len(locs)} joint positions reached",
                             Or(*[And(*[V(pv).eq(c) for pv, c in zip(pcs, loc)]) for loc in locs])))
        tcol = names.index("x.el") if "x.el" in names else None
        for loc in locs:
            sel = np.all(R[:, ks] == np.array(loc), axis=1)
            guard = And(*[V(pv).eq(c) for pv, c in zip(pcs, loc)])
            where = " & ".join(f"{pv[:-3]} at {model.label(pv[:-3], c)}" for pv, c in zip(pcs, loc))
            rel(R[sel], guard, where)
            bounds(R[sel], sel, guard, where)
            if tcol is not None:
                sub = sel & (R[:, tcol] >= 1)
                if sub.any() and sub.sum() < sel.sum():
                    g2 = And(guard, V("x.el").ge(1))
                    rel(R[sub], g2, where + " & x.el >= 1")
    for pv in pcs:
        k = names.index(pv)
        thread = pv[:-3]
        for c in sorted(set(R[:, k].tolist())):
            sel = R[:, k] == c
            block = R[sel]
            where = f"{thread} at {model.label(thread, int(c))}"
            rel(block, V(pv).eq(int(c)), where)
            tagged(block, V(pv).eq(int(c)), where)
            bounds(block, sel, V(pv).eq(int(c)), where)
            for other in pcs:  # where the other threads can be meanwhile
                if other == pv:
                    continue
                seen = sorted(set(block[:, names.index(other)].tolist()))
                if len(seen) > 1:
                    o = other[:-3]
                    labels = ", ".join(model.label(o, int(x)) for x in seen)
                    out.append(Invariant(f"{where}: {o} at one of {labels}",
                                         Or(Not(V(pv).eq(int(c))), In(V(other), [int(x) for x in seen]))))
    return out


# ---------------------------------------------------------------- Houdini

def _evaluators(sym, cands: list[Invariant]):
    from mhmailbox.model.expr import to_python

    dropped = sym.system.dropped
    src = "[" + ",".join(f"lambda e: {to_python(c.expr, lambda n: f'e[{n!r}]' if n in sym.system.variables else repr(dropped[n]))}"
                         for c in cands) + "]"
    return eval(src)  # noqa: S307 - generated from our own expressions


def _values(sym, m, st) -> dict[str, int]:
    return {n: m.eval(st[n], model_completion=True).as_long() for n in sym.names}


def houdini(sym, cands: list[Invariant], deadline: float) -> tuple[list[Invariant], bool]:
    """The largest subset of ``cands`` that holds initially and is inductive; (subset, finished)."""
    alive = list(cands)
    if not alive:
        return [], True
    fns = _evaluators(sym, alive)
    s = sym.state("h0")
    t = sym.state("h1")
    # initiation
    solver = z3.SolverFor("QF_LIA")
    solver.add(sym.init(s))
    memo: dict = {}
    lits = [z3.Bool(f"i{i}") for i in range(len(alive))]
    for lit, c in zip(lits, alive):
        solver.add(lit == sym.to_z3(c.expr, s, None, memo))
    act = [z3.Bool(f"ia{i}") for i in range(len(alive))]
    nact = [z3.Not(a) for a in act]
    solver.add(z3.Or([z3.And(a, z3.Not(lit)) for a, lit in zip(act, lits)]))
    keep = set(range(len(alive)))
    rounds = 0
    while keep:
        left = deadline - time.perf_counter()
        if left <= 0:
            return [], False
        solver.set("timeout", max(1, int(left * 1000)))
        r = solver.check([act[i] if i in keep else nact[i] for i in range(len(alive))])
        rounds += 1
        if r == z3.unsat:
            break
        if r != z3.sat:
            return [], False
        env = _values(sym, solver.model(), s)
        keep -= {i for i in keep if not fns[i](env)}
    if not keep:
        return [], True
    alive = [alive[i] for i in sorted(keep)]
    fns = [fns[i] for i in sorted(keep)]
    # consecution
    compiled = sym.system.compile()
    solver = z3.SolverFor("QF_LIA")
    solver.add(*sym.trans(s, t, sym.selectors("h"), sym.params("h")))
    memo_s: dict = {}
    memo_t: dict = {}
    pre = [z3.Bool(f"a{i}") for i in range(len(alive))]
    act = [z3.Bool(f"c{i}") for i in range(len(alive))]
    nact = [z3.Not(a) for a in act]
    fails = []
    for i, c in enumerate(alive):
        solver.add(z3.Implies(pre[i], sym.to_z3(c.expr, s, None, memo_s)))
        fails.append(z3.And(act[i], z3.Not(sym.to_z3(c.expr, t, None, memo_t))))
    solver.add(z3.Or(fails))
    keep = set(range(len(alive)))
    while keep:
        left = deadline - time.perf_counter()
        if left <= 0:
            return [], False
        solver.set("timeout", max(1, int(left * 1000)))
        assume = [pre[i] for i in sorted(keep)] + [act[i] if i in keep else nact[i] for i in range(len(alive))]
        r = solver.check(assume)
        rounds += 1
        if r == z3.unsat:
            return [alive[i] for i in sorted(keep)], True
        if r != z3.sat:
            return [], False
        model = solver.model()
        env = _values(sym, model, t)
        gone = {i for i in keep if not fns[i](env)}
        if not gone:
            raise AssertionError("Houdini: a counterexample to induction falsifies no candidate")
        keep -= gone
        # the same counterexample's pre-state, explored with the explicit successor function
        # (a subset of the generalized model's steps): every state reached through states
        # that satisfy the remaining candidates falsifies more of them at no solver cost
        keep -= _explore_drops(sym, compiled, fns, keep, _values(sym, model, s))
    return [], True


def inductive_core(sym, invs: list[Invariant], deadline: float, log=None) -> list[Invariant] | None:
    """A subset of the inductive set ``invs`` that is still inductive and still proves every
    monitor 1-inductively (None if out of time): the unsat cores of "a monitor fails in
    one step" and, for each invariant kept, of "it fails in one step", closed under
    both. A proof over a few hundred invariants instead of thousands is a faster
    ``kind``/``pdr`` run, with room under ``verify --engine all``'s time limit."""
    s, t = sym.state("c0"), sym.state("c1")
    solver = z3.SolverFor("QF_LIA")
    solver.add(*sym.trans(s, t, sym.selectors("c"), sym.params("c")))
    memo_s: dict = {}
    memo_t: dict = {}
    lits = [z3.Bool(f"inv{i}") for i in range(len(invs))]
    for lit, inv in zip(lits, invs):
        solver.add(z3.Implies(lit, sym.to_z3(inv.expr, s, None, memo_s)))
    index = {lit.get_id(): i for i, lit in enumerate(lits)}

    def core(goal_pre, goal_post) -> set[int] | None:
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        solver.push()
        if goal_pre is not None:
            solver.add(goal_pre)
        solver.add(goal_post)
        solver.set("timeout", max(1, int(left * 1000)))
        r = solver.check(lits)
        got = {index[c.get_id()] for c in solver.unsat_core()} if r == z3.unsat else None
        solver.pop()
        if r != z3.unsat:
            if r == z3.sat:
                raise AssertionError("inductive_core: the set does not prove what it is asked to")
            return None
        return got

    need: set[int] = set()
    todo: list[int] = []
    logged = 0
    for m in range(len(sym.system.monitors)):
        c = core(z3.Not(sym.bad(m, s)), sym.bad(m, t))
        if c is None:
            return None
        todo += sorted(c - need)
        need |= c
    while todo:
        i = todo.pop()
        c = core(None, z3.Not(sym.to_z3(invs[i].expr, t, None, memo_t)))
        if c is None:
            return None
        todo += sorted(c - need)
        need |= c
        if log is not None and len(need) // 100 > logged:  # once per hundred kept
            logged = len(need) // 100
            log(f"  core: {len(need)} invariants, {len(todo)} to close")
    return [invs[i] for i in sorted(need)]


def _explore_drops(sym, compiled, fns, keep: set[int], start: dict[str, int], budget: int = 400) -> set[int]:
    names = sym.names
    gone: set[int] = set()
    frontier = [tuple(start[n] for n in names)]
    seen = set(frontier)
    alive = set(keep)
    while frontier and len(seen) < budget:
        st = frontier.pop()
        env = dict(zip(names, st))
        if any(not fns[i](env) for i in alive):
            continue  # outside the current candidate set: its successors prove nothing
        try:
            succ = [nxt for _, _, nxt in compiled.successors(st)]
        except Exception:  # noqa: BLE001 - a state outside the explicit model's domains
            continue
        for nxt in succ:
            e2 = dict(zip(names, nxt))
            bad = {i for i in alive if not fns[i](e2)}
            if bad:
                gone |= bad
                alive -= bad
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return gone


_CACHE: dict[str, tuple[list[Invariant], bool]] = {}


def _load() -> dict:
    try:
        with open(STORE, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def stored(model, data: dict | None = None) -> list[Invariant]:
    """The cell's stored set as written (``data``: the store, already loaded)."""
    return [Invariant(n, from_json(e)) for n, e in (_load() if data is None else data).get(cell_key(model), [])]


def _stored_cells(data: dict, only: Any = None):
    """(key, generalized model, symbolic model) of every stored cell ``only(key)`` selects."""
    from mhmailbox.model.properties import CATALOG

    from .engines import general_model
    from .symbolic import UNBOUNDED, Symbolic

    for key in [k for k in data if not k.startswith("_") and (only is None or only(k))]:
        variant, memory, guest, host, _sb = key.split("/")
        model, system, _ = general_model((variant, memory, guest, host), list(CATALOG), None)
        yield key, model, Symbolic(system, UNBOUNDED)


def fingerprint(sym, invs: Sequence[Invariant]) -> str:
    """A digest of exactly what a Houdini proof covers: the generalized model's initial states,
    transitions (guards, fused local chains, updates, parameter domains) and the invariants."""
    import hashlib

    from mhmailbox.model.expr import show

    h = hashlib.sha256()
    h.update(repr((sym.names, sorted(sym.system.variables.items()), sorted(sym.system.dropped.items()),
                   attrs.asdict(sym.gen))).encode())
    for t in sym.transitions:
        h.update(repr((sym.system.actions[t.action].name, show(t.cond), t.chain, t.params,
                       sorted((k, show(v)) for k, v in t.updates.items()))).encode())
    for i in invs:
        h.update(repr((i.name, show(i.expr))).encode())
    return h.hexdigest()


def with_lemmas(model, cands: list[Invariant]) -> list[Invariant]:
    """The candidates plus this cell's hand-written lemmas (:mod:`.lemmas`), in their current form."""
    from .lemmas import lemmas

    # stored copies of lemmas may be older versions: the current definitions replace them
    return [c for c in cands if not c.name.startswith("lemma: ")] + lemmas(model)


def stored_candidates(model, entries: list | None) -> list[Invariant]:
    """A cell's stored set as a candidate list: stored order, lemmas in their current form.

    A lemma that Houdini dropped when the set was stored stays out (it is not inductive
    there, so re-adding it would only make every run re-prove the set). With no stored
    set, the candidates are the lemmas alone."""
    from .lemmas import lemmas

    current = {lem.name: lem for lem in lemmas(model)}
    if entries is None:
        return list(current.values())
    return [current[n] if n.startswith("lemma: ") else Invariant(n, from_json(e))
            for n, e in entries if not n.startswith("lemma: ") or n in current]


def proved(sym, model, deadline: float) -> Proved:
    """The stored invariants of this cell that are inductive for this model.

    When the stored set was proved inductive for a model with the same fingerprint
    (same initial states, transitions and invariants), that proof is reused;
    otherwise Houdini re-proves it now, within ``deadline`` (none kept if it cannot finish).
    """
    data = _load()
    cands = stored_candidates(model, data.get(cell_key(model)))
    if not cands:
        return Proved([], [], sym)
    fp = fingerprint(sym, cands)
    if data.get("_fingerprints", {}).get(cell_key(model)) == fp:
        return Proved([i.name for i in cands], [i.expr for i in cands], sym)
    if fp in _CACHE:
        invs, ok = _CACHE[fp]
    else:
        invs, ok = houdini(sym, cands, deadline)
        if ok:
            _CACHE[fp] = (invs, ok)
    return Proved([i.name for i in invs], [i.expr for i in invs], sym, dropped=len(cands) - len(invs))


def refingerprint(log=print, only: Any = None, cells: Sequence[tuple] = ()) -> None:
    """Re-prove every stored set (``only(key)`` selects some) with Houdini and record the
    fingerprint of the model it holds for. The sets get every current lemma back (a lemma
    changed since may hold now); ``cells`` with no stored set get one from the lemmas alone."""
    from mhmailbox.model.properties import CATALOG

    from .engines import general_model

    data = _load()
    fps = data.setdefault("_fingerprints", {})
    for cell in cells:
        model, _, _ = general_model(cell, list(CATALOG), None)
        if model.properties:
            data.setdefault(cell_key(model), [])
    for key, model, sym in _stored_cells(data, only):
        cands = with_lemmas(model, stored(model, data))
        t0 = time.perf_counter()
        invs, ok = houdini(sym, cands, time.perf_counter() + 600)
        if ok:
            data[key] = [[i.name, to_json(i.expr)] for i in invs]
            fps[key] = fingerprint(sym, invs)
        else:
            fps.pop(key, None)
        log(f"{key}: {len(invs)} of {len(cands)} inductive{'' if ok else ' (TIME OUT)'} "
            f"in {time.perf_counter() - t0:.1f} s")
    _save(data)


def roots(sym, model, cands: list[Invariant], deadline: float, log=print) -> list[str]:
    """The lemmas of ``cands`` that are not inductive relative to *all* the candidates: where a
    failing proof starts (Houdini then drops the rest in cascade). The counterexample to
    induction of the first is logged: the pre- and post-state's positions and every
    nonzero variable, which usually shows the fact that is missing."""
    s, t = sym.state("r0"), sym.state("r1")
    solver = z3.SolverFor("QF_LIA")
    memo_s: dict = {}
    memo_t: dict = {}
    for c in cands:
        solver.add(sym.to_z3(c.expr, s, None, memo_s))
    solver.add(*sym.trans(s, t, sym.selectors("r"), sym.params("r")))
    out: list[str] = []
    for c in cands:
        if not c.name.startswith("lemma: "):
            continue
        left = deadline - time.perf_counter()
        if left <= 0:
            log("(out of time)")
            break
        solver.push()
        solver.add(z3.Not(sym.to_z3(c.expr, t, None, memo_t)))
        solver.set("timeout", max(1, int(left * 1000)))
        r = solver.check()
        if r == z3.sat:
            out.append(c.name)
            log(f"ROOT {c.name}")
            if len(out) == 1:
                m = solver.model()
                pre, post = _values(sym, m, s), _values(sym, m, t)
                for th in ("host", "guest"):
                    if f"{th}.pc" in pre:
                        log(f"  {th}: {model.label(th, pre[f'{th}.pc'])} -> {model.label(th, post[f'{th}.pc'])}")
                log("  " + ", ".join(f"{n}: {pre[n]}" + (f" -> {post[n]}" if post[n] != pre[n] else "")
                                     for n in sym.names if pre[n] or post[n]))
        elif r != z3.unsat:
            log(f"?    {c.name} (no answer)")
        solver.pop()
    return out


def shrink(log=print, only: Any = None, time_limit: float = 600.0) -> None:
    """Replace each stored set (``only(key)`` selects) by its inductive core (see
    :func:`inductive_core`); a set whose core cannot be computed in time stays as it is."""
    data = _load()
    for key, model, sym in _stored_cells(data, only):
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
    _save(data)


# ---------------------------------------------------------------- offline: mine and store

def generate(cells, time_limit: float = 120.0, log=print, joint: bool = True) -> dict[str, list]:
    from .engines import general_model
    from .symbolic import UNBOUNDED, Symbolic
    from mhmailbox.model.properties import CATALOG

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
            out[cell_key(model)] = [[i.name, to_json(i.expr)] for i in invs]
            out["_fingerprints"][cell_key(model)] = fingerprint(sym, invs)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    from mhmailbox.cli import finite_positive
    from mhmailbox.model.memory import MODELS
    from mhmailbox.outfiles import check_output, write_atomically
    from mhmailbox.model.properties import CATALOG
    from mhmailbox.model.protocol import cells

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
        data = _load()
        for path in a.merge:
            with open(path, encoding="utf-8") as fh:
                new = json.load(fh)
            data["_fingerprints"] = {**data.get("_fingerprints", {}), **new.pop("_fingerprints", {})}
            data.update(new)
        _save(data)
        return 0
    todo = cells(a.variant or ["hardened"], a.memory or list(MODELS), a.guest, list(CATALOG))
    if a.roots:
        from .engines import general_model
        from .symbolic import UNBOUNDED, Symbolic

        data = _load()
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
    data = _load()
    fps = {**data.get("_fingerprints", {}), **new.pop("_fingerprints")}
    data.update(new)
    data["_fingerprints"] = fps
    _save(data)
    return 0


def _save(data: dict) -> None:
    with open(STORE, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=0, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    from mhmailbox.errors import UsageError

    try:
        sys.exit(main())
    except UsageError as exc:
        print(f"error: python -m mhmailbox.proofs.invariants: {exc}", file=sys.stderr)
        sys.exit(2)
