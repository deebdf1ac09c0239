"""The model's own actions as Z3 terms (no second transition system).

Every engine in this package reads the :class:`mhmailbox.model.system.System`
that the explicit checker runs, and translates its guards, updates and monitors
from the expression AST (``mhmailbox.model.expr``) to Z3 integer terms:

* a state is one ``Int`` per state variable (booleans are 0/1 integers in the
  model, as in the explicit checker);
* an action's parameters are fresh ``Int`` s per step, constrained to the
  action's domain;
* local actions (``Action.local``) are fused exactly as ``Compiled.settle``
  does: after a thread's action, that thread's local steps run until its pc is
  at a non-local step. The chains are acyclic and short, so they are unrolled
  at the expression level, splitting on the branches of the next-pc
  expression; each (action, branch) pair is one *transition*. A BMC step is
  therefore exactly one explicit BFS step, and trace lengths agree.

One step of the system is ``T(s, s') = OR_j (sel == j and cond_j(s, p)) and
AND_v s'_v == ite(sel == j1, e_j1, ite(..., s_v))``: one selector and one
variable per parameter name per step, which keeps unrolled formulas linear in
the number of actions.

:class:`Generalize` says how the symbolic model is wider than the explicit
one (for unbounded proofs): free deadline/quantum, no adversary write budget,
adversarial values from all integers instead of representative domains.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import attrs
import z3

from mhmailbox.model.expr import FALSE, TRUE, And, C, Expr, In, Not, V, evaluate, subst, variables
from mhmailbox.model.system import Action, Compiled, System

#: adversarial fields whose written value may be any integer in the generalized model
#: (lo, hi) bounds, None = unbounded; the gpa keeps its address classes (see docs/proofs.md)
FREE_VALUES: dict[str, tuple[int | None, int | None]] = {
    "ret": (None, None),
    "done": (None, None),
    "go": (None, None),
    "cmd": (0, None),
    "hdr_len": (0, 0xFFFFFFFF),
    "io": (0, None),
}


@attrs.frozen
class Generalize:
    """How the symbolic model widens the explicit one (all off: exactly the explicit model)."""

    #: k.D and k.Q start at any positive values (needs Bounds(symbolic_time=True))
    free_time: bool = False
    #: the adversarial host's session bound (the helper's ``guest.epoch < N`` guard) is dropped
    unbounded_adversary: bool = False
    #: adversarial writes take any integer (see FREE_VALUES) instead of a representative domain
    free_values: bool = False

    @property
    def any(self) -> bool:
        return self.free_time or self.unbounded_adversary or self.free_values


EXACT = Generalize()
UNBOUNDED = Generalize(free_time=True, unbounded_adversary=True, free_values=True)


@attrs.define
class Transition:
    action: int  # index into system.actions
    cond: Expr  # guard, and the branch of the local chain taken (over pre-state and params)
    updates: dict[str, Expr]  # only the variables that change
    chain: tuple[int, ...]  # local actions fused after it
    params: tuple[tuple[str, Any], ...]  # (name, domain tuple | ("range", lo, hi))


def _is_const(e: Expr) -> bool:
    return e.op == "const"


class Symbolic:
    """A system's transitions over expressions, and their Z3 translation."""

    def __init__(self, system: System, gen: Generalize = EXACT, sort: str = "int", width: int = 36):
        """``sort`` "int": unbounded integers (proofs); "bv": ``width``-bit signed bit-vectors
        (bounded model checking, whose values stay small; every bit-vector counterexample is
        re-executed on the explicit model with Python integers, so a wrap-around could not
        go unnoticed)."""
        if sort not in ("int", "bv"):
            raise ValueError(sort)
        self.system = system
        self.gen = gen
        self.sort = sort
        self.width = width
        self.names = list(system.variables)
        self.locals: dict[str, dict[int, tuple[int, Action]]] = {}
        for ai, act in enumerate(system.actions):
            if act.local:
                pcv = _pc_var_of(act)
                self.locals.setdefault(pcv, {})[_pc_value_of(act)] = (ai, act)
        self._values = self._value_sets()
        self.transitions: list[Transition] = []
        for ai, act in enumerate(system.actions):
            if act.local:
                continue
            guard = general_guard(act, gen)
            env = {name: e for name, e in act.updates}
            pcv = f"{act.actor}.pc"
            branches = [(TRUE, env, ())]
            if pcv in self.locals and pcv in env:
                branches = self._settle(TRUE, env, pcv, ())
            params = tuple((pname, self._domain(act, pname, dom)) for pname, dom in act.params)
            for cond, upd, chain in branches:
                upd = {k: v for k, v in upd.items() if not (v.op == "var" and v.args[0] == k)}
                self.transitions.append(Transition(ai, And(guard, cond), upd, chain, params))
        self.param_names = sorted({p for t in self.transitions for p, _ in t.params})

    # ---- structure ------------------------------------------------------------------
    def _domain(self, act: Action, pname: str, dom: tuple) -> Any:
        return general_domain(pname, dom, self.gen)

    def _value_sets(self) -> dict[str, set[int] | None]:
        """Every value a variable can hold, when all its updates are constants (else None)."""
        out: dict[str, set[int] | None] = {n: {v} for n, v in self.system.variables.items()}
        for act in self.system.actions:
            for name, e in act.updates:
                vals = _const_values(e)
                if vals is None or out.get(name) is None:
                    out[name] = None
                else:
                    out[name] |= vals
        return out

    def _candidates(self, e: Expr) -> set[int] | None:
        if e.op == "var":
            return self._values.get(e.args[0])
        return _const_values(e)

    def _settle(self, cond: Expr, env: dict[str, Expr], pcv: str, chain: tuple, depth: int = 0):
        if depth > 200:
            raise RuntimeError(f"local steps of {pcv} loop forever")
        pe = env[pcv]
        table = self.locals[pcv]
        if pe.op == "const":
            pc = pe.args[0]
            if pc not in table:
                return [(cond, env, chain)]
            ai, act = table[pc]
            full = {n: V(n) for n in self.names}
            full.update(env)
            new = dict(env)
            for name, e in act.updates:
                new[name] = subst(e, full)
            return self._settle(cond, new, pcv, chain + (ai,), depth + 1)
        if pe.op == "ite":
            c, a, b = pe.args
            return (self._settle(And(cond, c), {**env, pcv: a}, pcv, chain, depth + 1)
                    + self._settle(And(cond, Not(c)), {**env, pcv: b}, pcv, chain, depth + 1))
        cands = self._candidates(pe)
        local_pcs = sorted(table) if cands is None else sorted(set(table) & cands)
        out = []
        for pc in local_pcs:
            out += self._settle(And(cond, pe.eq(pc)), {**env, pcv: C(pc)}, pcv, chain, depth + 1)
        if cands is None or (cands - set(table)):
            out.append((And(cond, Not(In(pe, local_pcs))) if local_pcs else cond, env, chain))
        return out

    def initial_branches(self, init: Mapping[str, Expr]) -> list[tuple[Expr, dict[str, Expr]]]:
        """The initial state after every thread's leading local steps (as settle does)."""
        branches = [(TRUE, dict(init))]
        for pcv in self.locals:
            nxt = []
            for cond, env in branches:
                for c2, env2, _ in self._settle(cond, env, pcv, ()):
                    nxt.append((c2, env2))
            branches = nxt
        return branches

    # ---- Z3 ---------------------------------------------------------------------------
    def var(self, name: str):
        return z3.Int(name) if self.sort == "int" else z3.BitVec(name, self.width)

    def val(self, v: int):
        return z3.IntVal(v) if self.sort == "int" else z3.BitVecVal(v, self.width)

    def state(self, tag: str) -> dict[str, Any]:
        return {n: self.var(f"{n}@{tag}") for n in self.names}

    def params(self, tag: str) -> dict[str, Any]:
        return {p: self.var(f"p.{p}@{tag}") for p in self.param_names}

    def to_z3(self, e: Expr, s: Mapping[str, Any], p: Mapping[str, Any] | None = None, memo: dict | None = None):
        memo = {} if memo is None else memo
        return _z3(e, s, p or {}, memo, self.system.dropped, self.val)

    def init(self, s: Mapping[str, Any]) -> z3.BoolRef:
        """The initial-state constraint (k.D, k.Q free and positive when ``free_time``)."""
        init: dict[str, Expr] = {n: C(v) for n, v in self.system.variables.items()}
        extra = []
        if self.gen.free_time:
            for k in ("k.D", "k.Q"):
                if k in init:
                    init[k] = V(k)
                    extra.append(s[k] >= 1)
                    if self.sort == "bv":  # no wrap-around: counterexample search only
                        extra.append(s[k] <= 1 << 16)
        alts = []
        for cond, env in self.initial_branches(init):
            memo: dict = {}
            parts = [self.to_z3(cond, s, None, memo)]
            for n in self.names:
                if n in ("k.D", "k.Q") and self.gen.free_time:
                    continue
                parts.append(s[n] == _fold(env[n], s, memo, self))
            alts.append(z3.And(parts))
        return z3.And(extra + [z3.Or(alts) if len(alts) > 1 else alts[0]])

    def selectors(self, tag: str) -> list[z3.BoolRef]:
        """One Boolean per transition: which one this step takes (exactly one)."""
        return [z3.Bool(f"sel{j}@{tag}") for j in range(len(self.transitions))]

    def trans(self, s, t, sel: Sequence[z3.BoolRef], p) -> list[z3.BoolRef]:
        """One step from ``s`` to ``t`` (a list of conjuncts); ``sel`` one-hot, ``p`` the parameters."""
        out = [z3.Or(sel), z3.AtMost(*sel, 1)]
        writes: dict[str, list[tuple[int, Any]]] = {}
        memo: dict = {}
        for j, tr in enumerate(self.transitions):
            parts = [self.to_z3(tr.cond, s, p, memo)]
            for pname, dom in tr.params:
                parts.append(_in_domain(p[pname], dom))
            out.append(z3.Implies(sel[j], z3.And(parts)))
            for name, e in tr.updates.items():
                writes.setdefault(name, []).append((j, self.to_z3(e, s, p, memo)))
        for n in self.names:
            val = s[n]
            for j, e in reversed(writes.get(n, [])):
                val = z3.If(sel[j], e, val)
            out.append(t[n] == val)
        return out

    def relation(self, s, t, sel, p) -> z3.BoolRef:
        return z3.And(self.trans(s, t, sel, p))

    def bad(self, monitor: int, s) -> z3.BoolRef:
        return self.to_z3(self.system.monitors[monitor].bad, s)

    # ---- back to the explicit model ----------------------------------------------------
    def action_params(self, tr: Transition, pvals: Mapping[str, int]) -> tuple[int, ...]:
        act = self.system.actions[tr.action]
        return tuple(int(pvals.get(name, 0)) for name, _ in act.params)


