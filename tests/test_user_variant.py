"""User variants (``--variant PATH.py:Class``) and their own properties (docs/variants.md)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from mhmailbox.cli import main
from mhmailbox.model.check import check_cell
from mhmailbox.model.properties import CATALOG
from mhmailbox.model.user_variant import VariantError, resolve_variant

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "variants", "reqid.py") + ":RequestId"

#: a variant that serves any go other than the last one served: an older id replays
ANY_NEW = f"""
from mhmailbox.model.expr import And
from mhmailbox.model.user_variant import resolve_variant
from mhmailbox.model.variants import g

RequestId = resolve_variant({EXAMPLE!r})


class AnyNew(RequestId):
    name = "reqid-any-new"

    def go_pending(self, go):
        return And(go.ne(0), go.ne(g("last")))
"""


@pytest.fixture(scope="module")
def any_new(tmp_path_factory) -> str:
    """ANY_NEW as a file, once per run (its name may be registered only once in a process)."""
    return _file(tmp_path_factory.mktemp("any_new"), ANY_NEW) + ":AnyNew"


def _file(tmp_path, text: str, name: str = "mine.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def _one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def _verify_json(capsys, argv: list[str]) -> list[dict]:
    assert main(["verify", "--json", "--no-trace", "--jobs", "1"] + argv) == 0
    return json.loads(capsys.readouterr().out)["results"]


# ------------------------------------------------------------------ the worked example

def test_example_runs_the_whole_catalog_with_its_own_property(capsys) -> None:
    results = _verify_json(capsys, ["--variant", EXAMPLE, "--memory", "sc", "--guest", "honest", "--guest", "silent",
                                    "--guest", "adversarial"])
    ids = {r["property"] for r in results}
    # every catalog property that applies to these guests (liveness.recovery is for the slow guest only)
    assert ids == {p.id for p in CATALOG if p.id != "liveness.recovery"} | {"reqid.at-most-once"}
    assert {r["variant"] for r in results} == {"reqid"}
    own = [r for r in results if r["property"] == "reqid.at-most-once"]
    assert [(r["verdict"], r["exhaustive"]) for r in own] == [("holds-to-depth", True)]


def test_example_keeps_what_rfc_breaks_and_fixes_what_ids_fix() -> None:
    # (the slow cell's F1, F2 and F14 are checked by docs/review-reqid.md's console block)
    reqid = resolve_variant(EXAMPLE)
    adv = {r.property: r.verdict for r in check_cell(reqid.name, "sc", "honest", "adversarial")}
    assert adv["guest.refusal-reported"] == "holds-to-depth"  # status codes
    assert adv["guest.confidential"] == "violated"  # pages still cross in plaintext


def test_user_property_checked_by_explicit_and_kind(capsys, any_new) -> None:
    pytest.importorskip("z3")
    broken = any_new
    cell = ["--memory", "sc", "--guest", "honest", "--host", "adversarial", "--property", "reqid.at-most-once"]
    for engine in ("explicit", "kind"):
        bad = _verify_json(capsys, ["--engine", engine, "--variant", broken] + cell)
        assert [(r["variant"], r["verdict"]) for r in bad] == [("reqid-any-new", "violated")], engine
        good = _verify_json(capsys, ["--engine", engine, "--variant", EXAMPLE, "--time-limit", "5"] + cell)
        assert [r["property"] for r in good] == ["reqid.at-most-once"]
        assert good[0]["verdict"] in ("holds-to-depth", "proved", "unknown"), engine  # never violated


def test_replay_of_a_user_variant_trace(capsys, tmp_path, any_new) -> None:
    broken = any_new
    assert main(["verify", "--json", "--variant", broken, "--memory", "sc", "--guest", "honest",
                 "--host", "adversarial", "--property", "reqid.at-most-once"]) == 0
    trace = tmp_path / "t.json"
    trace.write_text(capsys.readouterr().out)
    assert main(["replay", str(trace), "--variant", broken]) == 0
    assert capsys.readouterr().out.startswith("CONFIRMED  reqid.at-most-once")


def test_forked_workers_see_the_users_class(tmp_path) -> None:
    # a fresh process, two cells on two workers: the class is resolved before the fork
    out = subprocess.run([sys.executable, "-m", "mhmailbox.cli", "verify", "--variant", EXAMPLE, "--memory", "sc",
                          "--guest", "honest", "--guest", "silent", "--jobs", "2", "--json", "--no-trace"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    cells = {(r["guest"], r["host"]) for r in json.loads(out.stdout)["results"]}
    assert cells == {("honest", "faithful"), ("silent", "faithful"), ("honest", "adversarial")}


def test_properties_lists_the_variants_own(capsys) -> None:
    assert main(["properties", "--variant", EXAMPLE, "--json"]) == 0
    props = json.loads(capsys.readouterr().out)["properties"]
    assert [p["id"] for p in props] == [p.id for p in CATALOG] + ["reqid.at-most-once"]
    assert props[-1]["hosts"] == ["adversarial"]
    assert main(["properties"]) == 0
    assert "reqid.at-most-once" not in capsys.readouterr().out


def test_a_variants_property_is_unknown_without_it(capsys) -> None:
    assert "unknown property 'reqid.at-most-once'" in _one_line_error(
        capsys, ["verify", "--variant", "rfc", "--property", "reqid.at-most-once"])


# ------------------------------------------------------------------ broken user variants

HEAD = """
from mhmailbox.model.expr import V
from mhmailbox.model.properties import Property
from mhmailbox.model.variants import Hardened, Rfc, h, merge, flag
"""

BROKEN = {
    "a step updating a field twice": ("""
