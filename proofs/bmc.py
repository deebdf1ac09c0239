"""Incremental bounded model checking over the symbolic model.

One solver per cell (or, with ``Options.split``, per cone of influence): the
path ``s0 .. sk`` is extended one transition at a time (assertions only, never
push/pop, so learned clauses are kept), and at each length ``k`` every monitor
not yet violated is asked for with ``check(assumption)``. Lengths are tried in
increasing order, so the first counterexample found for a monitor is a
shortest one, in steps of the explicit engine (local steps fused identically).
Every counterexample is re-executed on the explicit compiled model.

Search options (:class:`Options`), none of which changes a verdict or a length:

* ``por``: peephole partial-order reduction. Two transitions that neither read
  nor write what the other writes commute; for such a pair only the order
  "lower transition index first" is allowed on adjacent steps. Any path can be
  sorted into an allowed one of the same length ending in the same state, so
  the states reachable in exactly k steps are the same for every k.
* ``lemmas``: once "no remaining monitor is bad at s_k" is proved, it is
  asserted, so later lengths need not re-derive it (an implied constraint).
* ``per_property``: one check per monitor and length rather than one for all.
* ``milestones``: likewise proves and asserts which ``X.pc == c`` cannot hold
  at s_k yet (each check under a deterministic resource limit).
* ``split``: a solver per cone of influence (``restrict``); counterexamples are
  re-executed on the whole model.

Measured on rfc x {tso, relaxed} x {honest, slow} (``bench/bmc_depth.py``):
``por``, ``lemmas`` and ``per_property`` are on (together 8 of the 18 violations
at 120 s per cell, all at the explicit lengths; with ``por`` and ``lemmas`` alone
6, each cell 1-3 lengths short of that); ``split`` and ``milestones`` are off (see
their comments). The unsat checks still grow about 1.5x per length past ~20
steps, which is what bounds the depth bmc reaches (about 25-31 in 120 s).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import attrs
import z3

from mhmailbox.model.expr import variables

from .symbolic import Symbolic, step_state, with_initial

SEED = 0


def configure(solver: z3.Solver | z3.Fixedpoint | None = None) -> None:
    """Pin the seeds (repeatable runs)."""
    z3.set_param("smt.random_seed", SEED)
    z3.set_param("sat.random_seed", SEED)


configure()


@attrs.define
class Cex:
    monitor: int
    length: int
    path: list  # [(None, s0), ((ai, params), s1), ...] over the explicit system
    values: dict[str, int]  # free constants Z3 chose (k.D, k.Q)
    seconds: float = 0.0  # since the run started, when it was found


@attrs.define
class BmcRun:
    found: dict[int, Cex]
    depth: int  # every length <= depth checked for every monitor not in found
    stopped: str  # "depth" | "time" | "all-found" | "unknown"
    seconds: float
    checks: int
    groups: list = attrs.field(factory=list)  # per solver: monitors, variables, checked, seconds, checks


class Unroller:
    """The path s0 .. sk, built incrementally in one solver."""

    def __init__(self, sym: Symbolic, solver: z3.Solver | None = None, initial: bool = True):
        self.sym = sym
        self.solver = solver or z3.SolverFor("QF_LIA" if sym.sort == "int" else "QF_BV")
        self.states = [sym.state("0")]
        self.sels: list[Any] = []
        self.params: list[dict[str, Any]] = []
        if initial:
            self.solver.add(sym.init(self.states[0]))

    @property
    def k(self) -> int:
        return len(self.states) - 1

    def extend(self) -> None:
        k = self.k
        s, t = self.states[k], self.sym.state(str(k + 1))
        sel = self.sym.selectors(str(k))
        p = self.sym.params(str(k))
        self.solver.add(*self.sym.trans(s, t, sel, p))
        self.states.append(t)
        self.sels.append(sel)
        self.params.append(p)

    def path(self, model: z3.ModelRef, length: int, compiled_for: Callable[[dict], Any]):
        """Read a path of ``length`` steps from a Z3 model, re-executed on the explicit model.

        The explicit model may be larger than this unroller's (a solver over one cone of
        influence): only the variables the unroller has are compared; the others must follow."""
        sym = self.sym
        signed = sym.sort == "bv"

        def ev(x) -> int:
            v = model.eval(x, model_completion=True)
            return v.as_signed_long() if signed else v.as_long()

        values = {k: ev(self.states[0][k]) for k in ("k.D", "k.Q") if k in self.states[0]}
        compiled = compiled_for(values)
        idx = compiled.system.index()
        cols = [(idx[n], n) for n in sym.names]
        state = compiled.initial()

        def differs(st, i: int) -> str | None:
            bad = [f"{n}: {st[c]} vs {ev(self.states[i][n])}" for c, n in cols if st[c] != ev(self.states[i][n])]
            return ", ".join(bad) or None

        why = differs(state, 0)
        if why:
            raise AssertionError(f"symbolic initial state differs from the explicit one: {why}")
        path: list = [(None, state)]
        for i in range(length):
            js = [j for j, b in enumerate(self.sels[i]) if z3.is_true(model.eval(b, model_completion=True))]
            tr = sym.transitions[js[0]]
            pv = {name: ev(v) for name, v in self.params[i].items()}
            params = sym.action_params(tr, pv)
            nxt = step_state(compiled, state, tr.action, params, sym.gen)
            if nxt is None or differs(nxt, i + 1):
                act = compiled.system.actions[tr.action]
                raise AssertionError(f"step {i + 1} ({act.name} {params}): symbolic and explicit successors differ")
            path.append(((tr.action, params), nxt))
            state = nxt
        return path, values, compiled


def set_timeout(solver, seconds_left: float) -> None:
    solver.set("timeout", max(1, int(seconds_left * 1000)))


# ---------------------------------------------------------------- search options

@attrs.frozen
class Options:
    """How the unrolling is searched. None of these changes what is found: each one
    only adds constraints that keep, at every length k, the set of states reachable
    in exactly k steps (``por``), or constraints already implied by the solver's own
    assertions (``lemmas``, ``milestones``); see docs/proofs.md "bmc details"."""

    #: one solver per cone of influence (monitors with the same cone share one), the
    #: solvers sharing the time; off by default: measured slower for whole cells (each
    #: cone is still most of the model, and k solvers each pay the deep lengths)
    split: bool = False
    #: peephole partial-order reduction: of two adjacent independent transitions,
    #: only the order with the lower transition index first is kept
    por: bool = True
    #: after an unsat check at length k, assert that no remaining monitor is bad at s_k
    lemmas: bool = True
    #: one check per monitor and length (in one solver, each proved one asserted before
    #: the next is asked) instead of one check for all of them; measured a little faster
    per_property: bool = True
    #: also prove, per length k, which program counters cannot hold at s_k yet; off by
    #: default: the main checks get cheaper but the milestone checks cost as much
    milestones: bool = False
    #: Z3 resource limit for one milestone query (deterministic, unlike a timeout);
    #: a milestone that exceeds it is no longer asked (a lemma is only ever added when proved)
    milestone_rlimit: int = 2_000_000


DEFAULT = Options()
#: the search as it was before the options (one check for all monitors per length)
PLAIN = Options(split=False, por=False, lemmas=False, per_property=False, milestones=False)


def footprints(sym: Symbolic) -> list[tuple[frozenset, frozenset]]:
    """(read, written) state variables of each transition: guard and branch condition,
    and every update expression, are reads; the updated variables are writes."""
    names = set(sym.names)
    out = []
    for tr in sym.transitions:
        reads = set(variables(tr.cond))
        for e in tr.updates.values():
            reads |= variables(e)
        out.append((frozenset(reads & names), frozenset(tr.updates)))
    return out


def independent_after(sym: Symbolic) -> dict[int, list[int]]:
    """For each transition b, the transitions a > b that commute with it.

    a and b commute when neither writes what the other reads or writes: then from any
    state, a;b and b;a are both enabled or both not (each guard reads nothing the other
    writes, and parameter domains are constants) and end in the same state. Forbidding
    "a at step i, b at step i+1" for such pairs with a > b keeps, for every length k,
    every end state: any path is sorted into an allowed one of the same length by
    swapping adjacent such pairs (each swap removes one inversion), ending where it did.
    """
    fp = footprints(sym)
    n = len(fp)
    out: dict[int, list[int]] = {}
    for b in range(n):
        rb, wb = fp[b]
        xs = [a for a in range(b + 1, n) if not (fp[a][1] & (rb | wb)) and not (wb & fp[a][0])]
        if xs:
            out[b] = xs
    return out


def pc_milestones(sym: Symbolic) -> list[tuple[str, int]]:
    """``X.pc == c`` for every program counter value a transition's guard tests, as (X.pc, c)."""
    found: set[tuple[str, int]] = set()

    def walk(e) -> None:
        if e.op == "eq" and e.args[0].op == "var" and e.args[1].op == "const":
            name = e.args[0].args[0]
            if name.endswith(".pc") and name in sym.names:
                found.add((name, e.args[1].args[0]))
        if e.op in ("and", "or", "not"):
            for x in e.args:
                walk(x)

    for tr in sym.transitions:
        walk(tr.cond)
    return sorted(found)


