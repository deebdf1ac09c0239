"""Recorded runs (``mhmailbox-log 1``) and ``check-log``: a recorded rfc stale completion is
``order.response`` at the host's read of ret; the hardened pair conforms; a log edited by hand
diverges where it was edited; TSO explains a stale read that SC does not; malformed logs are
refused with their line number; the command's exit statuses."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mhmailbox.cli import main
from mhmailbox.conformance.logcheck import check_log
from mhmailbox.conformance.logformat import LogFormatError, parse_log
from mhmailbox.conformance.logrecord import record_replay

#: the shrunk run of host/stale-completion on rfc: a RESET times out (slow helper), the helper then
#: serves it late, and the next RESET takes that completion as its own
STALE = [("save", {"g": 0, "sched": [(0, ("serve",))]}), ("cleanup", {"sched": [(0, ("sleep", 8))]}),
         ("cleanup", {"sched": [(5, ("serve",))]})]


@pytest.fixture(scope="module")
def rfc_log() -> list[str]:
    return record_replay("host/stale-completion", "rfc", STALE).splitlines()


@pytest.fixture(scope="module")
def hardened_log() -> list[str]:
    return record_replay("host/stale-completion", "hardened", STALE).splitlines()


def _events(lines: list[str]) -> list[tuple[int, dict]]:
    return [(n, json.loads(t)) for n, t in enumerate(lines, 1) if n > 1]


def _renumber(lines: list[str]) -> list[str]:
    out = lines[:1]
    for i, t in enumerate(lines[1:]):
        d = json.loads(t)
        d["i"] = i
        out.append(json.dumps(d))
    return out


def _find(lines: list[str], side: str, ev: str, off: int | None = None, nth: int = 0, kind: str | None = None) -> int:
    hits = [n for n, d in _events(lines) if d["side"] == side and d["ev"] == ev and (off is None or d.get("off") == off)
            and (kind is None or d.get("kind") == kind)]
    return hits[nth]


def test_rfc_stale_completion_is_order_response_at_the_host_read_of_ret(rfc_log):
    r = check_log(rfc_log, "rfc")
    assert r.divergence is None and r.verdict == "violated" and r.exit_status == 1
    by = {v.prop: v for v in r.violations}
    assert set(by) == {"order.response", "barriers"}
    # the host's last read of ret (0x14): the answer it took for its RESET, left by the late one
    assert by["order.response"].line == _find(rfc_log, "host", "read", 0x14, nth=-1)
    assert by["order.response"].side == "host"
    # and, as published, it reads ret with no read barrier after done (its first read of ret)
    assert by["barriers"].line == _find(rfc_log, "host", "read", 0x14, nth=0)


def test_the_hardened_pair_conforms_on_the_same_schedule(hardened_log):
    r = check_log(hardened_log, "hardened")
    assert (r.verdict, r.exit_status, r.violations, r.divergence) == ("conforms", 0, [], None)
    assert r.accesses > 60 and {"order.response", "memory", "adversary.header-bound"} <= set(r.judged)
    for memory in ("tso", "relaxed"):
        assert check_log(hardened_log, "hardened", memory=memory).verdict == "conforms"


def test_one_side_alone_is_judged_with_reads_taken_as_logged(hardened_log):
    header = json.loads(hardened_log[0])
    header["writes"] = "own"
    host_only = [json.dumps(header)] + [t for n, t in enumerate(hardened_log[1:], 2) if '"side": "host"' in t]
    r = check_log(host_only, "hardened")
    assert r.verdict == "conforms" and "memory" not in r.judged


def test_a_removed_barrier_is_a_divergence_at_the_access_after_it(hardened_log):
    wmb = _find(hardened_log, "host", "barrier", nth=1, kind="wmb")  # before the second command's go
    edited = hardened_log[:wmb - 1] + hardened_log[wmb:]
    r = check_log(edited, "hardened")
    assert r.verdict == "diverges" and r.exit_status == 1
    d = r.divergence
    assert (d["kind"], d["side"], d["line"]) == ("model", "host", wmb)  # the go write moved up to its line
    assert d["model_at"] == "send.wmb" and "write go" in d["observed"]


def test_a_changed_value_read_is_a_memory_divergence_at_its_line(hardened_log):
    go_read = _find(hardened_log, "guest", "read", 0x18, nth=2)  # the helper sees go = 2
    d = json.loads(hardened_log[go_read - 1])
    assert d["data"] == "02000000"
    d["data"] = "05000000"
    edited = hardened_log[:go_read - 1] + [json.dumps(d)] + hardened_log[go_read:]
    r = check_log(edited, "hardened")
    assert r.verdict == "diverges"
    assert (r.divergence["kind"], r.divergence["line"], r.divergence["side"]) == ("memory", go_read, "guest")
    # no write of 5 anywhere: no store buffer explains it either
    assert check_log(edited, "hardened", memory="tso").divergence["line"] == go_read


def test_a_changed_value_written_is_the_models_divergence(hardened_log):
    n = _find(hardened_log, "host", "write", 0x0, nth=1)  # the second command: ENCRYPT
    d = json.loads(hardened_log[n - 1])
    assert d["data"] == "0100000000000000"
    d["data"] = "0200000000000000"
    r = check_log(hardened_log[:n - 1] + [json.dumps(d)] + hardened_log[n:], "hardened")
    assert (r.divergence["kind"], r.divergence["line"]) == ("model", n)
    assert "cmd=2" in r.divergence["observed"]


def test_tso_explains_a_stale_read_that_sc_does_not(hardened_log):
    done = _find(hardened_log, "guest", "write", 0x1C, nth=0)  # the helper's done = 1
    assert json.loads(hardened_log[done])["ev"] == "read"  # the host's read of it follows
    stale = json.dumps({"i": 0, "side": "host", "ev": "read", "off": 0x1C, "len": 4, "data": "00000000"})
    edited = _renumber(hardened_log[:done] + [stale] + hardened_log[done:])
    sc = check_log(edited, "hardened", memory="sc")
    assert (sc.divergence["kind"], sc.divergence["line"]) == ("memory", done + 1)
    assert check_log(edited, "hardened", memory="tso").verdict == "conforms"
    # but a side always sees its own writes: the host reading back an older go than its own is no
    # TSO execution
    go = _find(edited, "host", "write", 0x18, nth=1)
    own = json.dumps({"i": 0, "side": "host", "ev": "read", "off": 0x18, "len": 4, "data": "01000000"})
    again = _renumber(edited[:go] + [own] + edited[go:])
    assert check_log(again, "hardened", memory="tso").divergence["line"] == go + 1


@pytest.mark.parametrize("edit, line, needle", [
    (lambda ls: ls[:2] + ["{not json"] + ls[3:], 3, "not JSON"),
    (lambda ls: ls[:2] + ['{"i": 1, "side": "host", "ev": "read", "off": 28, "len": 4}'] + ls[3:], 3, "needs `data`"),
    (lambda ls: ls[:2] + ['{"i": 1, "side": "vmm", "ev": "barrier", "kind": "mb"}'] + ls[3:], 3, "`side`"),
    (lambda ls: ls[:3] + [ls[2]] + ls[3:], 4, "`i` must increase"),
    (lambda ls: ls[:2] + ['{"i": 1, "side": "host", "ev": "read", "off": 28, "len": 4, "data": "00"}'] + ls[3:], 3,
     "with 1 bytes"),
    (lambda ls: ['{"log": "mhmailbox-log 9"}'] + ls[1:], 1, "header"),
    (lambda ls: [], 1, "empty log"),
])
def test_malformed_logs_name_their_line(hardened_log, edit, line, needle):
    with pytest.raises(LogFormatError) as e:
        parse_log(edit(hardened_log))
    assert e.value.line == line and needle in str(e.value)


def test_check_log_command(tmp_path, capsys, rfc_log, hardened_log):
    good, bad, broken = tmp_path / "good.jsonl", tmp_path / "bad.jsonl", tmp_path / "broken.jsonl"
    good.write_text("\n".join(hardened_log) + "\n")
    bad.write_text("\n".join(rfc_log) + "\n")
    broken.write_text("\n".join(hardened_log[:5] + ["[1, 2]"] + hardened_log[6:]) + "\n")
    assert main(["check-log", str(good), "--protocol", "hardened"]) == 0
    assert "conforms" in capsys.readouterr().out
    assert main(["check-log", str(bad), "--protocol", "rfc", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "violated" and [v["property"] for v in out["violations"]] == ["barriers", "order.response"]
    assert [x.split()[1] for x in out["excerpt"] if x.startswith(">")] == [str(out["violations"][0]["line"])]
    for argv, needle in (([str(broken), "--protocol", "hardened"], "line 6: not a JSON object"),
                         ([str(good), "--protocol", "rfc"], "recorded with protocol hardened"),
                         ([str(good), "--protocol", "hardened", "--side", "guest"], "no complete guest"),
                         ([str(tmp_path / "none.jsonl"), "--protocol", "rfc"], "no such file")):
        assert main(["check-log", *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err and "Traceback" not in err, err


def test_conform_record_refuses_before_running(tmp_path, capsys):
    args = ["conform", "--impl", "rfc", "--case", "host/stale-completion", "--record"]
    assert main([*args, str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err
    (tmp_path / "host-stale-completion.jsonl").write_text("keep")
    assert main([*args, str(tmp_path)]) == 2
    assert "exists (add --force" in capsys.readouterr().err
    assert (tmp_path / "host-stale-completion.jsonl").read_text() == "keep"


#: a helper's run: INIT, two ENCRYPTs, a DECRYPT of the first record, a hostile gpa change after go
GUEST_STEPS = [("init", {}), ("encrypt", {"g": 0, "sched": []}), ("encrypt", {"g": 1, "sched": []}),
               ("decrypt_at", {"i": 0, "to": 0, "sched": []}),
               ("encrypt", {"g": 3, "sched": [(2, ("param", "gpa", 1))]}), ("reset", {}), ("init", {})]


def test_a_recorded_helper_conforms_and_a_plaintext_helper_does_not():
    from mhmailbox.conformance.mutants import BY_ID

    good = record_replay("guest/honest", "hardened", GUEST_STEPS).splitlines()
    assert json.loads(good[0])["sides"] == ["guest"]
    for memory in ("sc", "tso"):
        r = check_log(good, "hardened", memory=memory)
        assert (r.verdict, r.violations) == ("conforms", []), r.divergence
    bad = record_replay("guest/confidential", BY_ID["guest-plaintext-page"].impl, GUEST_STEPS[:2]).splitlines()
    r = check_log(bad, "hardened")
    io_write = _find(bad, "guest", "write", 0x1000)
    assert [(v.prop, v.line) for v in r.violations] == [("guest.confidential", io_write)]
    assert (r.divergence["line"], r.divergence["model_at"]) == (io_write, "save")


def test_a_run_over_the_wire_is_recorded_and_judged_as_the_same_run_in_process():
    """conform --exec ... --record: the suite's rig records a process's accesses as it does our own
    host's (the rfc host copies an empty header: a read of 0 bytes, which the wire accepts)."""
    from mhmailbox.conformance.wire import wire_host

    impl = wire_host("python3 -m mhmailbox.conformance.wire_python --side host --impl rfc", "rfc")
    try:
        lines = record_replay("host/stale-completion", impl, STALE).splitlines()
    finally:
        impl.stop()
    r = check_log(lines, "rfc")
    by = {v.prop: v.line for v in r.violations}
    assert set(by) == {"order.response", "barriers"} and r.divergence is None
    assert by["order.response"] == _find(lines, "host", "read", 0x14, nth=-1)


