"""Bad input to the commands added with sharding, logs, compare, prove, certificates, user
variants and the viewer: one line on stderr and exit 2 (no traceback), nothing printed as if
the run had succeeded, no file overwritten without --force."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from mhmailbox.cli import main

ONE_CELL = ["--variant", "rfc", "--memory", "sc", "--guest", "slow", "--property", "order.response"]


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    assert out == "", out  # nothing presented as a result
    return err


@pytest.fixture(scope="module")
def verify_report(tmp_path_factory) -> dict:
    """``mhmailbox verify ONE_CELL --json``: a real one-cell report (about a tenth of a second)."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["verify", *ONE_CELL, "--json"]) == 0
    return json.loads(buf.getvalue())


# ------------------------------------------------------------------ merge

def _edit(path: str, value):
    def edit(doc: dict) -> None:
        *head, last = path.split(".")
        node = doc
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        if value is _DROP:
            del node[last]
        else:
            node[last] = value
    return edit


_DROP = object()

HOSTILE_REPORTS = {
    "run options null": _edit("run.options", None),
    "run options missing": _edit("run.options", _DROP),
    "run options empty": _edit("run.options", {}),
    "a result that is a number": _edit("results", [1]),
    "a result with no fields": _edit("results", [{}]),
    "a trace that is a number": _edit("results.0.trace", 7),
    "summary a list": _edit("summary", []),
    "a command that is a list": _edit("run.command", []),
}


@pytest.mark.parametrize("as_json", [False, True])
@pytest.mark.parametrize("edit", sorted(HOSTILE_REPORTS))
def test_merge_refuses_a_report_of_the_wrong_shape(capsys, tmp_path, verify_report, edit, as_json) -> None:
    doc = copy.deepcopy(verify_report)
    HOSTILE_REPORTS[edit](doc)
    path = tmp_path / "part.json"
    path.write_text(json.dumps(doc))
    err = _one_line_error(capsys, ["merge", str(path), *(["--json"] if as_json else [])])
    assert "is not what a verify or conform --json report holds" in err or "is not a verify or conform" in err


def test_merge_of_a_hostile_report_leaves_no_output_file(capsys, tmp_path, verify_report) -> None:
    doc = copy.deepcopy(verify_report)
    doc["results"] = [{}]
    (tmp_path / "part.json").write_text(json.dumps(doc))
    _one_line_error(capsys, ["merge", str(tmp_path / "part.json"), "-o", str(tmp_path / "all.json")])
    assert not (tmp_path / "all.json").exists()


