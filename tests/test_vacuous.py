"""Coverage and the ``vacuous`` verdict (model/coverage.py, docs/verdicts.md).

A property whose monitor can be set only at steps no run reaches must never pass as
``holds-to-depth`` or ``proved``: the variant below disables the save path on purpose.
"""
from __future__ import annotations

import json
import textwrap

from mhmailbox.cli import main
from mhmailbox.model.check import Result, check_cell
from mhmailbox.model.coverage import reachability, unreached_steps
from mhmailbox.model.explore import explore
from mhmailbox.model.expr import FALSE
from mhmailbox.model.properties import BY_ID
from mhmailbox.model.protocol import build
from mhmailbox.model.report import disagreements
from mhmailbox.model.variants import Rfc

#: the only properties whose monitors are set at the save path's steps alone (save.page)
SAVE_PROPS = {"adversary.header-bound", "adversary.in-bounds"}

NO_SAVE_SOURCE = '''
from mhmailbox.model.expr import FALSE
from mhmailbox.model.variants import Rfc


class NoSave(Rfc):
    """rfc whose host never starts a save: the guard of the save path's first step is false."""

    name = "nosave"

    def save(self, H):
        super().save(H)
        H.patch("save", guard=FALSE)
'''


class NoSave(Rfc):
    name = "nosave"

    def save(self, H):
        super().save(H)
        H.patch("save", guard=FALSE)


def test_a_disabled_save_path_makes_the_save_properties_vacuous_not_holds() -> None:
    rs = {r.property: r for r in check_cell(NoSave, "sc", "adversarial", "faithful")}
    # the same cell of rfc violates both (F6, F7): only the disabled path hides them
    assert {r.property for r in check_cell("rfc", "sc", "adversarial", "faithful")
            if r.verdict == "violated"} >= SAVE_PROPS
    for pid in SAVE_PROPS:
        assert rs[pid].verdict == "vacuous", (pid, rs[pid].verdict)
        assert "host:save.page" in rs[pid].note
    # the rest is reached (loads and cleanups still run), so it keeps its verdict
    assert {r.verdict for p, r in rs.items() if p not in SAVE_PROPS} <= {"violated", "holds-to-depth"}
    assert rs["timeout.bounded-wait"].verdict == "holds-to-depth"
    unreached = rs["timeout.bounded-wait"].unreached
    assert {"host:save", "host:save.page", "host:save.len1"} <= set(unreached)
    assert "host:load.page" not in unreached and "host:cleanup" not in unreached


def test_ordinary_cells_reach_every_step_and_nothing_is_vacuous() -> None:
    for variant, guest, host in (("rfc", "adversarial", "faithful"), ("hardened", "honest", "adversarial")):
        rs = check_cell(variant, "sc", guest, host)
        assert rs and all(r.unreached == [] and r.coverage == "complete" for r in rs), \
            (variant, rs[0].unreached, rs[0].coverage)
        assert "vacuous" not in {r.verdict for r in rs}


def test_a_silent_guest_leaves_the_response_steps_unreached() -> None:
    """With no helper, no command completes: the host never reads a result or a header."""
    rs = {r.property: r for r in check_cell("hardened", "sc", "silent", "faithful")}
    unreached = set(rs["timeout.bounded-wait"].unreached)
    assert {"host:send.got", "host:save.len1", "host:save.page"} <= unreached
    assert not {"host:send.poll", "host:send.timeout", "host:idle"} & unreached
    assert rs["adversary.header-bound"].verdict == "vacuous"
    assert rs["timeout.bounded-wait"].verdict == "holds-to-depth"  # ticks run: its clock is reached


def test_coverage_is_reset_for_each_exploration() -> None:
    model = build("rfc", "sc", "adversarial", "faithful")
    system = model.system.reduced()
    compiled = system.compile()
    full = explore(compiled, 10_000, stop_when_all_found=False)
    short = explore(compiled, 2, stop_when_all_found=False)
    assert unreached_steps(model, system, full.fired) == []
    assert "host:save.page" in unreached_steps(model, system, short.fired)


def test_reachability_stops_at_the_first_witness_and_sees_the_unreached() -> None:
    cell = ("rfc", "sc", "adversarial", "faithful")
    reach = reachability(cell, [BY_ID["adversary.header-bound"]])
    (full,) = check_cell(*cell, properties=[BY_ID["timeout.bounded-wait"]])
    assert reach["adversary.header-bound"].reached is True
    assert reach["adversary.header-bound"].depth < full.depth  # stopped early, not exhaustive
    gone = reachability((NoSave,) + cell[1:], [BY_ID[p] for p in sorted(SAVE_PROPS)])
    assert set(gone) == SAVE_PROPS and all(r.reached is False and r.exhaustive for r in gone.values())


