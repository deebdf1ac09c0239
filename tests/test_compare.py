"""``mhmailbox compare A B`` (model/compare.py): what B fixes, breaks and keeps."""
from __future__ import annotations

import json

import attrs
import pytest

from mhmailbox.cli import main
from mhmailbox.model.check import Result
from mhmailbox.model.compare import Row, combine
from mhmailbox.model.findings import FINDINGS


def compare(capsys, *argv: str) -> tuple[int, dict]:
    rc = main(["compare", *argv, "--json", "--jobs", "1"])
    return rc, json.loads(capsys.readouterr().out)


def test_compare_rfc_hardened_marks_every_review_finding_fixed(capsys) -> None:
    """The review's table (model/findings.py): each finding's property in its cell is violated by rfc
    and holds for hardened, so compare marks it fixed (bounds as verify's; a finding checked with the
    helper started first is still violated by rfc without that bound)."""
    for f in FINDINGS:
        rc, doc = compare(capsys, "rfc", "hardened", "--memory", f.memory, "--guest", f.guest, "--host", f.host,
                          "--property", f.property, "--no-trace")
        (row,) = doc["rows"]
        assert rc == 0, (f.id, row)
        assert (row["property"], row["memory"], row["guest"], row["host"]) == (f.property, f.memory, f.guest, f.host)
        assert row["status"] == "fixed", (f.id, row)
        assert row["a"]["verdict"] == "violated" and row["b"]["verdict"] in ("holds-to-depth", "proved")


def test_the_reverse_comparison_breaks_with_shortest_traces_and_exit_1(capsys) -> None:
    cell = ["--memory", "sc", "--guest", "adversarial", "--host", "faithful"]
    rc_fix, fix = compare(capsys, "rfc", "hardened", *cell)
    rc, doc = compare(capsys, "hardened", "rfc", *cell)
    assert rc_fix == 0 and rc == 1
    fixed = {r["property"] for r in fix["rows"] if r["status"] == "fixed"}
    broken = [r for r in doc["rows"] if r["status"] == "broken"]
    assert fixed and {r["property"] for r in broken} == fixed
    for r in broken:
        assert r["a"]["verdict"] == "holds-to-depth" and r["b"]["verdict"] == "violated"
        assert len(r["trace"]) == r["b"]["depth"] + 1  # step 0 is the initial state
    held = [r for r in doc["rows"] if r["status"] == "holds"]
    assert held and all("trace" not in r for r in held)
    assert doc["summary"]["broken"] == len(broken)


def test_text_and_markdown_show_the_new_violation_and_its_trace(capsys) -> None:
    argv = ["hardened", "rfc", "--memory", "sc", "--guest", "adversarial", "--host", "faithful",
            "--property", "adversary.in-bounds", "--jobs", "1"]
    assert main(["compare", *argv]) == 1
    text = capsys.readouterr().out
    assert "adversary.in-bounds" in text and "broken" in text
    assert "== adversary.in-bounds newly violated by rfc on sc / guest adversarial / host faithful" in text
    assert "third read of hdr.len" in text  # the double fetch, in the trace
    assert main(["compare", *argv, "--markdown", "--no-trace"]) == 1
    md = capsys.readouterr().out
    assert "| property | cell | hardened | rfc | status |" in md
    assert "| `adversary.in-bounds` | sc, adversarial guest, faithful host | holds-to-depth (exhaustive) | " \
           "violated (22 steps) | **broken** |" in md
    assert "```" not in md  # --no-trace


def _r(engine: str, verdict: str, depth: int = 5, trace: bool = False) -> Result:
    return Result(property="p", variant="v", memory="sc", guest="honest", host="faithful", engine=engine,
                  verdict=verdict, depth=depth, states=0, seconds=0.0, bound="b",
                  trace=[{}] * (depth + 1) if trace else None)


def test_statuses_and_how_engines_combine() -> None:
    def status(a: str | None, b: str | None) -> str:
        return Row("p", "sc", "honest", "faithful", a and _r("explicit", a), b and _r("explicit", b)).status

    assert status("violated", "proved") == "fixed" and status("violated", "holds-to-depth") == "fixed"
    assert status("proved", "violated") == "broken" and status("unknown", "violated") == "broken"
    assert status("vacuous", "violated") == "broken"
    assert status("violated", "violated") == "still violated"
    assert status("violated", "vacuous") == "unreached in B"  # not a fix anyone has shown
    assert status("violated", "unknown") == "unknown"
    assert status("holds-to-depth", "proved") == "holds" and status("vacuous", "proved") == "vacuous"
    assert status(None, "proved") == "only in B" and status("proved", None) == "only in A"
    # a violation wins over a proof of another engine, and the shortest trace is kept
    assert combine([_r("kind", "proved"), _r("bmc", "violated", 9, True), _r("explicit", "violated", 7, True)]) \
        .engine == "explicit"
    assert combine([_r("kind", "proved"), _r("explicit", "holds-to-depth")]).verdict == "proved"
    assert combine([_r("kind", "proved"), _r("explicit", "vacuous")]).verdict == "vacuous"
    exhaustive = attrs.evolve(_r("explicit", "holds-to-depth", 30), exhaustive=True)
    assert combine([_r("bmc", "holds-to-depth", 13), exhaustive, _r("kind", "unknown")]) is exhaustive


@pytest.mark.parametrize("argv,message", [
    (["rfc", "rfc"], "same variant"),
    (["rfc", "nosuch"], "nosuch"),
    (["rfc", "hardened", "--property", "no.such"], "unknown property"),
    (["rfc", "hardened", "--guest", "honest", "--host", "adversarial", "--property", "order.publish"],
     "no property applies"),
    (["rfc", "missing.py:X"], "missing.py"),
])
def test_usage_errors_exit_2_with_one_line(argv, message, capsys) -> None:
    assert main(["compare", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0], err
