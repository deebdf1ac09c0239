"""Counterexamples in the Informal Trace Format (ITF), as Apalache and Quint write them.

One ITF trace per counterexample: ``vars`` names the parts of a step object (who
moved, the action, the shared memory, provenance, buffers, clock, positions), each
of ``states`` holds them after a step (``#meta.index`` is the step number), and the
trace's ``#meta`` names the cell, the property and the bounds. Values take ITF's
forms: integers ``{"#bigint": "..."}``, records JSON objects, a store buffer's
entries ``{"#tup": [...]}``, the action's parameters a ``{"#map": [...]}``. So other
tools' ITF readers and viewers show our traces, and :func:`result_from_itf` turns a
trace back into exactly the result ``verify --json`` prints, which ``replay`` checks.
"""
from __future__ import annotations

from typing import Any

#: The ``#meta.format`` we write and read.
FORMAT = "ITF"
FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
#: The result fields carried in the trace's ``#meta.mhmailbox`` record (the trace is in ``states``).
RESULT_FIELDS = ("property", "variant", "memory", "guest", "host", "engine", "verdict", "depth", "bound",
                 "states", "seconds", "exhaustive", "note")


class ItfError(ValueError):
    """A document that is not an ITF trace of ours (the message says where and why)."""


def is_itf(doc: Any) -> bool:
    """An ITF trace (or a list of them): what ``replay`` reads as ITF rather than as ``verify --json``."""
    if isinstance(doc, list):
        return bool(doc) and all(isinstance(d, dict) and "states" in d and "vars" in d for d in doc)
    return isinstance(doc, dict) and "states" in doc and "vars" in doc


