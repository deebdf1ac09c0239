"""`mhmailbox replay`: confirmed traces exit 0, tampered ones 1 (with the step), malformed files 2."""
from __future__ import annotations

import copy
import json

import pytest

from mhmailbox.cli import main
from mhmailbox.model.check import check_cell
from mhmailbox.model.mermaid import render_mermaid
from mhmailbox.proofs.engines import run_bmc


@pytest.fixture(scope="module")
def explicit_results() -> list[dict]:
    return [r.to_json() for r in check_cell("rfc", "sc", "honest", "adversarial") if r.trace]


@pytest.fixture(scope="module")
def bmc_results() -> list[dict]:
    rs = run_bmc(("rfc", "sc", "honest", "adversarial"), [], None, depth=10, time_limit=60)
    return [r.to_json() for r in rs if r.trace]


def _write(tmp_path, doc, name="t.json") -> str:
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return str(p)


def test_whole_document_confirmed(tmp_path, explicit_results, bmc_results, capsys) -> None:
    assert explicit_results and bmc_results
    path = _write(tmp_path, {"results": explicit_results + bmc_results})
    assert main(["replay", path]) == 0
    out = capsys.readouterr().out
    assert out.count("CONFIRMED") == len(explicit_results) + len(bmc_results)
    assert "(bmc," in out and "(explicit," in out


def test_single_result_confirmed(tmp_path, bmc_results) -> None:
    assert main(["replay", _write(tmp_path, bmc_results[0])]) == 0


def test_tampered_step_refuted_at_that_step(tmp_path, explicit_results, capsys) -> None:
    r = copy.deepcopy(explicit_results[0])
    # a step that exists in the model but is not enabled there
    r["trace"][2]["action"] = "guest:done"
    assert main(["replay", _write(tmp_path, r)]) == 1
    out = capsys.readouterr().out
    assert "REFUTED" in out and "step 2" in out


def test_tampered_state_refuted(tmp_path, explicit_results, capsys) -> None:
    r = copy.deepcopy(explicit_results[0])
    last = r["trace"][-1]
    field = next(iter(last["memory"]))
    last["memory"][field] = "SOMETHING-ELSE"
    assert main(["replay", _write(tmp_path, r)]) == 1
    assert f"memory.{field}" in capsys.readouterr().out


def test_truncated_trace_refuted(tmp_path, explicit_results, capsys) -> None:
    r = copy.deepcopy(explicit_results[0])
    r["trace"] = r["trace"][:2]
    r["depth"] = 1  # (a depth left at the full length is refuted on its own: test_cli_errors)
    assert main(["replay", _write(tmp_path, r)]) == 1
    assert "without violating" in capsys.readouterr().out


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", json.dumps({"results": []}),
                                     json.dumps({"property": "order.publish", "variant": "rfc", "memory": "sc",
                                                 "guest": "honest", "host": "faithful", "verdict": "violated",
                                                 "trace": [{"step": 0}]}),
                                     json.dumps({"property": "nope", "variant": "rfc", "memory": "sc", "guest": "honest",
                                                 "host": "faithful", "verdict": "violated",
                                                 "trace": [{"action": "init", "params": {}}]})])
def test_malformed_exits_2_in_one_line(tmp_path, content, capsys) -> None:
    p = tmp_path / "m.json"
    p.write_text(content)
    assert main(["replay", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_file_exits_2(tmp_path, capsys) -> None:
    assert main(["replay", str(tmp_path / "absent.json")]) == 2


def test_mermaid_sequence_diagram(explicit_results, bmc_results) -> None:
    for r in explicit_results + bmc_results:
        text = render_mermaid(r)
        lines = text.splitlines()
        assert lines[0] == "sequenceDiagram"
        assert {"    participant Host", "    participant Memory", "    participant Guest"} <= set(lines)
        assert lines[-1].strip() == f"Note over Host,Guest: VIOLATED {r['property']} after {len(r['trace']) - 1} steps"
        body = [ln for ln in lines[1:] if not ln.strip().startswith("participant")]
        # one line per step, plus the header, initial-state and verdict notes
        assert len(body) == len(r["trace"]) + 2
        for ln in body:
            msg = ln.split(":", 1)[1]
            assert ";" not in msg and "#" not in msg
        assert any("->>Memory:" in ln for ln in lines), "writes are arrows to Memory"


def test_verify_prints_mermaid(capsys) -> None:
    rc = main(["verify", "--variant", "rfc", "--memory", "sc", "--guest", "honest", "--host", "adversarial",
               "--property", "guest.integrity", "--trace-format", "mermaid"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "sequenceDiagram" in out and "VIOLATED guest.integrity" in out