def general_domain(pname: str, dom: tuple, gen: Generalize) -> Any:
    """A parameter's domain in the generalized model: a peer's havoc read (``any_<field>``) may
    return any integer (FREE_VALUES) instead of a representative value."""
    if gen.free_values and pname.startswith("any_") and pname[4:] in FREE_VALUES:
        return ("range",) + FREE_VALUES[pname[4:]]
    return tuple(dom)


def general_guard(act: Action, gen: Generalize) -> Expr:
    """An action's guard in the generalized model: without the session bound ``guest.epoch < N``."""
    g = act.guard
    if not gen.unbounded_adversary:
        return g
    parts = list(g.args) if g.op == "and" else [g]
    keep = [p for p in parts if not (p.op == "lt" and p.args[0] == V("guest.epoch") and p.args[1].op == "const")]
    return g if len(keep) == len(parts) else And(*keep)


def _fold(e: Expr, s, memo, sym: Symbolic):
    return sym.to_z3(e, s, None, memo)


def _in_domain(x, dom) -> z3.BoolRef:
    if dom and dom[0] == "range":
        _, lo, hi = dom
        if isinstance(x, z3.BitVecRef):  # counterexample search: keep clear of wrap-around
            lo = -(1 << (x.size() - 3)) if lo is None else lo
            hi = (1 << (x.size() - 3)) if hi is None else hi
        parts = []
        if lo is not None:
            parts.append(x >= lo)
        if hi is not None:
            parts.append(x <= hi)
        return z3.And(parts) if parts else z3.BoolVal(True)
    return z3.Or([x == d for d in dom])


