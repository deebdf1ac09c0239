"""Houdini: the largest subset of candidate invariants that is inductive together.

The candidates are checked for ``init => I`` and ``I /\\ T => I'`` on the
generalized model (integer arithmetic, free deadline and quantum); every
candidate a counterexample falsifies is dropped and the rest re-checked until
what is left is inductive. Only the survivors are used, so a stale or wrong
candidate costs time, never soundness. Also here: the inductive core of a proved
set (fewer invariants, same monitors proved), the fingerprint of what a proof
covers, and the lemmas where a failing proof starts.
"""
from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from typing import Sequence

import attrs
import z3

from mhmailbox.model.expr import show, to_python

from .invariant import Invariant


def _evaluators(sym, cands: list[Invariant]):
    dropped = sym.system.dropped
    src = "[" + ",".join(f"lambda e: {to_python(c.expr, lambda n: f'e[{n!r}]' if n in sym.system.variables else repr(dropped[n]))}"
                         for c in cands) + "]"
    return eval(src)  # noqa: S307 - generated from our own expressions


class Relevant:
    """Which candidates can be false in a state, so that a state is checked against tens of
    candidates instead of thousands: a candidate ``not (x == c and ...) or e`` (every mined
    candidate guarded by a step) is true in any state where ``x != c``, so it is indexed
    under ``(x, c)`` and only looked at in states with ``x == c``; the others always are."""

    def __init__(self, cands: Sequence[Invariant], variables):
        """``variables``: the state's variable names (a guard on any other name is not indexed)."""
        self.always: list[int] = []
        self.guarded: dict[tuple[str, int], list[int]] = defaultdict(list)
        for i, c in enumerate(cands):
            key = _guard_key(c.expr)
            if key is None or key[0] not in variables:
                self.always.append(i)
            else:
                self.guarded[key].append(i)
        self.keys = sorted({n for n, _ in self.guarded})

    def falsified(self, fns, alive: set[int], env) -> set[int]:
        """The candidates of ``alive`` false in the state ``env`` (``fns``: their evaluators)."""
        out = {i for i in self.always if i in alive and not fns[i](env)}
        for n in self.keys:
            for i in self.guarded.get((n, env[n]), ()):
                if i in alive and not fns[i](env):
                    out.add(i)
        return out


def _guard_key(e) -> tuple[str, int] | None:
    """``(x, c)`` when ``e`` is ``not (x == c [and ...]) or ...``, else None."""
    if e.op != "or" or e.args[0].op != "not":
        return None
    g = e.args[0].args[0]
    first = g.args[0] if g.op == "and" else g
    if first.op == "eq" and first.args[0].op == "var" and first.args[1].op == "const":
        return first.args[0].args[0], first.args[1].args[0]
    return None


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
    relevant = Relevant(alive, sym.system.variables)
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
        gone = relevant.falsified(fns, keep, env)
        if not gone:
            raise AssertionError("Houdini: a counterexample to induction falsifies no candidate")
        keep -= gone
        # the same counterexample's pre-state, explored with the explicit successor function
        # (a subset of the generalized model's steps): every state reached through states
        # that satisfy the remaining candidates falsifies more of them at no solver cost
        keep -= _explore_drops(sym, compiled, fns, keep, _values(sym, model, s), relevant)
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


def _explore_drops(sym, compiled, fns, keep: set[int], start: dict[str, int], relevant: Relevant,
                   budget: int = 400) -> set[int]:
    """The candidates of ``keep`` falsified in states reached from ``start`` (a counterexample's
    pre-state, which satisfies them all) through states that satisfy the rest: none of them is
    in the largest inductive subset, *if* each explicit step is a step of the generalized
    model. That holds from a settled state only: from a state with some thread at a local
    step (possible in a counterexample to induction, never reachable), the explicit model's
    settling after another thread's step runs that thread's local steps too, which the
    generalized model does not, and dropping on such a step lost inductive candidates."""
    names = sym.names
    unsettled = [(names.index(pcv), frozenset(table)) for pcv, table in sym.locals.items() if pcv in names]
    gone: set[int] = set()
    frontier = [tuple(start[n] for n in names)]
    seen = set(frontier)
    alive = set(keep)
    while frontier and len(seen) < budget:
        st = frontier.pop()
        if any(st[k] in pcs for k, pcs in unsettled):
            continue
        env = dict(zip(names, st))
        if relevant.falsified(fns, alive, env):
            continue  # outside the current candidate set: its successors prove nothing
        try:
            succ = [nxt for _, _, nxt in compiled.successors(st)]
        except Exception:  # noqa: BLE001 - a state outside the explicit model's domains
            continue
        for nxt in succ:
            bad = relevant.falsified(fns, alive, dict(zip(names, nxt)))
            if bad:
                gone |= bad
                alive -= bad
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return gone


