"""A tiny expression language for guards and updates.

The protocol's steps are written once, as guarded updates over named integer
variables built from these nodes. Every engine interprets the same nodes: the
explicit-state checker compiles them to Python (:func:`to_python`), the Z3
engines translate them to terms (``mhmailbox.proofs.symbolic``). Keeping the
language this small (integers, comparisons, boolean connectives, if-then-else)
is what makes "one model, several engines" cheap to keep honest.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping, Union

import attrs

Value = Union["Expr", int, bool]

BOOL_OPS = frozenset({"eq", "ne", "lt", "le", "and", "or", "not", "true", "false"})


@attrs.frozen
class Expr:
    """An expression node: ``op`` with ``args`` (sub-expressions) or a leaf.

    Leaves: ``var`` (args = (name,)), ``const`` (args = (int,)), ``param``
    (args = (name,)): a value chosen by the action (an adversary's write).
    """

    op: str
    args: tuple

    # arithmetic / comparison helpers, so programs read like the prose
    def __add__(self, other: Value) -> "Expr":
        return Expr("add", (self, lift(other)))

    def __sub__(self, other: Value) -> "Expr":
        return Expr("sub", (self, lift(other)))

    def eq(self, other: Value) -> "Expr":
        return Expr("eq", (self, lift(other)))

    def ne(self, other: Value) -> "Expr":
        return Expr("ne", (self, lift(other)))

    def lt(self, other: Value) -> "Expr":
        return Expr("lt", (self, lift(other)))

    def le(self, other: Value) -> "Expr":
        return Expr("le", (self, lift(other)))

    def gt(self, other: Value) -> "Expr":
        return Expr("lt", (lift(other), self))

    def ge(self, other: Value) -> "Expr":
        return Expr("le", (lift(other), self))

    def is_bool(self) -> bool:
        return self.op in BOOL_OPS

    def __bool__(self) -> bool:  # guard against `if expr:` in program code
        raise TypeError("an Expr has no truth value; build a condition with And/Or/Not/Ite")

    def __str__(self) -> str:
        return show(self)


def lift(v: Value) -> Expr:
    if isinstance(v, Expr):
        return v
    if isinstance(v, bool):
        return TRUE if v else FALSE
    if isinstance(v, int):
        return Expr("const", (v,))
    raise TypeError(f"cannot use {v!r} in an expression")


def V(name: str) -> Expr:
    """A state variable."""
    return Expr("var", (name,))


def P(name: str) -> Expr:
    """An action parameter (a nondeterministic choice made by the action)."""
    return Expr("param", (name,))


def C(value: int) -> Expr:
    return Expr("const", (int(value),))


TRUE = Expr("true", ())
FALSE = Expr("false", ())


def And(*xs: Value) -> Expr:
    items = [lift(x) for x in xs if not (isinstance(x, Expr) and x.op == "true") and x is not True]
    if any((isinstance(x, Expr) and x.op == "false") for x in items):
        return FALSE
    if not items:
        return TRUE
    return items[0] if len(items) == 1 else Expr("and", tuple(items))


def Or(*xs: Value) -> Expr:
    items = [lift(x) for x in xs if not (isinstance(x, Expr) and x.op == "false") and x is not False]
    if any((isinstance(x, Expr) and x.op == "true") for x in items):
        return TRUE
    if not items:
        return FALSE
    return items[0] if len(items) == 1 else Expr("or", tuple(items))


def Not(x: Value) -> Expr:
    x = lift(x)
    if x.op == "true":
        return FALSE
    if x.op == "false":
        return TRUE
    return Expr("not", (x,))


def Ite(c: Value, a: Value, b: Value) -> Expr:
    c = lift(c)
    if c.op == "true":
        return lift(a)
    if c.op == "false":
        return lift(b)
    a, b = lift(a), lift(b)
    if a == b:
        return a
    return Expr("ite", (c, a, b))


def In(x: Value, values: Iterable[int]) -> Expr:
    return Or(*[lift(x).eq(v) for v in values])


def B(x: Value) -> Expr:
    """A condition as a 0/1 integer, for storing in a variable."""
    x = lift(x)
    return Ite(x, 1, 0) if x.is_bool() else x


def subst(e: Expr, mapping: Mapping[str, Expr]) -> Expr:
    """Replace variables by expressions (sequential composition of updates)."""
    if e.op == "var":
        return mapping.get(e.args[0], e)
    if e.op in ("const", "param", "true", "false"):
        return e
    return Expr(e.op, tuple(subst(a, mapping) for a in e.args))


def variables(e: Expr) -> set[str]:
    if e.op == "var":
        return {e.args[0]}
    if e.op in ("const", "param", "true", "false"):
        return set()
    out: set[str] = set()
    for a in e.args:
        out |= variables(a)
    return out


_PY = {"add": "+", "sub": "-", "eq": "==", "ne": "!=", "lt": "<", "le": "<="}


def to_python(e: Expr, var: Callable[[str], str], param: Callable[[str], str] = lambda n: n) -> str:
    """Python source for ``e``; ``var`` maps a variable name to its source text."""
    op, a = e.op, e.args
    if op == "var":
        return var(a[0])
    if op == "param":
        return param(a[0])
    if op == "const":
        return repr(a[0])
    if op == "true":
        return "True"
    if op == "false":
        return "False"
    if op in _PY:
        return f"({to_python(a[0], var, param)} {_PY[op]} {to_python(a[1], var, param)})"
    if op == "and":
        return "(" + " and ".join(to_python(x, var, param) for x in a) + ")"
    if op == "or":
        return "(" + " or ".join(to_python(x, var, param) for x in a) + ")"
    if op == "not":
        return f"(not {to_python(a[0], var, param)})"
    if op == "ite":
        c, x, y = (to_python(x, var, param) for x in a)
        if e.is_bool() or a[1].is_bool():
            return f"({x} if {c} else {y})"
        return f"({x} if {c} else {y})"
    raise ValueError(f"unknown operator {op}")


def evaluate(e: Expr, env: Mapping[str, int], params: Mapping[str, int] | None = None) -> int:
    """Evaluate directly (slow path: used for replay and tests, not for exploration)."""
    src = to_python(e, lambda n: f"env[{n!r}]", lambda n: f"params[{n!r}]")
    return eval(src, {"env": env, "params": params or {}})  # noqa: S307 - our own generated code


def show(e: Expr) -> str:
    """Readable text, for docs and traces."""
    op, a = e.op, e.args
    if op in ("var", "param"):
        return str(a[0])
    if op == "const":
        return str(a[0])
    if op in ("true", "false"):
        return op
    if op in _PY:
        return f"{show(a[0])} {_PY[op]} {show(a[1])}"
    if op in ("and", "or"):
        return "(" + f" {op} ".join(show(x) for x in a) + ")"
    if op == "not":
        return f"not {show(a[0])}"
    if op == "ite":
        return f"({show(a[1])} if {show(a[0])} else {show(a[2])})"
    return f"{op}{a}"