# ----------------------------------------------------------------------------- writing
def encode(v: Any, key: str = "") -> Any:
    """A plain JSON value (from a step object) in ITF form. Lists are ITF lists, except a
    store buffer's entries (``key`` ``buffers``), which are tuples; ``params`` is a map."""
    if isinstance(v, bool) or isinstance(v, str):
        return v
    if v is None:  # ITF has no null: its escape for values it cannot express
        return {"#unserializable": "null"}
    if isinstance(v, int):
        return {"#bigint": str(v)}
    if isinstance(v, dict):
        if key == "params":
            return {"#map": [[k, encode(x)] for k, x in v.items()]}
        if key == "buffers":
            return {k: [{"#tup": [encode(e) for e in entry]} for entry in x] for k, x in v.items()}
        return {k: encode(x, k) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [encode(x) for x in v]
    raise TypeError(f"cannot write {type(v).__name__} as ITF")


def to_itf(result: dict[str, Any], source: str = "mhmailbox verify") -> dict[str, Any]:
    """One result of ``verify --json`` (with its trace) as an ITF trace.

    Every state carries every variable (ITF's rule): a key that some step objects lack
    (a Z3 engine's drawing hint ``kind`` on step 0) is listed in ``#meta.absent`` and
    given ``""`` there, so the trace reads back to the very same steps."""
    steps = result.get("trace") or []
    if not steps:
        raise ValueError(f"{result.get('property')}: no trace to write")
    first = dict(steps[0])
    bounds = first.pop("bounds", None)
    names: list[str] = []
    for st in [first, *steps[1:]]:
        names += [k for k in st if k != "step" and k != "bounds" and k not in names]
    absent = [[i, k] for i, st in enumerate(steps) for k in names if k not in st]
    meta: dict[str, Any] = {
        "format": FORMAT, "format-description": FORMAT_DESCRIPTION, "source": source,
        "description": (f"{result.get('property')} {result.get('verdict')}: {result.get('variant')} / "
                        f"{result.get('memory')} / guest {result.get('guest')} / host {result.get('host')}"),
        "mhmailbox": {k: result[k] for k in RESULT_FIELDS if k in result},
    }
    if bounds is not None:
        meta["mhmailbox"]["bounds"] = bounds
    if absent:
        meta["absent"] = absent
    states = []
    for i, st in enumerate(steps):
        state: dict[str, Any] = {"#meta": {"index": i}}
        for k in names:
            state[k] = encode(st[k], k) if k in st else ""
        states.append(state)
    return {"#meta": meta, "vars": names, "states": states}


def document(results: list[dict[str, Any]]) -> Any:
    """What ``verify --trace-format itf`` prints: the one trace, or a list when there are several."""
    traces = [to_itf(r) for r in results]
    return traces[0] if len(traces) == 1 else traces


# ----------------------------------------------------------------------------- reading
def decode(v: Any, where: str) -> Any:
    """An ITF value as plain JSON (tuples as lists, maps with string keys as objects)."""
    if isinstance(v, list):
        return [decode(x, f"{where}[{i}]") for i, x in enumerate(v)]
    if isinstance(v, dict):
        if "#bigint" in v:
            text = v["#bigint"]
            if len(v) != 1 or not isinstance(text, str):
                raise ItfError(f"{where}: a #bigint holds one string")
            try:
                return int(text)
            except ValueError:
                raise ItfError(f"{where}: #bigint {text!r} is not an integer") from None
        if "#tup" in v:
            if len(v) != 1 or not isinstance(v["#tup"], list):
                raise ItfError(f"{where}: a #tup holds one list")
            return [decode(x, f"{where}[{i}]") for i, x in enumerate(v["#tup"])]
        if "#map" in v:
            pairs = v["#map"]
            if len(v) != 1 or not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                raise ItfError(f"{where}: a #map holds a list of [key, value] pairs")
            out = {}
            for i, (k, x) in enumerate(pairs):
                if not isinstance(k, str):
                    raise ItfError(f"{where}: map key {i} is not a string")
                out[k] = decode(x, f"{where}.{k}")
            return out
        if "#unserializable" in v:
            if v != {"#unserializable": "null"}:
                raise ItfError(f"{where}: unsupported #unserializable {v['#unserializable']!r}")
            return None
        if any(k.startswith("#") for k in v):
            raise ItfError(f"{where}: unsupported ITF value {sorted(v)[0]!r}")
        return {k: decode(x, f"{where}.{k}") for k, x in v.items()}
    if isinstance(v, float):
        raise ItfError(f"{where}: a JSON number that is not an integer ({v!r}); ITF integers are #bigint")
    return v


def result_from_itf(doc: Any) -> dict[str, Any]:
    """The ``verify --json`` result an ITF trace of ours holds (ItfError if it is not one)."""
    if not isinstance(doc, dict):
        raise ItfError("an ITF trace is a JSON object")
    meta, names, states = doc.get("#meta"), doc.get("vars"), doc.get("states")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ItfError("'vars' is not a list of names")
    if not isinstance(states, list) or not states:
        raise ItfError("'states' is not a non-empty list")
    if not isinstance(meta, dict) or not isinstance(meta.get("mhmailbox"), dict):
        raise ItfError("#meta has no 'mhmailbox' record (the cell and property): not a trace mhmailbox wrote")
    result = {k: v for k, v in meta["mhmailbox"].items() if k != "bounds"}
    absent = meta.get("absent", [])
    if not isinstance(absent, list) or not all(isinstance(a, list) and len(a) == 2 for a in absent):
        raise ItfError("#meta 'absent' is not a list of [index, name] pairs")
    missing = {(a[0], a[1]) for a in absent}
    trace = []
    for i, state in enumerate(states):
        where = f"state {i}"
        if not isinstance(state, dict):
            raise ItfError(f"{where} is not an object")
        smeta = state.get("#meta")
        if not isinstance(smeta, dict) or smeta.get("index", i) != i:
            raise ItfError(f"{where}: #meta.index is not {i}")
        extra = sorted(set(state) - set(names) - {"#meta"})
        if extra:
            raise ItfError(f"{where}: {extra[0]!r} is not one of 'vars'")
        step: dict[str, Any] = {"step": i}
        for k in names:
            if k not in state:
                raise ItfError(f"{where}: variable {k!r} missing")
            if (i, k) not in missing:
                step[k] = decode(state[k], f"{where}.{k}")
        if i == 0 and "bounds" in meta["mhmailbox"]:
            step["bounds"] = meta["mhmailbox"]["bounds"]
        trace.append(step)
    result["trace"] = trace
    return result


def results_from_itf(doc: Any) -> list[dict[str, Any]]:
    """The results of an ITF document: one trace, or a list of them."""
    docs = doc if isinstance(doc, list) else [doc]
    out = []
    for n, d in enumerate(docs):
        try:
            out.append(result_from_itf(d))
        except ItfError as exc:
            raise ItfError(f"trace {n}: {exc}" if len(docs) > 1 else str(exc)) from None
    return out
