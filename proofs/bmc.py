"""Incremental bounded model checking over the symbolic model.

One solver per cell: the path ``s0 .. sk`` is extended one transition at a
time (assertions only, never push/pop, so learned clauses are kept), and at
each length ``k`` every monitor not yet violated is asked for with
``check(assumption)``. Lengths are tried in increasing order, so the first
counterexample found for a monitor is a shortest one, in steps of the
explicit engine (local steps fused identically).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import attrs
import z3

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


@attrs.define
class BmcRun:
    found: dict[int, Cex]
    depth: int  # every length <= depth checked for every monitor not in found
    stopped: str  # "depth" | "time" | "all-found" | "unknown"
    seconds: float
    checks: int


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
        """Read a path of ``length`` steps from a Z3 model, re-executed on the explicit model."""
        sym = self.sym
        signed = sym.sort == "bv"

        def ev(x) -> int:
            v = model.eval(x, model_completion=True)
            return v.as_signed_long() if signed else v.as_long()

        values = {k: ev(self.states[0][k]) for k in ("k.D", "k.Q") if k in self.states[0]}
        compiled = compiled_for(values)
        state = compiled.initial()
        z0 = tuple(ev(self.states[0][n]) for n in sym.names)
        if state != z0:
            raise AssertionError(f"symbolic initial state differs from the explicit one: {z0} vs {state}")
        path: list = [(None, state)]
        for i in range(length):
            js = [j for j, b in enumerate(self.sels[i]) if z3.is_true(model.eval(b, model_completion=True))]
            tr = sym.transitions[js[0]]
            pv = {name: ev(v) for name, v in self.params[i].items()}
            params = sym.action_params(tr, pv)
            nxt = step_state(compiled, state, tr.action, params, sym.gen)
            want = tuple(ev(self.states[i + 1][n]) for n in sym.names)
            if nxt != want:
                act = sym.system.actions[tr.action]
                raise AssertionError(f"step {i + 1} ({act.name} {params}): symbolic and explicit successors differ")
            path.append(((tr.action, params), nxt))
            state = nxt
        return path, values, compiled


def set_timeout(solver, seconds_left: float) -> None:
    solver.set("timeout", max(1, int(seconds_left * 1000)))


def bmc(
    sym: Symbolic,
    compiled_for: Callable[[dict], Any],
    depth: int,
    time_limit: float,
    monitors: Sequence[int] | None = None,
) -> BmcRun:
    """Shortest violations of each monitor up to ``depth`` steps, within ``time_limit`` seconds.

    At each length one query asks whether *any* remaining monitor can be violated;
    a model answers for every monitor it violates, and the rest are asked again.
    """
    t0 = time.perf_counter()
    wanted = list(range(len(sym.system.monitors))) if monitors is None else list(monitors)
    un = Unroller(sym)
    found: dict[int, Cex] = {}
    checks = 0
    stopped = "depth"
    checked = -1
    for k in range(depth + 1):
        while un.k < k:
            un.extend()
        bads = {}
        for m in wanted:
            if m not in found:
                b = z3.Bool(f"bad{m}@{k}")
                un.solver.add(b == sym.bad(m, un.states[k]))
                bads[m] = b
        while bads:
            left = time_limit - (time.perf_counter() - t0)
            if left <= 0:
                stopped = "time"
                break
            lit = z3.Bool(f"any{len(bads)}@{k}")
            un.solver.add(lit == z3.Or(list(bads.values())))
            set_timeout(un.solver, left)
            r = un.solver.check(lit)
            checks += 1
            if r == z3.unsat:
                break
            if r == z3.unknown:
                stopped = "time" if time.perf_counter() - t0 >= time_limit * 0.98 else "unknown"
                break
            model = un.solver.model()
            hit = [m for m, b in bads.items() if z3.is_true(model.eval(b, model_completion=True))]
            path, values, compiled = un.path(model, k, compiled_for)
            for m in hit:
                if not compiled.bad[m](path[-1][1]):
                    raise AssertionError(f"monitor {sym.system.monitors[m].id}: the symbolic counterexample "
                                         "does not violate it when re-executed")
                found[m] = Cex(m, k, path, values)
                del bads[m]
        if stopped != "depth":
            break
        checked = k
        if all(m in found for m in wanted):
            stopped = "all-found"
            break
    return BmcRun(found=found, depth=checked, stopped=stopped, seconds=time.perf_counter() - t0, checks=checks)


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
