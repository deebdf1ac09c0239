"""Re-checking proof certificates with cvc5, with no Z3 in the loop.

For every ``manifest.json`` in the directory (itself or one folder down), every
obligation file is read, its SHA-256 compared with the manifest's, its goal
compared with the one :func:`.certificate_format.goal` rebuilds from the
obligation's kind, k and part (so a file can only differ in its definitions), its
definitions compared with those of the other files of the same proof (one
invariant, one transition relation, one property; a consecution part's ``Part``
rebuilt from ``Inv``), the consecution parts checked to cover every conjunct of
``Inv``, and then each file parsed and solved by cvc5's own SMT-LIB parser.
An obligation *holds* when cvc5 answers ``unsat``; it *fails* on ``sat`` or on
any of the checks above; it *times out* on ``unknown`` (the ``--timeout`` per file).

What the certificate does not show, and the check trusts: that ``Init``,
``Trans`` and ``Bad`` say what the model says (the translation of
proofs/symbolic.py, tested against the explicit engine).
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections import Counter
from typing import Any

import attrs
import cvc5

from . import certificate_format as fmt

HOLDS, FAILS, TIMEOUT = "holds", "fails", "timeout"
#: cvc5's options for every obligation (measured in bench/prove_certificates.py: ``--option``)
OPTIONS: dict[str, str] = {}
#: the largest k a certificate may claim (kind stops at 6): the goal grows with k
MAX_K = 64


class CertificateError(Exception):
    """A directory that holds no certificate, or a manifest that is not one (one line)."""


@attrs.define
class Obligation:
    file: str
    cell: str
    property: str
    kind: str
    status: str = ""
    reason: str = ""
    seconds: float = 0.0


@attrs.define
class Report:
    directory: str
    obligations: list[Obligation]
    proofs: list[dict]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.obligations) and all(o.status == HOLDS for o in self.obligations)

    def counts(self) -> dict[str, int]:
        return {s: sum(o.status == s for o in self.obligations) for s in (HOLDS, FAILS, TIMEOUT)}


def manifests(directory: str) -> list[str]:
    """The manifests of ``directory``: its own, and those of its folders (sorted)."""
    if not os.path.isdir(directory):
        raise CertificateError(f"{directory} is not a directory")
    out = [os.path.join(directory, fmt.MANIFEST)] if os.path.isfile(os.path.join(directory, fmt.MANIFEST)) else []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name, fmt.MANIFEST)
        if os.path.isfile(path):
            out.append(path)
    if not out:
        raise CertificateError(f"{directory} holds no {fmt.MANIFEST} (write one with prove or verify --certificate DIR)")
    return out


def _read_manifest(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CertificateError(f"{path}: not a readable JSON manifest ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt.FORMAT:
        raise CertificateError(f"{path}: not a certificate manifest (format is not {fmt.FORMAT!r})")
    for field, kind in (("cell", str), ("state_variables", list), ("selectors", int), ("parameters", list),
                        ("proofs", list)):
        if not isinstance(doc.get(field), kind):
            raise CertificateError(f"{path}: the manifest's {field!r} is missing or not a {kind.__name__}")
    if not 0 < doc["selectors"] <= 100_000:
        raise CertificateError(f"{path}: the manifest's 'selectors' is {doc['selectors']}, not a transition count")
    for field in ("state_variables", "parameters"):
        if not all(isinstance(n, str) and "|" not in n and "\\" not in n for n in doc[field]):
            raise CertificateError(f"{path}: the manifest's {field!r} holds something that is not a name")
    return doc


def _split(text: str) -> tuple[dict[str, str], str]:
    """(definition name -> its text, the goal): a file is a header, the definitions, the goal."""
    lines = text.splitlines(keepends=True)
    defs: dict[str, str] = {}
    current = None
    goal_at = len(lines)
    for i, line in enumerate(lines):
        names = fmt.defined_names(line)
        if names:
            current = names[0]
            defs[current] = line
        elif line.startswith("(declare-fun") or line.startswith("(assert") or line.startswith("(check-sat"):
            goal_at = i
            break
        elif current is not None:
            defs[current] += line
    return defs, "".join(lines[goal_at:])


def _solve(text: str, name: str, timeout: float, expected: Counter, options: dict[str, str]) -> tuple[str, str]:
    """cvc5's answer to one SMT-LIB file: (status, reason). ``expected``: how many commands of
    each kind the file must hold (a command hidden in a definition's lines, say an ``assert``
    indented like a conjunct, makes the count differ and the file fail)."""
    tm = cvc5.TermManager()
    solver = cvc5.Solver(tm)
    solver.setOption("tlimit-per", str(max(1, int(timeout * 1000))))
    for key, value in options.items():
        solver.setOption(key, value)
    sm = cvc5.SymbolManager(tm)
    parser = cvc5.InputParser(solver, sm)
    parser.setStringInput(cvc5.InputLanguage.SMT_LIB_2_6, text, name)
    answers = []
    seen: Counter = Counter()
    try:
        while True:
            cmd = parser.nextCommand()
            if cmd.isNull():
                break
            kind = cmd.getCommandName()
            seen[kind] += 1
            if kind not in expected:
                return FAILS, f"an unexpected command: ({kind} ...)"
            out = cmd.invoke(solver, sm).strip()
            if kind == "check-sat":
                answers.append(out)
            elif out and not out.startswith("success"):
                return FAILS, f"cvc5: {out.splitlines()[0]}"
    except RuntimeError as exc:  # cvc5's parse and type errors
        return FAILS, f"cvc5 could not read it: {' '.join(str(exc).split())[:200]}"
    if seen != expected:
        diff = ", ".join(f"{k}: {seen[k]} (expected {expected[k]})" for k in sorted(set(seen) | set(expected))
                         if seen[k] != expected[k])
        return FAILS, f"not the obligation's commands: {diff}"
    if answers[0] == "unsat":
        return HOLDS, "unsat"
    if answers[0] == "sat":
        return FAILS, "sat: the obligation does not hold (a counterexample exists)"
    return TIMEOUT, f"cvc5 answered {answers[0]!r} within {timeout:g} s"


def _solve_file(item: tuple) -> tuple[str, str, float]:
    """(status, reason, seconds) of one obligation file (a pool worker's job)."""
    path, name, timeout, expected, options = item
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    t1 = time.perf_counter()
    status, reason = _solve(text, name, timeout, expected, options)
    return status, reason, round(time.perf_counter() - t1, 3)


def _solve_nth(item: tuple) -> tuple[int, tuple[str, str, float]]:
    return item[0], _solve_file(item[1])


def commands(kind: str, goal: str, split: bool = False) -> Counter:
    """The commands an obligation file of ``kind`` with this goal holds (``split``: a consecution part)."""
    c = Counter({"set-logic": 1, "define-fun": len(fmt.USES[kind]) + split})
    for line in goal.splitlines():
        c[line[1:].split(" ", 1)[0].rstrip(")")] += 1
    return c


def check(directory: str, timeout: float = 60.0, progress=None, model=None, jobs: int = 1,
          options: dict[str, str] | None = None) -> Report:
    """Check every obligation of every manifest in ``directory`` (see the module docstring),
    ``jobs`` cvc5 processes at a time, with cvc5's :data:`OPTIONS` (or ``options``).

    ``model``: a function from a manifest to ``(name, property) -> definition text``
    (:func:`.certificate.model_definitions`); then ``Init``, ``Trans`` and ``Bad`` must also be
    the ones the model at hand gives, so the certificate is about this model."""
    t0 = time.perf_counter()
    seen: dict[str, Obligation] = {}
    order: list[Obligation] = []
    proofs: list[dict] = []
    paths: dict[int, str] = {}
    expected: dict[int, Counter] = {}
    for mpath in manifests(directory):
        doc = _read_manifest(mpath)
        root = os.path.dirname(os.path.dirname(os.path.abspath(mpath)))  # files are named from the cell's parent
        reference = model(doc) if model is not None else None
        for proof in doc["proofs"]:
            obs = proof.get("obligations") if isinstance(proof, dict) else None
            if not isinstance(obs, list) or not obs:
                raise CertificateError(f"{mpath}: a proof without obligations")
            kinds = sorted(str(o.get("kind", "")) for o in obs if isinstance(o, dict))
            if len(kinds) != len(obs) or sorted(set(kinds)) != sorted(fmt.KINDS) or len(kinds) - kinds.count(
                    "consecution") != len(fmt.KINDS) - 1:
                raise CertificateError(f"{mpath}: {proof.get('property')}: the obligations are {kinds}, "
                                       f"not one of each of {list(fmt.KINDS)} (consecution maybe in parts)")
            _check_cover(mpath, proof, obs)
            defs_of_proof: dict[str, tuple[str, str]] = {}
            mine: list[Obligation] = []
            for o in obs:
                rel = str(o.get("file", ""))
                ob = Obligation(rel, doc["cell"], str(proof.get("property")), o["kind"])
                mine.append(ob)
                ob.status, ob.reason = _static(root, rel, o, proof, doc, defs_of_proof, reference)
                if not ob.status:
                    split = "part" in o
                    expected[id(ob)] = commands(o["kind"], fmt.goal(o["kind"], proof.get("k") or 1, doc["state_variables"],
                                                                    doc["selectors"], doc["parameters"], split), split)
            proofs.append({"cell": doc["cell"], "property": proof.get("property"), "engine": proof.get("engine"),
                           "method": proof.get("method"), "k": proof.get("k"), "assumes": proof.get("assumes"),
                           "files": [ob.file for ob in mine]})
            for ob in mine:
                key = f"{doc['cell']}:{ob.file}"
                prev = seen.get(key)
                if prev is None:
                    seen[key] = ob
                    order.append(ob)
                    paths[id(ob)] = os.path.join(root, ob.file)
                elif ob.status:  # a shared file that failed a static check for this proof
                    prev.status, prev.reason = ob.status, ob.reason
    todo = [ob for ob in order if not ob.status]
    work = [(paths[id(ob)], ob.file, timeout, expected[id(ob)], OPTIONS if options is None else options) for ob in todo]
    if jobs > 1 and len(todo) > 1:
        with multiprocessing.get_context("fork").Pool(min(jobs, len(todo))) as pool:
            for i, (j, answer) in enumerate(pool.imap_unordered(_solve_nth, enumerate(work))):
                ob = todo[j]
                ob.status, ob.reason, ob.seconds = answer
                if progress is not None:
                    progress(i + 1, len(todo), ob)
    else:
        for i, (ob, item) in enumerate(zip(todo, work)):
            ob.status, ob.reason, ob.seconds = _solve_file(item)
            if progress is not None:
                progress(i + 1, len(todo), ob)
    return Report(directory, order, proofs, round(time.perf_counter() - t0, 3))


def _check_cover(mpath: str, proof: dict, obs: list) -> None:
    """CertificateError unless the proof's consecution obligations cover every conjunct of Inv
    (one whole obligation, or parts [a, b) that tile 0 .. N-1): a missing part, and the proof
    would show only some of Inv preserved."""
    total = proof.get("invariants")
    where = f"{mpath}: {proof.get('property')}"
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise CertificateError(f"{where}: the proof's 'invariants' is {total!r}, not a count of Inv's conjuncts")
    ranges = []
    for o in obs:
        if o["kind"] != "consecution":
            if "part" in o:
                raise CertificateError(f"{where}: a {o['kind']} obligation with a part (only consecution is split)")
            continue
        part = o.get("part", [0, total])
        if (not isinstance(part, list) or len(part) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in part)):
            raise CertificateError(f"{where}: a consecution part is {part!r}, not [first, end) conjunct numbers")
        ranges.append(tuple(part))
    why = fmt.tiling_error(sorted(ranges), total)
    if why:
        raise CertificateError(f"{where}: the consecution parts do not cover Inv's {total} conjuncts ({why}): "
                               f"the proof is incomplete")


