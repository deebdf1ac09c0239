"""``mhmailbox stress``: real processes on one shared mapping, every access in one logged order.

The published host file is read from ../shared/reference/qemu-rfc/ beside the repository
(never copied into it); its test skips, saying so, where it is absent. Timing is real, so
the tests assert what every run must show (a coherent log, the double fetch found within a
generous budget, nothing found on the hardened host) and not how fast.
"""
from __future__ import annotations

import json
import os
import sys

import pytest

from ckit_support import PUBLISHED, needs_cc, needs_published

from mhmailbox.cli import main
from mhmailbox.conformance.logcheck import check_log
from mhmailbox.conformance.logformat import parse_log
from mhmailbox.conformance.stress import DEFAULT_DELAY, Target, build_c_host, judged, one_run, stress
from mhmailbox.conformance.stress_log import record_checks

pytestmark = needs_cc
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARDENED_C_HOST = os.path.join(REPO, "examples", "c", "hardened-host", "confidential-ram.c")
DOUBLE_FETCH = ("adversary.header-bound", "adversary.in-bounds")


def test_an_honest_run_is_one_coherent_order_of_both_sides() -> None:
    """Every read in the merged log is explained by the writes before it (sc), for both sides,
    judged by check-log: the lock and the counter put each access where it hit memory. A log
    taken outside the lock, or merged out of order, would diverge at a read."""
    log, lines, found = one_run(Target("impl", "hardened", "Python host hardened"), False, 7, DEFAULT_DELAY)
    header, events = parse_log(log)
    assert header.sides == ("host", "guest")
    assert {e.side for e in events} == {"host", "guest"}
    assert sum(1 for e in events if e.ev == "op") == 6
    rep = check_log(log, "hardened")  # both sides judged: our helper is honest
    assert rep.verdict == "conforms", (rep.divergence, rep.violations)
    assert found == []


@needs_published
def test_the_published_hosts_double_fetch_is_found_on_real_concurrency(tmp_path) -> None:
    """The published file, unedited, against the adversarial helper: a header-length rewrite lands
    between the host's check and its re-read; the saved log shows it and parses."""
    target = Target("c-host", "rfc", "published", build_c_host([PUBLISHED]))
    rep = stress(target, seconds=120, seed=1, log_dir=str(tmp_path), stop_on=DOUBLE_FETCH)
    hit = [f for f in rep.findings if f.violation.property in DOUBLE_FETCH]
    assert hit, [f.violation for f in rep.findings]
    f = hit[0]
    assert f.log is not None and os.path.isfile(f.log)
    header, events = parse_log(f.log)
    assert header.protocol == "rfc"
    host_len_reads = [e for e in events if e.side == "host" and e.ev == "read" and e.off == 0x800]
    assert len({e.data for e in host_len_reads}) > 1  # the host saw the length change
    assert any(f'"i": {f.violation.i},' in line for line in f.excerpt)
    # a busy loop is folded: no host read of done right after the same read of done
    host = [e for e in events if e.side == "host"]
    assert not any(a.ev == b.ev == "read" and a.off == b.off == 0x1C and a.data == b.data
                   for a, b in zip(host, host[1:]))


def test_our_hardened_host_survives_the_adversarial_helper() -> None:
    """Our Python hardened host reads the header length once: a few seconds of stress find nothing."""
    rep = stress(Target("impl", "hardened", "Python host hardened"), seconds=2, seed=11, keep_going=True)
    assert rep.runs >= 1 and rep.accesses > 0 and rep.saves > 0
    assert rep.findings == [], [f.as_dict() for f in rep.findings]


def test_a_host_over_the_process_wire() -> None:
    """--exec: the driver makes each announced access on the shared mapping and copies the mailbox
    into the process's own file before answering; our hardened host over the wire completes its
    saves against the adversarial helper and its log is explained by the model (a process reading
    a stale file would wait for a done it never sees, or diverge)."""
    argv = (sys.executable, "-m", "mhmailbox.conformance.wire_python", "--side", "host", "--impl", "hardened")
    rep = stress(Target("exec", "hardened", "wire hardened host", argv=argv), seconds=2, seed=2, keep_going=True)
    assert rep.saves > 0 and rep.findings == [], [f.as_dict() for f in rep.findings]


def test_our_helpers_under_an_adversarial_host() -> None:
    """The helper side: the rfc helper copies the plaintext page out (guest.confidential, judged on
    the bytes of the logged RAM pages); the hardened helper, whose parameters a hostile host
    rewrites right after go, is found doing nothing wrong."""
    rfc = stress(Target("impl", "rfc", "Python helper rfc", side="guest"), seconds=30, seed=1,
                 stop_on=("guest.confidential",))
    assert "guest.confidential" in {f.violation.property for f in rfc.findings}
    assert all(f.violation.side == "guest" for f in rfc.findings)
    hardened = stress(Target("impl", "hardened", "Python helper hardened", side="guest"), seconds=2, seed=1,
                      keep_going=True)
    assert hardened.runs >= 1 and hardened.findings == [], [f.as_dict() for f in hardened.findings]


