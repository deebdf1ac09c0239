"""A transition system: named integer variables, guarded actions, safety monitors.

This is the single definition every engine interprets. The explicit-state
checker compiles it to Python (:meth:`System.compile`); the Z3 engines
translate the same guards and updates to terms. An action is a guard plus
simultaneous updates; variables an action does not mention keep their value.
"""
from __future__ import annotations

from typing import Callable, Iterator, Mapping, Sequence

import attrs

from .expr import Expr, TRUE, lift, to_python


@attrs.frozen
class Action:
    """One guarded update.

    ``actor`` says who moves (``host``, ``guest``, ``memory``, ``time``,
    ``adversary``); ``text`` says what happens, in words a reader can check
    against the protocol; ``params`` are nondeterministic choices (each a
    finite domain) that the guard and updates may use.
    """

    name: str
    actor: str
    text: str
    guard: Expr
    updates: tuple[tuple[str, Expr], ...]
    params: tuple[tuple[str, tuple[int, ...]], ...] = ()
    kind: str = "step"  # step | write | read | fence | flush | sync | tick | adversary
    #: a thread's step with no shared access, no choice and no guard beyond its pc:
    #: it commutes with every other thread's steps, so engines run it at once after
    #: the step before it (it is not a scheduling point)
    local: bool = False


@attrs.frozen
class Monitor:
    """A safety property as a state predicate: ``bad`` must never hold."""

    id: str
    bad: Expr


@attrs.define
class System:
    variables: dict[str, int] = attrs.field(factory=dict)  # name -> initial value
    actions: list[Action] = attrs.field(factory=list)
    monitors: list[Monitor] = attrs.field(factory=list)
    #: variables removed by :meth:`reduced` (constant at these values)
    dropped: dict[str, int] = attrs.field(factory=dict)

    def declare(self, name: str, init: int = 0) -> str:
        if name in self.variables and self.variables[name] != init:
            raise ValueError(f"variable {name} declared twice with different initial values")
        self.variables[name] = int(init)
        return name

    def add(self, action: Action) -> None:
        self.actions.append(action)

    def cone_of_influence(self) -> set[str]:
        """Variables that can affect a guard or a monitor; the rest are write-only ghosts."""
        from .expr import variables

        relevant: set[str] = set()
        for m in self.monitors:
            relevant |= variables(m.bad)
        for a in self.actions:
            relevant |= variables(a.guard)
        changed = True
        while changed:
            changed = False
            for a in self.actions:
                for name, e in a.updates:
                    if name in relevant:
                        new = variables(e) - relevant
                        if new:
                            relevant |= new
                            changed = True
        return relevant

    def reduced(self) -> "System":
        """The same system with updates to variables outside the cone of influence dropped.

        Sound for every monitor of this system: a dropped variable never reaches a
        guard, an update of a kept variable, or a monitor. It stays at its initial
        value (traces show it so).
        """
        keep = self.cone_of_influence()
        out = System(variables={n: v for n, v in self.variables.items() if n in keep},
                     monitors=list(self.monitors))
        out.dropped = {n: v for n, v in self.variables.items() if n not in keep}
        for a in self.actions:
            out.actions.append(attrs.evolve(a, updates=tuple((n, e) for n, e in a.updates if n in keep)))
        return out

    def unfused(self) -> "System":
        """The same system with every local step a scheduling point (to test the reduction)."""
        out = attrs.evolve(self, actions=[attrs.evolve(a, local=False) for a in self.actions])
        return out

    def env(self, state: Sequence[int]) -> dict[str, int]:
        """Variable name -> value, including variables a reduction dropped (at their initial value)."""
        env = dict(self.dropped)
        env.update(zip(self.variables, state))
        return env

    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.variables)}

    def initial(self) -> tuple[int, ...]:
        return tuple(self.variables.values())

    def compile(self) -> "Compiled":
        return Compiled.build(self)


def _pc_split(guard: Expr) -> tuple[tuple[str, int] | None, Expr]:
    """Pull a leading ``X.pc == k`` conjunct out of a guard, for dispatch."""
    from .expr import And

    parts = list(guard.args) if guard.op == "and" else [guard]
    for i, p in enumerate(parts):
        if p.op == "eq" and p.args[0].op == "var" and p.args[0].args[0].endswith(".pc") and p.args[1].op == "const":
            rest = parts[:i] + parts[i + 1 :]
            return (p.args[0].args[0], p.args[1].args[0]), And(*rest)
    return None, guard


