"""The layout of a proof certificate, shared by its writer and its checker (no solver here).

A certificate directory holds, per cell, a folder of SMT-LIB 2 files and a
``manifest.json``. Every file is self-contained: ``set-logic``, the definitions
it needs, then a *goal* that must be ``unsat``. The definitions:

* ``(Init s)``: the generalized model's initial states;
* ``(Trans s t sel p)``: one step from ``s`` to ``t`` (``sel`` one Boolean per
  transition, exactly one true; ``p`` the step's parameters);
* ``(Inv s)``: the inductive invariant, one named conjunct a line;
* ``(Bad s)``: the property's violation (with its assumption on D and Q, if any).

The goals, for a property proved by k-induction relative to ``Inv``:

* ``initiation``: ``Init(s0) /\\ not Inv(s0)`` (initial states satisfy the invariant);
* ``consecution``: ``Inv(s0) /\\ Trans(s0, s1) /\\ not Inv(s1)`` (every transition preserves it);
  split in *parts* (one query over a set of ~2,000 conjuncts is too much for cvc5):
  ``Inv(s0) /\\ Trans(s0, s1) /\\ not Part(s1)`` per part, ``Part`` the conjuncts ``a .. b-1``
  of ``Inv`` (the manifest's ``"part": [a, b]``, :func:`part_definition`); the parts of a
  proof must tile the conjuncts ``0 .. N-1`` (:func:`tiling_error`), so together they are the whole;
* ``base``: ``Init(s0) /\\ Trans(s0, s1) .. Trans(s(k-2), s(k-1)) /\\ (Bad(s0) \\/ .. \\/ Bad(s(k-1)))``
  (no violation in the first k - 1 steps);
* ``step``: ``Inv(s0) .. Inv(sk) /\\ Trans(s0, s1) .. Trans(s(k-1), sk) /\\ not Bad(s0) .. not Bad(s(k-1))
  /\\ Bad(sk)`` (the invariant implies the property, k steps at a time).

All four unsat prove the property for every reachable state. The goal text is a
function of the obligation's kind, k and the definitions' parameters only
(:func:`goal`), so the checker rebuilds it and refuses a file whose goal differs:
only the definitions are free, and they must be the same in every file of a proof
(but ``Part``, which the checker rebuilds from ``Inv`` and the part).

``Inv`` is printed in a fixed layout so that its conjuncts can be counted and
picked out: its ``define-fun`` line ends in ``Bool (and``; then per conjunct a
comment line (``  ; name``) and a line holding balanced terms (:func:`conjuncts`);
then ``  true))``.
"""
from __future__ import annotations

import functools
import re
from typing import Sequence

FORMAT = "mhmailbox-certificate 1"
MANIFEST = "manifest.json"
LOGIC = "QF_LIA"
KINDS = ("initiation", "consecution", "base", "step")
#: the definitions each kind of goal uses (a consecution part also defines ``Part``)
USES = {"initiation": ("Init", "Inv"), "consecution": ("Inv", "Trans"), "base": ("Init", "Trans", "Bad"),
        "step": ("Inv", "Trans", "Bad")}
CLAIMS = {"initiation": "the initial states satisfy the invariant",
          "consecution": "every transition preserves the invariant",
          "base": "no violation within the first k - 1 steps",
          "step": "the invariant implies the property (k-inductively)"}


def quote(name: str) -> str:
    """An SMT-LIB symbol for ``name`` (quoted, as Z3 and cvc5 print them)."""
    if "|" in name or "\\" in name:
        raise ValueError(f"not a symbol: {name!r}")
    return f"|{name}|"


def state_symbols(names: Sequence[str], tag: str) -> list[str]:
    return [quote(f"{n}@{tag}") for n in names]


def step_symbols(selectors: int, params: Sequence[str], tag: str) -> tuple[list[str], list[str]]:
    return [quote(f"sel{j}@{tag}") for j in range(selectors)], [quote(f"p.{p}@{tag}") for p in params]


def cell_folder(key: str) -> str:
    """The folder of a cell: its store key with '/' as '.' and '=' dropped (``hardened.sc.silent.faithful.sb2``)."""
    return key.replace("/", ".").replace("=", "")


