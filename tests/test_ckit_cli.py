"""`mhmailbox conform --c-host`: bad input is one line and exit 2; overrides are reported everywhere."""
from __future__ import annotations

import json

import pytest

from ckit_support import PUBLISHED, needs_cc, needs_published, write_tiny_host


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    from mhmailbox.cli import main

    code = main(["conform", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_usage_error(code: int, out: str, err: str, *words: str) -> None:
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err


def test_missing_compiler(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no gcc, no clang
    src = write_tiny_host(tmp_path)
    _one_line_usage_error(*_run(capsys, "--c-host", src, "--protocol", "rfc"), "no C compiler found")


def test_missing_file(capsys, tmp_path):
    _one_line_usage_error(*_run(capsys, "--c-host", str(tmp_path / "nope.c"), "--protocol", "rfc"), "no such file")


@needs_cc
@pytest.mark.parametrize("define, words", [
    ("NO_SUCH_CONSTANT=1", ("no `#define NO_SUCH_CONSTANT` line",)),
    ("1BAD=2", ("expected NAME=VALUE",)),
    ("FAULT", ("expected NAME=VALUE",)),
])
def test_bad_define(capsys, tmp_path, define, words):
    src = write_tiny_host(tmp_path)
    _one_line_usage_error(*_run(capsys, "--c-host", src, "--protocol", "rfc", "--define", define), *words)


@needs_cc
def test_protocol_is_required_and_file_that_does_not_compile(capsys, tmp_path):
    src = write_tiny_host(tmp_path)
    _one_line_usage_error(*_run(capsys, "--c-host", src), "--protocol")
    bad = tmp_path / "bad.c"
    bad.write_text("int cgs_mh_save_encrypted_page(void) { return oops; }\n")
    _one_line_usage_error(*_run(capsys, "--c-host", str(bad), "--protocol", "rfc"), "compiling", "oops")


@needs_cc
@needs_published
def test_override_in_text_and_json_and_the_original_file_untouched(capsys):
    with open(PUBLISHED, "rb") as fh:
        before = fh.read()
    code, out, err = _run(capsys, "--c-host", PUBLISHED, "--protocol", "rfc", "--case", "host/barriers",
                          "--examples", "3", "--define", "MH_BUSYLOOP_TIMEOUT=1000")
    assert code == 1, err  # host/barriers fails
    assert out.count("MH_BUSYLOOP_TIMEOUT=1000 (was 100000000LL in confidential-ram.c)") == 2  # header and summary
    assert "FAIL SHOULD host/barriers" in out and "c_host(" in out
    code, out, err = _run(capsys, "--c-host", PUBLISHED, "--protocol", "rfc", "--case", "host/honest",
                          "--examples", "3", "--define", "MH_BUSYLOOP_TIMEOUT=1000", "--json")
    doc = json.loads(out)
    assert doc["build"]["overrides"] == [{"name": "MH_BUSYLOOP_TIMEOUT", "value": "1000", "was": "100000000LL",
                                          "file": PUBLISHED}]
    assert doc["cases"][0]["verdict"] == "skipped" and "load" in doc["cases"][0]["reason"]
    assert doc["summary"]["skipped"] == 1 and doc["summary"]["pass"] == 0
    with open(PUBLISHED, "rb") as fh:
        assert fh.read() == before