def _const_values(e: Expr) -> set[int] | None:
    if e.op == "const":
        return {e.args[0]}
    if e.op == "ite":
        a, b = _const_values(e.args[1]), _const_values(e.args[2])
        return None if a is None or b is None else a | b
    return None


def _pc_var_of(act: Action) -> str:
    g = act.guard
    parts = list(g.args) if g.op == "and" else [g]
    for p in parts:
        if p.op == "eq" and p.args[0].op == "var" and p.args[0].args[0].endswith(".pc"):
            return p.args[0].args[0]
    raise ValueError(f"{act.name}: local step without a pc guard")


def _pc_value_of(act: Action) -> int:
    g = act.guard
    parts = list(g.args) if g.op == "and" else [g]
    for p in parts:
        if p.op == "eq" and p.args[0].op == "var" and p.args[0].args[0].endswith(".pc") and p.args[1].op == "const":
            return p.args[1].args[0]
    raise ValueError(f"{act.name}: local step without a pc guard")


def _z3(e: Expr, s, p, memo, dropped, val):
    key = id(e)
    hit = memo.get(key)
    if hit is not None and hit[0] is e:
        return hit[1]
    op, a = e.op, e.args
    if op == "var":
        name = a[0]
        r = s[name] if name in s else val(dropped[name])
    elif op == "const":
        r = val(a[0])
    elif op == "param":
        r = p[a[0]]
    elif op == "true":
        r = z3.BoolVal(True)
    elif op == "false":
        r = z3.BoolVal(False)
    else:
        xs = [_z3(x, s, p, memo, dropped, val) for x in a]
        if op == "add":
            r = xs[0] + xs[1]
        elif op == "sub":
            r = xs[0] - xs[1]
        elif op == "eq":
            r = xs[0] == xs[1]
        elif op == "ne":
            r = xs[0] != xs[1]
        elif op == "lt":
            r = xs[0] < xs[1]
        elif op == "le":
            r = xs[0] <= xs[1]
        elif op == "and":
            r = z3.And(xs)
        elif op == "or":
            r = z3.Or(xs)
        elif op == "not":
            r = z3.Not(xs[0])
        elif op == "ite":
            r = z3.If(xs[0], xs[1], xs[2])
        else:
            raise ValueError(f"unknown operator {op}")
    memo[key] = (e, r)
    return r


