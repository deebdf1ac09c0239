"""Threads as labelled step lists: the shape a reader checks against the prose.

A :class:`Thread` is a list of :class:`Step` s, one per line of the published
procedure. Each step makes at most one shared-memory access (a
:class:`Write`, a :class:`Read` or a :class:`Fence`), so every shared access is
a scheduling point, then applies local updates (which see the value just read)
and chooses the next step. Local computation between two accesses is folded
into the step before it: that is the partial-order reduction the model relies
on, sound because local steps commute with every other thread's steps.

The memory model (``mhmailbox.model.memory``) turns each step into guarded
actions; nothing here knows whether memory is SC, TSO or relaxed.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence, Union

import attrs

from .expr import TRUE, Expr, P, Value, lift


@attrs.frozen
class Write:
    """Store ``value`` to shared ``field``; ``ghost`` travels with it (provenance)."""

    field: str
    value: Expr
    ghost: Expr


@attrs.frozen
class Read:
    """Load shared ``field`` into local ``into`` (and its ghost into ``ghost_into``)."""

    field: str
    into: str
    ghost_into: str | None = None


@attrs.frozen
class Fence:
    """A barrier: ``wmb`` (orders stores), ``rmb`` (orders loads), ``mb`` (both, and store->load)."""

    kind: str

    def __attrs_post_init__(self) -> None:
        if self.kind not in ("wmb", "rmb", "mb"):
            raise ValueError(f"unknown fence {self.kind!r}")


MemOp = Union[Write, Read, Fence, None]
#: Where to go next: a label, or ((condition, label), ..., (None, label)).
Next = Union[str, Expr, Sequence[tuple[Union[Expr, None], str]], None]


@attrs.frozen
class Step:
    thread: str
    label: str
    pc: int
    text: str
    mem: MemOp
    guard: Expr
    updates: tuple[tuple[str, Expr], ...]
    next: object  # resolved to an Expr over pc values by Thread.finish()
    params: tuple[tuple[str, tuple[int, ...]], ...]


class Thread:
    """Build a thread step by step.

    ``locals`` maps private variable names (without the thread prefix) to their
    initial values. Labels are unique per thread; a step's pc is its index.
    ``set`` updates the thread's locals; ``ghost`` updates global ghost
    variables (monitors), which never influence behaviour.
    """

    def __init__(self, name: str, locals: Mapping[str, int], reads: Iterable[str] = ()):
        self.name = name
        self.locals = dict(locals)
        self.steps: list[Step] = []
        self._labels: dict[str, int] = {}
        self.reads: set[str] = set(reads)

    # variable naming -----------------------------------------------------------
    @property
    def pc_var(self) -> str:
        return f"{self.name}.pc"

    def var(self, local: str) -> str:
        if local not in self.locals:
            raise KeyError(f"{self.name} has no local {local!r}")
        return f"{self.name}.{local}"

    # building --------------------------------------------------------------------
    def step(
        self,
        label: str,
        text: str,
        mem: MemOp = None,
        *,
        guard: Value = TRUE,
        set: Mapping[str, Value] | None = None,
        ghost: Mapping[str, Value] | None = None,
        next: Next = None,
        params: Mapping[str, Sequence[int]] | None = None,
    ) -> None:
        if label in self._labels:
            raise ValueError(f"duplicate label {label!r} in {self.name}")
        if isinstance(mem, Read):
            self.reads.add(mem.field)
        self._labels[label] = len(self.steps)
        self.steps.append(
            Step(
                thread=self.name,
                label=label,
                pc=len(self.steps),
                text=text,
                mem=mem,
                guard=lift(guard),
                updates=tuple((self.var(k), lift(v)) for k, v in (set or {}).items())
                + tuple((k, lift(v)) for k, v in (ghost or {}).items()),
                next=next,
                params=tuple((k, tuple(v)) for k, v in (params or {}).items()),
            )
        )

    def patch(self, label: str, *, text: str | None = None, mem: MemOp | str = "keep",
              set: Mapping[str, Value] | None = None, drop: Iterable[str] = (), next: Next | str = "keep",
              params: Mapping[str, Sequence[int]] | None = None, ghost: Mapping[str, Value] | None = None,
              guard: Value | None = None) -> None:
        """Change one step in place: how a teaching mutant states its single fault.

        ``set`` adds or overrides local updates, ``drop`` removes updates of these
        locals, ``mem`` replaces the access (None for none), ``next`` the successor.
        """
        st = self.steps[self.pc_of(label)]
        dropped = {self.var(d) for d in drop}
        new_set = {self.var(k): lift(v) for k, v in (set or {}).items()}
        new_set.update({k: lift(v) for k, v in (ghost or {}).items()})
        updates = tuple((k, v) for k, v in st.updates if k not in dropped and k not in new_set) + tuple(new_set.items())
        changes: dict = {"updates": updates}
        if params:
            changes["params"] = st.params + tuple((k, tuple(v)) for k, v in params.items())
        if guard is not None:
            from .expr import And

            changes["guard"] = And(st.guard, guard)
        if text is not None:
            changes["text"] = text
        if not (isinstance(mem, str) and mem == "keep"):
            changes["mem"] = mem
        if not (isinstance(next, str) and next == "keep"):
            changes["next"] = next
        self.steps[st.pc] = attrs.evolve(st, **changes)

    def havoc_reads(self, fields: Mapping[str, Sequence[int]], ghost: int) -> None:
        """Every read of these fields returns any value of its domain, afresh each time.

        This is how an adversarial peer is modelled: it may write any of these
        fields at any moment, including between two reads of the same field, so
        the value a read returns is unconstrained (and the memory model cannot
        order an adversary's writes). No write budget is needed.
        """
        from .expr import subst

        for st in list(self.steps):
            op = st.mem
            if isinstance(op, Read) and op.field in fields:
                pname = f"any_{op.field}"
                read = {self.var(op.into): P(pname)}
                if op.ghost_into:
                    read[self.var(op.ghost_into)] = lift(ghost)
                # the step's updates and next step saw the value read: give them the choice
                updates = tuple((k, subst(self.resolve(e), read)) for k, e in st.updates)
                updates += tuple((k, v) for k, v in read.items() if k not in dict(updates))
                self.steps[st.pc] = attrs.evolve(
                    st, mem=None, updates=updates, next=subst(self.next_pc(st), read),
                    params=st.params + ((pname, tuple(fields[op.field])),),
                    text=st.text + f" (the peer decides the {op.field} read)")
        self.reads -= set(fields)

    def pc_of(self, label: str) -> int:
        try:
            return self._labels[label]
        except KeyError:
            raise KeyError(f"{self.name} has no label {label!r}") from None

    def ref(self, label: str) -> Expr:
        """The pc of ``label`` as a value (a return address), resolved when compiled."""
        return Expr("label", (label,))

    def resolve(self, e: Expr) -> Expr:
        """Replace :meth:`ref` placeholders by pc constants."""
        if e.op == "label":
            return lift(self.pc_of(e.args[0]))
        if e.op in ("var", "const", "param", "true", "false"):
            return e
        return Expr(e.op, tuple(self.resolve(a) for a in e.args))

    def at(self, *labels: str) -> Expr:
        """The condition "this thread is at one of these steps"."""
        from .expr import In, V

        return In(V(self.pc_var), [self.pc_of(label) for label in labels])

    def next_pc(self, step: Step) -> Expr:
        """The next-pc expression of ``step`` (over the post-read state)."""
        from .expr import Ite

        nxt = step.next
        if nxt is None:
            if step.pc + 1 >= len(self.steps):
                raise ValueError(f"{self.name}:{step.label} falls off the end")
            return lift(step.pc + 1)
        if isinstance(nxt, str):
            return lift(self.pc_of(nxt))
        if isinstance(nxt, Expr):
            return self.resolve(nxt)
        branches = list(nxt)
        cond, label = branches[-1]
        if cond is not None:
            raise ValueError(f"{self.name}:{step.label}: the last branch must be (None, label)")
        out: Expr = lift(self.pc_of(label))
        for cond, label in reversed(branches[:-1]):
            out = Ite(cond, self.pc_of(label), out)
        return out
