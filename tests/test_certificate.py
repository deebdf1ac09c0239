"""Proof certificates: written by kind, re-checked by cvc5 with no Z3, and refused when edited.

One small cell (hardened, sc, the helper against the adversarial host) and one property that
kind proves with k = 2, so both the 1-step and the k-step goals are exercised; its 145 invariants
make two consecution parts (conjuncts 0-72 and 73-144), so the parts are exercised too. Each test copies
the certificate and edits the copy as a careless or dishonest producer would.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mhmailbox.cli import main
from mhmailbox.model.properties import BY_ID
from mhmailbox.proofs import certificate_format as fmt
from mhmailbox.proofs.certificate_check import check
from mhmailbox.proofs.engines import run_unbounded

CELL = ("hardened", "sc", "honest", "adversarial")
PROPERTY = "guest.refusal-reported"  # 2-inductive relative to the stored set
PART1, PART2 = "inv.consecution.1of2.smt2", "inv.consecution.2of2.smt2"


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cert") / "certs"
    rs = run_unbounded("kind", CELL, [BY_ID[PROPERTY]], None, time_limit=60, certificate=str(d))
    assert [(r.property, r.verdict, r.depth) for r in rs] == [(PROPERTY, "proved", 2)], [r.note for r in rs]
    assert "certificate in" in rs[0].note
    return d


@pytest.fixture()
def cert(written, tmp_path) -> Path:
    copy = tmp_path / "certs"
    shutil.copytree(written, copy)
    return copy


def folder(d: Path) -> Path:
    (one,) = [p for p in d.iterdir() if p.is_dir()]
    return one


def manifest(d: Path) -> dict:
    return json.loads((folder(d) / fmt.MANIFEST).read_text())


def rewrite(d: Path, name: str, edit) -> None:
    """Edit one obligation file and record its new hash in the manifest (a producer that re-hashes)."""
    path = folder(d) / name
    path.write_text(edit(path.read_text()))
    m = manifest(d)
    for proof in m["proofs"]:
        for o in proof["obligations"]:
            if o["file"].endswith("/" + name):
                o["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder(d) / fmt.MANIFEST).write_text(json.dumps(m))


def weaken(text: str, invariant: str) -> str:
    """Replace the named conjunct by ``true`` wherever it is (Inv, and Part when it holds it)."""
    lines = text.split("\n")
    for i in [n for n, line in enumerate(lines) if line == f"  ; {invariant}"]:
        lines[i + 1] = "  true"
    return "\n".join(lines)


def weaken_once(text: str, invariant: str, definition: str) -> str:
    """Replace the named conjunct by ``true`` in one definition only (``Inv`` or ``Part``)."""
    lines = text.split("\n")
    start = next(n for n, line in enumerate(lines) if line.startswith(f"(define-fun {definition} "))
    i = lines.index(f"  ; {invariant}", start)
    lines[i + 1] = "  true"
    return "\n".join(lines)


def status(report) -> dict[str, str]:
    return {o.file.split("/")[-1]: o.status for o in report.obligations}


def test_the_manifest_lists_the_four_obligations_with_hashes(written) -> None:
    m = manifest(written)
    assert m["format"] == fmt.FORMAT and m["cell"] == "hardened/sc/honest/adversarial/sb=2"
    (proof,) = m["proofs"]
    assert (proof["property"], proof["engine"], proof["k"]) == (PROPERTY, "kind", 2)
    assert [(o["kind"], o.get("part")) for o in proof["obligations"]] == [
        ("initiation", None), ("consecution", [0, 73]), ("consecution", [73, 145]), ("base", None), ("step", None)]
    assert proof["invariants"] == 145
    for o in proof["obligations"]:
        path = written / o["file"]
        assert o["expected"] == "unsat" and hashlib.sha256(path.read_bytes()).hexdigest() == o["sha256"]
        text = path.read_text()
        assert f"(set-logic {fmt.LOGIC})" in text and text.rstrip().endswith("(check-sat)")


def test_cvc5_checks_every_obligation_without_z3(written) -> None:
    """The whole check in a process where importing z3 fails."""
    code = ("import sys; sys.modules['z3'] = None\n"
            "from mhmailbox.proofs.certificate_check import check\n"
            f"r = check({str(written)!r}, timeout=120)\n"
            "print(r.ok, sorted(r.counts().items()), len(r.obligations))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.split("\n")[0] == "True [('fails', 0), ('holds', 5), ('timeout', 0)] 5", out.stderr


def test_a_weakened_invariant_fails_the_check(cert, capsys) -> None:
    """guest.epoch >= 0 dropped from Inv in every file (hashes updated): the rest is no longer inductive."""
    for path in folder(cert).glob("*.smt2"):
        if "(define-fun Inv " in path.read_text():
            rewrite(cert, path.name, lambda t: weaken(t, WEAKENED))
    assert main(["check-certificate", str(cert), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert not doc["ok"] and doc["counts"]["fails"] >= 1
    cons = [o for o in doc["obligations"] if o["kind"] == "consecution" and o["status"] == "fails"]
    assert cons and all(o["reason"].startswith("sat") for o in cons), doc["obligations"]


#: an invariant the others need: without it the set is not inductive (checked by the test above)
WEAKENED = "always: guest.epoch >= 0"


def test_a_tampered_hash_fails_that_obligation(cert) -> None:
    m = manifest(cert)
    m["proofs"][0]["obligations"][1]["sha256"] = "0" * 64
    (folder(cert) / fmt.MANIFEST).write_text(json.dumps(m))
    report = check(str(cert), timeout=120, jobs=2)  # the parallel path reports the same
    got = status(report)
    assert got[PART1] == "fails" and not report.ok
    assert [o.reason for o in report.obligations if o.status == "fails"] == [
        "its SHA-256 is not the manifest's (the file or the manifest was edited)"]


def test_an_invariant_weakened_in_one_file_only_is_refused(cert) -> None:
    """Each file is self-contained, so one proof could mix invariants: one Inv per proof."""
    rewrite(cert, PART1, lambda t: weaken(t, WEAKENED))  # in its Inv and its Part alike
    report = check(str(cert), timeout=120)
    (bad,) = [o for o in report.obligations if o.status == "fails"]
    assert bad.file.endswith(PART1) and "its Inv differs from the one in" in bad.reason


def test_a_conjunct_weakened_in_one_part_is_refused(cert) -> None:
    """A part whose Part says less than Inv's conjuncts of its range would leave one unproved."""
    rewrite(cert, PART1, lambda t: weaken_once(t, WEAKENED, "Part"))
    report = check(str(cert), timeout=120)
    (bad,) = [o for o in report.obligations if o.status == "fails"]
    assert bad.file.endswith(PART1) and bad.reason == "its Part is not Inv's conjuncts 0 to 72 (the manifest's part)"


