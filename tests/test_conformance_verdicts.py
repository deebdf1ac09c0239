"""Verdicts: ``deviates`` (a divergence and no property failure) apart from ``fail``; ``skipped`` for
a case an implementation cannot run (it declares its host operations); the exit status, the
summary, --json and --junit."""
from __future__ import annotations

import ast
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import attrs
import pytest

from mhmailbox.cli import main
from mhmailbox.conformance.adapter import HARDENED, HOST_OPERATIONS, IMPLEMENTATIONS, RFC, Implementation
from mhmailbox.conformance.cases import (BY_ID, CASES, DIRECT_CHECKS, ORACLE, Deviation, deviation_message, machine,
                                         replay)
from mhmailbox.conformance.mutants import PlaintextPage
from mhmailbox.conformance.runner import GRADE, run_case, summary
from mhmailbox.impl.guest import GuestHelper
from mhmailbox.impl.host import Host

ROOT = Path(__file__).resolve().parents[1]


class DoneTwice(GuestHelper):
    """Writes done a second time, with the same value, after each command: no peer can tell
    (the value does not change), but the model has no such step."""

    def _serve(self, g: int) -> None:
        super()._serve(g)
        self.port.write("done", g)


class DoneTwicePlaintext(DoneTwice, PlaintextPage):
    """The same style, and ENCRYPT copies the page out in plaintext (guest.confidential)."""


DONE_TWICE = attrs.evolve(HARDENED, name="done-twice", guest_cls=DoneTwice)


class ClearsHeaderLength(Host):
    """Writes hdr_len = 0 before each save: the helper writes it again before done, so no peer
    and no property can tell, but the model's save has no such step."""

    def save_page(self, gpa: int):  # type: ignore[no-untyped-def]
        self.port.write("hdr_len", 0)
        return super().save_page(gpa)


CLEARS_HDR_LEN = attrs.evolve(HARDENED, name="clears-hdr-len", host_cls=ClearsHeaderLength)


@attrs.frozen
class NoLoad(Implementation):
    """The Python host of a protocol, declared without a load (like the published C file)."""

    @property
    def operations(self) -> frozenset[str]:
        return HOST_OPERATIONS - {"load"}


RFC_NO_LOAD = NoLoad("rfc-no-load", "rfc", RFC.valid_hdr_len)
HARDENED_NO_LOAD = NoLoad("hardened-no-load", "hardened", HARDENED.valid_hdr_len)


# ---------------------------------------------------------------- deviates
def test_a_divergence_alone_deviates_and_says_what_was_checked() -> None:
    r = run_case("guest/honest", DONE_TWICE, examples=10)
    assert (r.verdict, r.prop) == ("deviates", "divergence"), (r.verdict, r.prop, r.message)
    assert r.diverged == r.examples >= 10  # every example writes done twice
    k = r.divergence["access"]
    assert r.message.startswith(f"no property failed; deviates from the reference procedure at access #{k} "
                                f"(in {r.examples} of {r.examples} examples): ")
    assert f"The model's monitors ran up to access #{k}" in r.message
    assert "guest.confidential, guest.integrity" in r.message and "ran to the end of every example (this case's robust, honest among them)." in r.message
    assert r.steps == [("init", {})]  # shrunk by the second pass: the first INIT already diverges
    again = replay("guest/honest", DONE_TWICE, r.steps)
    assert isinstance(again, Deviation) and again.divergence["access"] == k


def test_a_property_only_the_model_judges_is_named_as_judged_up_to_the_divergence() -> None:
    text = deviation_message(BY_ID["host/init-after-reset"], {"access": 5, "why": "w"}, 60, 2)
    assert text.startswith("no property failed; deviates from the reference procedure at access #5 (in 2 of 60 examples): w. ")
    assert "The model's monitors ran up to access #5 (so state.init-before-use was judged only that far); " in text
    assert text.endswith("ran to the end of every example (none of this case's properties among them).")
    assert "judged only" not in deviation_message(BY_ID["host/barriers"], {"access": 5, "why": "w"})