def _static(root: str, rel: str, o: dict, proof: dict, doc: dict, defs_of_proof: dict,
            reference=None) -> tuple[str, str]:
    """("", "") when the file passes the checks before the solver; else (FAILS, why)."""
    path = os.path.normpath(os.path.join(root, rel))
    if not rel or os.path.isabs(rel) or not path.startswith(os.path.abspath(root) + os.sep):
        return FAILS, f"the manifest names a file outside the certificate: {rel!r}"
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        return FAILS, f"cannot read it: {exc.strerror or exc}"
    if hashlib.sha256(raw).hexdigest() != o.get("sha256"):
        return FAILS, "its SHA-256 is not the manifest's (the file or the manifest was edited)"
    if o.get("expected") != "unsat":
        return FAILS, f"the manifest expects {o.get('expected')!r}; every obligation must be unsat"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return FAILS, "not UTF-8 text"
    defs, goal = _split(text)
    k = proof.get("k")
    if not isinstance(k, int) or not 1 <= k <= MAX_K:
        return FAILS, f"the proof's k is {k!r}, not an integer from 1 to {MAX_K}"
    split = "part" in o
    want = fmt.goal(o["kind"], k, doc["state_variables"], doc["selectors"], doc["parameters"], split)
    if goal != want:
        return FAILS, f"its goal is not the {o['kind']} obligation's (only the definitions may differ between files)"
    needs = sorted(fmt.USES[o["kind"]] + (("Part",) if split else ()))
    if sorted(defs) != needs:
        return FAILS, f"it defines {sorted(defs)}, the {o['kind']} obligation needs {needs}"
    if "Inv" in defs:
        try:
            n = len(fmt.conjuncts(defs["Inv"]))
        except ValueError as exc:
            return FAILS, str(exc)
        if n != proof.get("invariants"):
            return FAILS, f"its Inv has {n} conjuncts, the manifest's proof {proof.get('invariants')}"
    if split and defs["Part"].rstrip("\n") != fmt.part_definition(defs["Inv"], o["part"]).rstrip("\n"):
        return FAILS, f"its Part is not Inv's conjuncts {o['part'][0]} to {o['part'][1] - 1} (the manifest's part)"
    for name, body in defs.items():
        if name == "Part":
            continue
        first = defs_of_proof.setdefault(name, (rel, body))
        if first[1] != body:
            return FAILS, f"its {name} differs from the one in {first[0]} (one proof, one {name})"
        if reference is not None and name != "Inv" and body.rstrip("\n") != reference(name, str(proof.get("property"))):
            return FAILS, f"its {name} is not the model's (--model: the certificate is about another model)"
    return "", ""


def to_json(report: Report) -> dict[str, Any]:
    return {"directory": report.directory, "ok": report.ok, "counts": report.counts(), "seconds": report.seconds,
            "obligations": [attrs.asdict(o) for o in report.obligations], "proofs": report.proofs}