class Bad(Rfc):
    def cleanup(self, H):
        H.step("cleanup", "two values for res", set={"res": 1}, ghost={"host.res": 2}, next="cleanup.done")
        self.end_op(H, "cleanup.done", "done", h("res").eq(0))
""", "variant Bad, thread host, step 'cleanup': host.res updated twice in one step"),
    "a guard on an unknown variable": ("""
class Bad(Hardened):
    def guest(self):
        G = super().guest()
        G.patch("wait", guard=V("guest.nosuch").eq(0))
        return G
""", "variant Bad, thread guest, step 'wait': guard reads unknown variable guest.nosuch"),
    "a monitor merged twice": ("""
class Bad(Rfc):
    def go_ghost(self):
        return merge(flag("order.publish", V("host.cmd").eq(1)), flag("order.publish", V("host.cmd").eq(2)))
""", "variant Bad, thread host, the step after 'send.wmb' (sc, honest guest, faithful host) cannot be built "
        "(mine.py line 8, in go_ghost): ValueError: v.order.publish updated twice in one step"),
    "an update of an undeclared ghost": ("""
class Bad(Rfc):
    def go_ghost(self):
        return {"v.nosuch": 1}
""", "host:send.go updates undeclared v.nosuch"),
    "a read into an unknown local": ("""
from mhmailbox.model.program import Read
class Bad(Rfc):
    def copy_header(self, H, label, into):
        H.step(label, "read hdr.len", Read("hdr_len", "nosuch"))
