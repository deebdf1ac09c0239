"""The conformance cases against the two implementations.

Acceptance: hardened (host and helper) passes every case; rfc fails exactly the cases that
match docs/review-rfc.md's findings, each found within 60 s and shrunk to at most 15 steps,
and every reproducer replays to the same failure. Examples per case follow the Hypothesis
profile: ``ci`` 60, the same every run; ``dev`` 200 and ``long`` 2,000, fresh random examples for
hardened (the rfc runs stay derandomized: they pin what the default run finds); rfc runs stop at
their first failure.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import settings

from mhmailbox.conformance.cases import CASES, replay
from mhmailbox.conformance.runner import run_case

from doc_tables import doc_row

EXAMPLES = settings.default.max_examples
#: the profile decides: ``ci`` replays the same examples every run, ``dev`` and ``long`` draw fresh ones
RANDOM = not settings.default.derandomize
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hardened_passes(case) -> None:
    r = run_case(case, "hardened", examples=EXAMPLES, derandomize=not RANDOM)
    assert r.verdict == "pass", (r.prop, r.message, r.divergence, r.reproducer)
    assert r.examples >= EXAMPLES // 2


@pytest.fixture(scope="module")
def default_run() -> dict:
    """`mhmailbox conform --impl hardened --json`, the command the docs quote, run as a user runs it
    (the examples Hypothesis draws depend on its settings, which a test session's profile changes)."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "mhmailbox", "conform", "--impl", "hardened", "--json"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT / "tests",
                         env={k: v for k, v in __import__("os").environ.items() if k != "HYPOTHESIS_PROFILE"})
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


@pytest.mark.parametrize("side", ["host", "guest"])
def test_docs_state_the_model_coverage_of_the_default_run(side: str, default_run: dict) -> None:
    """docs/conformance.md's coverage figure is what `mhmailbox conform --impl hardened` (60
    derandomized examples per case) visits of the hardened model's steps, per side."""
    results = [r for r in default_run["cases"] if r["side"] == side]
    assert all(r["verdict"] == "pass" for r in results)
    total = results[0]["coverage"]["model_steps_total"]
    labels = set(results[0]["coverage"]["not_visited"])
    for r in results:
        labels &= set(r["coverage"]["not_visited"])
    text = (ROOT / "docs" / "conformance.md").read_text()
    m = re.search(rf"{side}\s+cases\s+visit\s+\*\*(\d+) of (\d+)\*\*\s+steps\s+of\s+the\s+hardened\s+{side}\s+model"
                  rf"(?:\s+\(not\s+reached:\s+([^)]*)\))?", text)
    assert m, f"docs/conformance.md states no coverage figure for the {side} cases"
    assert (int(m[1]), int(m[2])) == (total - len(labels), total), sorted(labels)
    assert set(re.findall(r"`([^`]+)`", m[3] or "")) == labels


def test_case_findings_are_the_reviews_findings() -> None:
    review = (ROOT / "docs" / "review-rfc.md").read_text()
    found = set(re.findall(r"^\| (F\d+) \|", review, re.M))
    covered = {f for c in CASES for f in c.findings}
    assert covered == found, f"not covered: {sorted(found - covered)}; unknown: {sorted(covered - found)}"


EXPECTED_RFC = [c for c in CASES if c.findings]
PASSING_RFC = [c for c in CASES if not c.findings]


@pytest.mark.parametrize("case", EXPECTED_RFC, ids=[c.id for c in EXPECTED_RFC])
def test_rfc_fails_each_finding_case(case) -> None:
    r = run_case(case, "rfc", examples=max(EXAMPLES, 60), shrink_seconds=3.0)
    assert r.verdict == "fail", f"{case.id} ({', '.join(case.findings)}) not found in {r.examples} examples"
    assert r.prop in case.properties, (r.prop, r.message, r.divergence)
    assert r.found_after is not None and r.found_after < 60
    assert 1 <= len(r.steps) <= 15
    again = replay(case.id, "rfc", r.steps)
    assert again is not None and again.prop == r.prop
    row = doc_row("docs/conformance.md", case.id)
    assert row[1] == ", ".join(case.findings) and row[2] == r.prop, row


@pytest.mark.parametrize("case", PASSING_RFC, ids=[c.id for c in PASSING_RFC])
def test_rfc_passes_cases_without_a_finding(case) -> None:
    r = run_case(case, "rfc", examples=EXAMPLES, derandomize=not RANDOM)
    assert r.verdict == "pass", (r.prop, r.message, r.divergence, r.reproducer)


def test_reproducer_is_ready_to_paste() -> None:
    r = run_case("host/stale-completion", "rfc", examples=60, shrink_seconds=3.0)
    ns: dict = {}
    exec(compile(r.reproducer, "<reproducer>", "exec"), ns)  # noqa: S102 - our own snippet
    assert ns["failure"] is not None and ns["failure"].prop == "order.response"


def test_a_loads_wait_for_a_pending_command_opens_its_deadline() -> None:
    """Regression (found by a random run): a load whose wait for a timed-out command times out
    is timed from the start of that wait (the model's load.quiesce), and a DECRYPT after the
    wait shares that deadline, as the implementation's does."""
    steps = [("save", {"g": 0, "sched": []}), ("cleanup", {"sched": []}), ("cleanup", {"sched": []}),
             ("save", {"g": 0, "sched": []}),  # the record to load, saved in this migration
             ("save", {"g": 0, "sched": [(0, ("wake",))]}),
             ("save", {"g": 0, "sched": [(0, ("silent",)), (0, ("serve",))]}), ("load", {"g": 0, "sched": []})]
    assert replay("host/bounded-wait", "hardened", steps) is None
    assert replay("host/no-false-timeout", "hardened", steps) is None


def test_replay_window_follows_the_gpa_actually_served() -> None:
    """Regression (found by a random run): the host rewrote gpa after go, so the page was accepted
    at its own gpa, not the one first requested; offering it again there is a replay."""
    steps = [("init", {}), ("encrypt", {"g": 0, "sched": []}),
             ("decrypt_at", {"i": 0, "sched": [(0, ("param", "gpa", 0))], "to": 1}),
             ("decrypt_fresh", {"g": 0, "sched": []})]
    assert replay("guest/hostile-host", "hardened", steps) is None