def restrict(system, monitors: Sequence[int]):
    """``system`` for only ``monitors`` (indices into system.monitors), reduced to their cone
    of influence. Every guard stays (the cone contains every guard's variables), so the
    actions and their indices are the same; only updates of dropped variables go."""
    sub = attrs.evolve(system, variables=dict(system.variables), actions=list(system.actions),
                       monitors=[system.monitors[m] for m in monitors], dropped=dict(system.dropped))
    red = sub.reduced()
    red.dropped = {**system.dropped, **red.dropped}
    return red


class _Group:
    """One solver, for some monitors, over a (possibly smaller) symbolic system."""

    def __init__(self, sym: Symbolic, full: Symbolic, monitors: dict[int, int], opts: Options):
        self.sym = sym
        self.full = full
        self.monitors = monitors  # original monitor index -> index in sym.system.monitors
        self.pending = set(monitors)
        self.opts = opts
        self.un = Unroller(sym)
        self.checked = -1
        self.spent = 0.0
        self.dead = ""  # "time" | "unknown" once this group can go no further
        self.after = independent_after(sym) if opts.por else {}
        self.miles = pc_milestones(sym) if opts.milestones else []
        self.reached: set = set()
        self.checks = 0
        self._fresh = 0

    def fresh(self, tag: str) -> z3.BoolRef:
        """A new Boolean, never used before in this solver (a name reused would be the same variable)."""
        self._fresh += 1
        return z3.Bool(f"{tag}#{self._fresh}")

    def _extend(self) -> None:
        un = self.un
        un.extend()
        i = un.k - 1  # the step just added: s_i -> s_{i+1}
        if self.after and i >= 1:
            prev, cur = un.sels[i - 1], un.sels[i]
            for b, xs in self.after.items():
                un.solver.add(z3.Implies(cur[b], z3.Not(z3.Or([prev[a] for a in xs]))))

    def _milestones(self, k: int, deadline: float) -> None:
        """Prove which pending ``pc == c`` cannot hold at s_k; assert those facts."""
        un = self.un
        st = un.states[k]
        lits = {}
        for key in self.miles:
            name, c = key
            if key not in self.reached:
                b = z3.Bool(f"mile.{name}={c}@{k}")
                un.solver.add(b == (st[name] == c))
                lits[key] = b
        if not lits:
            return

        def refute(keys: list) -> None:
            while keys:
                if time.perf_counter() >= deadline:
                    return
                lit = self.fresh(f"miles@{k}")
                un.solver.add(lit == z3.Or([lits[x] for x in keys]))
                un.solver.set("rlimit", self.opts.milestone_rlimit)
                set_timeout(un.solver, deadline - time.perf_counter())
                r = un.solver.check(lit)
                un.solver.set("rlimit", 0)
                self.checks += 1
                if r == z3.unsat:
                    un.solver.add(z3.Not(lit))
                    return
                if r == z3.sat:
                    model = un.solver.model()
                    hit = [x for x in keys if z3.is_true(model.eval(lits[x], model_completion=True))]
                    self.reached.update(hit)
                    keys = [x for x in keys if x not in hit]
                    continue
                if time.perf_counter() >= deadline:
                    return
                if len(keys) == 1:
                    self.reached.add(keys[0])  # too costly: never asked again
                    return
                half = len(keys) // 2
                refute(keys[:half])
                refute(keys[half:])
                return

        refute(list(lits))

    def advance(self, t0: float, time_limit: float, compiled_for, found: dict) -> None:
        """Check length ``checked + 1`` for every pending monitor of this group."""
        k = self.checked + 1
        deadline = t0 + time_limit
        tstart = time.perf_counter()
        try:
            while self.un.k < k:
                self._extend()
            if self.miles and k >= 1:
                self._milestones(k, deadline)
            un, sym = self.un, self.sym
            bads = {}
            for m in sorted(self.pending):
                b = z3.Bool(f"bad{m}@{k}")
                un.solver.add(b == sym.bad(self.monitors[m], un.states[k]))
                bads[m] = b
            asked: set = set()  # per_property: monitors proved not bad at s_k
            while len(asked) < len(bads):
                left = deadline - time.perf_counter()
                if left <= 0:
                    self.dead = "time"
                    return
                if self.opts.per_property:
                    m0 = min(m for m in bads if m not in asked)
                    lit = bads[m0]
                else:
                    lit = self.fresh(f"any@{k}")
                    un.solver.add(lit == z3.Or(list(bads.values())))
                set_timeout(un.solver, left)
                r = un.solver.check(lit)
                self.checks += 1
                if r == z3.unsat:
                    if self.opts.lemmas:
                        un.solver.add(z3.Not(lit))
                    if not self.opts.per_property:
                        break
                    asked.add(m0)
                    continue
                if r == z3.unknown:
                    self.dead = "time" if time.perf_counter() - t0 >= time_limit * 0.98 else "unknown"
                    return
                model = un.solver.model()
                hit = [m for m, b in bads.items() if z3.is_true(model.eval(b, model_completion=True))]
                # re-executed on the explicit model of the *whole* system (variables outside
                # this group's cone are checked to follow, but not compared)
                path, values, compiled = self.un.path(model, k, compiled_for)
                for m in hit:
                    if not compiled.bad[m](path[-1][1]):
                        raise AssertionError(f"monitor {self.full.system.monitors[m].id}: the symbolic "
                                             "counterexample does not violate it when re-executed")
                    found[m] = Cex(m, k, path, values, seconds=round(time.perf_counter() - t0, 3))
                    del bads[m]
                    self.pending.discard(m)
            self.checked = k
        finally:
            self.spent += time.perf_counter() - tstart


