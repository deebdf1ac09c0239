"""Where a trace step goes on a sequence chart: its lane (Host, Memory, Guest) and its kind.

Both renderings of a counterexample, the Mermaid diagram and the HTML viewer, draw the
same chart; they take each step's kind from here, so that they cannot disagree. The model
declares each action's kind (read, write, fence, flush, ...); a step's words are only a
fallback, for a step the model calls plain (a read whose value a hostile peer decides) or
a trace whose cell cannot be built in this process.
"""
from __future__ import annotations

import functools
import re
from typing import Any

#: The kinds the model declares that the chart draws as they are.
DRAWN = ("read", "write", "fence", "flush", "sync", "tick")
#: Words of a step that reads shared memory; matched before the barrier words, since
#: "return ret (read with no read barrier)" is a read.
_READ_WORDS = re.compile(r"\bread\b|\bpoll\b|\bspin\b|\breturn ret\b|the peer decides")
_FENCE_WORDS = ("barrier", "smp_wmb", "wmb", "rmb", "mb()")


@functools.lru_cache(maxsize=64)
def action_kinds(variant: str, memory: str, guest: str, host: str) -> dict[str, str]:
    """Each action's kind as the model declares it; empty when the cell cannot be built here
    (a user's variant not loaded in this process, say)."""
    from .protocol import Bounds, build

    try:
        return {a.name: a.kind for a in build(variant, memory, guest, host, Bounds()).system.actions}
    except Exception:  # noqa: BLE001 - any failure means: guess from the words
        return {}


def kinds_of(result: Any) -> dict[str, str]:
    """The action kinds of a result's cell (a dict from JSON or a Result object)."""
    get = result.get if isinstance(result, dict) else (lambda k, d=None: getattr(result, k, d))
    return action_kinds(*(str(get(k)) for k in ("variant", "memory", "guest", "host")))


def step_kind(step: dict, kinds: dict[str, str] | None = None) -> str:
    """read, write, fence, flush, sync, tick or step."""
    if step.get("kind"):
        return step["kind"]
    declared = (kinds or {}).get(str(step.get("action")), "")
    if declared in DRAWN:
        return declared
    name = step.get("action", "")
    text = str(step.get("text", "")).lower()
    if name.startswith("flush:"):
        return "flush"
    if name.startswith("sync:"):
        return "sync"
    if name == "tick" or step.get("actor") == "time":
        return "tick"
    if _READ_WORDS.search(text):
        return "read"
    if any(w in text for w in _FENCE_WORDS) and "=" not in text:
        return "fence"
    if re.search(r"\w+\s*=\s*\S", text) or text.startswith("write"):
        return "write"
    return "step"


def lane(step: dict, kind: str) -> str:
    """Host, Memory or Guest."""
    if kind in ("flush", "sync"):
        return "Memory"
    actor = step.get("actor", "")
    if actor in ("host", "guest"):
        return actor.capitalize()
    return "Memory" if actor == "memory" else "Host"