def test_a_missing_part_is_refused(cert, capsys) -> None:
    """Without its second part the certificate shows only conjuncts 0-72 preserved: incomplete."""
    m = manifest(cert)
    m["proofs"][0]["obligations"] = [o for o in m["proofs"][0]["obligations"] if not o["file"].endswith(PART2)]
    (folder(cert) / fmt.MANIFEST).write_text(json.dumps(m))
    assert main(["check-certificate", str(cert)]) == 2
    err = capsys.readouterr().err
    assert "conjuncts 73 to 144 are in no part" in err and "incomplete" in err and len(err.splitlines()) == 1


def test_an_inv_shorter_in_the_manifest_than_in_the_files_is_refused(cert) -> None:
    """A manifest saying Inv has 73 conjuncts, part 1 covering them all: the files' Inv has 145."""
    m = manifest(cert)
    m["proofs"][0]["invariants"] = 73
    m["proofs"][0]["obligations"] = [o for o in m["proofs"][0]["obligations"] if not o["file"].endswith(PART2)]
    (folder(cert) / fmt.MANIFEST).write_text(json.dumps(m))
    report = check(str(cert), timeout=120)
    assert not report.ok and {o.reason for o in report.obligations if "define-fun Inv" in (cert / o.file).read_text()} \
        == {"its Inv has 145 conjuncts, the manifest's proof 73"}