def test_the_deviating_helper_violates_no_property() -> None:
    """The premise of the test above: with the oracle off, every helper case passes."""
    ORACLE["on"] = False
    try:
        for case in ("guest/honest", "guest/confidential", "guest/tamper", "guest/barriers"):
            r = run_case(case, DONE_TWICE, examples=10)
            assert r.verdict == "pass", (case, r.prop, r.message)
    finally:
        ORACLE["on"] = True


@pytest.mark.parametrize("case", ["host/honest", "host/publish-after-timeout"])
def test_a_host_that_only_deviates_gets_deviates(case) -> None:
    """The wire checks go on after the divergence, late helpers and timeouts included, and find
    nothing: a harmless extra write is a deviation, not a failure."""
    r = run_case(case, CLEARS_HDR_LEN, examples=30)
    assert (r.verdict, r.prop) == ("deviates", "divergence"), (r.prop, r.message)
    assert r.divergence["observed"] == "write hdr_len=0"


def test_a_property_violation_after_the_divergence_still_fails() -> None:
    """The example goes on after the divergence (at INIT's second done), so the plaintext page of
    the ENCRYPT after it is seen: fail, with the divergence reported alongside."""
    impl = attrs.evolve(HARDENED, name="done-twice-plaintext", guest_cls=DoneTwicePlaintext)
    r = run_case("guest/confidential", impl, examples=20, shrink_seconds=2.0)
    assert (r.verdict, r.prop) == ("fail", "guest.confidential"), (r.verdict, r.prop, r.message)
    assert r.divergence is not None and r.divergence["access"] < 10


def test_our_implementations_do_not_deviate() -> None:
    for impl in ("hardened", "rfc"):
        r = run_case("host/hostile-peer", impl, examples=10)
        assert r.verdict == "pass" and r.diverged == 0, (impl, r.message)


# ---------------------------------------------------------------- skipped: operations an implementation lacks
def test_a_host_without_load_gets_no_load_rule() -> None:
    assert hasattr(machine(BY_ID["host/honest"], HARDENED), "load")
    assert not hasattr(machine(BY_ID["host/honest"], HARDENED_NO_LOAD), "load")
    with pytest.raises(ValueError, match="has no load operation"):
        replay("host/honest", HARDENED_NO_LOAD, [("save", {"g": 0, "sched": []}), ("load", {"g": 0, "sched": []})])


def test_a_case_that_needs_a_missing_operation_is_skipped_never_passed() -> None:
    r = run_case("host/honest", HARDENED_NO_LOAD, examples=10)
    assert r.verdict == "skipped"
    assert r.reason == ("not run: every load succeeding with an honest helper (needs a load operation, which "
                        f"hardened-no-load does not have); its cleanups and saves passed {r.examples} examples")
    assert "load" in r.coverage["not_visited"]  # no load ran (the model step that starts one)
    # a case that needs nothing it lacks is judged as usual, and says what it drew without
    r = run_case("host/barriers", HARDENED_NO_LOAD, examples=10)
    assert r.verdict == "pass" and r.reason == ("drawn without a load operation (hardened-no-load does not have it); "
                                                "no check of this case needs it")
    assert run_case("host/barriers", HARDENED, examples=10).reason is None


def test_a_failure_found_without_the_missing_operation_is_a_failure() -> None:
    r = run_case("host/init-after-reset", RFC_NO_LOAD, examples=60, shrink_seconds=1.0)
    assert (r.verdict, r.prop) == ("fail", "state.init-before-use")
    assert r.reason.startswith("not run: DECRYPT only after an INIT since the last RESET")
    assert all(name != "load" for name, _ in r.steps)