class Search:
    """A resumable bmc: ``run(depth, time_limit)`` checks further lengths, keeping its solvers.

    k-induction's base case asks for "no violation within k - 1 steps" for k = 1, 2, ...;
    one Search answers each k by extending the same unrolling one step.
    """

    def __init__(self, sym: Symbolic, compiled_for: Callable[[dict], Any], monitors: Sequence[int] | None = None,
                 options: Options = DEFAULT) -> None:
        self.compiled_for = compiled_for
        wanted = list(range(len(sym.system.monitors))) if monitors is None else list(monitors)
        self.groups: list[_Group] = []
        if options.split and len(wanted) > 0:
            # monitors with the same cone of influence share a solver
            by_cone: dict[frozenset, list[int]] = {}
            for m in wanted:
                by_cone.setdefault(frozenset(restrict(sym.system, [m]).variables), []).append(m)
            for ms in by_cone.values():
                sub = restrict(sym.system, ms)
                gsym = Symbolic(sub, sym.gen, sort=sym.sort, width=sym.width)
                self.groups.append(_Group(gsym, sym, {m: i for i, m in enumerate(ms)}, options))
        elif wanted:
            self.groups.append(_Group(sym, sym, {m: m for m in wanted}, options))
        self.found: dict[int, Cex] = {}

    def drop(self, m: int) -> None:
        """Stop looking for violations of monitor ``m`` (e.g. it was proved)."""
        for g in self.groups:
            g.pending.discard(m)

    def run(self, depth: int, time_limit: float) -> BmcRun:
        t0 = time.perf_counter()
        groups, found = self.groups, self.found
        stopped = "depth"
        while True:
            active = [g for g in groups if g.pending and not g.dead and g.checked < depth]
            if not active:
                break
            if time.perf_counter() - t0 >= time_limit:
                stopped = "time"
                break
            g = min(active, key=lambda g: (g.spent, g.checked))
            g.advance(t0, time_limit, self.compiled_for, found)
        pending = [g for g in groups if g.pending]
        if not pending:
            stopped = "all-found"
            checked = max([g.checked for g in groups], default=0)
        else:
            checked = min(g.checked for g in pending)
            dead = [g.dead for g in pending if g.dead and g.checked == checked]
            if dead:
                stopped = "unknown" if "unknown" in dead and "time" not in dead else "time"
            elif checked < depth:
                stopped = "time"
        checks = sum(g.checks for g in groups)
        stats = [{"monitors": sorted(g.monitors), "variables": len(g.sym.names), "checked": g.checked,
                  "seconds": round(g.spent, 3), "checks": g.checks, "stopped": g.dead or "-"} for g in groups]
        return BmcRun(found=dict(found), depth=checked, stopped=stopped, seconds=time.perf_counter() - t0,
                      checks=checks, groups=stats)


def bmc(
    sym: Symbolic,
    compiled_for: Callable[[dict], Any],
    depth: int,
    time_limit: float,
    monitors: Sequence[int] | None = None,
    options: Options = DEFAULT,
) -> BmcRun:
    """Shortest violations of each monitor up to ``depth`` steps, within ``time_limit`` seconds.

    With ``options.split`` each monitor has its own solver over its own cone of
    influence; the solvers share the time, the one that has used least going next.
    In each solver, lengths are checked in increasing order, so the first
    counterexample found for a monitor is a shortest one; one query per length asks
    whether *any* of the solver's remaining monitors can be violated (with
    ``per_property``, one query per monitor), a model answers for every monitor it
    violates, and the rest are asked again. ``depth`` in the
    result is the longest length checked for every monitor not found.
    """
    return Search(sym, compiled_for, monitors, options).run(depth, time_limit)


def compiled_factory(system) -> Callable[[dict], Any]:
    """The explicit Compiled model, with Z3's choice of free constants as initial values."""
    cache: dict = {}

    def get(values: dict):
        key = tuple(sorted(values.items()))
        if key not in cache:
            sysv = with_initial(system, values) if values else system
            cache[key] = sysv.compile()
        return cache[key]

    return get
