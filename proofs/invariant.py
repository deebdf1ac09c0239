"""A named strengthening invariant, the set proved for a cell, and their stored (JSON) form.

The data the proof modules pass around, below all of them: mining
(:mod:`.mining`) and the hand-written lemmas (:mod:`.lemmas`) produce
:class:`Invariant` candidates, Houdini (:mod:`.houdini`) keeps the inductive
ones, the store (:mod:`.store`) writes them as JSON and the engines read a
:class:`Proved` set back.
"""
from __future__ import annotations

from typing import Any

import attrs
import z3

from mhmailbox.model.expr import C, Expr


@attrs.frozen
class Invariant:
    """A candidate fact about every reachable state, named so a reader can check it
    (thread position, relation)."""

    name: str
    expr: Expr


@attrs.define
class Proved:
    """The invariants of a cell that are inductive together for the model at hand."""

    names: list
    exprs: list
    sym: Any = None
    dropped: int = 0

    def formula(self, s):
        memo: dict = {}
        return z3.And([self.sym.to_z3(e, s, None, memo) for e in self.exprs]) if self.exprs else z3.BoolVal(True)


def to_json(e: Expr) -> Any:
    if e.op in ("var", "param"):
        return [e.op, e.args[0]]
    if e.op == "const":
        return e.args[0]
    return [e.op] + [to_json(a) for a in e.args]


def from_json(x: Any) -> Expr:
    if isinstance(x, int):
        return C(x)
    op = x[0]
    if op in ("var", "param"):
        return Expr(op, (x[1],))
    return Expr(op, tuple(from_json(a) for a in x[1:]))


def cell_key(model) -> str:
    """The store's key of a cell: variant, memory model, guest, host, store-buffer size."""
    return f"{model.variant}/{model.memory}/{model.guest}/{model.host}/sb={model.bounds.capacity}"
