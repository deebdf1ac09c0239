"""Counterexamples as step objects, and their readable rendering.

A step object is plain JSON: who moved, what the step does (the protocol's own
words), the choices it made, and the state after it: shared memory, store
buffers (and stale views under ``relaxed``), the clock. Every engine decodes
its counterexamples into these objects, and ``replay`` reads them back.
"""
from __future__ import annotations

from typing import Any

from . import values as val
from .protocol import Model


def show_value(field: str, v: int) -> str:
    if field == "cmd":
        return val.CMD_NAMES.get(v, str(v))
    if field == "gpa":
        return val.GPA_NAMES.get(v, str(v))
    if field == "io":
        return val.page_name(v)
    if field == "hdr_len" and v > 0xFFFF:
        return hex(v)
    return str(v)


def _origin(ghost: int) -> str:
    if ghost == 0:
        return "init"
    if ghost == 1:
        return "guest"
    cmd, by_guest = divmod(ghost, 2)
    return f"{'guest' if by_guest else 'host'}#{cmd}"


def state_view(model: Model, state: tuple, system=None) -> dict[str, Any]:
    """The parts of a state a reader needs, by name (``system``: the reduced one explored)."""
    system = system or model.system
    env = system.env(state)
    fields = model.memory_model.fields
    out: dict[str, Any] = {
        "memory": {f: show_value(f, env[f"m.{f}"]) for f in fields},
        "written_by": {f: _origin(env[f"mg.{f}"]) for f in fields},
    }
    if model.memory_model.buffered:
        bufs: dict[str, list] = {}
        views: dict[str, dict] = {}
        for t in model.threads.values():
            n = env[f"{t.name}.sb.n"]
            entries = []
            for i in range(n):
                f = fields[env[f"{t.name}.sb{i}.f"] - 1]
                entry = [f, show_value(f, env[f"{t.name}.sb{i}.v"])]
                if model.memory == "relaxed" and i > 0 and env[f"{t.name}.sb{i}.o"]:
                    entry.append("after-wmb")
                entries.append(entry)
            bufs[t.name] = entries
            if model.memory == "relaxed":
                stale = {f: show_value(f, env[f"{t.name}.view.{f}"]) for f in sorted(t.reads)
                         if env[f"{t.name}.view.{f}"] != env[f"m.{f}"] or env[f"{t.name}.viewg.{f}"] != env[f"mg.{f}"]}
                if stale:
                    views[t.name] = stale
        out["buffers"] = bufs
        if model.memory == "relaxed":
            out["stale_views"] = views
    if "host" in model.threads:
        out["clock"] = {"t": env["host.t"], "deadline": model.bounds.deadline, "quantum": model.bounds.quantum}
        out["host_command"] = env["host.id"]  # the command the host is on (ghost number, from 1)
    for name in model.threads:
        out[f"{name}_at"] = model.label(name, env[f"{name}.pc"])
    return out


def decode(model: Model, path: list, compiled=None) -> list[dict[str, Any]]:
    """Step objects for a path [(None, s0), ((action index, params), s1), ...].

    Engines may explore a reduced system (cone of influence); the path's action
    indices and parameters are replayed here on the model's full system, so the
    trace shows every variable, including ghosts the reduction dropped.
    """
    system = model.system
    actions = system.actions
    env = _settle(system, dict(system.variables))
    steps: list[dict[str, Any]] = [{"step": 0, "actor": "init", "action": "init", "text": "initial state",
                                    "params": {}, "then": [], **state_view(model, _tuple(system, env))}]
    for i, (via, _st) in enumerate(path[1:], 1):
        ai, params = via
        act = actions[ai]
        env = _apply(act, env, params)
        chain: list[str] = []
        env = _settle(system, env, chain)
        steps.append({
            "step": i,
            "actor": act.actor,
            "action": act.name,
            "text": act.text,
            "params": {name: v for (name, _), v in zip(act.params, params)},
            "then": chain,
            **state_view(model, _tuple(system, env)),
        })
    return steps


def _tuple(system, env: dict[str, int]) -> tuple:
    return tuple(env[n] for n in system.variables)


def _apply(act, env: dict[str, int], params) -> dict[str, int]:
    from .expr import evaluate

    pmap = {name: v for (name, _), v in zip(act.params, params)}
    if not evaluate(act.guard, env, pmap):
        raise ValueError(f"{act.name} is not enabled here: the trace is not a behaviour of this model")
    new = dict(env)
    for name, e in act.updates:
        new[name] = evaluate(e, env, pmap)
    return new


def _settle(system, env: dict[str, int], chain: list[str] | None = None) -> dict[str, int]:
    """Run local steps (not scheduling points) until none is enabled, as the engines do."""
    from .expr import evaluate

    for _ in range(10000):
        for act in system.actions:
            if act.local and evaluate(act.guard, env):
                env = _apply(act, env, ())
                if chain is not None:
                    chain.append(act.text)
                break
        else:
            return env
    raise RuntimeError("local steps loop forever")


def render_table(steps: list[dict[str, Any]]) -> str:
    """A fixed-width step table: who did what; memory, buffers and clock after.

    ``done=1@guest#3`` reads "done is 1, written by the helper while serving
    command 3" (host#N: written by the host for command N); ``t`` is the host's
    clock in ticks since the command started.
    """
    rows = []
    for s in steps:
        what = s["text"]
        if s["params"]:
            what += " [" + ", ".join(f"{k}={v}" for k, v in s["params"].items()) + "]"
        if s["then"]:
            what += " -> " + "; ".join(s["then"])
        by = s.get("written_by", {})
        mem = " ".join(f"{k}={v}" + (f"@{by[k]}" if k in ("ret", "done", "io") and by.get(k, "init") != "init" else "")
                       for k, v in s["memory"].items())
        extra = []
        for who, entries in (s.get("buffers") or {}).items():
            if entries:
                extra.append(f"{who}.sb=[" + ", ".join(f"{e[0]}={e[1]}" + ("|wmb" if len(e) > 2 else "") for e in entries) + "]")
        for who, stale in (s.get("stale_views") or {}).items():
            extra.append(f"{who} sees stale " + ",".join(f"{k}={v}" for k, v in stale.items()))
        clock = f"t={s['clock']['t']} host on #{s['host_command']}" if "clock" in s else ""
        rows.append((str(s["step"]), s["actor"], what, mem + ("  " + "  ".join(extra) if extra else ""), clock))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    out = []
    for r in rows:
        out.append(f"  {r[0]:>{w0}}  {r[1]:<{w1}}  {r[2]}")
        out.append(f"  {'':>{w0}}  {'':<{w1}}      | {r[3]} {r[4]}".rstrip())
    return "\n".join(out)