# ---------------------------------------------------------------- summary, exit status, JSON, JUnit
def test_summary_grades_and_counts() -> None:
    assert GRADE == ("pass", "skipped", "deviates", "unknown", "fail")
    ok = run_case("guest/barriers", "hardened", examples=3)
    dev = run_case("guest/barriers", DONE_TWICE, examples=3)
    skip = run_case("host/honest", HARDENED_NO_LOAD, examples=3)
    fail = run_case("host/barriers", "rfc", examples=3, shrink_seconds=0.5)
    s = summary([ok, dev, skip])
    assert (s["pass"], s["skipped"], s["deviates"], s["fail"], s["verdict"]) == (1, 1, 1, 0, "deviates")
    assert s["deviates_ids"] == ["guest/barriers"] and s["skipped_ids"] == ["host/honest"]
    assert summary([ok, skip])["verdict"] == "skipped" and summary([ok])["verdict"] == "pass"
    assert summary([dev, fail, skip])["verdict"] == "fail"


def _conform(capsys, *argv: str) -> tuple[int, str]:
    rc = main(["conform", *argv])
    return rc, capsys.readouterr().out


def _json_and_junit(capsys, monkeypatch, tmp_path, impl: Implementation, *cases: str) -> tuple[dict, ET.Element]:
    """`conform --impl NAME --case ... --json --junit FILE` (exit status 0): the JSON and the JUnit root."""
    monkeypatch.setitem(IMPLEMENTATIONS, impl.name, impl)
    junit = tmp_path / "r.xml"
    rc, out = _conform(capsys, "--impl", impl.name, *(x for c in cases for x in ("--case", c)),
                       "--examples", "3", "--json", "--junit", str(junit))
    assert rc == 0
    return json.loads(out), ET.parse(junit).getroot()


def test_deviations_exit_0_and_are_in_text_json_and_junit(capsys, monkeypatch, tmp_path) -> None:
    doc, suite = _json_and_junit(capsys, monkeypatch, tmp_path, DONE_TWICE, "guest/honest", "guest/barriers")
    assert [c["verdict"] for c in doc["cases"]] == ["deviates", "deviates"]
    assert doc["cases"][0]["reproducer"].startswith("from mhmailbox.conformance.cases import replay")
    assert doc["cases"][0]["diverged_examples"] >= 3 and doc["cases"][0]["divergence"]["access"] >= 1
    s = doc["summary"]
    assert (s["deviates"], s["fail"], s["verdict"], s["deviates_ids"]) == (2, 0, "deviates", ["guest/honest", "guest/barriers"])
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("2", "0", "0", "0")
    assert suite.find("properties/property[@name='deviates']").get("value") == "2"
    for tc in suite.iter("testcase"):
        assert tc.find("failure") is None and tc.find("properties/property").get("value") == "deviates"
        assert "deviates from the reference procedure at access #" in tc.find("system-out").text
    rc, out = _conform(capsys, "--impl", "done-twice", "--case", "guest/barriers", "--examples", "3")
    assert rc == 0 and out.startswith("DEV  SHOULD guest/barriers")
    assert "done-twice: 0 pass, 0 skipped, 1 deviates, 0 fail, 0 unknown (deviates: guest/barriers)" in out


def test_skips_exit_0_and_are_in_text_json_and_junit(capsys, monkeypatch, tmp_path) -> None:
    doc, suite = _json_and_junit(capsys, monkeypatch, tmp_path, HARDENED_NO_LOAD, "host/honest", "host/barriers")
    s = doc["summary"]
    assert (s["pass"], s["skipped"], s["skipped_ids"], s["verdict"]) == (1, 1, ["host/honest"], "skipped")
    assert (suite.get("skipped"), suite.get("failures")) == ("1", "0")
    skipped = [tc for tc in suite.iter("testcase") if tc.find("skipped") is not None]
    assert [tc.get("name") for tc in skipped] == ["host/honest [MUST]"]
    assert "needs a load operation" in skipped[0].find("skipped").get("message")
    rc, out = _conform(capsys, "--impl", "hardened-no-load", "--case", "host/honest", "--examples", "3")
    assert rc == 0 and out.startswith("skip MUST   host/honest") and "(skipped: host/honest)" in out


