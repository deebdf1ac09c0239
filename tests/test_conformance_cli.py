"""``mhmailbox conform``: listing, JSON shape, JUnit, mutants, usage errors."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from mhmailbox.cli import main
from mhmailbox.conformance.cases import CASES


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["conform", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_list_names_every_case(capsys) -> None:
    rc, out, _ = run(capsys, "--list", "--json")
    assert rc == 0
    ids = [c["id"] for c in json.loads(out)["cases"]]
    assert ids == [c.id for c in CASES] and len(set(ids)) == len(ids)
    rc, out, _ = run(capsys, "--list", "--side", "guest")
    assert "guest/replay" in out and "host/honest" not in out


def test_json_results_and_junit(capsys, tmp_path) -> None:
    junit = tmp_path / "report.xml"
    rc, out, _ = run(capsys, "--impl", "rfc", "--case", "host/barriers", "--case", "host/honest",
                     "--examples", "20", "--json", "--junit", str(junit))
    assert rc == 1  # a case failed
    doc = json.loads(out)
    by = {c["id"]: c for c in doc["cases"]}
    assert set(by) == {"host/barriers", "host/honest"}
    for c in doc["cases"]:
        assert {"id", "level", "verdict", "examples", "property", "reproducer"} <= set(c)
    assert by["host/barriers"]["verdict"] == "fail" and by["host/barriers"]["property"] == "barriers"
    assert "replay('host/barriers', 'rfc'" in by["host/barriers"]["reproducer"]
    assert by["host/honest"]["verdict"] == "pass" and by["host/honest"]["reproducer"] is None
    assert doc["summary"]["fail"] == 1 and doc["summary"]["pass"] == 1
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "1"


def test_mutants_json(capsys) -> None:
    rc, out, _ = run(capsys, "--mutant", "host-no-rmb", "--mutant", "guest-plaintext-page", "--json")
    assert rc == 0
    ms = json.loads(out)["mutants"]
    assert [m["id"] for m in ms] == ["host-no-rmb", "guest-plaintext-page"]
    assert all(m["killed"] and m["by"] for m in ms)


def test_usage_errors(capsys) -> None:
    rc, _, err = run(capsys, "--case", "host/nope")
    assert rc == 2 and "unknown case id host/nope" in err
    rc, _, err = run(capsys, "--mutant", "nope")
    assert rc == 2 and "unknown mutant" in err
    rc, _, err = run(capsys, "--impl", "qemu")
    assert rc == 2
