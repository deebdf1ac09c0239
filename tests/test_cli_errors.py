"""Bad input to every command: one line on stderr and exit 2, checked before long work,
no file overwritten without --force; replay refuses edited traces; check-stream locates
the first problem of a stream; mermaid output is only diagrams."""
from __future__ import annotations

import copy
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from mhmailbox.cli import main

#: A narrow verify run: if an option were wrongly accepted, the test fails in seconds.
ONE_CELL = ["--variant", "rfc", "--memory", "sc", "--guest", "slow", "--property", "order.response"]


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("argv, needle", [
    (["verify", "--engine", "kind", "--time-limit", "inf", *ONE_CELL], "finite positive number, got 'inf'"),
    (["verify", "--engine", "kind", "--time-limit", "nan", *ONE_CELL], "got 'nan'"),
    (["verify", "--engine", "kind", "--time-limit", "-1", *ONE_CELL], "got '-1'"),
    (["verify", "--time-limit", "0", *ONE_CELL], "got '0'"),
    (["verify", "--time-limit", "soon", *ONE_CELL], "expected a positive number, got 'soon'"),
    (["verify", "--buffer", "33", *ONE_CELL], "up to 32"),
    (["verify", "--engine", "bmc", "--deadline", str(1 << 40), *ONE_CELL], "up to 65536"),
    (["verify", "--quantum", "65537", *ONE_CELL], "up to 65536"),
    (["verify", "--depth", "0", *ONE_CELL], "positive integer"),
    (["verify", "--jobs", "-2", *ONE_CELL], "positive integer"),
    (["verify", "--max-states", "1e6", *ONE_CELL], "positive integer"),
    (["verify", "--property", "nope"], "unknown property 'nope'"),
    (["verify", "--json", "--trace-format", "mermaid", *ONE_CELL], "not allowed with argument --json"),
    (["review", "--json", "--markdown"], "not allowed"),
    (["review", "--finding", "F99"], "unknown finding 'F99'"),
    (["properties", "--json", "--markdown"], "not allowed"),
    (["migrate", "--ram", "1MiB", "--timeout-ms", "inf"], "finite positive number, got 'inf'"),
    (["migrate", "--ram", "1MiB", "--timeout-ms", "nan"], "got 'nan'"),
    (["migrate", "--ram", "1MiB", "--timeout-ms", "0"], "got '0'"),
    (["migrate", "--ram", "0"], "not a positive multiple of 4096"),
    (["migrate", "--ram", "5GiB"], "at most 4 GiB"),
    (["migrate", "--ram", "lots"], "cannot parse 'lots'"),
    (["conform", "--examples", "0"], "positive integer"),
    (["conform", "--examples", "many"], "positive integer"),
    (["conform", "--case", "nope"], "unknown case id nope"),
    (["conform", "--mutants", "--mutant", "nope"], "unknown mutant nope"),
    (["conform", "--list", "--junit", "r.xml"], "not --list or --mutants"),
    (["check-stream"], "required: FILE"),
    (["nosuch"], "invalid choice: 'nosuch'"),
])
def test_usage_errors_are_one_line_exit_2(capsys, argv, needle) -> None:
    assert needle in _one_line_error(capsys, argv)


# ------------------------------------------------------------------ output files

@pytest.fixture
def no_conformance_run(monkeypatch):
    """Fail the test if a conformance case starts: the path must be refused first."""
    from mhmailbox.conformance import runner

    def refuse(*a, **k):
        raise AssertionError("the suite ran before the --junit path was checked")

    monkeypatch.setattr(runner, "run_case", refuse)


def test_junit_in_a_missing_directory_fails_before_the_run(capsys, tmp_path, no_conformance_run) -> None:
    err = _one_line_error(capsys, ["conform", "--junit", str(tmp_path / "nonexistent" / "r.xml")])
    assert "does not exist" in err


def test_junit_onto_a_directory_fails_before_the_run(capsys, tmp_path, no_conformance_run) -> None:
    assert "is a directory" in _one_line_error(capsys, ["conform", "--junit", str(tmp_path)])


