"""Writing proof certificates: the SMT-LIB 2 obligations behind each ``proved`` verdict.

For every property ``kind`` (or ``pdr``, when the property is inductive relative
to the proved invariants) proves in a cell, the cell's folder gets the
obligations of :mod:`.certificate_format` as self-contained SMT-LIB files, and
its ``manifest.json`` lists, per proof, the files, what each claims, the
expected answer (``unsat``) and each file's SHA-256. ``mhmailbox
check-certificate`` re-checks them with cvc5 (:mod:`.certificate_check`), so a
proof no longer rests on Z3 alone. Z3 is used here only to print terms.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
from typing import Any, Callable, Sequence

import attrs
import z3

from mhmailbox.errors import UsageError
from mhmailbox.outfiles import write_atomically

from . import certificate_format as fmt
from .general import general_model
from .invariant import cell_key
from .symbolic import UNBOUNDED, Symbolic


@attrs.frozen
class ProofOf:
    """What one proved verdict rests on: k-induction relative to named invariants."""

    monitor: int
    k: int
    names: tuple
    exprs: tuple


def check_target(directory: str, *, force: bool, remedy: str = "add --force to overwrite its certificates") -> None:
    """UsageError unless ``directory`` may receive certificates: its parent exists, it is a
    directory or absent, and (without ``force``) it holds no certificate yet."""
    if not directory:
        raise UsageError("--certificate: an empty directory name")
    parent = os.path.dirname(os.path.abspath(directory))
    if not os.path.isdir(parent):
        raise UsageError(f"--certificate: {parent} does not exist")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise UsageError(f"--certificate: {directory} is not a directory")
    if not force and os.path.isdir(directory) and os.listdir(directory):
        raise UsageError(f"--certificate: {directory} is not empty ({remedy})")


def _one_line(term: z3.ExprRef) -> str:
    return " ".join(term.sexpr().split())


def _params(symbols: dict[str, Any]) -> str:
    return " ".join(f"({c.sexpr()} {c.sort().sexpr()})" for c in symbols.values())


def _exactly_one(sel: Sequence[z3.BoolRef]) -> list[z3.BoolRef]:
    """One-hot selectors in linear arithmetic (Z3's ``AtMost`` prints as a Z3-only operator)."""
    return [z3.Or(sel), z3.Sum([z3.If(x, 1, 0) for x in sel]) <= 1]


class Writer:
    """The definitions of one cell's generalized model, printed once and reused per proof."""

    def __init__(self, sym, model) -> None:
        self.sym, self.model = sym, model
        self.names = list(sym.names)
        self.s, self.t = sym.state("s"), sym.state("t")
        self.sel, self.p = sym.selectors("x"), sym.params("x")
        parts = sym.trans(self.s, self.t, self.sel, self.p)
        assert z3.is_app_of(parts[1], z3.Z3_OP_PB_AT_MOST), "Symbolic.trans: the second conjunct is the one-hot bound"
        trans = z3.And(_exactly_one(self.sel) + parts[2:])
        self.init = f"(define-fun Init ({_params(self.s)}) Bool\n  {_one_line(sym.init(self.s))})"
        self.trans = (f"(define-fun Trans ({_params(self.s)} {_params(self.t)} "
                      f"{_params(dict(enumerate(self.sel)))} {_params(self.p)}) Bool\n  {_one_line(trans)})")
        self._inv: dict[tuple, str] = {}

    def inv(self, names: Sequence[str], exprs: Sequence[Any]) -> str:
        key = tuple(names)
        if key not in self._inv:
            memo: dict = {}
            lines = [f"(define-fun Inv ({_params(self.s)}) Bool (and"]
            for n, e in zip(names, exprs):
                lines.append(f"  ; {' '.join(str(n).split())}")
                lines.append(f"  {_one_line(self.sym.to_z3(e, self.s, None, memo))}")
            lines.append("  true))")
            self._inv[key] = "\n".join(lines)
        return self._inv[key]

    def bad(self, monitor: int) -> str:
        return f"(define-fun Bad ({_params(self.s)}) Bool\n  {_one_line(self.sym.bad(monitor, self.s))})"

    def file(self, kind: str, k: int, definitions: dict[str, str], title: str,
             part: Sequence[int] | None = None) -> str:
        """One obligation's file; ``part`` ([a, b)): a consecution part, Inv's conjuncts a .. b-1 in s1."""
        head = [f"; mhmailbox proof certificate: {title}", f"; obligation: {kind} ({fmt.CLAIMS[kind]})"]
        if part is not None:
            head.append(f"; part: the conjuncts {part[0]} to {part[1] - 1} of Inv after the step")
        head += ["; expected: unsat", f"(set-logic {fmt.LOGIC})"]
        defs = [definitions[name] for name in fmt.USES[kind]]
        if part is not None:
            defs.append(fmt.part_definition(definitions["Inv"], part).rstrip("\n"))
        body = fmt.goal(kind, k, self.names, len(self.sel), list(self.p), split=part is not None)
        return "\n".join(head + defs) + "\n" + body


#: a consecution part's size, in conjuncts of up to TYPICAL characters (a longer one counts for its
#: length / TYPICAL): cvc5 takes 2 s for a part of 50 of tso honest's 1,938 conjuncts, 4 s for 200,
#: 14 s for 500 and more than 600 s for all of them in one query; the long relational lemmas at the
#: end of a set are the slow ones (bench/prove_certificates.py measures every part)
PART_SIZE, TYPICAL = 100, 80


def parts(terms: Sequence[str], size: int = PART_SIZE) -> list[tuple[int, int]] | None:
    """The [a, b) ranges a consecution over the conjuncts ``terms`` is split into, each about
    ``size`` typical conjuncts' worth (a long one weighs more), or None when one query will do."""
    weights = [max(1.0, len(t) / TYPICAL) for t in terms]
    total = sum(weights)
    if total <= size:
        return None
    target = total / -(-total // size)
    cuts, sum_ = [0], 0.0
    for i, w in enumerate(weights[:-1]):
        sum_ += w
        if sum_ >= target * len(cuts):
            cuts.append(i + 1)
    return list(zip(cuts, cuts[1:] + [len(terms)]))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_cell(directory: str, engine: str, model, sym, proofs: Sequence[ProofOf], props: Sequence[Any]) -> str | None:
    """Write the certificates of one cell's proved verdicts into ``directory``/<cell>/; the
    folder's path, or None when nothing in the cell was proved."""
    if not proofs:
        return None
    key = cell_key(model)
    folder = f"{fmt.cell_folder(key)}.{engine}"  # kind and pdr of one `verify --engine all` apart
    os.makedirs(os.path.join(directory, folder), exist_ok=True)
    w = Writer(sym, model)
    written: dict[str, str] = {}  # relative path -> sha256

    def put(name: str, text: str) -> dict[str, str]:
        rel = f"{folder}/{name}"
        if rel not in written:
            write_atomically(os.path.join(directory, rel), text)
            written[rel] = _sha256(text)
        return {"file": rel, "sha256": written[rel]}

    entries = []
    sets: dict[tuple, str] = {}
    for pr in proofs:
        prop = props[pr.monitor]
        tag = sets.setdefault(pr.names, f"inv{len(sets) + 1}" if len(sets) else "inv")
        defs = {"Init": w.init, "Trans": w.trans, "Inv": w.inv(pr.names, pr.exprs), "Bad": w.bad(pr.monitor)}
        title = f"{key}, {prop.id} ({engine}, {pr.k}-induction relative to {len(pr.names)} invariants)"
        split = parts([term for _, term in fmt.conjuncts(defs["Inv"] + "\n")])
        files = [("initiation", f"{tag}.initiation.smt2", None)]
        files += ([("consecution", f"{tag}.consecution.{i + 1}of{len(split)}.smt2", p) for i, p in enumerate(split)]
                  if split else [("consecution", f"{tag}.consecution.smt2", None)])
        files += [(kind, f"{prop.id}.{kind}.smt2", None) for kind in ("base", "step")]
        obligations = []
        for kind, name, part in files:
            shared = kind in ("initiation", "consecution")
            text = w.file(kind, pr.k, defs, f"{key}, the invariant {tag}" if shared else title, part)
            obligations.append({"kind": kind, "claim": fmt.CLAIMS[kind], "expected": "unsat",
                                **({"part": list(part)} if part else {}), **put(name, text)})
        entries.append({"variant": model.variant, "memory": model.memory, "guest": model.guest, "host": model.host,
                        "cell": key, "property": prop.id, "engine": engine, "method": "k-induction", "k": pr.k,
                        "invariants": len(pr.names), "assumes": prop.assumes or None,
                        "obligations": obligations})
    manifest = {"format": fmt.FORMAT, "cell": key, "logic": fmt.LOGIC, "variant": model.variant,
                "memory": model.memory, "guest": model.guest, "host": model.host, "buffer": model.bounds.capacity,
                "properties": [p.id for p in props], "state_variables": w.names, "selectors": len(w.sel), "parameters": list(w.p),
                "proofs": entries}
    write_atomically(os.path.join(directory, folder, fmt.MANIFEST), json.dumps(manifest, indent=1) + "\n")
    return os.path.join(directory, folder)


def model_definitions(doc: dict) -> Callable[[str, str], str]:
    """For ``check-certificate --model``: the ``Init``, ``Trans`` and ``Bad`` definitions the model
    at hand gives for a manifest's cell, as :class:`Writer` prints them (Z3 only prints terms
    here); ``(name, property) -> text``. UsageError when the manifest's model cannot be rebuilt."""
    from mhmailbox.model.user_variant import VariantError, catalog_of

    try:
        catalog = {p.id: p for p in catalog_of([doc["variant"]])}
        props = [catalog[i] for i in doc["properties"]]
        cell = (doc["variant"], doc["memory"], doc["guest"], doc["host"])
        args = argparse.Namespace(deadline=2, quantum=1, buffer=int(doc["buffer"]), script=None)
        model, system, _ = general_model(cell, props, args)  # (an unknown memory model is a ValueError)
    except (KeyError, TypeError, ValueError, AttributeError, VariantError) as exc:
        raise UsageError(f"--model: cannot rebuild the model of {doc.get('cell')!r} "
                         f"({' '.join(str(exc).split())}; a variant of your own needs --variant PATH.py:Class)") from None
    w = Writer(Symbolic(system, UNBOUNDED), model)
    ids = [p.id for p in model.properties]

    def definition(name: str, prop: str) -> str:
        if name == "Init":
            return w.init
        if name == "Trans":
            return w.trans
        return w.bad(ids.index(prop)) if prop in ids else ""

    return definition
