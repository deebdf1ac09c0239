"""Counterexamples in the Informal Trace Format: written by verify, read by itf-py, confirmed by replay."""
from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mhmailbox.cli import main
from mhmailbox.model.itf import ItfError, decode, encode, result_from_itf, to_itf

itf_py = pytest.importorskip("itf_py", reason="itf-py not installed (pip install -e '.[test]')")

#: cheap cells: a 14-step trace on sc, and a store-buffered one on tso
SC = ["verify", "--variant", "rfc", "--memory", "sc", "--guest", "honest", "--property", "liveness.honest-progress",
      "--jobs", "1"]
TSO = ["verify", "--variant", "rfc", "--memory", "tso", "--guest", "slow", "--property", "order.response", "--jobs", "1"]


def _verify(argv: list[str], capsys) -> tuple[str, str]:
    assert main(argv) == 0
    out = capsys.readouterr()
    return out.out, out.err


@pytest.fixture(scope="module")
def tso_itf(tmp_path_factory) -> tuple[str, dict]:
    """``verify --trace-format itf`` of the tso cell (its file and text), run once."""
    import contextlib
    import io

    buf, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
        assert main(TSO + ["--trace-format", "itf"]) == 0
    path = tmp_path_factory.mktemp("itf") / "order.itf.json"
    path.write_text(buf.getvalue())
    return str(path), json.loads(buf.getvalue())


def test_verify_writes_itf_that_itf_py_reads(tso_itf) -> None:
    _, doc = tso_itf
    assert _itf_only(doc["states"])  # no null, no float: values ITF defines
    trace = itf_py.trace_from_json(doc)
    assert trace.meta["format"] == "ITF" and trace.meta["mhmailbox"]["property"] == "order.response"
    assert len(trace.states) == trace.meta["mhmailbox"]["depth"] + 1 == 44
    assert [s.meta["index"] for s in trace.states] == list(range(44))
    last = trace.states[-1].values
    assert set(trace.vars) <= set(last) and "memory" in trace.vars and "buffers" in trace.vars
    assert last["clock"].deadline == 2 and isinstance(last["host_command"], int)  # #bigint read back as int
    assert last["memory"].done == "1" and last["written_by"].done == "guest#1"
    # a store buffer's entries are ITF tuples; the step's choices an ITF map
    assert any(isinstance(e, tuple) and len(e) >= 2 for s in trace.states for e in s.values["buffers"].host)
    assert all(isinstance(s.values["params"], dict) for s in trace.states)


def test_verify_itf_stdout_is_only_the_trace(capsys) -> None:
    out, err = _verify(SC + ["--trace-format", "itf"], capsys)
    doc = json.loads(out)
    assert doc["vars"] and len(doc["states"]) == 15
    assert "liveness.honest-progress" in err and "1 cells" in err  # the verdict table went to stderr


