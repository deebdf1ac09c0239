"""Verdicts from the explicit-state checker, one per (property, cell).

Verdicts say what they are (docs/verdicts.md):

* ``violated``: a reachable state breaks the property; the trace is a
  shortest one (breadth-first search).
* ``holds-to-depth``: no violation within ``depth`` steps of the bounded model.
  When ``exhaustive`` is true, every reachable state of the bounded model
  (its scripts, buffer capacity and adversary budget) was seen; that is still
  not an unbounded proof, which is the Z3 engines' job.
* ``vacuous``: no violation, but no explored run takes a step that can set the
  property's monitor, so the check said nothing (model/coverage.py).

Every result of a cell carries the cell's coverage: the steps no explored run took.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Sequence

import attrs

from .coverage import mark_vacuous, reach_of, unreached_steps
from .explore import explore
from .properties import CATALOG, Property
from .protocol import Bounds, build, cells
from .trace import decode


@attrs.define
class Result:
    property: str
    variant: str
    memory: str
    guest: str
    host: str
    engine: str
    verdict: str
    depth: int
    states: int
    seconds: float
    bound: str
    exhaustive: bool = False
    trace: list[dict[str, Any]] | None = None
    note: str = ""
    #: steps (``thread:label``) no explored run of the cell took (the explicit engine's coverage)
    unreached: list[str] = attrs.field(factory=list)
    #: how far the exploration behind ``unreached`` went: "complete", or "partial: <why>"
    coverage: str = ""

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


#: why an exploration ended, in words
STOPPED = {"exhausted": "every reachable state of the bounded model explored",
           "states": "stopped at the state budget", "time": "stopped at the time budget",
           "depth": "stopped at the depth bound", "all-found": "stopped once every property was violated"}


def check_cell(
    variant: str,
    memory: str,
    guest: str,
    host: str,
    properties: Sequence[Property] | None = None,
    bounds: Bounds | None = None,
    depth: int = 10_000,
    max_states: int = 2_000_000,
    time_limit: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Result]:
    """Explore one cell once and give a verdict for every property that applies."""
    bounds = bounds or Bounds()
    model = build(variant, memory, guest, host, bounds, properties)
    if not model.properties:
        return []
    t0 = time.perf_counter()
    system = model.system.reduced()
    compiled = system.compile()
    ex = explore(compiled, depth, max_states=max_states, time_limit=time_limit, progress=progress)
    seconds = time.perf_counter() - t0
    unreached = unreached_steps(model, system, ex.fired)
    coverage = "complete" if ex.exhausted else f"partial: {STOPPED.get(ex.stopped, ex.stopped)} (depth {ex.depth})"
    out = []
    for mi, prop in enumerate(model.properties):
        found = ex.found.get(mi)
        common = dict(property=prop.id, variant=model.variant, memory=memory, guest=guest, host=host,
                      engine="explicit", states=ex.states, seconds=round(seconds, 3),
                      bound=bounds.describe(host), unreached=unreached, coverage=coverage)
        if found is not None:
            trace = decode(model, ex.path(found.state_id))
            out.append(Result(verdict="violated", depth=found.depth, trace=trace, **common))
        else:
            note = STOPPED.get(ex.stopped, "")
            out.append(Result(verdict="holds-to-depth", depth=ex.depth, exhaustive=ex.exhausted,
                              note=note, **common))
    reach = {p.id: r for p, r in zip(model.properties, reach_of(model, system, ex))}
    return mark_vacuous(out, reach)


def check(
    variants: Iterable[str],
    memories: Iterable[str],
    guests: Iterable[str] | None = None,
    properties: Sequence[Property] | None = None,
    on_cell: Callable[[tuple, list[Result]], None] | None = None,
    **kw: Any,
) -> list[Result]:
    props = list(properties or CATALOG)
    results: list[Result] = []
    for cell in cells(list(variants), list(memories), list(guests) if guests else None, props):
        rs = check_cell(*cell, properties=props, **kw)
        results.extend(rs)
        if on_cell:
            on_cell(cell, rs)
    return results