_VALUES = st.one_of(st.integers(-2, 1 << 70), st.text(max_size=6), st.none(), st.booleans(),
                    st.sampled_from(["00", "ff" * 4, "host", "guest", "read", "write", "mb", "save", "ok"]))


@settings(max_examples=60)
@given(data=st.data())
def test_an_edited_log_is_judged_or_refused_never_a_crash(hardened_log, data):
    """Whatever one line becomes (a field changed, dropped or added, the line deleted or doubled),
    check-log gives a report or a LogFormatError naming a line: never another exception."""
    lines = list(hardened_log)
    n = data.draw(st.integers(1, len(lines) - 1))
    how = data.draw(st.sampled_from(["set", "drop", "delete", "double"]))
    d = json.loads(lines[n])
    if how == "set":
        d[data.draw(st.sampled_from(["i", "side", "ev", "off", "len", "data", "kind", "op", "gpa", "now_ns", "by",
                                     "vm", "result"]))] = data.draw(_VALUES)
        lines[n] = json.dumps(d)
    elif how == "drop" and len(d) > 1:
        del d[data.draw(st.sampled_from(sorted(d)))]
        lines[n] = json.dumps(d)
    elif how == "delete":
        del lines[n]
    else:
        lines.insert(n, lines[n])
    memory = data.draw(st.sampled_from(["sc", "tso", "relaxed"]))
    try:
        r = check_log(lines, "hardened", memory=memory)
    except LogFormatError as e:
        assert 1 <= e.line <= len(lines) + 1
    else:
        assert r.verdict in ("conforms", "violated", "diverges")


