"""``migrate --record``: a real run of our hardened pair (source and target VM, helpers in their own
processes) is one log in one order that check-log finds conforming; the same log with one access
removed is not; an existing file is not overwritten."""
from __future__ import annotations

import json

import pytest

from mhmailbox.cli import main
from mhmailbox.conformance.logcheck import check_log
from mhmailbox.impl.migrate import run_migration


@pytest.fixture(scope="module")
def migration_log(tmp_path_factory) -> list[str]:
    path = tmp_path_factory.mktemp("log") / "run.jsonl"
    # a generous deadline: recording serializes every access, and the machine may be busy
    report = run_migration(8 * 4096, "hardened", timeout=5.0, record=str(path))
    assert report.verified and report.pages == 8
    return path.read_text().splitlines()


def test_a_recorded_migration_is_one_order_of_both_vms_and_conforms(migration_log):
    header = json.loads(migration_log[0])
    assert (header["protocol"], header["sides"], header["writes"]) == ("hardened", ["host", "guest"], "all")
    events = [json.loads(t) for t in migration_log[1:]]
    assert [e["i"] for e in events] == sorted(e["i"] for e in events)
    assert {(e["vm"], e["side"]) for e in events} == {(v, s) for v in ("source", "target") for s in ("host", "guest")}
    ops = [(e["vm"], e["op"]) for e in events if e["ev"] == "op"]
    assert ops.count(("source", "save")) == 8 and ops.count(("target", "load")) == 8
    r = check_log(migration_log, "hardened")
    assert (r.verdict, r.violations, r.divergence) == ("conforms", [], None)
    assert r.accesses > 8 * 2 * 10


def test_a_recorded_migration_with_an_access_removed_diverges(migration_log):
    n = next(k for k, t in enumerate(migration_log[1:], 2)
             if '"vm": "target"' in t and '"side": "guest"' in t and '"off": 20' in t and '"write"' in t)
    r = check_log(migration_log[:n - 1] + migration_log[n:], "hardened")  # a DECRYPT's ret never written
    assert r.verdict == "diverges" and r.divergence["side"] == "guest" and r.divergence["vm"] == "target"
    assert r.divergence["line"] == n


def test_migrate_record_refuses_an_existing_file(tmp_path, capsys):
    f = tmp_path / "run.jsonl"
    f.write_text("keep")
    assert main(["migrate", "--ram", "32KiB", "--record", str(f)]) == 2
    assert "exists" in capsys.readouterr().err and f.read_text() == "keep"