def test_inv_layout_and_tiling() -> None:
    head = "(define-fun Inv ((x Int)) Bool (and"
    inv = "\n".join([head, "  ; a", "  (<= 0 x)", "  ; b", "  (or (= x 1) |(|)", "  true))"]) + "\n"
    assert [t for _, t in fmt.conjuncts(inv)] == ["  (<= 0 x)", "  (or (= x 1) |(|)"]
    assert fmt.part_definition(inv, [1, 2]) == "(define-fun Part ((x Int)) Bool (and\n  ; b\n  (or (= x 1) |(|)\n  true))\n"
    for broken in ("  (or false", "  x) (and true", "  x ; )", "  "):  # a term that is not whole on its line
        with pytest.raises(ValueError):
            fmt.conjuncts("\n".join([head, "  ; a", broken, "  true))"]))
    assert fmt.tiling_error([(0, 2), (2, 5)], 5) == ""
    assert fmt.tiling_error([(0, 2), (3, 5)], 5) == "conjuncts 2 to 2 are in no part"
    assert fmt.tiling_error([(0, 3), (2, 5)], 5) == "the part [2, 5) overlaps another"
    assert fmt.tiling_error([(0, 2)], 5) == "conjuncts 2 to 4 are in no part"
    assert fmt.tiling_error([(0, 6)], 5) == "a part ends at 6, past the 5 conjuncts"
    assert fmt.tiling_error([(0, 0)], 0) == "" and fmt.tiling_error([(0, 0), (0, 5)], 5) == "the part [0, 0) is empty"


def test_a_part_that_claims_more_than_it_shows_is_refused(cert) -> None:
    """The manifest stretched to say part 1 is conjuncts 0-144 (so part 2 overlaps): refused before any
    solving; parts re-cut in the manifest no longer match their files' Part."""
    m = manifest(cert)
    m["proofs"][0]["obligations"][1]["part"] = [0, 145]
    (folder(cert) / fmt.MANIFEST).write_text(json.dumps(m))
    assert main(["check-certificate", str(cert)]) == 2
    m["proofs"][0]["obligations"][1]["part"] = [0, 73]
    m["proofs"][0]["obligations"][4]["part"] = [73, 145]  # a step is never split
    (folder(cert) / fmt.MANIFEST).write_text(json.dumps(m))
    assert main(["check-certificate", str(cert)]) == 2
    del m["proofs"][0]["obligations"][4]["part"]
    m["proofs"][0]["obligations"][1]["part"] = [0, 50]  # the parts still tile 0-144
    m["proofs"][0]["obligations"][2]["part"] = [50, 145]
    (folder(cert) / fmt.MANIFEST).write_text(json.dumps(m))
    report = check(str(cert), timeout=120)
    assert {o.file.split("/")[-1]: o.reason for o in report.obligations if o.status == "fails"} == {
        PART1: "its Part is not Inv's conjuncts 0 to 49 (the manifest's part)",
        PART2: "its Part is not Inv's conjuncts 50 to 144 (the manifest's part)"}


def test_a_goal_edited_to_be_trivially_unsat_is_refused(cert) -> None:
    """``(assert false)`` would make any file unsat: only the definitions may be chosen."""
    rewrite(cert, f"{PROPERTY}.step.smt2", lambda t: t.replace("(check-sat)", "(assert false)\n(check-sat)"))
    report = check(str(cert), timeout=120)
    (bad,) = [o for o in report.obligations if o.status == "fails"]
    assert bad.file.endswith(f"{PROPERTY}.step.smt2") and "goal" in bad.reason


def test_a_missing_obligation_is_refused(cert) -> None:
    m = manifest(cert)
    m["proofs"][0]["obligations"] = [o for o in m["proofs"][0]["obligations"] if o["kind"] != "base"]
    (folder(cert) / fmt.MANIFEST).write_text(json.dumps(m))
    assert main(["check-certificate", str(cert)]) == 2


def test_goal_shapes() -> None:
    names, params = ["a", "b"], ["x"]
    init = fmt.goal("initiation", 1, names, 2, params)
    assert "(assert (Init |a@0| |b@0|))" in init and "(assert (not (Inv |a@0| |b@0|)))" in init
    step = fmt.goal("step", 2, names, 2, params)
    assert step.count("(assert (Inv ") == 3 and step.count("(assert (Trans ") == 2
    assert "(assert (not (Bad |a@1| |b@1|)))" in step and "(assert (Bad |a@2| |b@2|))" in step
    assert "(assert (Trans |a@0| |b@0| |a@1| |b@1| |sel0@1| |sel1@1| |p.x@1|))" in step
    base = fmt.goal("base", 2, names, 2, params)
    assert "(assert (or (Bad |a@0| |b@0|) (Bad |a@1| |b@1|) false))" in base
    assert fmt.goal("base", 1, names, 2, params).count("Trans") == 0


