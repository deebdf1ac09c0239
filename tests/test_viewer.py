"""The HTML trace viewer's pages, without a browser: self-contained, escaped, carrying each
step's state; review --html, verify --trace-format html and conform --html write them.
(tests/test_viewer_browser.py loads them in headless chromium.)"""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from mhmailbox.cli import main
from mhmailbox.model.check import check_cell
from mhmailbox.model.html import model_trace, page, verify_page
from mhmailbox.model.properties import BY_ID

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "</script><img src=x onerror=\"window.__pwned=1\"><!--"
#: the cheapest counterexample: 14 steps, 56 states
CELL = ("rfc", "sc", "honest", "faithful")
PROP = "liveness.honest-progress"


def page_data(text: str) -> dict:
    """The JSON a page carries (what its script reads)."""
    m = re.search(r'<script type="application/json" id="mh-data">(.*?)</script>', text, re.S)
    assert m, "no data element"
    return json.loads(m.group(1))


@pytest.fixture(scope="module")
def result() -> dict:
    [r] = check_cell(*CELL, properties=[BY_ID[PROP]])
    assert r.verdict == "violated"
    return r.to_json()


def test_page_is_self_contained(result) -> None:
    text = verify_page([result])
    assert "<link" not in text and "@import" not in text
    assert set(re.findall(r"url\(([^)]*)\)", text)) == {"#arrow"}  # the arrowhead, in the page itself
    assert not re.search(r"\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", text)
    assert re.search(r"<style>\n.+</style>", text, re.S) and "function select(" in text  # CSS and JS inline
    # the only URL is the SVG namespace, an identifier the browser never fetches
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) == {"http://www.w3.org/2000/svg"}


def test_each_step_carries_its_state_and_the_violating_step_is_marked(result) -> None:
    [trace] = page_data(verify_page([result]))["traces"]
    assert len(trace["steps"]) == 15 and trace["violating"] == 14
    for shown, step in zip(trace["steps"], result["trace"]):
        assert shown["state"] == step  # memory, provenance, clock, positions: all there
    assert {"memory", "written_by", "clock", "host_at", "guest_at"} <= set(trace["steps"][5]["state"])
    assert trace["property_text"] == BY_ID[PROP].text


def test_chart_kinds_come_from_the_model() -> None:
    """``return ret (read with no read barrier)`` is a read (words alone would call it a fence)."""
    [r] = check_cell("rfc", "sc", "slow", "faithful", properties=[BY_ID["order.response"]])
    steps = page_data(verify_page([r.to_json()]))["traces"][0]["steps"]
    last = steps[-1]
    assert last["label"].startswith("return ret") and last["kind"] == "read" and last["lane"] == "Host"
    kinds = {s["kind"] for s in steps}
    assert {"init", "write", "read"} <= kinds


def test_names_from_a_user_cannot_inject_markup(result) -> None:
    hostile = dict(result, variant=HOSTILE, property=HOSTILE)
    text = page(HOSTILE, [model_trace(hostile, [("Cause", HOSTILE)])])
    assert text.count("</script>") == 2  # the data's and the viewer's own
    assert "<img" not in text and "<!--" not in text
    assert f"<title>{'&lt;/script&gt;'}" in text
    data = page_data(text)["traces"][0]
    assert HOSTILE in data["title"] and data["info"] == [["Cause", HOSTILE]]  # shown as the very characters


def test_viewer_assets_are_package_data() -> None:
    """``pip install .`` ships the page's CSS and JS (a page without them is blank)."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = set(conf["tool"]["setuptools"]["package-data"]["mhmailbox.model"])
    assert {p.name for p in (ROOT / "model").glob("html_viewer.*")} <= shipped


# ----------------------------------------------------------------------------- the commands
def test_verify_html_is_one_page_on_stdout(capsys) -> None:
    assert main(["verify", "--variant", "rfc", "--memory", "sc", "--guest", "honest", "--jobs", "1",
                 "--property", PROP, "--property", "state.init-before-use", "--trace-format", "html"]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("<!DOCTYPE html>") and out.out.rstrip().endswith("</html>")
    assert [t["property"] for t in page_data(out.out)["traces"]] == [PROP, "state.init-before-use"]
    assert "2 verdicts: 2 violated" in out.err  # the verdict table went to stderr


def test_review_html_writes_a_page_per_finding_and_an_index(tmp_path, capsys) -> None:
    out = tmp_path / "review"
    assert main(["review", "--finding", "F3", "--finding", "F8", "--html", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["F3.html", "F8.html", "index.html"]
    index = (out / "index.html").read_text()
    assert 'href="F3.html"' in index and 'href="F8.html"' in index and "A failed INIT is ignored" in index
    assert '<a id="index" href="index.html">' in (out / "F8.html").read_text()
    data = page_data((out / "F8.html").read_text())["traces"][0]
    assert data["title"] == "F8. A failed INIT is ignored" and data["violating"] == len(data["steps"]) - 1
    assert [k for k, _ in data["info"]] == ["Finding", "Cause", "Fix", "hardened, same cell"]
    assert "pages in" in capsys.readouterr().err


def test_review_html_does_not_overwrite_without_force(tmp_path, capsys) -> None:
    (tmp_path / "F3.html").write_text("mine")
    assert main(["review", "--finding", "F3", "--html", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists (use --force" in err
    assert (tmp_path / "F3.html").read_text() == "mine"
    assert main(["review", "--finding", "F3", "--html", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "F3.html").read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("where, says", [("missing/deeper", "does not exist"), ("a-file", "is not a directory")])
def test_review_html_bad_directory_is_a_usage_error(where, says, tmp_path, capsys) -> None:
    (tmp_path / "a-file").write_text("x")
    assert main(["review", "--finding", "F3", "--html", str(tmp_path / where)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err


# ----------------------------------------------------------------------------- conformance failures
REPLAY_STEPS = [("init", {}), ("init", {}), ("init", {}), ("init", {}), ("encrypt", {"g": 1, "sched": []}),
                ("init", {}), ("decrypt_replayed", {"i": 0, "to": 0})]


@pytest.fixture(scope="module")
def failed_case():
    """rfc's helper writing a replayed page to RAM (guest/replay), as conform reports it."""
    from mhmailbox.conformance.cases import BY_ID as CASES, replay
    from mhmailbox.conformance.runner import Result

    f = replay("guest/replay", "rfc", REPLAY_STEPS)
    assert f is not None and f.prop == "guest.integrity"
    return Result(CASES["guest/replay"], "rfc", "fail", 1, 0.1, f.prop, f.message, f.steps, f.divergence, f.trace)