def goal(kind: str, k: int, names: Sequence[str], selectors: int, params: Sequence[str],
         split: bool = False) -> str:
    """The declarations, assertions and check-sat of one obligation (see the module docstring);
    ``split``: a consecution part (``not Part(s1)`` instead of ``not Inv(s1)``)."""
    if kind not in KINDS or (split and kind != "consecution"):
        raise ValueError(kind)
    steps = {"initiation": 0, "consecution": 1, "base": max(k - 1, 0), "step": k}[kind]
    lines: list[str] = []
    states = [state_symbols(names, str(i)) for i in range(steps + 1)]
    moves = [step_symbols(selectors, params, str(i)) for i in range(1, steps + 1)]
    for st in states:
        lines += [f"(declare-fun {v} () Int)" for v in st]
    for sel, par in moves:
        lines += [f"(declare-fun {v} () Bool)" for v in sel]
        lines += [f"(declare-fun {v} () Int)" for v in par]

    def app(fn: str, *args: Sequence[str]) -> str:
        return f"({fn} {' '.join(a for group in args for a in group)})"

    trans = [f"(assert {app('Trans', states[i], states[i + 1], moves[i][0], moves[i][1])})" for i in range(steps)]
    if kind == "initiation":
        lines += [f"(assert {app('Init', states[0])})", f"(assert (not {app('Inv', states[0])}))"]
    elif kind == "consecution":
        lines += [f"(assert {app('Inv', states[0])})", *trans,
                  f"(assert (not {app('Part' if split else 'Inv', states[1])}))"]
    elif kind == "base":
        bads = " ".join(app("Bad", st) for st in states)
        lines += [f"(assert {app('Init', states[0])})", *trans, f"(assert (or {bads} false))"]
    else:
        lines += [f"(assert {app('Inv', st)})" for st in states] + trans
        lines += [f"(assert (not {app('Bad', st)}))" for st in states[:-1]]
        lines += [f"(assert {app('Bad', states[-1])})"]
    lines.append("(check-sat)")
    return "\n".join(lines) + "\n"


_DEFINE = re.compile(r"^\(define-fun (\w+) ")


def defined_names(text: str) -> list[str]:
    """The names of the top-level ``define-fun``s of a file (each starts a line)."""
    return [m.group(1) for m in (_DEFINE.match(line) for line in text.splitlines()) if m]


INV_HEAD = re.compile(r"^\(define-fun Inv (\(.*\)) Bool \(and$")
INV_TAIL = "  true))"


@functools.lru_cache(maxsize=16)  # every file of a cell holds the same Inv: read it once
def conjuncts(definition: str) -> tuple[tuple[str, str], ...]:
    """The (comment line, term line) pairs of an ``Inv`` definition in the fixed layout; ValueError
    when it is not in it. Each term line must be balanced on its own (no parenthesis closed on
    another line, no ``;`` outside a quoted symbol), so a line is whole conjuncts and picking
    lines out of ``Inv`` picks conjuncts."""
    lines = definition.rstrip("\n").split("\n")
    if len(lines) < 2 or not INV_HEAD.match(lines[0]) or lines[-1] != INV_TAIL or len(lines) % 2:
        raise ValueError("Inv is not laid out as its writer lays it out (a comment and a term per conjunct)")
    pairs = tuple((lines[i], lines[i + 1]) for i in range(1, len(lines) - 1, 2))
    for n, (comment, term) in enumerate(pairs):
        if not comment.startswith("  ; ") or not term.startswith("  ") or not _balanced(term):
            raise ValueError(f"Inv's conjunct {n} is not a comment line and a balanced term line")
    return pairs


def _balanced(line: str) -> bool:
    depth, quoted = 0, False
    for ch in line:
        if quoted:
            quoted = ch != "|"
        elif ch == "|":
            quoted = True
        elif ch in ';"':
            return False
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0 and not quoted and bool(line.strip())


def part_definition(inv: str, part: Sequence[int]) -> str:
    """The ``Part`` definition of a consecution part: ``Inv``'s conjuncts ``a .. b-1``, same layout."""
    a, b = part
    head = inv.split("\n", 1)[0].replace("(define-fun Inv ", "(define-fun Part ", 1)
    picked = [line for pair in conjuncts(inv)[a:b] for line in pair]
    return "\n".join([head, *picked, INV_TAIL]) + "\n"


def tiling_error(parts: Sequence[Sequence[int]], total: int) -> str:
    """Why ``parts`` ([a, b) ranges, in order) do not tile ``0 .. total-1``; "" when they do."""
    at = 0
    for a, b in parts:
        if a != at:
            return (f"conjuncts {at} to {a - 1} are in no part" if a > at else f"the part [{a}, {b}) overlaps another")
        if b <= a and total:
            return f"the part [{a}, {b}) is empty"
        at = b
    return "" if at == total else (f"conjuncts {at} to {total - 1} are in no part" if at < total
                                   else f"a part ends at {at}, past the {total} conjuncts")