""", "variant Bad, thread host, step 'save.len3' (sc, honest guest, faithful host) cannot be built: "
        "KeyError: host has no local 'nosuch'"),
    "a file that does not import": ("import no_such_module_here\n",
                                    "does not import: ModuleNotFoundError: No module named 'no_such_module_here'"),
    "a syntax error": ("class Bad(Rfc)\n    pass\n", "does not import: SyntaxError: "),
    "a class that is missing": ("class Other(Rfc):\n    pass\n", "has no class 'Bad'; its variants: Other"),
    "a class that is not a variant": ("class Bad:\n    pass\n", "Bad is not a variant"),
    "a name of a built-in": ("class Bad(Rfc):\n    name = 'hardened'\n", "is a built-in variant's"),
    "a property already in the catalog": (
        "class Bad(Rfc):\n    PROPERTIES = (Property('order.publish', 'host', ('honest',), 'again'),)\n",
        "property 'order.publish' is already in the catalog"),
    "a property no step flags": (
        "class Bad(Rfc):\n    PROPERTIES = (Property('mine.p', 'host', ('honest',), 'x'),)\n",
        "variant Bad: no step sets the monitor of its property mine.p"),
    "a property with an unknown guest": (
        "class Bad(Rfc):\n    PROPERTIES = (Property('mine.p', 'host', ('sleepy',), 'x'),)\n",
        "property mine.p: guests must be some of"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_user_variant_gets_one_line_exit_2(capsys, tmp_path, case) -> None:
    body, needle = BROKEN[case]
    path = _file(tmp_path, (HEAD if "import no_such" not in body else "") + body)
    err = _one_line_error(capsys, ["verify", "--variant", f"{path}:Bad", "--memory", "sc"])
    assert needle in err, err


def test_missing_file_and_unknown_name(capsys, tmp_path) -> None:
    assert f"variant file {tmp_path}/absent.py not found" in _one_line_error(
        capsys, ["verify", "--variant", f"{tmp_path}/absent.py:X"])
    assert "unknown variant 'nope'" in _one_line_error(capsys, ["verify", "--variant", "nope"])
    assert "unknown variant" in _one_line_error(capsys, ["properties", "--variant", "mine.txt:X"])


def test_a_user_name_used_twice_is_refused(tmp_path) -> None:
    a = _file(tmp_path, "from mhmailbox.model.variants import Rfc\nclass A(Rfc):\n    name = 'twin'\n", "a.py")
    b = _file(tmp_path, "from mhmailbox.model.variants import Rfc\nclass B(Rfc):\n    name = 'twin'\n", "b.py")
    assert resolve_variant(a + ":A").name == "twin"
    assert resolve_variant(a + ":A") is resolve_variant("twin")  # registered by name, checked once
    with pytest.raises(VariantError, match="already called 'twin'"):
        resolve_variant(b + ":B")


def test_the_class_name_names_a_variant_without_one(tmp_path) -> None:
    path = _file(tmp_path, "from mhmailbox.model.variants import Hardened\nclass Quiet(Hardened):\n    pass\n", "q.py")
    cls = resolve_variant(path + ":Quiet")
    assert cls.name == "Quiet"
    assert {r.variant for r in check_cell("Quiet", "sc", "silent", "faithful")} == {"Quiet"}


# ------------------------------------------------------------------ docs/variants.md

def _doc() -> str:
    with open(os.path.join(ROOT, "docs", "variants.md")) as fh:
        return fh.read()


def test_documented_extension_points_exist_on_rfc() -> None:
    from mhmailbox.model import variants

    section = _doc().split("### The extension points", 1)[1].split("### The rules", 1)[0]
    names = re.findall(r"`(\w+)`", section)
    assert len(names) > 40
    missing = [n for n in names if not any(hasattr(where, n) for where in (variants.Rfc, variants.Hardened, variants))]
    assert missing == []


def test_docs_example_is_the_example_file() -> None:
    block = re.search(r"```python\n(.*?)```", _doc(), re.S)[1]
    with open(os.path.join(ROOT, "examples", "variants", "keep_go.py")) as fh:
        assert block == fh.read()


def test_review_findings_table_is_what_the_checker_says() -> None:
    """docs/review-reqid.md's reqid column, recomputed in each finding's cell (F1 and F14, the slow sc
    cell, are recomputed by the page's own console block)."""
    from mhmailbox.model.findings import FINDINGS
    from mhmailbox.model.properties import BY_ID

    with open(os.path.join(ROOT, "docs", "review-reqid.md")) as fh:
        rows = dict(re.findall(r"^\| (F\d+) \|.*\| ([^|]+) \|$", fh.read(), re.M))
    assert sorted(rows) == sorted(f.id for f in FINDINGS)
    name = resolve_variant(EXAMPLE).name
    for f in FINDINGS:
        if f.id in ("F1", "F14"):
            continue
        [r] = check_cell(name, f.memory, f.guest, f.host, properties=[BY_ID[f.property]], bounds=f.bounds())
        shown = (f"violated, {r.depth} steps" if r.verdict == "violated"
                 else f"{r.verdict} (exhaustive)" if r.exhaustive else f"{r.verdict} (depth {r.depth})")
        assert rows[f.id].strip() == shown, f.id


def test_prove_then_kind_proves_the_user_property(capsys, tmp_path, monkeypatch) -> None:
    """kind alone cannot close reqid.at-most-once (it needs "served <= last"); prove mines and stores
    that invariant in the user's store, and verify --engine kind then proves the user property."""
    pytest.importorskip("z3")
    from mhmailbox.proofs.store import USER_STORE_ENV

    monkeypatch.setenv(USER_STORE_ENV, str(tmp_path / "store.json"))
    cell = ["--variant", EXAMPLE, "--memory", "sc", "--guest", "honest", "--host", "adversarial",
            "--property", "reqid.at-most-once"]
    assert main(["prove", "--budget", "120"] + cell) == 0
    capsys.readouterr()
    [r] = _verify_json(capsys, ["--engine", "kind", "--time-limit", "30"] + cell)
    assert (r["property"], r["verdict"]) == ("reqid.at-most-once", "proved"), r["note"]


def test_a_label_the_model_needs_is_named(capsys, tmp_path) -> None:
    # the helper's "start" is where "helper first" cells hold the host back: only those cells miss it
    path = _file(tmp_path, HEAD + "class Bad(Rfc):\n    def guest_start(self, G):\n"
                                  "        G.step('boot', 'at start: nothing', None)\n")
    err = _one_line_error(capsys, ["verify", "--variant", f"{path}:Bad"])
    assert ("variant Bad (sc, slow guest, faithful host, helper first) cannot be built: "
                   "KeyError: guest has no label 'start'") in err


def test_one_property_id_means_one_property_in_a_run(capsys, tmp_path) -> None:
    other = _file(tmp_path, f"""
from mhmailbox.model.properties import Property
from mhmailbox.model.user_variant import resolve_variant

RequestId = resolve_variant({EXAMPLE!r})


class Other(RequestId):
    name = "reqid-other-text"
    PROPERTIES = (Property("reqid.at-most-once", "guest", (), "another text"),)
""")
    assert "declares property reqid.at-most-once differently" in _one_line_error(
        capsys, ["verify", "--variant", EXAMPLE, "--variant", other + ":Other", "--memory", "sc"])
