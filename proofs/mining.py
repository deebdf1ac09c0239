"""Mining candidate invariants from the states the explicit engine reaches.

The generalized model is explored at a few deadline/quantum values; every
relation of a few fixed shapes that holds in all the states seen (at a thread's
step, at a joint position of both threads, or everywhere) becomes a named
candidate. Nothing here is trusted: Houdini (:mod:`.houdini`) keeps only the
candidates that are inductive together.

Shapes, each guarded by one thread's program counter (or unguarded):

* ``pc == c -> x == v``      (a constant at that step),
* ``pc == c -> x == y + b``  (two variables in step, e.g. copies of one read),
* ``pc == c -> x == 2*y + b`` (provenance ghosts: ``2*id + 1`` is "the guest,
  for the host's command id"),

plus bounds, small value sets, orderings of flags and of the clocks, and where
each thread can be while the other is at a step.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from mhmailbox.model.explore import explore
from mhmailbox.model.expr import And, Expr, In, Not, Or, V

from .invariant import Invariant
from .symbolic import with_initial

#: the (deadline, quantum) values the generalized model is explored at
SAMPLES = ((2, 1), (1, 1), (3, 2), (2, 3))


def sample_states(system, samples: Sequence[tuple[int, int]] = SAMPLES, max_states: int = 60_000,
                  depth: int = 80, time_limit: float | None = None) -> list[tuple]:
    """The states the explicit engine reaches in ``system`` at each (D, Q) of ``samples``
    (each exploration stops at ``max_states``, ``depth`` or ``time_limit`` seconds)."""
    rows: list[tuple] = []
    for D, Q in samples:
        sysv = with_initial(system, {"k.D": D, "k.Q": Q})
        ex = explore(sysv.compile(), depth, max_states=max_states, stop_when_all_found=False,
                     time_limit=time_limit)
        rows.extend(ex.trail_states)
    return rows


def mine(model, system, samples: Sequence[tuple[int, int]] = SAMPLES,
         max_states: int = 60_000, depth: int = 80, joint: bool = True,
         rows: Sequence[tuple] | None = None, joint_limit: int | None = None) -> list[Invariant]:
    """Candidate invariants true in every state the explicit engine reaches (several D, Q).

    ``joint=False`` leaves out the candidates guarded by the joint position of both
    threads (the largest family): for cells whose hand-written lemmas (:mod:`.lemmas`)
    already say how the threads' positions relate, and where Houdini over the full
    set does not finish in time. ``rows``: states already sampled (:func:`sample_states`).
    ``joint_limit``: past this many candidates in all, the joint family is left out, as with
    ``joint=False`` but without mining twice (a minute each on 240,000 states)."""
    names = list(system.variables)
    if rows is None:
        rows = sample_states(system, samples, max_states, depth)
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
    joint_from = len(out)
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
    joint_count = len(out) - joint_from
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
    if joint_limit is not None and len(out) > joint_limit:
        del out[joint_from:joint_from + joint_count]
    return out