def test_conformance_page_shows_accesses_beside_the_model(failed_case) -> None:
    from mhmailbox.conformance.html_run import conformance_trace

    trace = conformance_trace(failed_case)
    rows = [r for r in trace["steps"][1:] if not r["state"].get("peer")]
    assert len(rows) == 80 and all(r["lane"] == "Guest" for r in rows)
    peer = [r for r in trace["steps"][1:] if r["state"].get("peer")]  # the scripted host's writes, beside them
    assert peer and all(r["lane"] == "Host" and r["label"].endswith("(scripted host)") for r in peer)
    assert "host write go = 1 (scripted host)" in [r["label"] for r in peer]
    marked = trace["steps"][trace["violating"]]
    # the access after which the model's guest.integrity monitor was set: the helper's copy to RAM
    assert marked["label"] == "guest read 4096 = <4096 bytes>"
    assert any(s.startswith("restore.copy:") for s in marked["state"]["model_steps"])
    assert {"memory", "written_by", "model_guest_at", "model_steps"} <= set(marked["state"])
    assert ["Reproducer", failed_case.reproducer] in trace["info"]


def test_conform_html_writes_pages_only_for_failures(tmp_path, capsys) -> None:
    out = tmp_path / "conf"
    assert main(["conform", "--impl", "hardened", "--case", "guest/honest", "--examples", "2", "--html", str(out)]) == 0
    assert [p.name for p in out.iterdir()] == ["index.html"]
    assert "guest/honest" in (out / "index.html").read_text()
    capsys.readouterr()
    assert main(["conform", "--list", "--html", str(out)]) == 2
    assert "--html shows a run" in capsys.readouterr().err


def test_a_run_this_process_cannot_repeat_shows_the_accesses_kept(failed_case) -> None:
    """A C kit or wire result: its kept accesses, the last one marked, and no claim about the model."""
    import attrs

    from mhmailbox.conformance.html_run import conformance_trace

    kept = attrs.evolve(failed_case, impl="c:helper.c", trace=failed_case.trace[-5:])
    trace = conformance_trace(kept)
    assert [s["label"] for s in trace["steps"][1:]] == failed_case.trace[-5:]
    assert trace["violating"] == 5 and "last access kept" in trace["violating_text"]
    assert all("memory" not in s["state"] for s in trace["steps"])
    assert any(k == "Note" for k, _ in trace["info"])


def test_a_deviation_is_marked_where_the_implementation_leaves_its_model(monkeypatch) -> None:
    """A helper that writes done twice (docs/conformance.md): the mark is on its second write."""
    import attrs

    from mhmailbox.conformance.adapter import HARDENED, IMPLEMENTATIONS
    from mhmailbox.conformance.cases import BY_ID as CASES, replay
    from mhmailbox.conformance.html_run import conformance_trace
    from mhmailbox.conformance.runner import Result
    from mhmailbox.impl.guest import GuestHelper

    class DoneTwice(GuestHelper):
        def _serve(self, g: int) -> None:
            super()._serve(g)
            self.port.write("done", g)

    impl = attrs.evolve(HARDENED, name="done-twice", guest_cls=DoneTwice)
    monkeypatch.setitem(IMPLEMENTATIONS, impl.name, impl)
    f = replay("guest/honest", impl, [("init", {})])
    assert f is not None and f.divergence is not None
    result = Result(CASES["guest/honest"], impl.name, "deviates", 1, 0.1, "divergence", "deviates", f.steps,
                    f.divergence, f.trace)
    trace = conformance_trace(result)
    marked, before = trace["steps"][trace["violating"]], trace["steps"][trace["violating"] - 1]
    assert marked["label"].startswith("guest write done") and before["label"].startswith("guest write done")
    assert marked["state"]["model_guest_at"].startswith("stopped")
    assert not before["state"]["model_guest_at"].startswith("stopped")
    assert trace["violating_text"] == "the implementation leaves its model here"
    assert any(k == "Divergence" for k, _ in trace["info"])