def test_usage_errors(tmp_path, capsys) -> None:
    assert main(["check-certificate", str(tmp_path)]) == 2
    assert "holds no manifest.json" in capsys.readouterr().err
    assert main(["check-certificate", str(tmp_path / "none")]) == 2
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("")
    assert main(["verify", "--engine", "kind", "--variant", "hardened", "--memory", "sc", "--guest", "silent",
                 "--certificate", str(busy)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["verify", "--engine", "explicit", "--certificate", str(tmp_path / "new")]) == 2
    assert "--engine kind, pdr or all" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "new")


def test_verify_pdr_writes_certificates_for_its_relative_proofs(tmp_path, capsys) -> None:
    """pdr's proofs that needed no Spacer search are k = 1 certificates, in the cell's pdr folder."""
    d = tmp_path / "certs"
    assert main(["verify", "--engine", "pdr", "--variant", "hardened", "--memory", "sc", "--guest", "honest",
                 "--host", "adversarial", "--property", "guest.integrity", "--jobs", "1", "--json",
                 "--certificate", str(d)]) == 0
    (r,) = json.loads(capsys.readouterr().out)["results"]
    assert r["verdict"] == "proved" and "certificate in" in r["note"]
    m = json.loads((d / "hardened.sc.honest.adversarial.sb2.pdr" / fmt.MANIFEST).read_text())
    assert [(p["property"], p["engine"], p["k"]) for p in m["proofs"]] == [("guest.integrity", "pdr", 1)]
    assert check(str(d), timeout=120).ok


def test_a_command_hidden_among_the_definitions_is_refused(cert) -> None:
    """An ``assert`` indented like a term, added after Trans in every file alike, passes the goal and
    the one-Trans checks; cvc5's own count of the commands catches it. After Inv, Inv's layout does."""
    def hide_after(definition: str):
        def edit(text: str) -> str:
            lines = text.split("\n")
            start = next(n for n, line in enumerate(lines) if line.startswith(f"(define-fun {definition} "))
            end = next(n for n in range(start + 1, len(lines)) if not lines[n].startswith("  "))
            return "\n".join(lines[:end] + ["  (assert false)"] + lines[end:])
        return edit

    for path in folder(cert).glob("*.smt2"):
        if "(define-fun Trans " in path.read_text():
            rewrite(cert, path.name, hide_after("Trans"))
    report = check(str(cert), timeout=120)
    assert {o.file.split("/")[-1]: o.reason.split(":")[0] for o in report.obligations if o.status != "holds"} == {
        name: "not the obligation's commands" for name in (PART1, PART2, f"{PROPERTY}.base.smt2",
                                                           f"{PROPERTY}.step.smt2")}
    rewrite(cert, "inv.initiation.smt2", hide_after("Inv"))
    (bad,) = [o for o in check(str(cert), timeout=120).obligations if o.file.endswith("inv.initiation.smt2")]
    assert bad.status == "fails" and bad.reason.startswith("Inv is not laid out as its writer lays it out")


def test_a_trans_made_false_everywhere_is_caught_against_the_model(cert, capsys) -> None:
    """A transition relation edited to ``false`` in every file makes every step obligation trivially
    unsat: the certificate alone cannot tell, --model compares Init, Trans and Bad with the model's."""
    def falsify(text: str) -> str:
        lines = text.split("\n")
        i = next(n for n, line in enumerate(lines) if line.startswith("(define-fun Trans "))
        lines[i + 1] = "  false)"
        return "\n".join(lines)

    for path in folder(cert).glob("*.smt2"):
        if "(define-fun Trans " in path.read_text():
            rewrite(cert, path.name, falsify)
    assert check(str(cert), timeout=120).ok  # what the check trusts, shown
    assert main(["check-certificate", str(cert), "--model", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    reasons = {o["file"].split("/")[-1]: o["reason"] for o in doc["obligations"] if o["status"] == "fails"}
    assert set(reasons) == {PART1, PART2, f"{PROPERTY}.base.smt2", f"{PROPERTY}.step.smt2"}
    assert all("its Trans is not the model's" in r for r in reasons.values())
    assert main(["check-certificate", str(folder(cert)), "--model"]) == 1  # the cell's folder itself also works
