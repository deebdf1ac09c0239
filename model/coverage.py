"""Coverage: which steps the explored runs took, and which monitors they could have set.

A verdict of "holds" means something only if some run reaches a step where the
property could fail. A property's monitor is a predicate over a few variables
(its flag ``v.<id>``, or the ghost clock for bounded-wait); the steps that can
set it are the actions that write one of those variables with anything but its
initial value. When no explored run takes any of them, the monitor is constant
over every explored run and the property is reported ``vacuous``, never
``holds-to-depth`` or ``proved`` (docs/verdicts.md). This is TLC's coverage
report put to work: ``verify`` also lists, per cell, every step no run took.

The explicit engine reads coverage off its own exploration. The Z3 engines
learn it from a breadth-first exploration of the same cell's bounded model (the
explicit engine's model) that stops as soon as each of their properties'
monitors has been reached: every run of the bounded model is a run of the
generalized model they prove, so a step reached there is reachable for them.
"""
from __future__ import annotations

from typing import Sequence

import attrs

from .expr import variables
from .explore import Exploration, explore
from .properties import Property
from .protocol import Bounds, Model, build, variant_catalog, variant_class
from .system import Action, Monitor, System

#: verdicts that say "no violation": the ones a vacuous monitor turns into ``vacuous``
PASSING = ("holds-to-depth", "proved")


def step_name(action: Action, threads: Sequence[str]) -> str | None:
    """``thread:label`` of the thread step an action runs (None for memory, time and adversary moves)."""
    head, sep, rest = action.name.partition(":")
    if not sep or head != action.actor or head not in threads:
        return None
    return f"{head}:{rest.split('@', 1)[0]}"


def unreached_steps(model: Model, system: System, fired: bytes) -> list[str]:
    """Every step of every thread (``thread:label``, in program order) that no explored run took."""
    taken = {step_name(a, list(model.threads)) for i, a in enumerate(system.actions) if fired[i]}
    return [f"{t}:{st.label}" for t, th in model.threads.items() for st in th.steps
            if f"{t}:{st.label}" not in taken]


def monitor_writers(system: System, monitor: Monitor) -> list[int]:
    """Indexes of the actions that can change what ``monitor`` reads (a write of anything but
    the variable's initial value: resetting a clock to 0 cannot make it bad)."""
    read = variables(monitor.bad)
    out = []
    for i, a in enumerate(system.actions):
        for name, e in a.updates:
            if name in read and not (e.op == "const" and e.args[0] == system.variables.get(name)):
                out.append(i)
                break
    return out


@attrs.frozen
class Reach:
    """Whether an explored run took a step that can set a property's monitor."""

    #: True: some run did; False: none of the explored runs did; None: not established
    reached: bool | None
    #: the steps (``thread:label``) that can set the monitor
    steps: tuple[str, ...]
    #: the exploration behind a False: every reachable state of the bounded model (True),
    #: or only runs of at most ``depth`` steps
    exhaustive: bool = False
    depth: int = 0

    def note(self) -> str:
        where = ", ".join(self.steps) if self.steps else "no step at all"
        scope = ("no run of the bounded model" if self.exhaustive
                 else f"no run of at most {self.depth} steps")
        return f"vacuous: {scope} takes a step that can set its monitor ({where})"


def reach_of(model: Model, system: System, ex: Exploration) -> list[Reach]:
    """One :class:`Reach` per monitor of ``system`` (the one explored), from an exploration's coverage."""
    names = list(model.threads)
    out = []
    for mon in system.monitors:
        writers = monitor_writers(system, mon)
        steps = tuple(dict.fromkeys(step_name(system.actions[i], names) or system.actions[i].name
                                    for i in writers))
        reached = any(ex.fired[i] for i in writers)
        out.append(Reach(reached, steps, exhaustive=ex.exhausted, depth=ex.depth))
    return out


def reachability(cell: tuple, properties: Sequence[Property], bounds: Bounds | None = None,
                 time_limit: float | None = 20.0, max_states: int = 2_000_000,
                 depth: int | None = None) -> dict[str, Reach]:
    """For the Z3 engines: property id -> :class:`Reach` in the cell's bounded model.

    The exploration stops once each monitor is reached (a witness run is enough); it
    runs to the end of the bounded model (or to ``depth`` steps: a bounded engine's
    claim is vacuous when no run that short reaches the monitor) only for monitors no
    run reaches. When it is cut short (``time_limit``, ``max_states``), an unreached
    monitor is ``None``: not established either way.
    """
    model = build(*cell, bounds or Bounds(), properties)
    if not model.properties:
        return {}
    system = model.system.reduced()
    compiled = system.compile()
    groups = [monitor_writers(system, m) for m in system.monitors]
    if not any(groups):  # nothing can write any of these monitors: no run needed to say so
        return {p.id: Reach(False, (), exhaustive=True) for p in model.properties}
    ex = explore(compiled, depth or 10_000, monitors=[], max_states=max_states, stop_when_all_found=False,
                 time_limit=time_limit, until_fired=[g for g in groups if g])
    out = {}
    for prop, r in zip(model.properties, reach_of(model, system, ex)):
        if r.reached is False and ex.stopped in ("states", "time"):
            r = attrs.evolve(r, reached=None)  # cut short: an unreached monitor may be reached later
        out[prop.id] = r
    return out


def mark_vacuous(results: list, reach: dict[str, Reach]) -> list:
    """Turn each passing verdict whose monitor no run reaches into ``vacuous`` (with the note
    saying which steps could set it); a monitor whose reach is not established keeps its
    verdict, with a note saying so."""
    out = []
    for r in results:
        rc = reach.get(r.property)
        if r.verdict in PASSING and rc is not None:
            if rc.reached is False:
                r = attrs.evolve(r, verdict="vacuous", note=_join(rc.note(), r.note))
            elif rc.reached is None:
                r = attrs.evolve(r, note=_join(r.note, "the bounded model was not explored far enough to show "
                                                       "a run reaching its monitor"))
        out.append(r)
    return out


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def vacuity(results: list, cell: tuple, properties: Sequence[Property], bounds: Bounds | None = None,
            time_limit: float | None = 20.0) -> list:
    """What an engine that does not explore (bmc, kind, pdr) calls on its results: explore the
    cell's bounded model just far enough to reach each passing property's monitor
    (:func:`reachability`), and mark the ones no run reaches ``vacuous``. A ``holds-to-depth k``
    (bmc) asks for a run of at most k steps; a proof, for any run of the bounded model."""
    passing = [r for r in results if r.verdict in PASSING]
    if not passing:
        return results
    ids = {r.property for r in passing}
    bounded = [r.depth for r in passing if r.verdict == "holds-to-depth"]
    depth = max(bounded) if bounded and len(bounded) == len(passing) else None
    variant = variant_class(cell[0]) if isinstance(cell[0], str) else cell[0]
    chosen = [p for p in (list(properties) or variant_catalog(variant)) if p.id in ids]
    return mark_vacuous(results, reachability(cell, chosen, bounds, time_limit, depth=depth))