@attrs.define
class Compiled:
    """The system as a Python successor function (generated source, exec'd once)."""

    system: System
    settle: Callable[[tuple], tuple]
    successors: Callable[[tuple], Iterator[tuple[int, tuple, tuple]]]
    bad: list[Callable[[tuple], bool]]
    source: str
    #: hits[i] is 1 once action i has fired (local steps too, inside ``settle``): the
    #: coverage of the model by the runs explored since the last reset (explore resets it)
    hits: bytearray = attrs.field(factory=bytearray, repr=False)

    @classmethod
    def build(cls, system: System) -> "Compiled":
        idx = system.index()
        var = lambda n: f"s[{idx[n]}]"  # noqa: E731
        par = lambda n: f"p_{n}"  # noqa: E731
        lines = ["def successors(s):"]
        # group actions by the pc they require, so each state tests only its own steps
        groups: dict[tuple[str, int] | None, list[tuple[int, Action, Expr]]] = {}
        locals_: dict[str, list[tuple[int, int, Action]]] = {}
        for ai, act in enumerate(system.actions):
            key, rest = _pc_split(act.guard)
            if act.local:
                if key is None or rest.op != "true":
                    raise ValueError(f"{act.name}: a local step must be guarded by its pc alone")
                locals_.setdefault(key[0], []).append((key[1], ai, act))
                continue
            groups.setdefault(key, []).append((ai, act, rest))
        local_pcs = {pcv: frozenset(pc for pc, _, _ in items) for pcv, items in locals_.items()}
        by_pcvar: dict[str, dict[int, list]] = {}
        for key, acts in groups.items():
            if key is None:
                continue
            by_pcvar.setdefault(key[0], {})[key[1]] = acts

        def emit_action(ai: int, act: Action, guard: Expr, ind: str) -> None:
            pad = ind
            for pname, dom in act.params:
                lines.append(f"{pad}for p_{pname} in {tuple(dom)!r}:")
                pad += "    "
            g = to_python(guard, var, par)
            lines.append(f"{pad}if {g}:")
            body = pad + "    "
            lines.append(f"{body}t = list(s)")
            for name, e in act.updates:
                lines.append(f"{body}t[{idx[name]}] = {to_python(e, var, par)}")
            lines.append(f"{body}hits[{ai}] = 1")
            params = "(" + "".join(f"p_{p}, " for p, _ in act.params) + ")"
            pcv = f"{act.actor}.pc"
            if pcv in local_pcs:
                lines.append(f"{body}yield {ai}, {params}, (settle(t) if t[{idx[pcv]}] in {local_pcs[pcv]!r} else tuple(t))")
            else:
                lines.append(f"{body}yield {ai}, {params}, tuple(t)")

        for pcvar, table in by_pcvar.items():
            lines.append(f"    _pc = s[{idx[pcvar]}]")
            first = True
            for pc, acts in sorted(table.items()):
                lines.append(f"    {'if' if first else 'elif'} _pc == {pc}:")
                first = False
                for ai, act, rest in acts:
                    emit_action(ai, act, rest, "        ")
        for ai, act, rest in groups.get(None, []):
            emit_action(ai, act, rest, "    ")
        lines.append("    return")
        lines.append("    yield")
        lines.append("")
        lines.append("def settle(s):")
        lines.append("    for _ in range(10000):")
        lines.append("        moved = False")
        for pcvar, items in locals_.items():
            lines.append(f"        _pc = s[{idx[pcvar]}]")
            first = True
            for pc, ai, act in sorted(items, key=lambda x: x[0]):
                lines.append(f"        {'if' if first else 'elif'} _pc == {pc}:")
                first = False
                lines.append(f"            hits[{ai}] = 1")
                lines.append("            t = list(s)")
                for name, e in act.updates:
                    lines.append(f"            t[{idx[name]}] = {to_python(e, var, par)}")
                lines.append("            s = t")
                lines.append("            moved = True")
        lines.append("        if not moved:")
        lines.append("            return tuple(s)")
        lines.append("    raise RuntimeError('local steps loop forever')")
        bad_src = []
        for mi, mon in enumerate(system.monitors):
            bad_src.append(f"def bad{mi}(s):\n    return {to_python(mon.bad, var)}")
        source = "\n".join(lines) + "\n\n" + "\n\n".join(bad_src) + "\n"
        ns: dict = {"hits": bytearray(len(system.actions))}
        exec(compile(source, "<mhmailbox-model>", "exec"), ns)  # noqa: S102 - generated from our own model
        return cls(
            system=system,
            settle=ns["settle"],
            successors=ns["successors"],
            bad=[ns[f"bad{i}"] for i in range(len(system.monitors))],
            source=source,
            hits=ns["hits"],
        )

    def initial(self) -> tuple:
        """The initial state, with every thread's leading local steps taken."""
        return self.settle(list(self.system.initial()))

    def apply(self, state: tuple, action_index: int, params: Sequence[int]) -> tuple | None:
        """Take one named action with given parameters (replay); None if not enabled."""
        for ai, ps, nxt in self.successors(state):
            if ai == action_index and tuple(ps) == tuple(params):
                return nxt
        return None
