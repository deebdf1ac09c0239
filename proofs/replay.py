"""Replay a saved counterexample on the executable model.

A trace (the step objects ``verify --json`` prints, from any engine) is re-run
on the explicit model's compiled successor function: at each step the action
is looked up by name among the enabled successors, with the recorded
parameters, and the state after it is compared with what the trace recorded
(memory, provenance, store buffers, stale views, clock, thread positions). The
trace is *confirmed* when every step is enabled, every recorded state matches
and the last state violates the property.
"""
from __future__ import annotations

import re
from typing import Any

import attrs

from mhmailbox.model.properties import BY_ID
from mhmailbox.model.protocol import Bounds, build
from mhmailbox.model.trace import state_view

from .symbolic import EXACT, Generalize, step_state

COMPARED = ("memory", "written_by", "buffers", "stale_views", "clock")


class Malformed(ValueError):
    """The file is not a trace this command can read."""


@attrs.define
class Outcome:
    confirmed: bool
    property: str
    cell: str
    steps: int
    diverged_at: int | None = None
    message: str = ""


def results_in(doc: Any) -> list[dict]:
    """The result objects of a ``verify --json`` document (or a single result)."""
    if isinstance(doc, dict) and "results" in doc:
        rs = doc["results"]
        if not isinstance(rs, list):
            raise Malformed("'results' is not a list")
        return [r for r in rs if isinstance(r, dict)]
    if isinstance(doc, dict):
        return [doc]
    raise Malformed("expected a JSON object (one result, or {\"results\": [...]})")


def bounds_of(result: dict) -> tuple[Bounds, Generalize]:
    """The bounds the trace was found under, and how a Z3 engine's model widened them."""
    trace = result.get("trace") or []
    rec = trace[0].get("bounds") if trace and isinstance(trace[0], dict) else None
    fields = {f.name for f in attrs.fields(Bounds)}
    if isinstance(rec, dict):
        kw = {k: v for k, v in rec.items() if k in fields}
        if "scripts" in kw:
            kw["scripts"] = tuple(kw["scripts"])
        gen = Generalize(free_time=bool(rec.get("symbolic_time")),
                         unbounded_adversary=bool(rec.get("unbounded_adversary")),
                         free_values=bool(rec.get("free_values")))
        return Bounds(**kw), gen
    text = str(result.get("bound", ""))
    kw: dict[str, Any] = {}
    for key, pat, conv in (("scripts", r"scripts=([\w+]+)", lambda s: tuple(s.split("+"))),
                           ("deadline", r"\bD=(\d+)", int), ("quantum", r"\bQ=(\d+)", int),
                           ("capacity", r"\bsb=(\d+)", int)):
        m = re.search(pat, text)
        if m and key in fields:
            kw[key] = conv(m.group(1))
    return Bounds(**kw), EXACT


def _check_shape(result: dict) -> None:
    for key in ("variant", "memory", "guest", "host", "property"):
        if not isinstance(result.get(key), str):
            raise Malformed(f"result has no {key!r}")
    trace = result.get("trace")
    if not isinstance(trace, list) or not trace:
        raise Malformed(f"{result['property']}: the result has no trace to replay")
    for i, st in enumerate(trace):
        if not isinstance(st, dict) or not isinstance(st.get("action"), str) or not isinstance(st.get("params", {}), dict):
            raise Malformed(f"trace step {i} is not a step object (needs 'action' and 'params')")
    if result["property"] not in BY_ID:
        raise Malformed(f"unknown property {result['property']!r}")


def _diff(recorded: dict, actual: dict) -> str | None:
    for key in COMPARED + tuple(k for k in recorded if k.endswith("_at")):
        if key not in recorded:
            continue
        a, b = recorded[key], actual.get(key)
        if key == "clock" and isinstance(a, dict) and isinstance(b, dict):
            if a.get("t") != b.get("t"):
                return f"clock t recorded {a.get('t')}, model {b.get('t')}"
            continue
        if _norm(a) != _norm(b):
            if isinstance(a, dict) and isinstance(b, dict):
                for k in sorted(set(a) | set(b)):
                    if _norm(a.get(k)) != _norm(b.get(k)):
                        return f"{key}.{k} recorded {a.get(k)!r}, model {b.get(k)!r}"
            return f"{key} recorded {a!r}, model {b!r}"
    return None


def _norm(x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return [_norm(v) for v in x]
    if isinstance(x, dict):
        return {k: _norm(v) for k, v in x.items()}
    return x


def replay(result: dict) -> Outcome:
    _check_shape(result)
    prop = BY_ID[result["property"]]
    cell = (result["variant"], result["memory"], result["guest"], result["host"])
    label = " / ".join(cell)
    try:
        bounds, gen = bounds_of(result)
        model = build(*cell, bounds)
        if bounds.symbolic_time:
            from .symbolic import with_initial

            model = attrs.evolve(model, system=with_initial(model.system, {"k.D": bounds.deadline,
                                                                          "k.Q": bounds.quantum}))
    except (ValueError, KeyError, TypeError) as exc:
        raise Malformed(f"cannot rebuild the model for {label}: {exc}") from None
    if prop not in model.properties:
        raise Malformed(f"{prop.id} does not apply to {label}")
    compiled = model.system.compile()  # the full system: traces show every variable
    mi = model.properties.index(prop)
    actions = compiled.system.actions
    by_name: dict[str, int] = {a.name: i for i, a in enumerate(actions)}
    trace = result["trace"]
    steps = len(trace) - 1
    state = compiled.initial()
    d = _diff(trace[0], state_view(model, state))
    if d:
        return Outcome(False, prop.id, label, steps, 0, f"initial state differs: {d}")
    for i, st in enumerate(trace[1:], 1):
        name = st["action"]
        if name not in by_name:
            return Outcome(False, prop.id, label, steps, i, f"step {i}: no action named {name!r} in this model")
        act = actions[by_name[name]]
        try:
            params = tuple(int(st["params"][p]) for p, _ in act.params)
        except (KeyError, TypeError, ValueError):
            raise Malformed(f"step {i} ({name}): parameters {st['params']!r} do not match the action's "
                            f"{[p for p, _ in act.params]}") from None
        matches = [nxt for ai, ps, nxt in compiled.successors(state) if ai == by_name[name] and tuple(ps) == params]
        if not matches and gen.any:
            nxt = step_state(compiled, state, by_name[name], params, gen)
            matches = [nxt] if nxt is not None else []
        if not matches:
            return Outcome(False, prop.id, label, steps, i,
                           f"step {i}: {name} {dict(st['params'])} is not enabled here")
        nxt = matches[0]
        d = _diff(st, state_view(model, nxt))
        if d:
            return Outcome(False, prop.id, label, steps, i, f"step {i} ({name}): state differs: {d}")
        state = nxt
    if not compiled.bad[mi](state):
        return Outcome(False, prop.id, label, steps, steps, f"the trace ends without violating {prop.id}")
    return Outcome(True, prop.id, label, steps, None, f"confirmed: {prop.id} violated after {steps} steps")
