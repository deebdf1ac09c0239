"""Breadth-first explicit-state exploration with minimal counterexamples.

States are tuples of integers hashed into a dict; each new state remembers its
parent and the action that reached it, so the first state found violating a
monitor gives a shortest trace (BFS). One exploration checks every monitor of
the system at once.
"""
from __future__ import annotations

import time
from typing import Callable, Collection, Sequence

import attrs

from .system import Compiled


@attrs.define
class Found:
    monitor: int
    state_id: int
    depth: int


@attrs.define
class Exploration:
    states: int
    depth: int  # deepest level fully explored
    exhausted: bool  # no new state at depth+1: every reachable state seen (within the model's own bounds)
    stopped: str  # why exploration ended: "exhausted", "depth", "all-found", "all-fired", "states", "time"
    seconds: float
    found: dict[int, Found]
    transitions: int
    #: fired[i] is 1 when action i fired in some explored transition (or in the initial
    #: state's local steps): the coverage of the model by the explored runs
    fired: bytes = attrs.field(repr=False)
    trail_states: list[tuple] = attrs.field(repr=False)
    trail_parent: list[int] = attrs.field(repr=False)
    trail_via: list[tuple[int, tuple]] = attrs.field(repr=False)

    def path(self, state_id: int) -> list[tuple[tuple[int, tuple] | None, tuple]]:
        """[(None, s0), ((action, params), s1), ...] from the initial state."""
        out = []
        sid = state_id
        while sid >= 0:
            out.append((self.trail_via[sid] if self.trail_parent[sid] >= 0 else None, self.trail_states[sid]))
            sid = self.trail_parent[sid]
        out.reverse()
        return out


def explore(
    compiled: Compiled,
    depth: int,
    monitors: Sequence[int] | None = None,
    max_states: int = 5_000_000,
    progress: Callable[[int, int], None] | None = None,
    stop_when_all_found: bool = True,
    time_limit: float | None = None,
    until_fired: Sequence[Collection[int]] | None = None,
) -> Exploration:
    """Explore up to ``depth`` steps; record the shortest violation of each monitor.

    Stops early (and says why in ``stopped``) when every monitor is violated,
    when ``max_states`` or ``time_limit`` is reached; ``depth`` is then the
    last level explored completely, so "holds to depth k" stays true. With
    ``until_fired`` (groups of action indexes), also stops ("all-fired") once
    some action of each group has fired: reachability answered by witness runs.
    """
    t0 = time.perf_counter()
    hits = compiled.hits
    hits[:] = bytes(len(hits))
    wanted = list(range(len(compiled.bad))) if monitors is None else list(monitors)
    bad = [(m, compiled.bad[m]) for m in wanted]
    init = compiled.initial()
    seen: dict[tuple, int] = {init: 0}
    states = [init]
    parent = [-1]
    via: list[tuple[int, tuple]] = [(-1, ())]
    found: dict[int, Found] = {}

    def check(sid: int, s: tuple, d: int) -> None:
        for m, f in bad:
            if m not in found and f(s):
                found[m] = Found(m, sid, d)

    check(0, init, 0)
    frontier = [0]
    level = 0
    transitions = 0
    successors = compiled.successors
    exhausted = False
    stopped = "depth"
    deadline = None if time_limit is None else t0 + time_limit
    groups = [list(g) for g in until_fired or ()]
    while level < depth:
        if stop_when_all_found and len(found) == len(bad):
            stopped = "all-found"
            break
        if groups and all(any(hits[a] for a in g) for g in groups):
            stopped = "all-fired"
            break
        nxt: list[int] = []
        cut = False
        for n, sid in enumerate(frontier):
            if len(states) > max_states:
                stopped, cut = "states", True
                break
            if deadline is not None and n % 256 == 0 and time.perf_counter() > deadline:
                stopped, cut = "time", True
                break
            s = states[sid]
            for ai, ps, t in successors(s):
                transitions += 1
                if t in seen:
                    continue
                tid = len(states)
                seen[t] = tid
                states.append(t)
                parent.append(sid)
                via.append((ai, ps))
                nxt.append(tid)
                check(tid, t, level + 1)
        if cut:
            # level+1 is incomplete: a violation found there is still real (and, being
            # at the first level not finished, still of minimal length)
            break
        level += 1
        if progress:
            progress(level, len(states))
        if not nxt:
            exhausted, stopped = True, "exhausted"
            break
        frontier = nxt
    return Exploration(
        states=len(states),
        depth=level,
        exhausted=exhausted,
        stopped=stopped,
        seconds=time.perf_counter() - t0,
        found=found,
        transitions=transitions,
        fired=bytes(hits),
        trail_states=states,
        trail_parent=parent,
        trail_via=via,
    )


def reachable(compiled: Compiled, predicate: Callable[[tuple], bool], depth: int = 10_000) -> bool:
    """Is some state satisfying ``predicate`` reachable? (Used by the litmus tests.)"""
    init = compiled.initial()
    if predicate(init):
        return True
    seen = {init}
    frontier = [init]
    for _ in range(depth):
        nxt = []
        for s in frontier:
            for _ai, _ps, t in compiled.successors(s):
                if t not in seen:
                    if predicate(t):
                        return True
                    seen.add(t)
                    nxt.append(t)
        if not nxt:
            return False
        frontier = nxt
    return False