def test_verify_json_with_a_user_variant_file_reports_vacuous_in_explicit_and_bmc(tmp_path, capsys) -> None:
    path = tmp_path / "nosave.py"
    path.write_text(textwrap.dedent(NO_SAVE_SOURCE))
    # bmc looks 6 steps deep, but its vacuity comes from the whole bounded model (rfc: holds-to-depth 6)
    for engine in ("explicit", "bmc"):
        rc = main(["verify", "--variant", f"{path}:NoSave", "--memory", "sc", "--guest", "adversarial",
                   "--host", "faithful", "--property", "adversary.header-bound", "--engine", engine,
                   "--json", "--no-trace"] + (["--depth", "6"] if engine == "bmc" else []))
        (r,) = json.loads(capsys.readouterr().out)["results"]
        assert rc == 0 and r["verdict"] == "vacuous", (engine, r)
        assert "host:save.page" in r["note"]
        if engine == "explicit":  # exhaustive: no run at all, not merely none of a few steps
            assert "host:save.page" in r["unreached"] and r["exhaustive"], r


def _result(engine: str, verdict: str, bound: str = "b") -> Result:
    return Result(property="adversary.in-bounds", variant="v", memory="sc", guest="adversarial", host="faithful",
                  engine=engine, verdict=verdict, depth=3, states=0, seconds=0.0, bound=bound)


def test_cross_checks_treat_vacuous_as_a_claim() -> None:
    cell = ("v", "sc", "adversarial", "faithful")
    # a vacuous proof is still a proof: a counterexample contradicts it
    assert disagreements(cell, {"kind": [_result("kind", "vacuous", "g")],
                                "explicit": [_result("explicit", "violated")]}, 2, 1)
    # "no run of this bounded model reaches the monitor" against a run of the same model that violates it
    assert disagreements(cell, {"explicit": [_result("explicit", "vacuous")], "bmc": [_result("bmc", "violated")]},
                         2, 1)
    # vacuous beside holds or proved is no contradiction
    assert not disagreements(cell, {"explicit": [_result("explicit", "vacuous")],
                                    "kind": [_result("kind", "proved", "g")]}, 2, 1)


def test_a_review_finding_whose_fix_is_vacuous_is_not_confirmed() -> None:
    from mhmailbox.model.findings import FINDINGS, Review

    f = FINDINGS[0]
    rfc = _result("explicit", "violated")
    assert Review(f, rfc, _result("explicit", "holds-to-depth")).confirmed
    assert not Review(f, rfc, _result("explicit", "vacuous")).confirmed
    assert not Review(f, rfc, _result("explicit", "violated")).confirmed


def test_only_steps_that_can_change_a_monitor_count_as_its_writers() -> None:
    """The wait clock is reset to 0 at every command's start (which cannot make it exceed the bound)
    and advanced only by ticks: bounded-wait's monitor is reached by ticks alone; a flag's by the
    steps that set it."""
    reach = reachability(("hardened", "sc", "silent", "faithful"),
                         [BY_ID["timeout.bounded-wait"], BY_ID["adversary.in-bounds"]])
    assert reach["timeout.bounded-wait"].steps == ("tick",)
    assert reach["adversary.in-bounds"].steps == ("host:save.page",)


def test_every_engine_says_vacuous_for_the_same_properties_and_they_agree(capsys) -> None:
    rc = main(["verify", "--engine", "all", "--variant", "hardened", "--memory", "sc", "--guest", "silent",
               "--json", "--no-trace", "--time-limit", "10", "--depth", "10"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and "disagreements" not in doc
    vacuous: dict[str, set[str]] = {}
    for r in doc["results"]:
        if r["verdict"] == "vacuous":
            vacuous.setdefault(r["engine"], set()).add(r["property"])
    # the proofs: exactly the save properties; the bounded engines' claims (10 steps) are vacuous
    # for the same properties, which include one whose monitor no run of 10 steps reaches
    assert vacuous["kind"] == vacuous["pdr"] == SAVE_PROPS
    assert {r["verdict"] for r in doc["results"]
            if r["engine"] in ("kind", "pdr") and r["property"] not in SAVE_PROPS} == {"proved"}
    assert vacuous["explicit"] == vacuous["bmc"] == SAVE_PROPS | {"adversary.error-no-data"}
