"""Shared memory under a chosen memory model, as actions.

Three models, all operational, all built from the same pieces so that the
litmus tests (``mhmailbox.model.litmus``) exercise exactly the code the
protocol model uses:

``sc``
    Every access goes straight to memory. Fences do nothing.
``tso`` (x86-TSO, Sewell et al.)
    A FIFO store buffer per thread with store forwarding; a nondeterministic
    ``flush`` action moves the oldest entry to memory. ``mb`` waits for an
    empty buffer; ``wmb``/``rmb`` are compiler barriers (no-ops).
``relaxed`` (Arm-like)
    Stores may become visible out of order: any buffered store may flush unless
    an older store to the same field, or a ``wmb`` between them, orders it.
    Loads may be satisfied out of order: each thread reads through a per-field
    *view* of memory that a nondeterministic ``sync`` action brings up to date
    field by field (an invalidation queue); ``rmb`` brings every view up to
    date. ``mb`` does both and waits for an empty buffer. Coherence holds: a
    view only moves forward, and a thread sees its own stores.

Store buffers hold ``capacity`` entries; a thread with a full buffer waits for a
flush (real buffers are bounded too; the bound is reported with each verdict).
Every value carries a *ghost*: which command produced it. Ghosts never affect
behaviour; monitors use them to say "this page was produced for that command".
"""
from __future__ import annotations

from typing import Sequence

import attrs

from .expr import And, Expr, Ite, Not, Or, TRUE, V, lift, subst
from .program import Fence, Read, Step, Thread, Write
from .system import Action, System

MODELS = ("sc", "tso", "relaxed")


def mem(field: str) -> str:
    return f"m.{field}"


def mem_ghost(field: str) -> str:
    return f"mg.{field}"


