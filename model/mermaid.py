"""A counterexample as a Mermaid sequence diagram (renders on GitHub).

Participants: Host, Memory, Guest. A thread's write is an arrow to Memory,
a read an arrow back from Memory, a barrier a note over the thread; a store
buffer flush or a view sync is a note over Memory; a clock tick a note over
Host. Local steps fused after a step follow it in the same message. The
violated property closes the diagram.
"""
from __future__ import annotations

import re
from typing import Any

from .chart import kinds_of, lane, step_kind

PARTICIPANTS = (("host", "Host"), ("memory", "Memory"), ("guest", "Guest"))


def _get(result: Any, key: str, default: Any = None) -> Any:
    if isinstance(result, dict):
        return result.get(key, default)
    return getattr(result, key, default)


def _clean(text: str) -> str:
    """Mermaid treats ';' and '#' specially inside messages, and a newline ends one."""
    text = str(text).replace(";", ",").replace("#", "no.").replace("\n", " ")
    text = text.replace("-->>", "->").replace("->>", "->").replace("%%", "%")
    return re.sub(r"\s+", " ", text).strip()


def render_mermaid(result: Any) -> str:
    steps = _get(result, "trace") or []
    prop = _get(result, "property", "?")
    lines = ["sequenceDiagram"]
    for _, label in PARTICIPANTS:
        lines.append(f"    participant {label}")
    cell = " / ".join(str(_get(result, k, "?")) for k in ("variant", "memory", "guest", "host"))
    lines.append(f"    Note over Host,Guest: {_clean(cell)} ({_clean(_get(result, 'engine', '?'))}), "
                 f"bounds {_clean(_get(result, 'bound', ''))}")
    prev_mem: dict = {}
    kinds = kinds_of(result)
    for st in steps:
        if st.get("step") == 0 or st.get("action") == "init":
            prev_mem = dict(st.get("memory") or {})
            mem = ", ".join(f"{k}={v}" for k, v in prev_mem.items())
            lines.append(f"    Note over Memory: initial: {_clean(mem)}")
            continue
        n = st.get("step")
        text = st.get("text", "")
        if st.get("params"):
            text += " [" + ", ".join(f"{k}={v}" for k, v in st["params"].items()) + "]"
        if st.get("then"):
            text += ", then: " + ", ".join(st["then"])
        mem = st.get("memory") or {}
        changed = {k: v for k, v in mem.items() if prev_mem.get(k) != v}
        prev_mem = dict(mem)
        if changed:
            text += " {" + ", ".join(f"{k}={v}" for k, v in changed.items()) + "}"
        msg = _clean(f"{n}. {text}")
        kind = step_kind(st, kinds)
        who = lane(st, kind)
        if kind in ("flush", "sync"):
            lines.append(f"    Note over Memory: {msg}")
        elif kind == "tick":
            clock = st.get("clock") or {}
            extra = f" (t={clock.get('t')}, D={clock.get('deadline')}, Q={clock.get('quantum')})" if clock else ""
            lines.append(f"    Note over Host: {msg} {_clean(extra)}".rstrip())
        elif who == "Memory":
            lines.append(f"    Note over Memory: {msg}")
        elif kind == "write":
            lines.append(f"    {who}->>Memory: {msg}")
        elif kind == "read":
            lines.append(f"    Memory-->>{who}: {msg}")
        else:
            lines.append(f"    Note over {who}: {msg}")
    n = len(steps) - 1 if steps else 0
    lines.append(f"    Note over Host,Guest: VIOLATED {_clean(prop)} after {n} steps")
    return "\n".join(lines) + "\n"
