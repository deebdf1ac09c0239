"""Replay a saved counterexample on the executable model.

A trace (the step objects ``verify --json`` prints, from any engine, or the same
trace in ITF, ``verify --trace-format itf``) is re-run
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

from mhmailbox.errors import UsageError
from mhmailbox.model.properties import Property
from mhmailbox.model.protocol import SCRIPTS, Bounds, Model, build, variant_catalog, variant_class
from mhmailbox.model.trace import decode

from .symbolic import EXACT, Generalize, step_state

#: Fields of a result that describe the search that found the trace, not the trace: a
#: replay neither needs nor checks them, and says so (``mhmailbox replay`` lists them).
IGNORED = ("engine", "states", "seconds", "exhaustive", "note", "unreached", "coverage")
#: Fields a replay checks: the cell and property it rebuilds, the verdict, the trace's
#: length, its bounds (the ``bound`` text and the ``bounds`` record agree), every step.
CHECKED = ("property", "variant", "memory", "guest", "host", "verdict", "depth", "bound", "trace")


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
    """The result objects of a ``verify --json`` document (or a single result), or of an
    ITF trace (or a list of them, as ``verify --trace-format itf`` writes)."""
    from mhmailbox.model.itf import ItfError, is_itf, results_from_itf

    if is_itf(doc):
        try:
            return results_from_itf(doc)
        except ItfError as exc:
            raise Malformed(f"not an ITF trace of a counterexample: {exc}") from None
    if isinstance(doc, dict) and "results" in doc:
        rs = doc["results"]
        if not isinstance(rs, list):
            raise Malformed("'results' is not a list")
        return [r for r in rs if isinstance(r, dict)]
    if isinstance(doc, dict):
        return [doc]
    if doc == []:  # what verify --trace-format itf writes when no property is violated
        raise Malformed("an empty list: no trace to replay (verify --trace-format itf found no violation)")
    raise Malformed("expected a JSON object (one result, or {\"results\": [...]})")


def bounds_record(bounds: Bounds, gen: Generalize) -> dict[str, Any]:
    """The ``bounds`` object a trace's first step carries (the Z3 engines' format)."""
    rec: dict[str, Any] = {"scripts": list(bounds.scripts), "deadline": bounds.deadline, "quantum": bounds.quantum,
                           "capacity": bounds.capacity, "symbolic_time": bounds.symbolic_time,
                           "unbounded_adversary": gen.unbounded_adversary, "free_values": gen.free_values}
    if bounds.helper_first:
        rec["helper_first"] = True
    return rec


def describe_bounds(bounds: Bounds, host: str) -> str:
    """The ``bound`` text a result carries for these bounds."""
    if bounds.symbolic_time or bounds.scripts == ("any",):
        from .engines import describe_general

        return describe_general(bounds, host)
    return bounds.describe(host)


def bounds_of(result: dict) -> tuple[Bounds, Generalize]:
    """The bounds the trace was found under, and how a Z3 engine's model widened them:
    from the first step's ``bounds`` record, else from the result's ``bound`` text."""
    trace = result.get("trace") or []
    rec = trace[0].get("bounds") if trace and isinstance(trace[0], dict) else None
    if rec is not None:
        if not isinstance(rec, dict):
            raise Malformed("step 0: 'bounds' is not an object")
        fields = {f.name for f in attrs.fields(Bounds)}
        kw = {k: v for k, v in rec.items() if k in fields}  # other keys: refuted by the step-0 comparison
        if "scripts" in kw:
            if not isinstance(kw["scripts"], list):
                raise Malformed("step 0: bounds 'scripts' is not a list")
            kw["scripts"] = tuple(kw["scripts"])
        gen = Generalize(free_time=bool(rec.get("symbolic_time")),
                         unbounded_adversary=bool(rec.get("unbounded_adversary")),
                         free_values=bool(rec.get("free_values")))
        return _checked(Bounds(**kw)), gen
    text = str(result.get("bound", ""))
    kw: dict[str, Any] = {"helper_first": text.endswith(", helper first")}
    for key, pat, conv in (("scripts", r"scripts=([\w+]+)", lambda s: tuple(s.split("+"))),
                           ("deadline", r"\bD=(\d+)", int), ("quantum", r"\bQ=(\d+)", int),
                           ("capacity", r"\bsb=(\d+)", int)):
        m = re.search(pat, text)
        if m:
            kw[key] = conv(m.group(1))
    return _checked(Bounds(**kw)), EXACT


def _checked(bounds: Bounds) -> Bounds:
    """Bounds within what ``verify`` accepts (a huge buffer would take forever to build)."""
    from mhmailbox.model.engines import MAX_BUFFER, MAX_TICKS

    for name, limit in (("deadline", MAX_TICKS), ("quantum", MAX_TICKS), ("capacity", MAX_BUFFER)):
        v = getattr(bounds, name)
        if type(v) is not int or not 1 <= v <= limit:
            raise Malformed(f"bounds {name} {v!r} is not an integer from 1 to {limit}")
    if not bounds.scripts or any(s not in SCRIPTS for s in bounds.scripts):
        raise Malformed(f"bounds scripts {list(bounds.scripts)!r}: known scripts are {', '.join(SCRIPTS)}")
    return bounds


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


def _property(result: dict) -> Property:
    """The result's property, from its variant's catalog (a user variant's own properties too)."""
    try:
        catalog = {p.id: p for p in variant_catalog(variant_class(result["variant"]))}
    except UsageError as exc:  # an unknown variant, or a user variant not given with --variant
        if not str(exc).startswith("unknown variant "):
            raise Malformed(str(exc)) from None
        raise Malformed(f"unknown variant {result['variant']!r}: not rfc, hardened or broken:NAME; the trace of a "
                        "variant of your own replays with --variant PATH.py:Class (docs/variants.md)") from None
    if result["property"] not in catalog:
        raise Malformed(f"unknown property {result['property']!r}")
    return catalog[result["property"]]


def _result_difference(result: dict, bounds: Bounds) -> str | None:
    """A field of the result that does not match its trace, or one replay does not know."""
    unknown = sorted(set(result) - set(CHECKED) - set(IGNORED))
    if unknown:
        return f"unknown field(s) {', '.join(map(repr, unknown))} (not written by verify --json)"
    steps = len(result["trace"]) - 1
    if "depth" in result and result["depth"] != steps:
        return f"depth recorded {result['depth']!r}, the trace has {steps} steps"
    if "bound" in result:
        want = describe_bounds(bounds, result["host"])
        if result["bound"] != want:
            return f"bound recorded {result['bound']!r}, the trace's bounds are {want!r}"
    return None


def _difference(recorded: Any, expected: Any, where: str) -> str | None:
    """The first place where a recorded value differs from the model's (every key compared)."""
    if isinstance(recorded, dict) and isinstance(expected, dict):
        for k in list(expected) + [k for k in recorded if k not in expected]:
            at = f"{where}.{k}" if where else k
            if k not in recorded:
                return f"{at} missing (the model has {expected[k]!r})"
            if k not in expected:
                return f"{at} is not a field of a trace step"
            d = _difference(recorded[k], expected[k], at)
            if d:
                return d
        return None
    if _norm(recorded) != _norm(expected) or type(recorded) is bool and type(expected) is not bool:
        return f"{where} recorded {recorded!r}, model {expected!r}"
    return None


def _norm(x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return [_norm(v) for v in x]
    if isinstance(x, dict):
        return {k: _norm(v) for k, v in x.items()}
    return x


def replay(result: dict) -> Outcome:
    """Re-run one result's trace on the model rebuilt from its cell and bounds.

    Confirmed only when every field the result records matches (``IGNORED`` aside):
    the bounds text and record agree, each step is enabled with its parameters, and
    each step object equals, key by key, the one the model produces for it (actor,
    text, local steps that follow, memory, provenance, buffers, clock with its
    deadline and quantum, thread positions); the last state violates the property.
    """
    _check_shape(result)
    prop = _property(result)
    cell = (result["variant"], result["memory"], result["guest"], result["host"])
    label = " / ".join(cell)
    trace = result["trace"]
    steps = len(trace) - 1
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
    d = _result_difference(result, bounds)
    if d:
        return Outcome(False, prop.id, label, steps, None, d)
    compiled = model.system.compile()  # the full system: traces show every variable
    mi = model.properties.index(prop)
    actions = compiled.system.actions
    by_name: dict[str, int] = {a.name: i for i, a in enumerate(actions)}
    state = compiled.initial()
    path: list = [(None, state)]
    stuck: Outcome | None = None
    for i, st in enumerate(trace[1:], 1):
        name = st["action"]
        if name not in by_name:
            stuck = Outcome(False, prop.id, label, steps, i, f"step {i}: no action named {name!r} in this model")
            break
        act = actions[by_name[name]]
        try:
            params = tuple(int(st["params"][p]) for p, _ in act.params)
        except (KeyError, TypeError, ValueError):
            raise Malformed(f"step {i} ({name}): parameters {st.get('params')!r} do not match the action's "
                            f"{[p for p, _ in act.params]}") from None
        matches = [nxt for ai, ps, nxt in compiled.successors(state) if ai == by_name[name] and tuple(ps) == params]
        if not matches and gen.any:
            nxt = step_state(compiled, state, by_name[name], params, gen)
            matches = [nxt] if nxt is not None else []
        if not matches:
            stuck = Outcome(False, prop.id, label, steps, i, f"step {i}: {name} {dict(st['params'])} is not enabled here")
            break
        state = matches[0]
        path.append(((by_name[name], params), state))
    d = _steps_difference(model, trace, path, gen, bounds)
    if d:
        return Outcome(False, prop.id, label, steps, d[0], d[1])
    if stuck:
        return stuck
    if not compiled.bad[mi](state):
        return Outcome(False, prop.id, label, steps, steps, f"the trace ends without violating {prop.id}")
    return Outcome(True, prop.id, label, steps, None, f"confirmed: {prop.id} violated after {steps} steps")


def _steps_difference(model: Model, trace: list[dict], path: list, gen: Generalize,
                      bounds: Bounds) -> tuple[int, str] | None:
    """The first recorded step (of those the walk reached) that differs from the model's own."""
    try:
        expected = decode(model, path)
    except ValueError as exc:  # a generalized step the model's own guards refuse
        return len(path) - 1, str(exc)
    kinds = {a.name: a.kind for a in model.system.actions}
    for i, (rec, exp) in enumerate(zip(trace, expected)):
        if i == 0 and "bounds" in rec:  # the Z3 engines', and verify --json's, record of the bounds
            exp["bounds"] = bounds_record(bounds, gen)
        if i > 0 and "kind" in rec:  # the Z3 engines' hint for drawing the step
            exp["kind"] = kinds.get(exp["action"], "step")
        d = _difference(rec, exp, "")
        if d:
            what = "initial state" if i == 0 else f"step {i} ({exp['action']})"
            return i, f"{what} differs: {d}"
    return None