def test_junit_does_not_overwrite_without_force(capsys, tmp_path, no_conformance_run) -> None:
    report = tmp_path / "r.xml"
    report.write_text("earlier report")
    assert "--force" in _one_line_error(capsys, ["conform", "--junit", str(report)])
    assert report.read_text() == "earlier report"


CASE = ["conform", "--case", "host/honest", "--examples", "3", "--json"]


def test_junit_with_force_replaces_the_report(capsys, tmp_path) -> None:
    report = tmp_path / "r.xml"
    report.write_text("earlier report")
    assert main([*CASE, "--junit", str(report), "--force"]) == 0
    assert report.read_text().startswith("<?xml") and "host/honest" in report.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["r.xml"]  # no temporary file left behind


def test_a_failed_report_write_keeps_the_results_and_the_old_report(capsys, tmp_path, monkeypatch) -> None:
    report = tmp_path / "r.xml"
    report.write_text("earlier report")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    assert main([*CASE, "--junit", str(report), "--force"]) == 1
    out, err = capsys.readouterr()
    assert len(json.loads(out)["cases"]) == 1  # the results were printed before the write failed
    assert err.count("\n") == 1 and "No space left on device" in err
    assert report.read_text() == "earlier report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.xml"]


@pytest.fixture(scope="module")
def stream_file(tmp_path_factory) -> Path:
    """A real stream: ``mhmailbox migrate --ram 1MiB --stream F`` (256 records)."""
    path = tmp_path_factory.mktemp("stream") / "s.bin"
    assert main(["migrate", "--ram", "1MiB", "--stream", str(path)]) == 0
    return path


def test_migrate_stream_is_not_overwritten_without_force(capsys, stream_file) -> None:
    before = stream_file.read_bytes()
    err = _one_line_error(capsys, ["migrate", "--ram", "1MiB", "--stream", str(stream_file)])
    assert "exists (use --force" in err
    assert stream_file.read_bytes() == before


def test_migrate_stream_force_overwrites(capsys, tmp_path) -> None:
    path = tmp_path / "s.bin"
    path.write_bytes(b"not a stream")
    assert main(["migrate", "--ram", "1MiB", "--stream", str(path), "--force", "--mode", "rfc"]) == 0
    assert main(["check-stream", str(path)]) == 0
    assert "valid rfc stream, 256 records" in capsys.readouterr().out


@pytest.mark.parametrize("where, needle", [("missing/s.bin", "does not exist"), (".", "is a directory"),
                                           ("pipe", "is not a regular file")])
def test_migrate_stream_bad_path(capsys, tmp_path, where, needle) -> None:
    os.mkfifo(tmp_path / "pipe")  # a stream is read back after the save: a pipe would be replaced by a file
    assert needle in _one_line_error(capsys, ["migrate", "--ram", "1MiB", "--stream", str(tmp_path / where)])


# ------------------------------------------------------------------ the foreground helper