def test_exit_status_by_verdict() -> None:
    """1 for a failure or a run that could not conclude; 0 for pass, skipped and deviates."""
    from mhmailbox.conformance.cli import exit_status
    from mhmailbox.conformance.runner import Result

    def status(*verdicts: str) -> int:
        return exit_status(summary([Result(BY_ID["host/honest"], "x", v, 1, 0.1) for v in verdicts]))

    assert status("pass", "skipped", "deviates") == 0
    assert status("pass", "unknown") == 1 and status("deviates", "fail") == 1


def test_a_failure_exits_1_even_with_passes(capsys) -> None:
    rc, out = _conform(capsys, "--impl", "rfc", "--case", "host/honest", "--case", "host/barriers", "--examples", "5")
    assert rc == 1 and "rfc: 1 pass, 0 skipped, 0 deviates, 1 fail, 0 unknown" in out


# ---------------------------------------------------------------- the direct checks are the rig's
def _violated_literals(path: Path, cls: str) -> set[str]:
    """Property ids passed as a literal to ``violate`` in class ``cls`` of ``path``, except in
    ``_after_model_step`` (timed by the model's command windows: it stops at a divergence)."""
    out: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for fn in node.body:
                if isinstance(fn, ast.FunctionDef) and fn.name != "_after_model_step":
                    for call in ast.walk(fn):
                        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                                and call.func.attr == "violate" and isinstance(call.args[0], ast.Constant)):
                            out.add(call.args[0].value)
    return out


def test_direct_checks_named_in_messages_are_those_the_rigs_make() -> None:
    rig, cases = ROOT / "conformance" / "rig.py", ROOT / "conformance" / "cases.py"
    host = _violated_literals(rig, "HostRig") | _violated_literals(rig, "RigBase") | _violated_literals(cases, "HostMachine")
    guest = _violated_literals(rig, "GuestRig") | _violated_literals(rig, "RigBase") | _violated_literals(cases, "GuestMachine")
    assert set(DIRECT_CHECKS["host"]) == host | {"liveness.honest-progress"}  # progress_check, called by the machine
    assert set(DIRECT_CHECKS["guest"]) == guest


# ---------------------------------------------------------------- bench/verdict_table.py
def _verdict_table():
    import importlib.util

    spec = importlib.util.spec_from_file_location("verdict_table", ROOT / "bench" / "verdict_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_verdict_table_rows_are_the_cases_and_an_absent_file_says_why(monkeypatch, tmp_path) -> None:
    vt = _verdict_table()
    monkeypatch.setattr(vt, "PUBLISHED", str(tmp_path / "nowhere.c"))
    table = vt.run([BY_ID["host/barriers"], BY_ID["guest/barriers"]], examples=2)
    assert [r["case"] for r in table["rows"]] == ["host/barriers", "guest/barriers"]
    host, guest = (r["cells"] for r in table["rows"])
    assert host["C rfc"] == {"verdict": "not run", "reason": "the published host file (reference/qemu-rfc/"
                             "confidential-ram.c beside the repository) is not there"}
    assert host["Python rfc"]["verdict"] == "fail" and host["Python rfc"]["property"] == "barriers"
    assert host["Python hardened"]["verdict"] == "pass"
    for column in ("C rfc", "C hardened"):  # a column with nothing to run says why; never an empty cell
        assert guest[column]["verdict"] != "not run" or guest[column]["reason"]
    lines = vt.markdown(table).splitlines()
    assert lines[0] == "| case | Python rfc | C rfc | Python hardened | C hardened |"
    assert lines[2].startswith("| host/barriers | fail: barriers | not run: the published host file")


def test_docs_side_by_side_table_has_a_row_per_case() -> None:
    text = (ROOT / "docs" / "conformance.md").read_text()
    section = text.split("## Side by side", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| ")]
    assert rows[0] == "case" and rows[1:] == [c.id for c in CASES]
    assert "python bench/verdict_table.py" in section
