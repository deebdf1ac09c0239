"""The model as a test oracle: run one side's own thread against an implementation's accesses.

An :class:`Observer` holds the model thread of one side (``Rfc``/``Hardened`` host
or helper, as built by the variant class) and its state, under sequential
semantics (a test harness runs the implementation on real, sequentially
consistent memory). The harness feeds it every access the implementation makes,
already abstracted (see :mod:`mhmailbox.conformance.abstraction`); the observer
finds the step at the current pc, checks that its memory operation matches
(kind and field; for writes also the value), feeds read values (and their
provenance ghosts) in, applies the step's updates, then runs local steps. The
first access that no step explains is a :class:`Divergence`.

Documented matching rules (docs/conformance.md, "How the oracle matches"):

* **Filtered** accesses: those the model leaves out (``prefetch``, header data
  bytes, the helper's own reads of ``hdr.len`` and of the shared area as RAM)
  never reach the observer; the harness drops them.
* **Elided reads**: a read the model makes but the implementation may legitimately
  skip, listed in :data:`ELIDABLE` (the host's "read done once more" after the
  deadline, the helper's io-page read for a RESTORE it skips or refuses early), is
  satisfied from current memory (``peek``) when, and only when, the implementation's
  next access then matches.
* **Write blocks**: the model's Write steps that follow each other with no other
  access, fence or branch between them form a block, and an implementation may make
  those writes in any order (the host's parameters before its write barrier; the
  helper's response header length and io page before ``ret``): no peer reads any of
  them before the flag that follows the block. The flag itself (:data:`FLAG`: the
  helper's done, the host's go) is never in a block: the published helper's ret,
  go = 0, done = 1 may not become done = 1 first. A write that matches a later step of
  the block is held until the model reaches that step, and checked again there.
* **Optional writes**: a Write step the variant lists in ``OPTIONAL_WRITES`` may be
  left out (hardened's ``ret = -1`` before go: the helper writes ret before done, and
  the host reads ret only after done echoes its sequence number).
* **Wildcard values**: a few writes are matched by field only (:data:`ANY_VALUE`):
  the host's header length and io page on a load are whatever the stream carried.
* **Choices**: steps with parameters (the host's next operation) are taken with
  :meth:`Observer.choose`, by the harness that started that operation.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Iterable, Mapping

import attrs

from .expr import Expr, to_python
from .program import Fence, Read, Step, Thread, Write
from .variants import Rfc

#: (side, step label) of reads an implementation may skip; see the module docstring.
ELIDABLE: frozenset[tuple[str, str]] = frozenset({
    ("host", "send.poll"), ("host", "send.prev"), ("host", "load.prev"),
    ("host", "send.poll.last"), ("host", "send.prev.last"), ("host", "load.prev.last"), ("guest", "restore"),
})
#: Eliding a poll of ``done`` at these labels means "the implementation decided its deadline
#: had passed": the model's clock is moved to the deadline first (whether the decision was
#: early is checked directly, against the virtual clock, by the suite).
CLAIMS: frozenset[str] = frozenset({"send.poll", "send.prev", "load.prev"})
#: (side, step label) of writes matched by field only.
ANY_VALUE: frozenset[tuple[str, str]] = frozenset({("host", "load.len"), ("host", "load.page")})
#: side -> the field its peer polls (the host's go, the helper's done): a write of it publishes
#: the writes before it, so a write block ends before it (see the module docstring).
FLAG: Mapping[str, str] = {"host": "go", "guest": "done"}

_CACHE: dict[tuple, tuple[Thread, list, Callable]] = {}

Peek = Callable[[str], tuple[int, int]]  # field -> (abstract value, ghost) now in memory


class Divergence(Exception):
    """The implementation made an access (or ended) where its model cannot follow."""

    def __init__(self, index: int, observed: str, label: str, expected: list[str], state: dict[str, int],
                 why: str) -> None:
        super().__init__(f"divergence at access #{index}: {why}")
        self.index = index
        self.observed = observed
        self.label = label
        self.expected = expected
        self.state = state
        self.why = why
        #: set when the divergence is a wrong answer, not an order: a write the peer can see of
        #: a value the model's step there does not write, or of a field only the peer writes
        self.answer: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"access": self.index, "observed": self.observed, "model_at": self.label,
                "model_expects": self.expected, "why": self.why, "answer": self.answer, "model_state": self.state}


def _source(e: Expr) -> str:
    return to_python(e, lambda n: f"env[{n!r}]", lambda n: f"params[{n!r}]")


def _compile(e: Expr) -> Callable[[Mapping[str, int], Mapping[str, int]], int]:
    return eval(f"lambda env, params: {_source(e)}")  # noqa: S307 - our own generated code


def _compile_effect(updates: tuple[tuple[str, Expr], ...], nxt: Expr) -> Callable:
    """One function for a step's whole effect: its updates' new values and the next pc, all
    computed in the same state before any is assigned (one call per step, not one per update)."""
    vals = "".join(f"{_source(e)}, " for _, e in updates)
    return eval(f"lambda env, params: (({vals}), {_source(nxt)})")  # noqa: S307 - our own generated code


#: What taking a step means for the host's deadline windows and returns (:meth:`Observer._take`).
_OPENS_WINDOW = frozenset({"send", "load.quiesce"})
_RETURNS = frozenset({"send.timeout", "load.timeout", "send.got"})
_NO_PARAMS: Mapping[str, int] = {}


@attrs.frozen
class _Compiled:
    step: Step
    guard: Callable
    value: Callable | None
    ghost: Callable | None
    updates: tuple[tuple[str, Callable], ...]
    next: Callable
    local: bool
    #: the updates' variables, and (updates, next) computed in one call (what ``_take`` runs)
    keys: tuple[str, ...] = ()
    effect: Callable | None = None
    #: the updated variables that are monitor flags (``v.<property>``)
    flag_keys: frozenset[str] = frozenset()
    always_true: bool = False  # a guard of ``true``: not evaluated


def normalize(field: str, v: int) -> int:
    """Values compared up to what the model distinguishes: on the io page, EMPTY and FORGED
    are both "bytes that are neither a private page's plaintext nor a sealed page"."""
    if field == "io" and v == 0:
        return 3
    return v


class Observer:
    """One side of the model, stepped by an implementation's accesses (sequential semantics)."""

    def __init__(self, variant: Rfc, side: str, *, peek: Peek | None = None) -> None:
        if side not in ("host", "guest"):
            raise ValueError("side is 'host' or 'guest'")
        self.side = side
        key = (type(variant), str(variant.D), str(variant.Q), side)
        if key not in _CACHE:  # compiling a thread costs ~5 ms; a test suite builds thousands
            thread = variant.host([]) if side == "host" else variant.guest()
            self.thread = thread
            _CACHE[key] = (thread, [self._compile_step(s) for s in thread.steps], _compile(variant.D))
        self.thread, self._steps, self._deadline = _CACHE[key]  # (the deadline: for the claim of elided polls)
        self.peek = peek
        self.env: dict[str, int] = defaultdict(int)
        for k, v in self.thread.locals.items():
            self.env[f"{side}.{k}"] = v
        self.pc_var = self.thread.pc_var
        self.env[self.pc_var] = 0
        self.accesses = 0  # observed accesses matched
        self.steps = 0  # model steps taken (including local ones)
        #: writes held by the write-block rule, by the label of the step they will take
        self.held: dict[str, tuple] = {}
        self.optional = frozenset(label for s, label in variant.OPTIONAL_WRITES if s == side)
        self.omitted = 0  # optional writes the implementation left out
        self.elided = 0  # reads satisfied from memory (the elision rule)
        #: host: deadline windows opened so far (a command's ``send``, a load's wait for a
        #: pending command, which the load's DECRYPT then shares)
        self.windows = 0
        #: host: (command id, window) of each timeout (a load's wait for a pending command is
        #: the start of its DECRYPT, which then is never sent)
        self.timeouts: list[tuple[int, int]] = []
        #: host: (command id, window) of each return (result or timeout)
        self.returns: list[tuple[int, int]] = []
        self.visited: set[str] = set()  # model steps taken (coverage of the model by the run)
        #: property -> (access #, step label, step text) where its monitor flag was first set
        self.flag_at: dict[str, tuple[int, str, str]] = {}
        self.history: list[str] = []  # labels taken, for reports (bounded)
        self._settle()

    # --- compilation --------------------------------------------------------------
    def _compile_step(self, st: Step) -> _Compiled:
        t = self.thread
        op = st.mem
        value = ghost = None
        if isinstance(op, Write):
            value, ghost = _compile(t.resolve(op.value)), _compile(t.resolve(op.ghost))
        local = op is None and not st.params and st.guard.op == "true"
        updates = tuple((k, t.resolve(e)) for k, e in st.updates)
        return _Compiled(
            step=st, guard=_compile(t.resolve(st.guard)), value=value, ghost=ghost,
            updates=tuple((k, _compile(e)) for k, e in updates),
            next=_compile(t.next_pc(st)), local=local, keys=tuple(k for k, _ in updates),
            effect=_compile_effect(updates, t.next_pc(st)),
            flag_keys=frozenset(k for k, _ in updates if k.startswith("v.")),
            always_true=st.guard.op == "true",
        )

    # --- state ----------------------------------------------------------------------
    @property
    def at(self) -> str:
        return self.thread.steps[self.env[self.pc_var]].label

    def flags(self) -> set[str]:
        """Monitor flags ``v.<property>`` the run has set."""
        return {k[2:] for k, v in self.env.items() if k.startswith("v.") and v}

    def state(self) -> dict[str, int]:
        return {k: v for k, v in sorted(self.env.items()) if v or k.endswith(".pc")}

    def set_time(self, ticks: int) -> None:
        """The host's clock, in model ticks since the current command started."""
        self.env[f"{self.side}.t"] = ticks

    def expected(self) -> list[str]:
        """What the model would accept next, in words."""
        c = self._steps[self.env[self.pc_var]]
        return [f"{c.step.label}: {_describe(c.step)}"]

    # --- stepping --------------------------------------------------------------------
    def _take(self, c: _Compiled, inter: dict[str, int] | None = None, params: Mapping[str, int] | None = None) -> None:
        env = self.env
        params = params or _NO_PARAMS
        if not c.always_true and not c.guard(env, params):
            raise ValueError(f"{c.step.label}: guard false")
        if inter:  # a read's values are in the state the updates see (the guard did not)
            env.update(inter)
        vals, nxt = c.effect(env, params)  # type: ignore[misc]
        flags = c.flag_keys
        for k, v in zip(c.keys, vals):
            if flags and k in flags and v and not env.get(k):
                self.flag_at.setdefault(k[2:], (self.accesses, c.step.label, c.step.text))
            env[k] = int(v)
        env[self.pc_var] = int(nxt)
        self.steps += 1
        label = c.step.label
        self.visited.add(label)
        if label in _OPENS_WINDOW:
            self.windows += 1
        elif label in _RETURNS:
            cid = env[f"{self.side}.id"]
            self.returns.append((cid, self.windows))
            if label != "send.got":
                self.timeouts.append((cid, self.windows))
        if len(self.history) < 4000:
            self.history.append(label)

    def _settle(self) -> None:
        for _ in range(10000):
            c = self._steps[self.env[self.pc_var]]
            if not c.local:
                return
            self._take(c)
        raise RuntimeError("local steps loop forever")

    def choose(self, **params: int) -> None:
        """Take the current step, which has parameters (an operation the harness started)."""
        c = self._steps[self.env[self.pc_var]]
        if not c.step.params:
            raise self._diverge(f"choose {params}", f"the model is not at a choice (at {c.step.label})")
        self._take(c, params=params)
        self._settle()

    def _matches(self, c: _Compiled, kind: str, field: str, value: int | None) -> bool:
        op = c.step.mem
        if kind == "read":
            return isinstance(op, Read) and op.field == field
        if kind == "barrier":  # a full barrier orders what a write or a read barrier orders, and more
            return isinstance(op, Fence) and (op.kind == field or field == "mb")
        if not (isinstance(op, Write) and op.field == field):
            return False
        if (self.side, c.step.label) in ANY_VALUE:
            return True
        return normalize(field, int(c.value(self.env, {}))) == normalize(field, int(value))  # type: ignore[misc]

    def _do(self, c: _Compiled, value: int | None, ghost: int | None) -> int | None:
        """Take access step ``c``; returns a write's ghost (provenance) for the harness."""
        op = c.step.mem
        if isinstance(op, Read):
            inter = {f"{self.side}.{op.into}": int(value)}  # type: ignore[arg-type]
            if op.ghost_into:
                inter[f"{self.side}.{op.ghost_into}"] = int(ghost or 0)
            self._take(c, inter)
            return None
        g = int(c.ghost(self.env, {})) if isinstance(op, Write) else None  # type: ignore[misc]
        self._take(c)
        return g

    def observe(self, kind: str, field: str, value: int | None = None, ghost: int | None = None) -> int | None:
        """One access of the implementation: ``kind`` read|write|barrier, ``field`` a model
        field (or a fence kind), ``value`` abstract (reads: what was read; writes: what was
        written), ``ghost`` the read value's provenance. Returns a write's ghost."""
        self.accesses += 1
        for _ in range(len(self._steps)):
            c = self._steps[self.env[self.pc_var]]
            if self._matches(c, kind, field, value):
                g = self._do(c, value, ghost)
                self._settle()
                self._drain()
                return g
            if kind == "write":  # a later write of this block, made early: hold it
                for c2 in self._write_block()[1:]:
                    if c2.step.label not in self.held and self._matches(c2, kind, field, value):
                        self.held[c2.step.label] = (kind, field, value, ghost)
                        return int(c2.ghost(self.env, {})) if c2.ghost else None  # type: ignore[misc]
            if not self._omit():
                break  # nothing left out: the step and the access are as they were
        # elided reads: the model reads here, the implementation skipped it
        if not self.held and self._elide_until(lambda c2: self._matches(c2, kind, field, value)):
            g2 = self._do(self._steps[self.env[self.pc_var]], value, ghost)
            self._settle()
            return g2
        pending = f" (writes made early and still waiting for their step: {sorted(self.held)})" if self.held else ""
        d = self._diverge(f"{kind} {field}" + ("" if value is None else f"={value}"),
                          f"the implementation's {kind} of {field} matches no step of the model{pending}")
        if kind == "write":
            d.answer = self._wrong_answer(field, int(value))  # type: ignore[arg-type]
        raise d

    def _wrong_answer(self, field: str, value: int) -> str | None:
        """Why a write that matches no step is a wrong answer rather than another order: the
        model writes this field right here (its step, or one of its write block) with another
        value, or this side never writes the field at all (the peer owns it). Either way the
        peer can read what no conforming implementation would have left there."""
        for c2 in self._write_block() or [self._steps[self.env[self.pc_var]]]:
            op = c2.step.mem
            if isinstance(op, Write) and op.field == field and (self.side, c2.step.label) not in ANY_VALUE:
                want = normalize(field, int(c2.value(self.env, {})))  # type: ignore[misc]
                return (f"wrote {field}={normalize(field, value)} where the protocol's step {c2.step.label} "
                        f"writes {field}={want}")
        if not any(isinstance(x.step.mem, Write) and x.step.mem.field == field for x in self._steps):
            return f"wrote {field}, which only the {'guest' if self.side == 'host' else 'host'} writes"
        return None

    def _write_block(self) -> list[_Compiled]:
        """The Write steps from the current one on that follow each other with nothing between,
        up to (not including) a write of the flag the peer polls. (A step without ``next`` is
        never the last: ``Thread.next_pc`` refuses one that falls off the end.)"""
        out: list[_Compiled] = []
        c = self._steps[self.env[self.pc_var]]
        while isinstance(c.step.mem, Write) and c.step.mem.field != FLAG[self.side] and c not in out:
            out.append(c)
            if c.step.next is not None:
                break  # a jump ends the block
            c = self._steps[c.step.pc + 1]
        return out

    def _omit(self) -> bool:
        """Leave out the current step if it is an optional write nobody made (held writes wait)."""
        c = self._steps[self.env[self.pc_var]]
        if c.step.label not in self.optional or c.step.label in self.held or not isinstance(c.step.mem, Write):
            return False
        self._take(c)
        self.omitted += 1
        self._settle()
        self._drain()
        return True

    def _drain(self) -> None:
        """Give held writes their steps as the model reaches them (optional ones between may be left out)."""
        while self.held:
            c = self._steps[self.env[self.pc_var]]
            if c.step.label in self.held:
                hk, hf, hv, hg = self.held.pop(c.step.label)
                if not self._matches(c, hk, hf, hv):
                    raise self._diverge(f"{hk} {hf}={hv}", f"a write made early does not match {c.step.label} "
                                        "once the model gets there")
                self._do(c, hv, hg)
                self._settle()
            elif not self._omit():
                return

    def _elide_until(self, ok: Callable[[_Compiled], bool], limit: int = 4) -> bool:
        """Elide up to ``limit`` reads the model may elide until ``ok(current step)``; all or nothing."""
        if self.peek is None:
            return False
        saved, counts = dict(self.env), (self.steps, len(self.history), self.elided)
        side_effects = (len(self.timeouts), len(self.returns), set(self.visited), dict(self.flag_at), self.windows)
        for _ in range(limit):
            c = self._steps[self.env[self.pc_var]]
            if (self.side, c.step.label) not in ELIDABLE or not isinstance(c.step.mem, Read):
                break  # not a read the model may elide: undo below
            if c.step.label in CLAIMS:
                self.env[f"{self.side}.t"] = max(self.env[f"{self.side}.t"], int(self._deadline(self.env, {})))
            v, g = self.peek(c.step.mem.field)
            self._do(c, v, g)
            self.elided += 1
            self._settle()
            if ok(self._steps[self.env[self.pc_var]]):
                return True
        self.env = defaultdict(int, saved)
        self.steps, self.elided = counts[0], counts[2]
        del self.history[counts[1]:]
        del self.timeouts[side_effects[0]:]
        del self.returns[side_effects[1]:]
        self.visited, self.flag_at, self.windows = side_effects[2], side_effects[3], side_effects[4]
        return False

    def finish(self, labels: Iterable[str]) -> None:
        """The implementation ended an operation: the model must be able to reach one of ``labels``
        (its idle point) by eliding reads it may elide; otherwise a Divergence."""
        want = set(labels)
        if self.held:
            raise self._diverge("end of operation", f"writes made early never reached their steps: {sorted(self.held)}")
        if self.at in want or self._elide_until(lambda c: c.step.label in want, limit=6):
            return
        raise self._diverge("end of operation", f"the implementation finished its operation; the model is at {self.at}")

    def _diverge(self, observed: str, why: str) -> Divergence:
        return Divergence(self.accesses, observed, self.at, self.expected(), self.state(), why)


def _describe(st: Step) -> str:
    op = st.mem
    if isinstance(op, Write):
        return f"write {op.field} := {op.value}  ({st.text})"
    if isinstance(op, Read):
        return f"read {op.field}  ({st.text})"
    if isinstance(op, Fence):
        return f"{op.kind}  ({st.text})"
    if st.params:
        return f"choose {', '.join(p for p, _ in st.params)}  ({st.text})"
    return st.text


__all__ = ["ANY_VALUE", "Divergence", "ELIDABLE", "Observer", "normalize"]