def test_a_host_that_gives_up_before_its_deadline_is_a_false_timeout():
    """host-early-timeout (gives up at half the deadline) against a helper asleep for the whole
    deadline: by the host's own clock reads in the log, the DECRYPT timed out after 2 of 4 quanta."""
    from mhmailbox.conformance.mutants import BY_ID

    steps = [("save", {"g": 0, "sched": []}), ("load", {"g": 0, "sched": [(0, ("sleep", 4))]})]
    early = record_replay("host/no-false-timeout", BY_ID["host-early-timeout"].impl, steps).splitlines()
    r = check_log(early, "hardened")
    assert [(v.prop, v.line) for v in r.violations] == [("timeout.no-false-timeout", _find(early, "host", "result", nth=1))]
    assert "1.953 ms" in r.violations[0].message and r.divergence is None
    assert check_log(record_replay("host/no-false-timeout", "hardened", steps).splitlines(), "hardened").verdict == "conforms"


def test_a_replayed_page_is_forged_in_the_log_as_in_the_suite():
    """The checker follows which sealed copy the helper accepted: a helper that accepts an older copy
    of a page again writes ret=0 where the model refuses it (AUTH); ours refuses and conforms."""
    from mhmailbox.conformance.mutants import BY_ID

    steps = [("init", {}), ("encrypt", {"g": 0, "sched": []}), ("encrypt", {"g": 0, "sched": []}),
             ("decrypt_at", {"i": 1, "to": 0, "sched": []}), ("decrypt_replayed", {"i": 0, "to": 0})]
    assert check_log(record_replay("guest/replay", "hardened", steps).splitlines(), "hardened").verdict == "conforms"
    bad = record_replay("guest/replay", BY_ID["guest-no-replay-window"].impl, steps).splitlines()
    d = check_log(bad, "hardened").divergence
    assert d["line"] == _find(bad, "guest", "write", 0x14, nth=-1) and d["answer"].startswith("wrote ret=0")