def fingerprint(sym, invs: Sequence[Invariant]) -> str:
    """A digest of exactly what a Houdini proof covers: the generalized model's initial states,
    transitions (guards, fused local chains, updates, parameter domains) and the invariants."""
    h = hashlib.sha256()
    h.update(repr((sym.names, sorted(sym.system.variables.items()), sorted(sym.system.dropped.items()),
                   attrs.asdict(sym.gen))).encode())
    for t in sym.transitions:
        h.update(repr((sym.system.actions[t.action].name, show(t.cond), t.chain, t.params,
                       sorted((k, show(v)) for k, v in t.updates.items()))).encode())
    for i in invs:
        h.update(repr((i.name, show(i.expr))).encode())
    return h.hexdigest()


def roots(sym, model, cands: list[Invariant], deadline: float, log=print) -> list[str]:
    """The lemmas of ``cands`` that are not inductive relative to *all* the candidates: where a
    failing proof starts (Houdini then drops the rest in cascade). The counterexample to
    induction of the first is logged: the pre- and post-state's positions and every
    nonzero variable, which usually shows the fact that is missing."""
    solver, s, t, _ = _step_solver(sym, cands, "r")
    memo_t: dict = {}
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
                for th, moved in _moves(sym, model, pre, post):
                    log(f"  {th}: {moved}")
                log("  " + ", ".join(f"{n}: {pre[n]}" + (f" -> {post[n]}" if post[n] != pre[n] else "")
                                     for n in sym.names if pre[n] or post[n]))
        elif r != z3.unsat:
            log(f"?    {c.name} (no answer)")
        solver.pop()
    return out


def _moves(sym, model, pre: dict[str, int], post: dict[str, int]) -> list[tuple[str, str]]:
    """(thread, "step -> step") of each thread in a step from ``pre`` to ``post``."""
    return [(th, f"{model.label(th, pre[f'{th}.pc'])} -> {model.label(th, post[f'{th}.pc'])}")
            for th in ("host", "guest") if f"{th}.pc" in pre]


def _step_solver(sym, invs: Sequence[Invariant], tag: str):
    """A solver holding ``invs`` in a state and one step of the generalized model out of it:
    (solver, pre-state, post-state, the step's selectors)."""
    s, t = sym.state(f"{tag}0"), sym.state(f"{tag}1")
    sel = sym.selectors(tag)
    solver = z3.SolverFor("QF_LIA")
    memo: dict = {}
    solver.add(*[sym.to_z3(i.expr, s, None, memo) for i in invs])
    solver.add(*sym.trans(s, t, sel, sym.params(tag)))
    return solver, s, t, sel


def counterexample_steps(sym, model, invs: Sequence[Invariant], monitors: Sequence[int],
                         seconds_each: float) -> dict[int, str | None]:
    """Why ``invs`` do not prove each monitor: one step from a state that satisfies them all and
    not the monitor's violation into a violation (the positions the missing invariant must talk
    about), or None when there is none (1-inductive) or no answer within ``seconds_each``. The
    invariants and the step are translated once for all the monitors (thousands of invariants)."""
    if not monitors:
        return {}
    solver, s, t, sel = _step_solver(sym, invs, "w")
    out: dict[int, str | None] = {}
    for monitor in monitors:
        solver.push()
        solver.add(z3.Not(sym.bad(monitor, s)), sym.bad(monitor, t))
        solver.set("timeout", max(1, int(seconds_each * 1000)))
        out[monitor] = None
        if seconds_each > 0 and solver.check() == z3.sat:
            m = solver.model()
            step = next(j for j, x in enumerate(sel) if z3.is_true(m.eval(x, model_completion=True)))
            moves = ", ".join(f"{th} {moved}" for th, moved in _moves(sym, model, _values(sym, m, s), _values(sym, m, t)))
            out[monitor] = f"{sym.system.actions[sym.transitions[step].action].name} ({moves})"
        solver.pop()
    return out