def _procs(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mhmailbox.impl.procs", *argv], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


@pytest.mark.parametrize("argv, needle", [
    (["--mailbox", "absent", "--ram", "ram", "--mode", "rfc"], "--mailbox: cannot map absent: No such file"),
    (["--mailbox", "mb", "--ram", "absent", "--mode", "rfc"], "--ram: cannot map absent: No such file"),
    (["--mailbox", ".", "--ram", "ram", "--mode", "rfc"], "--mailbox: . is not a regular file"),
    (["--mailbox", "empty", "--ram", "ram", "--mode", "rfc"], "holds 0 bytes; expected at least 8192"),
    (["--mailbox", "mb", "--ram", "empty", "--mode", "rfc"], "expected a positive multiple of 4096"),
    (["--mailbox", "mb", "--ram", "ram"], "--secret-file is required"),
    (["--mailbox", "mb", "--ram", "ram", "--secret-file", "absent"], "--secret-file: cannot read absent"),
    (["--mailbox", "mb", "--ram", "ram", "--secret-file", "empty"], "holds 0 bytes, not 48"),
    (["--mailbox", "mb"], "required: --ram"),
])
def test_foreground_helper_bad_files(tmp_path, argv, needle) -> None:
    (tmp_path / "mb").write_bytes(bytes(8192))
    (tmp_path / "ram").write_bytes(bytes(16384))
    (tmp_path / "empty").write_bytes(b"")
    p = _procs(*argv, cwd=tmp_path)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and needle in p.stderr and "Traceback" not in p.stderr, p.stderr


# ------------------------------------------------------------------ replay

@pytest.fixture(scope="module")
def real_trace() -> dict:
    """``mhmailbox verify --variant rfc --memory sc --guest slow --property order.response --json``."""
    out = subprocess.run([sys.executable, "-m", "mhmailbox", "verify", *ONE_CELL, "--json"], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    (result,) = json.loads(out)["results"]
    assert result["verdict"] == "violated" and result["trace"][0]["bounds"]["deadline"] == 2
    return result


def _set(path: str, value):
    """An edit: set the field at a dotted path (integers index lists)."""
    def edit(r: dict) -> None:
        *head, last = path.split(".")
        node = r
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[last] = value(node[last]) if callable(value) else value
    return edit


EDITS = {
    "deadline in the bound text": _set("bound", lambda b: b.replace("D=2", "D=3")),
    "deadline in the bounds record": _set("trace.0.bounds.deadline", 3),
    "deadline of one step's clock": _set("trace.7.clock.deadline", 3),
    "deadline everywhere": lambda r: [_set("bound", lambda b: b.replace("D=2", "D=3"))(r),
                                      _set("trace.0.bounds.deadline", 3)(r)]
                                     + [s["clock"].update(deadline=3) for s in r["trace"]],
    "quantum in the bound text": _set("bound", lambda b: b.replace("Q=1", "Q=2")),
    "quantum in the bounds record": _set("trace.0.bounds.quantum", 2),
    "quantum of one step's clock": _set("trace.3.clock.quantum", 2),
    "buffer in the bound text": _set("bound", lambda b: b.replace("sb=2", "sb=3")),
    "buffer in the bounds record": _set("trace.0.bounds.capacity", 3),
    "script in the bound text": _set("bound", lambda b: b.replace("scripts=source+target", "scripts=source")),
    "script in the bounds record": _set("trace.0.bounds.scripts", ["source"]),
    "depth": _set("depth", 28),
    "a step's text": _set("trace.4.text", "gpa = something else"),
    "a step's local steps": _set("trace.29.then", []),
    "a step's number": _set("trace.4.step", 9),
    "a thread position": _set("trace.4.host_at", "idle"),
    "an unknown step field": _set("trace.4.comment", "hello"),
    "an unknown result field": _set("comment", "hello"),
    "an unknown bounds field": _set("trace.0.bounds.helper_first", True),
}


def _replay(tmp_path, result, *extra: str, capsys) -> tuple[int, str]:
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(result))
    rc = main(["replay", str(path), *extra])
    return rc, capsys.readouterr().out


def test_replay_confirms_the_real_trace_and_names_what_it_ignores(capsys, tmp_path, real_trace) -> None:
    rc, out = _replay(tmp_path, real_trace, capsys=capsys)
    assert rc == 0 and out.startswith("CONFIRMED")
    assert "not checked (they describe the search that found a trace, not the trace): " \
           "engine, states, seconds, exhaustive, note, unreached, coverage" in out
    rc, out = _replay(tmp_path, real_trace, "--json", capsys=capsys)
    doc = json.loads(out)
    assert rc == 0 and doc["replays"][0]["confirmed"]
    assert doc["ignored_fields"] == ["engine", "states", "seconds", "exhaustive", "note", "unreached", "coverage"]
    edited = copy.deepcopy(real_trace)
    edited["seconds"], edited["states"], edited["note"] = 99.0, 1, "edited"
    assert _replay(tmp_path, edited, capsys=capsys)[0] == 0  # what it says it ignores, it ignores


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_replay_refuses_an_edited_trace(capsys, tmp_path, real_trace, edit) -> None:
    r = copy.deepcopy(real_trace)
    EDITS[edit](r)
    assert r != real_trace
    rc, out = _replay(tmp_path, r, capsys=capsys)
    assert rc == 1 and out.startswith("REFUTED"), out


@pytest.mark.parametrize("content, needle", [
    ("", "is not JSON"), ("{not json", "is not JSON"), ('{"results": "x"}', "'results' is not a list"),
    ("[1]", "expected a JSON object"), (b"\xff\xfe", "is not JSON"),
    (json.dumps({"property": "order.response", "variant": "nope", "memory": "sc", "guest": "slow",
                 "host": "faithful", "trace": [{"action": "init", "params": {}}]}), "unknown variant"),
])
def test_replay_bad_files(capsys, tmp_path, content, needle) -> None:
    p = tmp_path / "t.json"
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert needle in _one_line_error(capsys, ["replay", str(p)])


def test_replay_directory_and_missing_file(capsys, tmp_path) -> None:
    assert "Is a directory" in _one_line_error(capsys, ["replay", str(tmp_path)])
    assert "No such file" in _one_line_error(capsys, ["replay", str(tmp_path / "absent.json")])


# ------------------------------------------------------------------ check-stream

REC = 16 + 68 + 4 + 4096  # a hardened record: head, 68-byte response header, page length, page


def _check(capsys, tmp_path, data: bytes) -> dict:
    path = tmp_path / "copy.bin"
    path.write_bytes(data)
    rc = main(["check-stream", str(path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == (0 if doc["valid"] else 1)
    return doc


def test_check_stream_valid(capsys, tmp_path, stream_file) -> None:
    data = stream_file.read_bytes()
    assert len(data) == 32 + 256 * REC
    assert main(["check-stream", str(stream_file)]) == 0
    assert capsys.readouterr().out == f"{stream_file}: valid hardened stream, 256 records, {len(data)} bytes\n"
    doc = _check(capsys, tmp_path, data)
    assert doc["valid"] and doc["records"] == doc["announced"] == 256 and doc["error"] is None


def _flip(data: bytes, offset: int, bit: int = 0) -> bytes:
    b = bytearray(data)
    b[offset] ^= 1 << bit
    return bytes(b)


def _count(data: bytes, n: int) -> bytes:
    return data[:16] + struct.pack(">Q", n) + data[24:]


@pytest.mark.parametrize("name, damage, offset, record, problem", [
    ("empty", lambda d: b"", 0, None, "truncated in file header (0 of 32 bytes)"),
    ("cut in the file header", lambda d: d[:20], 20, None, "truncated in file header"),
    ("cut in record 3's page", lambda d: d[:32 + 2 * REC + 100 + 50], 32 + 2 * REC + 150, 3, "truncated in page"),
    ("cut between records", lambda d: d[:32 + 5 * REC], 32 + 5 * REC, 6,
     "the file ends after 5 records; the header announces 256"),
    ("magic bit", lambda d: _flip(d, 3), 0, None, "bad magic"),
    ("version bit", lambda d: _flip(d, 9), 8, None, "unsupported version"),
    ("record 3 flags bit", lambda d: _flip(d, 32 + 2 * REC + 6, 1), 32 + 2 * REC, 3, "page flags"),
    ("record 4 subtype bit", lambda d: _flip(d, 32 + 3 * REC + 11), 32 + 3 * REC + 8, 4, "record subtype 5"),
    ("record 2 header length bit", lambda d: _flip(d, 32 + REC + 14, 3), 32 + REC + 12, 2, "header length 2116"),
    ("record 7 page length bit", lambda d: _flip(d, 32 + 6 * REC + 16 + 68 + 2), 32 + 6 * REC + 84, 7,
     "page length 4352"),
    ("record 9 gpa moved back", lambda d: _flip(d, 32 + 8 * REC + 6, 7), 32 + 8 * REC, 9, "not after"),
    ("count one more", lambda d: _count(d, 257), len(b"") + 32 + 256 * REC, 257,
     "the file ends after 256 records; the header announces 257"),
    ("count one fewer", lambda d: _count(d, 255), 32 + 255 * REC, None,
     f"{REC} trailing bytes after the 255 records the header announces"),
])
def test_check_stream_locates_the_problem(capsys, tmp_path, stream_file, name, damage, offset, record, problem) -> None:
    doc = _check(capsys, tmp_path, damage(stream_file.read_bytes()))
    assert not doc["valid"]
    assert doc["error"]["offset"] == offset and doc["error"]["record"] == record
    assert problem in doc["error"]["problem"]


def test_check_stream_text_output(capsys, tmp_path, stream_file) -> None:
    path = tmp_path / "cut.bin"
    path.write_bytes(stream_file.read_bytes()[:32 + 2 * REC + 10])
    assert main(["check-stream", str(path)]) == 1
    assert capsys.readouterr().out == (f"{path}: INVALID at byte {32 + 2 * REC + 10} (record 3): "
                                       "truncated in record header (10 of 16 bytes)\n")


def test_check_stream_usage_errors(capsys, tmp_path) -> None:
    assert "No such file" in _one_line_error(capsys, ["check-stream", str(tmp_path / "absent.bin")])
    assert "Is a directory" in _one_line_error(capsys, ["check-stream", str(tmp_path)])


# ------------------------------------------------------------------ mermaid

MERMAID_LINE = re.compile(r"    (participant (Host|Memory|Guest)"
                          r"|Note over (Host|Memory|Guest)(,(Host|Memory|Guest))?: [^\n;#]+"
                          r"|(Host|Guest)->>Memory: [^\n;#]+"
                          r"|Memory-->>(Host|Guest): [^\n;#]+)")


def test_mermaid_stdout_is_only_sequence_diagrams(capsys) -> None:
    argv = ["verify", "--variant", "rfc", "--memory", "sc", "--guest", "slow", "--property", "order.response",
            "--property", "order.publish", "--trace-format", "mermaid"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    blocks = out.rstrip("\n").split("\n\n")
    assert len(blocks) == 2  # one diagram per counterexample
    for block in blocks:
        lines = block.split("\n")
        assert lines[0] == "sequenceDiagram"
        bad = [ln for ln in lines[1:] if not MERMAID_LINE.fullmatch(ln)]
        assert not bad, bad
        assert re.fullmatch(r"    Note over Host,Guest: VIOLATED order\.(response|publish) after \d+ steps", lines[-1])
    assert "property" in err and "verdict" in err and "order.response" in err  # the table went to stderr


def test_invariant_miner_out_is_not_overwritten_without_force(tmp_path) -> None:
    out = tmp_path / "sets.json"
    out.write_text("earlier sets")
    p = subprocess.run([sys.executable, "-m", "mhmailbox.proofs.invariants", "--out", str(out)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "exists (use --force" in p.stderr, p.stderr
    assert out.read_text() == "earlier sets"


def test_report_through_a_symlink_or_into_a_pipe(tmp_path) -> None:
    import threading

    from mhmailbox.outfiles import check_output, write_atomically

    target = tmp_path / "real.xml"
    target.write_text("old")
    link = tmp_path / "link.xml"
    link.symlink_to(target)
    check_output(str(link), force=True, what="t")
    write_atomically(str(link), "new")
    assert link.is_symlink() and target.read_text() == "new"  # the link still points at the report

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    check_output(str(fifo), force=False, what="t")  # a pipe is not a file to overwrite
    write_atomically(str(fifo), "report")
    reader.join(10)
    assert got == [b"report"] and fifo.is_fifo()


@pytest.mark.parametrize("field, value, needle", [
    ("capacity", 10 ** 6, "bounds capacity 1000000 is not an integer from 1 to 32"),  # would take forever to build
    ("deadline", -1, "bounds deadline -1"), ("quantum", "2", "bounds quantum '2'"),
    ("scripts", ["nope"], "bounds scripts ['nope']"),
])
def test_replay_refuses_bounds_verify_would_refuse(capsys, tmp_path, real_trace, field, value, needle) -> None:
    r = copy.deepcopy(real_trace)
    r["trace"][0]["bounds"][field] = value
    path = tmp_path / "t.json"
    path.write_text(json.dumps(r))
    assert needle in _one_line_error(capsys, ["replay", str(path)])