def test_with_the_provisioning_in_the_log_a_seal_for_the_wrong_session_is_seen():
    """guest-session-not-in-ad seals without the session: the suite's rig opens seals with its
    throwaway key, and so does check-log when the log's header carries it; without it the seal is
    taken as the one the model writes (docs/log.md, what a log cannot show)."""
    from mhmailbox.conformance.mutants import BY_ID

    steps = [("init", {}), ("encrypt", {"g": 0, "sched": []})]
    bad = record_replay("guest/honest", BY_ID["guest-session-not-in-ad"].impl, steps).splitlines()
    assert "provision" in json.loads(bad[0])
    d = check_log(bad, "hardened").divergence
    assert (d["line"], d["model_at"]) == (_find(bad, "guest", "write", 0x1000), "save") and "io=3" in d["observed"]
    header = json.loads(bad[0])
    del header["provision"]
    keyless = [json.dumps(header)] + [t for t in bad[1:] if '"ev": "provision"' not in t]
    assert len(keyless) < len(bad) and check_log(keyless, "hardened").verdict == "conforms"
    broken = json.loads(bad[0])
    broken["provision"]["key"] = "00"
    with pytest.raises(LogFormatError, match="32-byte key"):
        parse_log([json.dumps(broken)] + bad[1:])


def test_conform_record_writes_the_failing_case_log_that_check_log_judges(tmp_path, capsys):
    """conform --record DIR end to end: the published host reads ret with no read barrier after done
    (host/barriers fails on rfc); its shrunk run's log is written, and check-log finds the same."""
    assert main(["conform", "--impl", "rfc", "--case", "host/barriers", "--examples", "5", "--record",
                 str(tmp_path)]) == 1
    assert f"recorded {tmp_path / 'host-barriers.jsonl'}" in capsys.readouterr().err
    assert main(["check-log", str(tmp_path / "host-barriers.jsonl"), "--protocol", "rfc", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] in ("diverges", "violated") and out["excerpt"]