def test_reads_a_hostile_peer_decides_are_reads() -> None:
    """Against an adversarial guest the host's reads are model steps whose value the peer picks:
    still arrows from Memory, not notes or barriers."""
    [r] = check_cell("rfc", "sc", "adversarial", "faithful", properties=[BY_ID["adversary.header-bound"]])
    steps = page_data(verify_page([r.to_json()]))["traces"][0]["steps"]
    decided = [s for s in steps if "the peer decides" in s["label"]]
    assert decided and all(s["kind"] == "read" for s in decided)
    assert [s["kind"] for s in steps if s["label"] == "smp_wmb()"] == ["fence", "fence"]


def test_conform_pages_run_each_side_s_implementation_once_and_stop_it(failed_case) -> None:
    """What a C file or a wire command needs: built (started) once per side, stopped after."""
    from mhmailbox.conformance.adapter import IMPLEMENTATIONS
    from mhmailbox.conformance.html_run import conform_pages

    made, stopped = [], []

    class Built:
        def __getattr__(self, name):  # the Python rfc implementation, standing in for a built file
            return getattr(IMPLEMENTATIONS["rfc"], name)

        def stop(self) -> None:
            stopped.append(1)

    def implementation(side: str) -> Built:
        made.append(side)
        return Built()

    import attrs

    as_c = attrs.evolve(failed_case, impl="c:helper.c")
    pages = conform_pages("c:helper.c", [as_c, as_c], implementation)
    assert made == ["guest"] and stopped == [1]
    assert "model_guest_at" in pages["guest_replay.html"]  # the model's state: the reproducer ran again


def test_a_failure_judged_on_the_wire_is_not_pinned_on_an_access() -> None:
    """rfc's host taking a stale completion: the suite's wire check judges it by the end of the run,
    so the last access is marked with the message, not as where the model saw it."""
    from mhmailbox.conformance.cases import BY_ID as CASES, replay
    from mhmailbox.conformance.html_run import conformance_trace
    from mhmailbox.conformance.runner import Result

    steps = [("cleanup", {"sched": []}), ("cleanup", {"sched": [(0, ("sleep", 8))]}),
             ("cleanup", {"sched": [(5, ("serve",))]})]
    f = replay("host/stale-completion", "rfc", steps)
    assert f is not None and f.prop == "order.response" and "(on the wire)" in f.message
    trace = conformance_trace(Result(CASES["host/stale-completion"], "rfc", "fail", 1, 0.1, f.prop, f.message,
                                     f.steps, f.divergence, f.trace))
    assert trace["violating"] == len(trace["steps"]) - 1
    assert trace["violating_text"] == f"order.response failed by the end of this run: {f.message}"
    last = trace["steps"][-1]["state"]
    assert last["written_by"]["done"] == "guest#2" and last["written_by"]["go"] == "host#3"  # the stale completion
    assert any(s["label"].endswith("(reference helper)") for s in trace["steps"])


def test_both_charts_draw_a_read_with_no_barrier_as_a_read() -> None:
    """The Mermaid diagram and the viewer take a step's kind from the model (model/chart.py): the
    published host's "return ret (read with no read barrier)" is a read, not a barrier note."""
    from mhmailbox.model.check import check_cell
    from mhmailbox.model.html import chart_step
    from mhmailbox.model.mermaid import render_mermaid
    from mhmailbox.model.properties import BY_ID
    from mhmailbox.model.protocol import Bounds

    [r] = check_cell("rfc", "relaxed", "honest", "faithful", [BY_ID["order.response"]], Bounds())
    last = r.trace[-1]
    assert last["text"].startswith("return ret (read with no read barrier)")
    assert chart_step(last)["kind"] == "read"  # even with no model at hand: words, reads first
    diagram = render_mermaid(r).splitlines()
    [line] = [x for x in diagram if "return ret" in x]
    assert line.lstrip().startswith("Memory-->>Host:"), line


def test_a_user_variants_own_property_is_described_in_its_page() -> None:
    from mhmailbox.model.html import property_text
    from mhmailbox.model.user_variant import resolve_variant

    cls = resolve_variant(f"{ROOT / 'examples/variants/reqid.py'}:RequestId")
    [own] = [p for p in cls.PROPERTIES if p.id == "reqid.at-most-once"]
    assert property_text("reqid.at-most-once", cls.name) == own.text != ""
    assert property_text("reqid.at-most-once", "rfc") == ""