def test_replay_confirms_an_itf_trace(tso_itf, capsys) -> None:
    path, _ = tso_itf
    assert main(["replay", path]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CONFIRMED  order.response  rfc / tso / slow / faithful  (explicit, 43 steps)")


def test_replay_refutes_a_tampered_itf_trace(tso_itf, tmp_path, capsys) -> None:
    _, doc = tso_itf
    bad = copy.deepcopy(doc)
    bad["states"][20]["memory"]["done"] = "1" if bad["states"][20]["memory"]["done"] != "1" else "0"
    path = tmp_path / "bad.itf.json"
    path.write_text(json.dumps(bad))
    assert main(["replay", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("REFUTED") and "step 20" in out
    bad = copy.deepcopy(doc)
    bad["states"][7]["clock"]["t"] = {"#bigint": "5"}
    path.write_text(json.dumps(bad))
    assert main(["replay", str(path)]) == 1
    assert "step 7" in capsys.readouterr().out


def test_several_counterexamples_are_a_list_and_replay_takes_it(tmp_path, capsys) -> None:
    out, _ = _verify(["verify", "--variant", "rfc", "--memory", "sc", "--guest", "honest", "--jobs", "1",
                      "--property", "liveness.honest-progress", "--property", "state.init-before-use",
                      "--trace-format", "itf"], capsys)
    doc = json.loads(out)
    assert isinstance(doc, list) and len(doc) == 2
    assert [itf_py.trace_from_json(d).meta["mhmailbox"]["property"] for d in doc] == [
        "liveness.honest-progress", "state.init-before-use"]
    path = tmp_path / "two.itf.json"
    path.write_text(out)
    assert main(["replay", str(path)]) == 0
    assert capsys.readouterr().out.count("CONFIRMED") == 2


def _good(capsys) -> dict:
    out, _ = _verify(SC + ["--trace-format", "itf"], capsys)
    return json.loads(out)


@pytest.mark.parametrize("spoil, says", [
    (lambda d: d["#meta"].pop("mhmailbox"), "not a trace mhmailbox wrote"),
    (lambda d: d.update(vars="memory"), "'vars' is not a list"),
    (lambda d: d.update(states=[]), "'states' is not a non-empty list"),
    (lambda d: d["states"][3]["clock"].update(t={"#bigint": "ten"}), "state 3.clock.t: #bigint 'ten'"),
    (lambda d: d["states"][3]["clock"].update(t=1.5), "not an integer"),
    (lambda d: d["states"][2].update(extra=1), "'extra' is not one of 'vars'"),
    (lambda d: d["states"][2].pop("memory"), "variable 'memory' missing"),
    (lambda d: d["states"][4]["#meta"].update(index=9), "#meta.index is not 4"),
    (lambda d: d["states"][1].update(params={"#set": []}), "unsupported ITF value '#set'"),
])
def test_malformed_itf_is_a_one_line_usage_error(spoil, says, tmp_path, capsys) -> None:
    doc = _good(capsys)
    spoil(doc)
    path = tmp_path / "bad.itf.json"
    path.write_text(json.dumps(doc))
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: replay: ") and says in err, err


# ----------------------------------------------------------------------------- the encoding itself
def test_a_key_some_steps_lack_reads_back_absent() -> None:
    """A Z3 engine's steps carry a drawing hint ``kind`` that step 0 lacks: ITF gives every state
    every variable, so the trace says which were absent and they read back absent."""
    steps = [{"step": 0, "action": "init", "params": {}, "memory": {"go": "0"}, "bounds": {"deadline": 2}},
             {"step": 1, "action": "a", "params": {"g": 1}, "memory": {"go": "1"}, "kind": "write"}]
    result = {"property": "p", "variant": "rfc", "verdict": "violated", "depth": 1, "trace": steps}
    doc = to_itf(result)
    assert doc["states"][0]["kind"] == "" and doc["#meta"]["absent"] == [[0, "kind"]]
    assert result_from_itf(json.loads(json.dumps(doc))) == result


step_values = st.recursive(
    st.one_of(st.integers(-(1 << 70), 1 << 70), st.text(max_size=5), st.booleans(), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4).filter(
        lambda k: not k.startswith("#")), inner, max_size=3)),
    max_leaves=6)


def _itf_only(doc) -> bool:
    """Only the JSON that ITF defines: no null, no JSON number that is not an integer."""
    if isinstance(doc, list):
        return all(map(_itf_only, doc))
    if isinstance(doc, dict):
        return all(map(_itf_only, doc.values()))
    return doc is not None and not isinstance(doc, float)


@given(step_values)
def test_encode_decode_round_trip(value) -> None:
    doc = encode(value)
    assert _itf_only(doc)
    assert decode(json.loads(json.dumps(doc)), "v") == value


@given(st.dictionaries(st.text(min_size=1, max_size=4), st.integers(-5, 1 << 40), max_size=4),
       st.dictionaries(st.sampled_from(["host", "guest"]),
                       st.lists(st.lists(st.text(max_size=3), min_size=2, max_size=3), max_size=3)))
def test_params_are_an_itf_map_and_buffers_tuples(params, buffers) -> None:
    doc = encode({"params": params, "buffers": buffers})
    assert "#map" in doc["params"]
    assert all("#tup" in e for entries in doc["buffers"].values() for e in entries)
    assert decode(doc, "s") == {"params": params, "buffers": buffers}
    assert itf_py.value_from_json(doc["params"]) == {k: v for k, v in params.items()}


def test_decode_names_where_it_fails() -> None:
    with pytest.raises(ItfError, match=r"s\.a\[1\]: #bigint"):
        decode({"a": [1, {"#bigint": "x"}]}, "s")
