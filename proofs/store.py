"""Where proved invariant sets are kept, and the set a ``kind``/``pdr`` run starts from.

Two stores, JSON files of the same shape (cell key -> ``[[name, expr], ...]``,
and ``_fingerprints``: cell key -> the fingerprint of the model the set was
proved inductive for):

* the package's ``invariants.json`` beside this file, for the built-in variants,
  written by maintainers (``python -m mhmailbox.proofs.invariants``);
* the user's, written by ``mhmailbox prove``: ``$MHMAILBOX_INVARIANTS`` if set,
  else ``$XDG_DATA_HOME/mhmailbox/proved-invariants.json`` (``~/.local/share``
  when ``XDG_DATA_HOME`` is unset).

A run reads the user's store first: its set for a cell wins over the package's.
A set whose fingerprint matches the model at hand is reused as proved; any other
is re-proved by Houdini within the run's time limit, so a stale set costs time,
never soundness.
"""
from __future__ import annotations

import fcntl
import json
import os
from typing import Any, Sequence

from mhmailbox.model.properties import CATALOG
from mhmailbox.errors import UsageError
from mhmailbox.outfiles import write_atomically

from .general import general_model
from .houdini import fingerprint, houdini
from .invariant import Invariant, Proved, cell_key, from_json, to_json
from .lemmas import lemmas
from .symbolic import UNBOUNDED, Symbolic

PACKAGE_STORE = os.path.join(os.path.dirname(__file__), "invariants.json")
USER_STORE_ENV = "MHMAILBOX_INVARIANTS"

#: fingerprint of a candidate set -> (the inductive subset Houdini kept, finished)
_CACHE: dict[str, tuple[list[Invariant], bool]] = {}


def user_store() -> str:
    """The path of the user's store (see the module docstring)."""
    if os.environ.get(USER_STORE_ENV):
        return os.environ[USER_STORE_ENV]
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "mhmailbox", "proved-invariants.json")


def load(path: str | None = None) -> dict:
    """A store's contents (default: the package's); empty when it does not exist or is not a store."""
    path = PACKAGE_STORE if path is None else path
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save(data: dict, path: str | None = None) -> None:
    """Write a store whole (default: the package's; a temporary file, then a rename), creating its directory."""
    path = PACKAGE_STORE if path is None else path
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_atomically(path, json.dumps(data, indent=0, sort_keys=True) + "\n")


def save_cell(path: str, model, sym, invs: Sequence[Invariant]) -> None:
    """Record one cell's proved set in the store at ``path``: read, update and write under an
    exclusive lock (``path``.lock), so that parallel ``prove`` workers do not lose each other's."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data = load(path)
            put(data, model, sym, invs)
            save(data, path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def put(data: dict, model, sym, invs: Sequence[Invariant]) -> None:
    """Record ``invs`` as the cell's proved set, with the fingerprint of ``sym``'s model."""
    key = cell_key(model)
    data[key] = [[i.name, to_json(i.expr)] for i in invs]
    data.setdefault("_fingerprints", {})[key] = fingerprint(sym, invs)


def stored(model, data: dict | None = None) -> list[Invariant]:
    """The cell's stored set as written (``data``: the store, already loaded)."""
    return [Invariant(n, from_json(e)) for n, e in (load() if data is None else data).get(cell_key(model), [])]


def stored_cells(data: dict, only: Any = None):
    """(key, generalized model, symbolic model) of every stored cell ``only(key)`` selects."""
    for key in [k for k in data if not k.startswith("_") and (only is None or only(k))]:
        variant, memory, guest, host, _sb = key.split("/")
        model, system, _ = general_model((variant, memory, guest, host), list(CATALOG), None)
        yield key, model, Symbolic(system, UNBOUNDED)


def with_lemmas(model, cands: list[Invariant]) -> list[Invariant]:
    """The candidates plus this cell's hand-written lemmas (:mod:`.lemmas`), in their current form."""
    # stored copies of lemmas may be older versions: the current definitions replace them
    return [c for c in cands if not c.name.startswith("lemma: ")] + lemmas(model)


def stored_candidates(model, entries: list | None) -> list[Invariant]:
    """A cell's stored set as a candidate list: stored order, lemmas in their current form.

    A lemma that Houdini dropped when the set was stored stays out (it is not inductive
    there, so re-adding it would only make every run re-prove the set). With no stored
    set, the candidates are the lemmas alone."""
    current = {lem.name: lem for lem in lemmas(model)}
    if entries is None:
        return list(current.values())
    return [current[n] if n.startswith("lemma: ") else Invariant(n, from_json(e))
            for n, e in entries if not n.startswith("lemma: ") or n in current]


def sources() -> list[str]:
    """The stores a run reads, first match wins: the user's, then the package's."""
    return [user_store(), PACKAGE_STORE]


def lookup(model, sym, paths: Sequence[str] | None = None) -> tuple[list[Invariant] | None, list[Invariant] | None]:
    """The cell's stored sets, from the stores ``paths`` (default :func:`sources`) in order: (the
    first set proved for a model with ``sym``'s fingerprint, or None; the first set stored at all,
    or None), each as a candidate list (:func:`stored_candidates`)."""
    key = cell_key(model)
    srcs = tuple(paths if paths is not None else sources())
    # a run asks twice for the same cell (the engine choosing its model, then the proof): the
    # answer is kept on ``sym`` while the stores are unchanged (a fingerprint costs 0.1-0.4 s)
    memo = sym.__dict__.setdefault("_store_lookups", {})
    asked = (key, id(model), srcs, tuple(_stamp(p) for p in srcs))
    if asked not in memo or memo[asked][0] is not model:
        memo[asked] = (model, _lookup(model, sym, key, srcs))
    return memo[asked][1]


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _lookup(model, sym, key: str, srcs: tuple[str, ...]) -> tuple[list[Invariant] | None, list[Invariant] | None]:
    first = None
    for path in srcs:
        data = load(path)
        if key not in data:
            continue
        try:
            cands = stored_candidates(model, data[key])
            matches = cands and data.get("_fingerprints", {}).get(key) == fingerprint(sym, cands)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:  # a hand-edited store
            raise UsageError(f"the invariant store {path} has a malformed entry {key!r} "
                             f"({type(exc).__name__}: {exc}); move it away") from None
        if matches:
            return cands, first if first is not None else cands
        if first is None:
            first = cands
    return None, first


def proved(sym, model, deadline: float, paths: Sequence[str] | None = None) -> Proved:
    """The stored invariants of this cell that are inductive for this model.

    The first store (of ``paths``, default :func:`sources`) whose set for the cell was
    proved for a model with the same fingerprint (same initial states, transitions and
    invariants) gives it, proof reused; otherwise the first stored set (or the lemmas
    alone) is re-proved by Houdini now, within ``deadline`` (none kept if it cannot finish).
    """
    reused, first = lookup(model, sym, paths)
    if reused is not None:
        return Proved([i.name for i in reused], [i.expr for i in reused], sym)
    cands = first if first is not None else stored_candidates(model, None)
    if not cands:
        return Proved([], [], sym)
    fp = fingerprint(sym, cands)
    if fp in _CACHE:
        invs, ok = _CACHE[fp]
    else:
        invs, ok = houdini(sym, cands, deadline)
        if ok:
            _CACHE[fp] = (invs, ok)
    return Proved([i.name for i in invs], [i.expr for i in invs], sym, dropped=len(cands) - len(invs))
