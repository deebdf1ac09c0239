"""The trace viewer in a real headless browser (chromium, driven over the DevTools protocol):
pages load with no console error and fetch nothing, and stepping by key and by click changes
the state shown. Skipped, saying why, where chromium is not installed (.ci/run installs it)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mhmailbox.model.check import check_cell
from mhmailbox.model.html import model_trace, page, verify_page
from mhmailbox.model.properties import BY_ID

sys.path.insert(0, str(Path(__file__).resolve().parent))
from viewer_cdp import Browser, find_chromium  # noqa: E402

EXE = find_chromium()
pytestmark = pytest.mark.skipif(EXE is None, reason="chromium not installed (apt-get install chromium, "
                                                    "or CHROMIUM=/path/to/chrome): the viewer's browser tests skip")
HOSTILE = "</script><img src=x onerror=\"window.__pwned=1\"><b id=injected>x</b>"


@pytest.fixture(scope="module")
def browser():
    b = Browser(EXE)
    yield b
    b.close()


@pytest.fixture(scope="module")
def trace_page(tmp_path_factory) -> Path:
    """rfc's stale completion on tso (43 steps: store buffers, flushes, a clock)."""
    [r] = check_cell("rfc", "tso", "slow", "faithful", properties=[BY_ID["order.response"]])
    path = tmp_path_factory.mktemp("viewer") / "order.html"
    path.write_text(verify_page([r.to_json()]))
    return path


def shown(b: Browser) -> tuple[str, str]:
    """What the page shows now: the step heading, and the whole state panel's text."""
    return b.eval("document.getElementById('step-title').textContent"), b.eval("document.getElementById('state').innerText")


def test_page_loads_clean_and_steps_by_key_and_click(browser, trace_page) -> None:
    b = browser
    b.open(trace_page.as_uri())
    title, state0 = shown(b)
    assert title == "Step 0 of 43" and "Shared fields" in state0 and "Store buffers" in state0
    b.key("ArrowRight", 39)
    title, state1 = shown(b)
    assert title.startswith("Step 1 of 43") and state1 != state0
    b.key("ArrowLeft", 37)
    assert shown(b) == ("Step 0 of 43", state0)
    b.click('#chart g.row[data-step="20"] rect')
    title, state20 = shown(b)
    assert title.startswith("Step 20 of 43") and state20 not in (state0, state1)
    assert b.eval("document.querySelector('#chart g.row.current').getAttribute('data-step')") == "20"
    b.key("End", 35)
    title, last = shown(b)
    assert title.startswith("Step 43 of 43") and "order.response is violated here" in last
    assert "order.response is violated here" not in state20
    assert b.eval("document.querySelectorAll('#chart g.row.violating').length") == 1
    assert b.problems() == []
    assert b.requests() == [trace_page.as_uri()]  # nothing fetched: no CDN, no network


def test_a_link_can_open_a_step(browser, trace_page) -> None:
    browser.open(trace_page.as_uri() + "#step=29")
    assert shown(browser)[0].startswith("Step 29 of 43")
    browser.open(trace_page.as_uri() + "#step=mark")  # the violating step, wherever it is
    assert shown(browser)[0].startswith("Step 43 of 43")
    assert browser.problems() == []


def test_hostile_names_stay_text_in_the_browser(browser, tmp_path) -> None:
    [r] = check_cell("rfc", "sc", "honest", "faithful", properties=[BY_ID["liveness.honest-progress"]])
    hostile = dict(r.to_json(), variant=HOSTILE)
    path = tmp_path / "hostile.html"
    path.write_text(page(HOSTILE, [model_trace(hostile, [("Cause", HOSTILE)])]))
    browser.open(path.as_uri())
    assert browser.eval("typeof window.__pwned") == "undefined"
    assert browser.eval("document.getElementById('injected') === null")
    assert HOSTILE in browser.eval("document.getElementById('title').textContent")
    assert browser.eval("document.title") == HOSTILE
    assert browser.problems() == []


def test_a_conformance_failure_steps_through_its_accesses(browser, tmp_path) -> None:
    from mhmailbox.conformance.cases import BY_ID as CASES, replay
    from mhmailbox.conformance.html_run import conform_pages
    from mhmailbox.conformance.runner import Result

    steps = [("init", {}), ("encrypt", {"g": 1, "sched": []}), ("init", {}), ("decrypt_replayed", {"i": 0, "to": 0})]
    f = replay("guest/replay", "rfc", steps)
    assert f is not None
    result = Result(CASES["guest/replay"], "rfc", "fail", 1, 0.1, f.prop, f.message, f.steps, f.divergence, f.trace)
    pages = conform_pages("rfc", [result])
    for name, text in pages.items():
        (tmp_path / name).write_text(text)
    browser.open((tmp_path / "guest_replay.html").as_uri())
    b = browser
    b.key("ArrowDown", 40)
    b.key("ArrowDown", 40)
    title, state = shown(b)
    assert title == "Step 2 of 64: host" and "(scripted host)" in state and "model_guest" in state
    b.click('#chart g.row[data-step="44"] rect')
    title, state = shown(b)
    assert title == "Step 44 of 64: guest" and "model steps: wait: spin until go != 0" in state
    b.key("ArrowDown", 40)
    assert shown(b)[1] != state
    b.open((tmp_path / "index.html").as_uri())
    assert b.eval("document.querySelector('a').getAttribute('href')") == "guest_replay.html"
    assert b.problems() == []


def test_the_harness_sees_a_page_error(browser, tmp_path) -> None:
    """The checks above would catch a broken viewer: a console error and an exception show."""
    path = tmp_path / "broken.html"
    path.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); undefinedThing();</script>")
    browser.open(path.as_uri())
    problems = browser.problems()
    assert any("boom" in p for p in problems) and any("undefinedThing" in p for p in problems)


def test_a_run_without_counterexamples_says_so(browser, tmp_path) -> None:
    path = tmp_path / "none.html"
    path.write_text(verify_page([]))
    browser.open(path.as_uri())
    assert browser.eval("document.getElementById('title').textContent") == "No counterexample in this run"
    browser.key("ArrowRight", 39)
    assert browser.problems() == []


def test_a_page_of_several_counterexamples_picks_among_them(browser, tmp_path) -> None:
    results = [r.to_json() for r in check_cell("rfc", "sc", "honest", "faithful",
                                               properties=[BY_ID["liveness.honest-progress"],
                                                           BY_ID["state.init-before-use"]])]
    path = tmp_path / "two.html"
    path.write_text(verify_page(results))
    b = browser
    b.open(path.as_uri())
    assert b.eval("document.getElementById('picker').hidden") is False
    first = b.eval("document.getElementById('title').textContent")
    b.eval("(() => { const p = document.getElementById('pick'); p.value = '1';"
           " p.dispatchEvent(new Event('change')); })()")
    second = b.eval("document.getElementById('title').textContent")
    assert first.startswith("liveness.honest-progress") and second.startswith("state.init-before-use")
    assert shown(b)[0].startswith("Step 0 of ")
    b.open(path.as_uri() + "#trace=1&step=3")
    assert b.eval("document.getElementById('title').textContent") == second
    assert shown(b)[0].startswith("Step 3 of ")
    assert b.problems() == []