def test_our_c_helpers_under_an_adversarial_host() -> None:
    """--c-guest: the helper's loop in its own process on the same mapping (RAM at its gpas, its
    saved pages logged); the C rendering of the published helper copies the plaintext page out,
    our hardened C helper is found doing nothing wrong in a few seconds."""
    helpers = os.path.join(REPO, "examples", "c")
    rfc = Target("c-guest", "rfc", "C rfc helper", build_c_host(
        [os.path.join(helpers, "rfc-helper", "ConfidentialMigrationRfc.c")], helper_entry="MigrationHandlerMain"),
        side="guest")
    rep = stress(rfc, seconds=30, seed=1, stop_on=("guest.confidential",))
    assert "guest.confidential" in {f.violation.property for f in rep.findings}
    hardened = Target("c-guest", "hardened", "C hardened helper", build_c_host(
        [os.path.join(helpers, "hardened-helper", "ConfidentialMigrationHardened.c")],
        helper_entry="MigrationHandlerMain"), side="guest")
    rep = stress(hardened, seconds=2, seed=1, keep_going=True)
    assert rep.runs >= 1 and rep.saves > 0 and rep.findings == [], [f.as_dict() for f in rep.findings]


def test_judged_follows_the_catalog() -> None:
    """A hostile helper can always forge a completion: order.response is not held against a host
    under it, but is with an honest helper; a helper's property never counts against a host."""
    assert not judged("order.response", "host", adversarial=True)
    assert judged("order.response", "host", adversarial=False)
    assert judged("adversary.header-bound", "host", adversarial=True)
    assert not judged("guest.confidential", "host", adversarial=False)
    assert judged("guest.confidential", "guest", adversarial=True)
    assert not judged("order.publish", "guest", adversarial=True)
    assert judged("divergence", "guest", adversarial=True) and judged("robust", "host", adversarial=False)


def _save(i: int, reads: list[int], emitted: int, header: bytes) -> list[dict]:
    lines = [{"i": i, "side": "host", "op": "save", "gpa": 65536}]
    for k, v in enumerate(reads):
        lines.append({"i": i + 1 + k, "side": "host", "ev": "read", "off": 0x800, "len": 4,
                      "data": v.to_bytes(4, "little").hex()})
    lines.append({"i": i + 10, "side": "host", "result": "ok", "ret": 0, "hdr_len": emitted, "header": header.hex(),
                  "page": ""})
    return lines


def test_record_checks_judge_what_the_host_read_and_emitted() -> None:
    assert record_checks(_save(0, [68, 68], 68, bytes(68))) == []
    moved = record_checks(_save(0, [0, 2048], 0, b""))
    assert [(v.property, v.i) for v in moved] == [("adversary.header-bound", 2)]
    assert [v.property for v in record_checks(_save(0, [4], 5, bytes(4)))] == ["adversary.header-bound"]
    assert [v.property for v in record_checks(_save(0, [2000], 2000, bytes(2000)))] == ["adversary.header-bound"]
    assert [v.property for v in record_checks(_save(0, [8], 8, b"HOSTMEM!"))] == ["adversary.in-bounds"]
    fault = [{"i": 3, "side": "host", "ev": "fault", "off": 0x804, "len": 1 << 30}]
    assert [v.property for v in record_checks(fault)] == ["adversary.in-bounds"]
    assert record_checks(_save(0, [0, 2048], 0, b""), side="guest") == []  # only the side under test


def test_cli_json_report_and_exit_status(capsys) -> None:
    code = main(["stress", "--impl", "hardened", "--seconds", "1", "--seed", "3", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    d = json.loads(out)
    assert d["verdict"] == "nothing found" and d["violations"] == [] and d["runs"] >= 1
    assert d["protocol"] == "hardened" and d["peer"] == "adversarial"


@pytest.mark.parametrize("args, message", [
    (["--c-host", "x.c"], "--c-host needs --protocol"),
    (["--impl", "hardened", "--protocol", "rfc"], "implements hardened, not rfc"),
    (["--impl", "hardened", "--define", "A=1"], "--define and --cflags are for a C file"),
    (["--impl", "hardened", "--stop-on", "no.such"], "--stop-on no.such: not a property"),
    (["--c-host", "/nonexistent.c", "--protocol", "rfc"], "no such file"),
    (["--impl", "hardened", "--seconds", "0"], "expected a finite positive number"),
    (["--exec", "python3 x.py"], "--exec needs --protocol"),
    (["--exec", "no-such-command-here", "--protocol", "rfc"], "no such command"),
    (["--exec", "sh x", "--side", "guest", "--protocol", "rfc"], "--side guest: a helper is stressed with"),
    (["--c-guest", "x.c"], "--c-guest needs --protocol"),
])
def test_cli_usage_errors_are_one_line_exit_2(args: list[str], message: str, capsys) -> None:
    assert main(["stress", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_cli_refuses_to_replace_an_earlier_sessions_logs(tmp_path, capsys) -> None:
    (tmp_path / "mhstress-run-1.jsonl").write_text("kept\n")
    assert main(["stress", "--impl", "hardened", "--seconds", "1", "--logs", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "mhstress-run-1.jsonl").read_text() == "kept\n"