@attrs.define
class MemoryModel:
    kind: str
    fields: Sequence[str]
    capacity: int = 3

    def __attrs_post_init__(self) -> None:
        if self.kind not in MODELS:
            raise ValueError(f"unknown memory model {self.kind!r}; choose one of {', '.join(MODELS)}")

    @property
    def buffered(self) -> bool:
        return self.kind in ("tso", "relaxed")

    def fid(self, field: str) -> int:
        return list(self.fields).index(field) + 1  # 0 marks an empty slot

    # ---- variables ------------------------------------------------------------
    def declare(self, system: System, threads: Sequence[Thread], init: dict[str, tuple[int, int]]) -> None:
        for f in self.fields:
            v, g = init.get(f, (0, 0))
            system.declare(mem(f), v)
            system.declare(mem_ghost(f), g)
        if not self.buffered:
            return
        for t in threads:
            system.declare(self._n(t))
            for i in range(self.capacity):
                for part in self._slot_parts():
                    system.declare(self._slot(t, i, part))
            if self.kind == "relaxed":
                system.declare(f"{t.name}.wmb")
                for f in sorted(t.reads):
                    v, g = init.get(f, (0, 0))
                    system.declare(self._view(t, f), v)
                    system.declare(self._view_ghost(t, f), g)

    def _slot_parts(self) -> tuple[str, ...]:
        return ("f", "v", "g", "o") if self.kind == "relaxed" else ("f", "v", "g")

    @staticmethod
    def _n(t: Thread) -> str:
        return f"{t.name}.sb.n"

    @staticmethod
    def _slot(t: Thread, i: int, part: str) -> str:
        return f"{t.name}.sb{i}.{part}"

    @staticmethod
    def _view(t: Thread, f: str) -> str:
        return f"{t.name}.view.{f}"

    @staticmethod
    def _view_ghost(t: Thread, f: str) -> str:
        return f"{t.name}.viewg.{f}"

    # ---- what time and monitors need ---------------------------------------------
    def quiescent(self, threads: Sequence[Thread]) -> Expr:
        """Every store visible and every view current: time only passes then.

        Hardware drains store buffers and invalidation queues in nanoseconds;
        the model's clock ticks are the protocol's milliseconds.
        """
        if not self.buffered:
            return TRUE
        parts = [V(self._n(t)).eq(0) for t in threads]
        if self.kind == "relaxed":
            for t in threads:
                for f in sorted(t.reads):
                    parts.append(V(self._view(t, f)).eq(V(mem(f))))
                    parts.append(V(self._view_ghost(t, f)).eq(V(mem_ghost(f))))
        return And(*parts)

    def pending_store(self, t: Thread, field: str) -> Expr:
        """``t`` has a store to ``field`` not yet visible to others."""
        if not self.buffered:
            from .expr import FALSE

            return FALSE
        return Or(*[And(V(self._n(t)).gt(i), V(self._slot(t, i, "f")).eq(self.fid(field))) for i in range(self.capacity)])

    # ---- compiling a thread's steps ----------------------------------------------
    def compile(self, t: Thread, step: Step, actor: str, extra_guard: Expr = TRUE) -> list[Action]:
        """Actions for one step, one per store-buffer occupancy where that matters."""
        base = And(V(t.pc_var).eq(step.pc), t.resolve(step.guard), extra_guard)
        out = []
        for case_guard, stage1, kind, note in self._mem_cases(t, step):
            inter = {k: v for k, v in stage1.items()}
            updates = dict(stage1)
            for name, e in step.updates:  # simultaneous, over the state after the access
                updates[name] = subst(t.resolve(e), inter)
            updates[t.pc_var] = subst(t.next_pc(step), inter)
            guard = And(base, case_guard) if case_guard is not TRUE else base
            is_local = step.mem is None and not step.params and guard == V(t.pc_var).eq(step.pc)
            out.append(
                Action(
                    name=f"{t.name}:{step.label}{note}",
                    actor=actor,
                    text=step.text,
                    guard=guard,
                    updates=tuple(updates.items()),
                    params=step.params,
                    kind=kind,
                    local=is_local,
                )
            )
        return out

    def _mem_cases(self, t: Thread, step: Step):
        op = step.mem
        if op is None:
            yield TRUE, {}, "step", ""
            return
        if isinstance(op, Write):
            yield from self._write_cases(t, op)
        elif isinstance(op, Read):
            yield from self._read_cases(t, op)
        elif isinstance(op, Fence):
            yield from self._fence_cases(t, op)
        else:  # pragma: no cover
            raise TypeError(op)

    def _write_cases(self, t: Thread, op: Write):
        if not self.buffered:
            yield TRUE, {mem(op.field): op.value, mem_ghost(op.field): op.ghost}, "write", ""
            return
        n = V(self._n(t))
        for k in range(self.capacity):
            upd = {
                self._slot(t, k, "f"): lift(self.fid(op.field)),
                self._slot(t, k, "v"): op.value,
                self._slot(t, k, "g"): op.ghost,
                self._n(t): lift(k + 1),
            }
            if self.kind == "relaxed":
                upd[self._slot(t, k, "o")] = V(f"{t.name}.wmb") if k > 0 else lift(0)
                upd[f"{t.name}.wmb"] = lift(0)
            yield n.eq(k), upd, "write", f"@{k}"

    def _read_cases(self, t: Thread, op: Read):
        src_v = V(mem(op.field)) if self.kind != "relaxed" else V(self._view(t, op.field))
        src_g = V(mem_ghost(op.field)) if self.kind != "relaxed" else V(self._view_ghost(t, op.field))
        if not self.buffered:
            upd = {t.var(op.into): src_v}
            if op.ghost_into:
                upd[t.var(op.ghost_into)] = src_g
            yield TRUE, upd, "read", ""
            return
        fid = self.fid(op.field)
        for k in range(self.capacity + 1):
            val, gh = src_v, src_g
            for i in range(k):  # oldest first, so the newest matching entry wins
                hit = V(self._slot(t, i, "f")).eq(fid)
                val = Ite(hit, V(self._slot(t, i, "v")), val)
                gh = Ite(hit, V(self._slot(t, i, "g")), gh)
            upd = {t.var(op.into): val}
            if op.ghost_into:
                upd[t.var(op.ghost_into)] = gh
            yield V(self._n(t)).eq(k), upd, "read", f"@{k}"

    def _fence_cases(self, t: Thread, op: Fence):
        if self.kind == "sc" or (self.kind == "tso" and op.kind != "mb"):
            yield TRUE, {}, "fence", ""
            return
        empty = V(self._n(t)).eq(0)
        if self.kind == "tso":  # mb
            yield empty, {}, "fence", ""
            return
        sync_all = {}
        for f in sorted(t.reads):
            sync_all[self._view(t, f)] = V(mem(f))
            sync_all[self._view_ghost(t, f)] = V(mem_ghost(f))
        if op.kind == "wmb":
            yield TRUE, {f"{t.name}.wmb": Ite(V(self._n(t)).gt(0), 1, 0)}, "fence", ""
        elif op.kind == "rmb":
            yield TRUE, sync_all, "fence", ""
        else:
            yield empty, sync_all, "fence", ""

    # ---- background actions: flushes and view syncs ------------------------------
    def background(self, threads: Sequence[Thread]) -> list[Action]:
        out: list[Action] = []
        if not self.buffered:
            return out
        for t in threads:
            n = V(self._n(t))
            for k in range(1, self.capacity + 1):
                positions = range(k) if self.kind == "relaxed" else range(1)
                for i in positions:
                    for f in self.fields:
                        fid = self.fid(f)
                        guard = [n.eq(k), V(self._slot(t, i, "f")).eq(fid)]
                        if i > 0:
                            for j in range(1, i + 1):
                                guard.append(V(self._slot(t, j, "o")).eq(0))
                            for j in range(i):
                                guard.append(V(self._slot(t, j, "f")).ne(fid))
                        upd = {mem(f): V(self._slot(t, i, "v")), mem_ghost(f): V(self._slot(t, i, "g"))}
                        upd[self._n(t)] = lift(k - 1)
                        if self.kind == "relaxed" and f in t.reads:
                            upd[self._view(t, f)] = V(self._slot(t, i, "v"))
                            upd[self._view_ghost(t, f)] = V(self._slot(t, i, "g"))
                        for j in range(i, k - 1):  # shift younger entries down
                            for part in self._slot_parts():
                                upd[self._slot(t, j, part)] = V(self._slot(t, j + 1, part))
                        for part in self._slot_parts():
                            upd[self._slot(t, k - 1, part)] = lift(0)
                        if self.kind == "relaxed" and i == 0 and k > 1:
                            upd[self._slot(t, 0, "o")] = lift(0)  # the new head has nothing older
                        if self.kind == "relaxed" and k == 1:
                            upd[f"{t.name}.wmb"] = lift(0)
                        out.append(
                            Action(
                                name=f"flush:{t.name}:{f}@{i}/{k}",
                                actor="memory",
                                text=f"{t.name}'s store to {f} becomes visible",
                                guard=And(*guard),
                                updates=tuple(upd.items()),
                                kind="flush",
                            )
                        )
            if self.kind == "relaxed":
                for f in sorted(t.reads):
                    stale = Or(V(self._view(t, f)).ne(V(mem(f))), V(self._view_ghost(t, f)).ne(V(mem_ghost(f))))
                    out.append(
                        Action(
                            name=f"sync:{t.name}:{f}",
                            actor="memory",
                            text=f"{t.name} now sees the current {f}",
                            guard=stale,
                            updates=((self._view(t, f), V(mem(f))), (self._view_ghost(t, f), V(mem_ghost(f)))),
                            kind="sync",
                        )
                    )
        return out

    def direct_write(self, field: str, value: Expr, ghost: Expr) -> dict[str, Expr]:
        """Updates for a write that lands in memory at once (an adversary's poke)."""
        return {mem(field): value, mem_ghost(field): ghost}