def test_merge_of_the_real_report_still_prints_it(capsys, tmp_path, verify_report) -> None:
    (tmp_path / "part.json").write_text(json.dumps(verify_report))
    assert main(["merge", str(tmp_path / "part.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"] == verify_report["results"]


# ------------------------------------------------------------------ check-log

EXAMPLE_LOG = Path(__file__).resolve().parent.parent / "examples" / "logs" / "rfc-stale-completion.jsonl"


def test_check_log_notes_a_save_outside_ram_instead_of_crashing(capsys, tmp_path) -> None:
    lines = [json.loads(ln) for ln in EXAMPLE_LOG.read_text().splitlines() if ln.strip()]
    (save,) = [ln for ln in lines if ln.get("ev") == "op" and ln.get("op") == "save"][:1]
    save["gpa"] = 2 ** 70  # far past any RAM: the model's host only saves private pages
    path = tmp_path / "outside.jsonl"
    path.write_text("\n".join(json.dumps(ln) for ln in lines) + "\n")
    assert main(["check-log", str(path), "--protocol", "rfc"]) == 1
    out, err = capsys.readouterr()
    assert "a save of a gpa outside private RAM" in out and "Traceback" not in err, (out, err)


# ------------------------------------------------------------------ the invariant store

KIND_CELL = ["verify", "--engine", "kind", "--variant", "hardened", "--memory", "sc", "--guest", "honest",
             "--host", "faithful", "--property", "order.response"]


@pytest.mark.parametrize("entry", [5, [["a", {"op": "nonsense"}]], [["a"]], "text"])
def test_a_malformed_store_entry_is_named_not_a_traceback(capsys, tmp_path, monkeypatch, entry) -> None:
    store = tmp_path / "store.json"
    store.write_text(json.dumps({"hardened/sc/honest/faithful/sb=2": entry}))
    monkeypatch.setenv("MHMAILBOX_INVARIANTS", str(store))
    err = _one_line_error(capsys, KIND_CELL)
    assert f"the invariant store {store} has a malformed entry 'hardened/sc/honest/faithful/sb=2'" in err
    assert "move it away" in err


# ------------------------------------------------------------------ check-certificate

@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    """One proof's certificate (kind, 2-induction; about 2 s), as test_certificate.py writes it."""
    from mhmailbox.model.properties import BY_ID
    from mhmailbox.proofs.engines import run_unbounded

    d = tmp_path_factory.mktemp("cert") / "certs"
    (r,) = run_unbounded("kind", ("hardened", "sc", "honest", "adversarial"), [BY_ID["guest.refusal-reported"]],
                         None, time_limit=60, certificate=str(d))
    assert r.verdict == "proved", r.note
    return d


def _edited_certificate(certificate: Path, tmp_path: Path, edit) -> Path:
    import shutil

    copy = tmp_path / "certs"
    shutil.copytree(certificate, copy)
    (manifest,) = copy.glob("*/manifest.json")
    doc = json.loads(manifest.read_text())
    edit(doc)
    manifest.write_text(json.dumps(doc))
    return copy


@pytest.mark.parametrize("kind", [None, 5, [], {}])
def test_check_certificate_an_obligation_kind_that_is_not_text(capsys, tmp_path, certificate, kind) -> None:
    cert = _edited_certificate(certificate, tmp_path, lambda d: d["proofs"][0]["obligations"][0].update(kind=kind))
    assert "the obligations are" in _one_line_error(capsys, ["check-certificate", str(cert)])


@pytest.mark.parametrize("field, value", [("variant", None), ("variant", 5), ("memory", "x"), ("memory", None)])
def test_check_certificate_model_of_a_cell_that_cannot_be_rebuilt(capsys, tmp_path, certificate, field, value) -> None:
    cert = _edited_certificate(certificate, tmp_path, lambda d: d.update({field: value}))
    assert "--model: cannot rebuild the model of" in _one_line_error(capsys, ["check-certificate", str(cert), "--model"])


# ------------------------------------------------------------------ stress --exec

def _stress_exec(capsys, tmp_path, program: str) -> tuple[int, str]:
    script = tmp_path / "host.py"
    script.write_text(program)
    import subprocess
    import sys

    # a subprocess: the driver reports through the real stderr, which capsys would swallow in the fork
    p = subprocess.run([sys.executable, "-m", "mhmailbox", "stress", "--exec", f"{sys.executable} {script}",
                        "--protocol", "rfc", "--seconds", "1", "--seed", "1", "--logs", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert "Traceback" not in p.stderr, p.stderr
    return p.returncode, p.stdout


def test_stress_exec_a_host_that_lists_no_operations_is_driven_through_all(capsys, tmp_path) -> None:
    """As conform does: no `operations` in the hello means all of them, not none (which passed
    every run with 0 operations: `stress --exec cat` said `nothing found`)."""
    rc, out = _stress_exec(capsys, tmp_path, "import sys, json\nsys.stdin.readline()\n"
                           "print(json.dumps({'wire': 'mhmailbox-wire 1'}), flush=True)\n"
                           "for line in sys.stdin:\n    print(line, end='', flush=True)\n")
    assert rc == 1 and "VIOLATED robust" in out and "broke the wire" in out, out
    assert "nothing found" not in out


def test_stress_exec_quotes_what_a_hostile_process_printed(capsys, tmp_path) -> None:
    rc, out = _stress_exec(capsys, tmp_path, "import sys\nsys.stdin.readline()\n"
                           "sys.stdout.buffer.write(b'\\x1b[2Jgarbage\\n'); sys.stdout.flush()\n")
    assert rc == 1 and "broke the wire: '\\x1b[2Jgarbage'" in out, out
    assert "\x1b" not in out  # no terminal escape reaches the user's screen


# ------------------------------------------------------------------ Ctrl-C

@pytest.mark.parametrize("record", [False, True])
def test_ctrl_c_during_migrate_is_one_line_exit_130(tmp_path, record) -> None:
    """Ctrl-C reaches the whole process group: the helper process left a KeyboardInterrupt
    traceback beside the host's `interrupted`; the helper now leaves it to the host. A log
    kept of the interrupted run is named (it was left behind silently)."""
    import signal
    import subprocess
    import sys
    import time

    # 512 MiB: about 8 s on an idle 2-core machine (64 MiB took 2.7 s, done before the Ctrl-C below)
    argv = [sys.executable, "-m", "mhmailbox", "migrate", "--ram", "512MiB"]
    if record:
        argv += ["--record", str(tmp_path / "run.jsonl")]
    # as from a terminal: a shell starts background jobs with SIGINT ignored, and Python then installs
    # no KeyboardInterrupt handler (a CI runner launched that way would see the run finish)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(2)  # the helper is serving by then
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=60)
    log = tmp_path / "run.jsonl"
    if record and log.exists():  # the recorder keeps the run up to the interrupt, and says so
        assert p.returncode == 130 and err == f"migrate: the run up to the interrupt is recorded in {log}\ninterrupted\n", err
    else:
        assert p.returncode == 130 and err == "interrupted\n", err


def test_verify_certificate_into_a_busy_directory_names_a_remedy_verify_has(capsys, tmp_path) -> None:
    """verify has no --force: the message told the user to add one (which argparse then refused)."""
    (tmp_path / "earlier.smt2").write_text("(check-sat)")
    err = _one_line_error(capsys, [*KIND_CELL, "--certificate", str(tmp_path)])
    assert "is not empty" in err and "--force" not in err and "empty or new directory" in err
    assert main(["prove", "--variant", "hardened", "--certificate", str(tmp_path)]) == 2
    assert "add --force" in capsys.readouterr().err  # prove has --force


# ------------------------------------------------------------------ replay

def test_replay_a_step_without_params_is_named(capsys, tmp_path, verify_report) -> None:
    """The message about a step's parameters read them with st['params']: a KeyError traceback."""
    doc = copy.deepcopy(verify_report)
    step = next(s for s in doc["results"][0]["trace"][1:] if s.get("params"))
    del step["params"]
    (tmp_path / "t.json").write_text(json.dumps(doc))
    assert "parameters None do not match the action's" in _one_line_error(capsys, ["replay", str(tmp_path / "t.json")])


def test_replay_of_an_itf_file_with_no_trace_says_so(capsys, tmp_path) -> None:
    """verify --trace-format itf writes [] when nothing is violated; replay called it 'not a JSON object'."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["verify", "--variant", "hardened", "--memory", "sc", "--guest", "slow",
                     "--property", "order.response", "--trace-format", "itf"]) == 0
    capsys.readouterr()
    (tmp_path / "none.itf.json").write_text(buf.getvalue())
    assert "no trace to replay" in _one_line_error(capsys, ["replay", str(tmp_path / "none.itf.json")])


def test_an_empty_conform_shard_prints_no_none(capsys) -> None:
    """--shard 2/2 of a one-case run holds no case: the summary printed 'None examples/s'."""
    assert main(["conform", "--impl", "hardened", "--case", "host/honest", "--examples", "3", "--shard", "2/2"]) == 0
    out = capsys.readouterr().out
    assert "0 examples in 0 s (0.0 examples/s, 0 model steps/s)" in out and "None" not in out, out


def test_replay_of_a_user_variant_trace_without_variant_says_how(capsys, tmp_path) -> None:
    """The message listed the forms verify takes; replay's remedy is its own --variant option."""
    import contextlib
    import io

    keep_go = str(Path(__file__).resolve().parent.parent / "examples" / "variants" / "keep_go.py") + ":KeepGo"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["verify", "--variant", keep_go, *ONE_CELL[2:], "--json"]) == 0
    capsys.readouterr()
    (tmp_path / "t.json").write_text(buf.getvalue())
    import subprocess
    import sys

    # a new process: this one has registered keep-go while verifying
    p = subprocess.run([sys.executable, "-m", "mhmailbox", "replay", str(tmp_path / "t.json")], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and p.stdout == "", p.stderr
    assert "unknown variant 'keep-go'" in p.stderr and "replays with --variant PATH.py:Class" in p.stderr
    assert main(["replay", str(tmp_path / "t.json"), "--variant", keep_go]) == 0