# ---- explicit re-execution (decoding and replay) ---------------------------------------

def step_state(compiled: Compiled, state: tuple, ai: int, params: Sequence[int],
               gen: Generalize = EXACT) -> tuple | None:
    """The explicit successor by action ``ai`` with ``params`` (settled as the explicit engine does).

    Uses the compiled successor function when the parameters lie in the action's
    domain; a generalized model's value outside it is evaluated from the same
    guard and updates.
    """
    nxt = compiled.apply(state, ai, params)
    if nxt is not None:
        return nxt
    system = compiled.system
    act = system.actions[ai]
    env = system.env(state)
    pmap = {name: int(v) for (name, _), v in zip(act.params, params)}
    if not evaluate(general_guard(act, gen), env, pmap):
        return None
    new = dict(env)
    for name, e in act.updates:
        new[name] = int(evaluate(e, env, pmap))
    t = tuple(new[n] for n in system.variables)
    pcv = f"{act.actor}.pc"
    idx = system.index()
    if pcv in idx and any(a.local and _pc_var_of(a) == pcv and _pc_value_of(a) == t[idx[pcv]] for a in system.actions):
        t = compiled.settle(list(t))
    return tuple(t)


def with_initial(system: System, values: Mapping[str, int]) -> System:
    """A copy of ``system`` whose listed variables start at other values (Z3's choice of k.D, k.Q)."""
    out = attrs.evolve(system, variables=dict(system.variables), actions=list(system.actions),
                       monitors=list(system.monitors), dropped=dict(system.dropped))
    for k, v in values.items():
        if k in out.variables:
            out.variables[k] = int(v)
    return out


def any_of(xs: Iterable[z3.BoolRef]) -> z3.BoolRef:
    xs = list(xs)
    return z3.Or(xs) if xs else z3.BoolVal(False)
