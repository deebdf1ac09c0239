"""The process wire (mhmailbox-wire 1): the Rust hardened host passes every host case over it, its
one-fault build fails the case our Python mutant fails, and a process that dies, hangs or breaks the
format is a failed case with a clear message (tests/wire_peer.py plays those)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from mhmailbox.conformance.adapter import OperationFailed
from mhmailbox.conformance.runner import run_case
from mhmailbox.conformance.wire import WireBroken, wire_host
from mhmailbox.conformance.wire_cli import run_wire_case
from mhmailbox.impl.clock import VirtualClock
from mhmailbox.impl.memory import InstrumentedPort

HERE = os.path.dirname(os.path.abspath(__file__))
RUST_HOST = os.path.join(os.path.dirname(HERE), "examples", "rust", "hardened-host", "src", "main.rs")
PEER = os.path.join(HERE, "wire_peer.py")


def peer(mode: str, **kw) -> object:
    return wire_host([sys.executable, PEER, mode], "hardened", **kw)


def failed(mode: str, case: str = "host/hostile-peer", **kw):
    r = run_case(case, peer(mode, **kw), examples=2, shrink_seconds=0.5)
    assert r.verdict == "fail", (r.verdict, r.message)
    return r


# --- the replay, on one host object ------------------------------------------------------------
def test_a_read_is_answered_after_the_hook_with_the_suites_bytes_in_the_answer_and_the_file() -> None:
    buf = bytearray(8192)
    buf[0x800:0x804] = (1234).to_bytes(4, "little")
    log: list = []
    hooked: list = []

    def hook(a) -> None:  # the scheduling point: the suite changes hdr.len just before the read
        hooked.append((a.kind, a.where))
        buf[0x800:0x804] = (99).to_bytes(4, "little")

    impl = peer("mirror")
    host = impl.make_host(InstrumentedPort(memoryview(buf), "host", hook, log), VirtualClock(), timeout=1.0, quantum=0.25)
    try:
        with pytest.raises(OperationFailed, match="answer 63000000 file 63000000"):
            host.save_page(0x1000)
    finally:
        impl.stop()
    assert hooked == [("read", "hdr_len"), ("write", "go")]
    assert [(a.kind, a.where, a.value) for a in log] == [("read", "hdr_len", 99), ("write", "go", 7)]
    assert buf[0x18:0x1C] == (7).to_bytes(4, "little")  # the write, replayed on the suite's mailbox


def test_a_clean_failure_is_a_failed_operation_not_a_crash() -> None:
    r = failed("refuse", case="host/honest")
    assert r.prop == "liveness.honest-progress"


# --- a process that dies, hangs or breaks the format ----------------------------------------------
def test_a_process_that_dies_is_a_crash_with_its_status_and_last_words() -> None:
    r = failed("die")
    assert r.prop == "robust"
    assert "exited with status 3" in r.message and "wire_peer: giving up" in r.message


def test_a_line_that_is_not_json_is_shown() -> None:
    r = failed("garbage")
    assert r.prop == "robust" and "not JSON" in r.message and "'this is not json'" in r.message


def test_an_unknown_event_is_shown() -> None:
    r = failed("unknown")
    assert r.prop == "robust" and "unknown event" in r.message and '"jump"' in r.message


@pytest.mark.parametrize("mode, said", [("bad-result", "`result` is \"ok\" or \"failed\""),
                                        ("bad-record", "`page` is not hex")])
def test_a_malformed_result_is_shown(mode: str, said: str) -> None:
    impl = peer(mode)
    host = impl.make_host(InstrumentedPort(memoryview(bytearray(8192)), "host", None, None), VirtualClock(),
                          timeout=1.0, quantum=0.25)
    try:
        with pytest.raises(WireBroken, match=re.escape(said)):
            host.save_page(0x1000)
        assert host.dead is not None and host.proc.poll() is not None  # stopped
    finally:
        impl.stop()


def test_a_silent_process_is_stopped_after_the_answer_timeout() -> None:
    r = failed("silent", answer_timeout=0.5)
    assert r.prop == "robust" and "sent nothing for 0.5 s" in r.message


def test_endless_polls_with_no_clock_read_are_stopped() -> None:
    r = failed("spin", poll_limit=50)
    assert r.prop == "robust" and "50 times in a row" in r.message


def test_a_wait_that_reads_the_clock_and_ignores_it_is_stopped_in_virtual_time() -> None:
    r = failed("ignore-clock")
    assert "`" in r.message and "wire_peer.py ignore-clock` was still waiting after 64 deadlines of virtual time" in r.message


def test_a_write_past_the_shared_area_faults() -> None:
    r = failed("wild-write", case="host/header-in-bounds")
    assert r.prop == "adversary.in-bounds"


def test_a_wrong_version_in_the_hello_is_refused_with_the_line() -> None:
    with pytest.raises(OperationFailed, match="mhmailbox-wire 0"):
        peer("bad-hello")


# --- the command line ------------------------------------------------------------------------
def conform(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mhmailbox", "conform", *args], capture_output=True, text=True,
                          timeout=600)


def test_cli_hello_failure_is_one_line_and_exit_1() -> None:
    p = conform("--exec", f"{sys.executable} {PEER} bad-hello", "--side", "host", "--protocol", "hardened")
    assert p.returncode == 1 and p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1 and "mhmailbox-wire 0" in p.stderr


@pytest.mark.parametrize("args, said", [
    (["--protocol", "hardened"], "needs --side host|guest"),
    (["--side", "host"], "needs --protocol"),
    (["--side", "host", "--case", "guest/honest", "--protocol", "hardened"], "no case matches"),
])
def test_cli_usage_errors(args: list[str], said: str) -> None:
    p = conform("--exec", f"{sys.executable} {PEER} refuse", *args)
    assert p.returncode == 2 and said in p.stderr and "Traceback" not in p.stderr


def test_cli_unknown_command_is_a_usage_error() -> None:
    p = conform("--exec", "/nonexistent/host", "--side", "host", "--protocol", "hardened")
    assert p.returncode == 2 and "no such command" in p.stderr


# --- the Rust hardened host --------------------------------------------------------------------
@pytest.fixture(scope="module")
def rust_host(tmp_path_factory) -> str:
    rustc = shutil.which("rustc")
    if rustc is None:
        pytest.skip("no Rust toolchain (rustc) on PATH: the Rust hardened host over the wire is not checked here")
    out = str(tmp_path_factory.mktemp("rust") / "hardened-host")
    p = subprocess.run([rustc, "-O", "--edition", "2021", "-o", out, RUST_HOST], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return out


@pytest.mark.slow
def test_rust_hardened_host_passes_every_host_case(rust_host: str) -> None:
    p = conform("--exec", rust_host, "--side", "host", "--protocol", "hardened", "--examples", "60", "--json")
    out = json.loads(p.stdout)
    verdicts = {c["id"]: c["verdict"] for c in out["cases"]}
    assert set(verdicts.values()) == {"pass"}, verdicts
    assert len(verdicts) == 13 and p.returncode == 0
    assert out["exec"]["operations"] == ["cleanup", "load", "save"]


def test_rust_host_without_the_sequence_check_fails_stale_completion(rust_host: str) -> None:
    impl = wire_host([rust_host, "--fault", "seq-not-checked"], "hardened")
    r = run_wire_case("host/stale-completion", impl, examples=60)
    assert r.verdict == "fail" and r.prop == "order.response", (r.verdict, r.message)
    assert "from mhmailbox.conformance.wire import wire_host" in r.reproducer


# --- our Python host over the wire: the wire changes no verdict ------------------------------------
PY_HOST = [sys.executable, "-m", "mhmailbox.conformance.wire_python"]


def test_python_host_over_the_wire_gets_its_in_process_verdict() -> None:
    """bounded-wait also holds the adapter's clock in integer ns: in seconds (ns / 1e9), a deadline
    compared with a difference of rounded floats is missed by one burst, and the bound broken."""
    case = "host/bounded-wait"
    over = run_wire_case(case, wire_host(PY_HOST, "hardened"), examples=30)
    assert over.verdict == run_case(case, "hardened", examples=30).verdict == "pass", (over.prop, over.message)


def test_python_mutant_over_the_wire_is_caught_as_in_process() -> None:
    impl = wire_host([*PY_HOST, "--mutant", "host-seq-not-checked"], "hardened")
    r = run_wire_case("host/stale-completion", impl, examples=60, shrink_seconds=1)
    assert r.verdict == "fail" and r.prop == "order.response", (r.verdict, r.message)


# --- the guest side ------------------------------------------------------------------------------
def test_python_helper_over_the_wire_passes_and_its_mutant_is_caught() -> None:
    from mhmailbox.conformance.wire import wire_guest

    ok = run_wire_case("guest/confidential", wire_guest([*PY_HOST, "--side", "guest"], "hardened"), examples=20)
    assert ok.verdict == "pass", (ok.prop, ok.message)
    bad = wire_guest([*PY_HOST, "--side", "guest", "--mutant", "guest-plaintext-page"], "hardened")
    r = run_wire_case("guest/confidential", bad, examples=30, shrink_seconds=1)
    assert r.verdict == "fail" and r.prop == "guest.confidential", (r.verdict, r.message)
    assert "from mhmailbox.conformance.wire import wire_guest" in r.reproducer


def test_a_helper_that_reads_the_clock_breaks_the_wire() -> None:
    from mhmailbox.conformance.wire import wire_guest

    r = run_wire_case("guest/honest", wire_guest([sys.executable, PEER, "ignore-clock"], "hardened"), examples=2,
                      shrink_seconds=0.5)
    assert r.verdict == "fail" and "a helper has no clock on the wire" in r.message, (r.verdict, r.message)


def test_cli_runs_a_helper_over_the_wire() -> None:
    p = conform("--exec", f"{sys.executable} -m mhmailbox.conformance.wire_python --side guest --impl rfc",
                "--side", "guest", "--protocol", "rfc", "--case", "guest/honest", "--examples", "3", "--json")
    out = json.loads(p.stdout)
    assert p.returncode == 0 and [c["verdict"] for c in out["cases"]] == ["pass"]
    assert out["exec"]["side"] == "guest" and out["exec"]["operations"] == ["start", "poll", "provision"]
