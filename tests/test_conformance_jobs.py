"""``conform --jobs N``: cases in worker processes give what ``--jobs 1`` gives, in catalog order."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from ckit_support import REPO, needs_cc

from mhmailbox.cli import main
from mhmailbox.conformance.cases import BY_ID
from mhmailbox.conformance.parallel import run_cases
from mhmailbox.conformance.runner import Result

HOST_C = os.path.join(REPO, "examples", "c", "hardened-host", "confidential-ram.c")
TIMINGS = ("seconds", "found_after_seconds")


def _report(capsys, argv: list[str]) -> dict:
    main(["conform", *argv, "--json"])
    out = json.loads(capsys.readouterr().out)
    for c in out["cases"]:
        for k in TIMINGS:
            c.pop(k)
    for k in ("seconds", "examples_per_second", "model_steps_per_second"):
        out["summary"].pop(k)
    return out


@pytest.mark.parametrize("argv", [
    # two passing cases and one that fails at once (its shrinking ends long before its time limit)
    ["--impl", "rfc", "--case", "guest/honest", "--case", "host/barriers", "--case", "guest/barriers",
     "--examples", "15"],
    pytest.param(["--c-host", HOST_C, "--protocol", "hardened", "--case", "host/honest", "--case", "host/barriers",
                  "--examples", "15"], marks=needs_cc),
], ids=["python", "c-host"])
def test_jobs_2_reports_what_jobs_1_reports(capsys, argv) -> None:
    """Same cases, verdicts, examples, reproducers, coverage and run record, in the same order
    (fails if a worker drew other examples, or results came back in completion order)."""
    one = _report(capsys, argv)
    two = _report(capsys, argv + ["--jobs", "2"])
    assert [c["id"] for c in two["cases"]] == [c["id"] for c in one["cases"]]
    assert two == one
    assert {c["verdict"] for c in one["cases"]} >= {"pass"}


def test_mutants_with_jobs_2_are_judged_as_with_jobs_1(capsys) -> None:
    """Each mutant in a worker: the same verdicts, killing cases and properties, in the order asked."""
    argv = ["conform", "--mutants", "--mutant", "guest-no-replay-window", "--mutant", "host-seq-not-checked",
            "--oracle-only", "--examples", "10", "--json"]
    reports = []
    for jobs in ("1", "2"):
        main(argv + ["--jobs", jobs])
        reports.append([{k: v for k, v in m.items() if k != "seconds"}
                        for m in json.loads(capsys.readouterr().out)["mutants"]])
    assert reports[1] == reports[0]
    assert [(m["id"], m["killed"]) for m in reports[0]] == [("guest-no-replay-window", False),
                                                            ("host-seq-not-checked", True)]


def test_jobs_2_text_is_in_catalog_order_with_the_wall_time(capsys) -> None:
    main(["conform", "--impl", "hardened", "--case", "guest/honest", "--case", "host/honest", "--examples", "5",
          "--jobs", "2"])
    out = capsys.readouterr().out
    assert out.index("host/honest") < out.index("guest/honest")  # catalog order, not the order of --case
    assert "s wall with --jobs 2 (" in out.splitlines()[-1]


def test_jobs_2_keeps_the_progress_line() -> None:
    """On a terminal: the same line as with --jobs 1, counting to the total, cleared at the end."""
    from test_progress import CLEAR, CONFORM, run_with_stderr_on_a_terminal

    status, out, err = run_with_stderr_on_a_terminal(CONFORM + ["--jobs", "2"])
    assert status == 0, err
    assert "\r\x1b[K[0/2] 0:00 host/honest" in err and "\r\x1b[K[2/2] 0:" in err and err.endswith(CLEAR)
    assert "\x1b" not in out and out.index("host/honest") < out.index("guest/honest")


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_jobs_not_positive_is_a_one_line_usage_error(capsys, value) -> None:
    assert main(["conform", "--impl", "hardened", "--jobs", value]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--jobs: expected a positive integer" in err and "Traceback" not in err


def _dies_on_recovery(case) -> Result:
    if case.id == "host/recovery":
        os._exit(3)  # the worker process dies under the case
    return Result(case, "fake", "pass", 1, 0.0)


def test_a_worker_that_dies_costs_its_case_only() -> None:
    """The case whose worker died is ``unknown`` with the reason; every other case (before it,
    after it, and those its pool held) comes back, in order."""
    cases = [BY_ID[i] for i in ("host/honest", "host/recovery", "host/barriers", "guest/honest", "guest/replay")]
    results = list(run_cases(_dies_on_recovery, cases, 2, "fake"))
    assert [r.case.id for r in results] == [c.id for c in cases]
    assert [r.verdict for r in results] == ["pass", "unknown", "pass", "pass", "pass"]
    assert "worker process running this case died" in results[1].message


def _marked_processes(mark: str) -> list[int]:
    pids = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if mark.encode() in f.read():
                    pids.append(int(pid))
        except (OSError, ValueError):
            pass
    return pids


def test_ctrl_c_ends_the_workers_and_exits_130(tmp_path) -> None:
    """Ctrl-C reaches the whole process group; the workers ignore it, and the main process ends
    them: one line, exit 130, no worker left running."""
    mark = f"MHMAILBOX_JOBS_TEST={uuid.uuid4().hex}"
    argv = [sys.executable, "-m", "mhmailbox", "conform", "--impl", "hardened", "--examples", "100000", "--jobs", "2"]
    env = dict(os.environ, **dict([mark.split("=")]))
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         env=env, cwd=tmp_path, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 30
        while len(_marked_processes(mark)) < 3 and time.monotonic() < deadline:  # the main process and 2 workers
            time.sleep(0.1)
        assert len(_marked_processes(mark)) >= 3
        os.killpg(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=60)
        assert p.returncode == 130 and err.endswith("interrupted\n") and "Traceback" not in err, err
        deadline = time.monotonic() + 10
        while _marked_processes(mark) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _marked_processes(mark) == []
    finally:  # a failed check leaves nothing running (the workers share the group)
        for pid in _marked_processes(mark):
            os.kill(pid, signal.SIGKILL)
