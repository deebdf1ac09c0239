"""The docs stand on their own and their figures cannot drift silently.

* No doc sends a reader outside the repository, and every relative link and every
  repository path a doc names exists.
* Console blocks (```` ```console ````, first line ``$ mhmailbox ...``) are re-run and
  compared with what the command prints now (timings are not compared).
* Generated pages equal their generator's output (docs/review-rfc.md is compared in
  tests/test_model_cli.py).
* Counts, state numbers and trace lengths quoted in the prose are recomputed with the
  explicit checker, one cheap cell or property at a time; the whole default run's
  totals are in one ``slow`` test.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from mhmailbox.cli import build_parser, main
from mhmailbox.model.check import check_cell
from mhmailbox.model.memory import MODELS
from mhmailbox.model.properties import BY_ID, CATALOG
from mhmailbox.model.protocol import MAX_SESSIONS, Bounds, cells

ROOT = Path(__file__).resolve().parent.parent
#: every page, the course in docs/tutorial/ included (tests/test_tutorial.py adds the course's own checks)
DOCS = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
#: repository folders whose files the docs name as `folder/file.ext`
TREES = ("docs", "model", "proofs", "impl", "conformance", "tests", "bench", "src")


def text(name: str) -> str:
    return (ROOT / name).read_text()


def one(pattern: str, doc: str) -> re.Match:
    """The one match of ``pattern`` in ``doc``'s prose (runs of whitespace read as one space);
    a reworded sentence fails here, never silently."""
    found = list(re.finditer(pattern, re.sub(r"\s+", " ", text(doc))))
    assert len(found) == 1, f"{doc}: expected one match of {pattern!r}, found {len(found)}"
    return found[0]


def row(pattern: str, doc: str) -> re.Match:
    """The one table row (a whole line) of ``doc`` that matches ``pattern``."""
    found = [m for line in text(doc).splitlines() if (m := re.fullmatch(pattern, line))]
    assert len(found) == 1, f"{doc}: expected one row matching {pattern!r}, found {len(found)}"
    return found[0]


def num(s: str) -> int:
    return int(s.replace(",", ""))


def run(argv: list[str], capsys, *, codes: tuple[int, ...] = (0,)) -> str:
    code = main(argv)
    assert code in codes, (argv, code)
    return capsys.readouterr().out


# ------------------------------------------------------------------ standing on their own
@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_doc_names_a_file_outside_the_repository(doc: Path) -> None:
    for n, line in enumerate(doc.read_text().splitlines(), 1):
        assert "shared/" not in line, f"{doc.name}:{n} points outside the repository: {line.strip()}"


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
PATH = re.compile(r"(?<![\w./-])((?:%s)/[\w./-]*\w\.(?:md|py|json|c|h|toml))\b" % "|".join(TREES))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_named_paths_exist(doc: Path) -> None:
    body = doc.read_text()
    for target in LINK.findall(body):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{doc.name}: link to {target} points at nothing"
    for named in PATH.findall(body):
        assert (ROOT / named).exists(), f"{doc.name} names {named}, which does not exist"


def test_path_check_sees_links_and_paths() -> None:
    assert LINK.findall("see [the model](model.md#time) and [site](https://x.org)") == ["model.md#time",
                                                                                        "https://x.org"]
    assert PATH.findall("`model/layout.py`, docs/hardened.md, and not a/model/x.py") == ["model/layout.py",
                                                                                          "docs/hardened.md"]


# ------------------------------------------------------------------ console blocks
FENCE = re.compile(r"^```console\n(.*?)^```", re.M | re.S)
SECONDS = re.compile(r"\d+\.\d+")
#: A failing case's example count includes its shrinking runs, and shrinking is time-limited
#: (runner.SHRINK_SECONDS): on a loaded machine it runs fewer of them. Masked on FAIL lines.
FAIL_EXAMPLES = re.compile(r"^(FAIL .*?)\d+ examples")


def _mask(line: str) -> str:
    return FAIL_EXAMPLES.sub(r"\1# examples", SECONDS.sub("#", line.rstrip()))


def console_blocks() -> list[tuple[str, str, list[str]]]:
    out = []
    for doc in DOCS:
        if doc.parent.name == "tutorial":  # tests/test_tutorial.py runs the course's, each command once
            continue
        for block in FENCE.findall(doc.read_text()):
            first, *expected = block.rstrip("\n").split("\n")
            assert first.startswith("$ mhmailbox "), f"{doc.name}: a console block starts with its command"
            out.append((str(doc.relative_to(ROOT)), first[2:], expected))
    return out


def matches(expected: list[str], actual: list[str]) -> str | None:
    """Why ``actual`` (a command's output) does not show ``expected`` (a doc's excerpt), or None.

    Lines are compared with trailing spaces dropped and decimal numbers (timings) masked.
    A line ``...`` stands for any number of lines; a line ending in ``...`` for any line
    it begins; otherwise consecutive lines must be consecutive in the output, and the
    excerpt starts and ends where the output does unless it begins or ends with ``...``.
    """
    norm = [_mask(a) for a in actual]
    i, gap = 0, False
    for e in expected:
        e = _mask(e)
        if e.strip() == "...":
            gap = True
            continue

        def ok(a: str) -> bool:
            return a.startswith(e[:-3]) if e.endswith("...") else a == e

        while gap and i < len(norm) and not ok(norm[i]):
            i += 1
        if i >= len(norm) or not ok(norm[i]):
            return f"expected {e!r}, got {norm[i] if i < len(norm) else 'the end of the output'!r}"
        i, gap = i + 1, False
    if not gap and i != len(norm):
        return f"the output goes on after the excerpt: {norm[i]!r}"
    return None


def test_excerpt_matching_rules() -> None:
    out = ["a 1.5 s", "b", "c long line", "d"]
    assert matches(["a 0.2 s", "...", "c long ...", "d"], out) is None
    assert matches(["a 0.2 s", "b", "c long line", "..."], out) is None
    assert matches(["a 0.2 s", "c long line", "d"], out) is not None  # no gap without "..."
    assert matches(["a 0.2 s", "b"], out) is not None  # the output goes on
    assert matches(["a 0.2 s", "...", "c short ..."], out) is not None
    fail = ["FAIL SHOULD x    3 examples    0.1 s  barriers: y"]
    assert matches(["FAIL SHOULD x    2 examples    0.2 s  barriers: y"], fail) is None
    assert matches(["FAIL SHOULD x    2 examples    0.2 s  order: y"], fail) is not None
    assert matches(["ok   MUST   x    2 examples    0.2 s"], ["ok   MUST   x    3 examples    0.2 s"]) is not None


@pytest.mark.parametrize("doc,command,expected",
                         [pytest.param(*block, id=f"{block[0]}: {block[1]}") for block in console_blocks()])
def test_console_block_shows_what_the_command_prints(doc, command, expected, capsys, monkeypatch) -> None:
    """From the repository root (paths in the blocks are relative to it); a conform run that
    shows a failing case, or a compare that shows a row B breaks, exits 1, which is what it should do."""
    monkeypatch.chdir(ROOT)
    shows_failure = any(line.startswith("FAIL ") or line.rstrip().endswith("  broken") for line in expected)
    out = run(shlex.split(command)[1:], capsys, codes=(1,) if shows_failure else (0,))
    why = matches(expected, out.rstrip("\n").split("\n"))
    assert why is None, f"{doc}, `{command}`: {why}"


def test_every_figure_doc_has_its_console_blocks() -> None:
    names = [d for d, _, _ in console_blocks()]
    assert names.count("README.md") >= 2 and "docs/model.md" in names


# ------------------------------------------------------------------ generated pages
def test_property_catalog_is_the_generated_one(capsys) -> None:
    assert text("docs/properties.md").strip() == run(["properties", "--markdown"], capsys).strip()


def test_protocol_page_layout_is_model_layout() -> None:
    """docs/protocol.md's shared-area table and codes are the numbers of model/layout.py."""
    from mhmailbox.model import layout

    types = {"u64": "<Q", "i32": "<i", "u32": "<I"}
    rows = {f: (int(off, 16), ty) for off, f, ty in
            re.findall(r"^\| `(0x[0-9a-f]+)` \| `?([\w. ]+?)`? \| ([^|]+?) \|", text("docs/protocol.md"), re.M)}
    assert {f: (off, types[ty]) for f, (off, ty) in rows.items() if ty in types} == \
        {f.replace("hdr_len", "hdr.len"): v for f, v in layout.FIELDS.items()}
    assert rows["hdr.data"] == (layout.OFF_HDR_DATA, "u8[`hdr.len`]")
    assert rows["io page"] == (layout.OFF_IO_PAGE, f"u8[{layout.PAGE_SIZE}]")
    m = one(r"Two 4 KiB pages at guest physical address `(0x[0-9a-f]+)`", "docs/protocol.md")
    assert int(m[1], 16) == layout.SHARED_GPA and layout.SHARED_SIZE == 2 * 4096 == 2 * layout.PAGE_SIZE
    codes = one(r"the command: INIT = (\d), ENCRYPT = (\d) \(OVMF: SAVE_PAGE\), DECRYPT = (\d) \(OVMF: RESTORE_PAGE\), "
                r"RESET = (\d)", "docs/protocol.md")
    assert [int(c) for c in codes.groups()] == [layout.Cmd[n] for n in ("INIT", "ENCRYPT", "DECRYPT", "RESET")]
    rets = one(r"the helper's result: (-?\d) success, (-?\d) invalid function; (-?\d) \"authentication error\"",
               "docs/protocol.md")
    assert [int(c) for c in rets.groups()] == [layout.Ret.OK, layout.Ret.INVALID, layout.Ret.AUTH]
    assert int(one(r"the host accepts at most (\d+) bytes", "docs/protocol.md")[1]) == layout.HDR_MAX


def test_model_page_names_the_rfc_steps_that_exist() -> None:
    """docs/model.md, *Step by step (rfc)*: every step label it names is one of Rfc's, and it names
    every step of the helper's loop."""
    from mhmailbox.model.variants import Rfc

    section = text("docs/model.md").split("## Step by step (rfc)")[1].split("\n## ")[0]
    host = {st.label for st in Rfc().host([]).steps}
    guest = [st.label for st in Rfc().guest().steps]
    named = set(re.findall(r"`([a-z][a-z0-9]*(?:[.?][a-z0-9?]*)+)`", section))
    assert named and named <= host | set(guest), named - host - set(guest)
    helper = section.split("Helper loop")[1]
    assert all(f"`{label}`" in helper for label in guest), [g for g in guest if f"`{g}`" not in helper]


# ------------------------------------------------------------------ bounds and defaults
def test_verdicts_page_states_the_default_bounds() -> None:
    doc = text("docs/verdicts.md")
    args = build_parser().parse_args(["verify"])
    assert f"default {args.max_states:,}" in doc
    assert f"`{Bounds().describe('faithful')}`" in doc
    assert f"`{Bounds().describe('adversarial')}`" in doc
    assert Bounds().describe("adversarial").endswith(f"sessions<={MAX_SESSIONS}")
    assert (args.deadline, args.quantum, args.buffer) == (Bounds().deadline, Bounds().quantum, Bounds().capacity)


def test_z3_defaults_in_proofs_page() -> None:
    from mhmailbox.model.runner import ALL_TIME_LIMIT
    from mhmailbox.proofs.engines import DEFAULT_DEPTH, DEFAULT_TIME
    from mhmailbox.proofs.induction import MAX_K
    from mhmailbox.proofs.symbolic import Symbolic
    import inspect

    width = inspect.signature(Symbolic.__init__).parameters["width"].default
    assert int(one(r"`bmc` uses (\d+)-bit signed bit-vectors", "docs/proofs.md")[1]) == width
    assert int(one(r"k = 1 \.\. (\d+): base case", "docs/proofs.md")[1]) == MAX_K
    m = one(r"Default depth (\d+)\s+\(`--depth`\), default time limit (\d+) s per cell", "docs/proofs.md")
    assert (int(m[1]), float(m[2])) == (DEFAULT_DEPTH, DEFAULT_TIME)
    m = one(r"each Z3 engine gets (\d+) s per cell unless", "docs/proofs.md")
    assert float(m[1]) == ALL_TIME_LIMIT
    assert float(one(r"(\d+) s per cell for each\s+Z3 engine unless", "README.md")[1]) == ALL_TIME_LIMIT


# ------------------------------------------------------------------ counts of the catalog
def verdict_count(variants: tuple[str, ...]) -> int:
    return sum(1 for c in cells(list(variants), list(MODELS)) for p in CATALOG if p.applies(c[2], c[3]))


def test_readme_says_what_ci_runs() -> None:
    """README: `.ci/run` runs exactly the README's test command, under the ci profile, in a fresh venv."""
    ci = text(".ci/run").splitlines()
    command = ci[ci.index("# --- the README's test command ---") + 1]
    readme = text("README.md")
    assert f"```sh\n{command}\n```" in readme
    assert "export HYPOTHESIS_PROFILE=ci" in ci and "`HYPOTHESIS_PROFILE=ci`" in readme
    assert "python3 -m venv .venv-ci" in ci and "(`.venv-ci`)" in readme
    assert "```sh\npip install . && mhmailbox verify\n```" in readme


def test_hypothesis_profiles_in_readme() -> None:
    from hypothesis import settings

    n = num(one(r"`long` \(([\d,]+) examples\)", "README.md")[1])
    assert settings.get_profile("long").max_examples == n
    assert settings.get_profile("ci").derandomize


def test_cell_and_verdict_counts() -> None:
    assert verdict_count(("hardened",)) == 96 == verdict_count(("rfc",))
    n_cells = len(cells(["rfc", "hardened"], list(MODELS)))
    m = one(r"`mhmailbox verify --engine all` \((\d+) cells, (\d+)\s+engines, ([\d,]+) verdicts\)", "docs/proofs.md")
    assert (int(m[1]), int(m[2]), num(m[3])) == (n_cells, 4, 4 * verdict_count(("rfc", "hardened")))
    assert int(one(r"\*\*(\d+) of (\d+) verdicts proved\*\*", "docs/proofs.md")[1]) == verdict_count(("hardened",))
    assert int(one(r"for any number of commands\s+and migrations.*?\((\d+) verdicts", "README.md")[1]) == \
        verdict_count(("hardened",))


def test_proved_table_counts_each_cells_properties() -> None:
    """docs/proofs.md's table of hardened proofs: n/n per cell, n the properties that apply there."""
    rows = {"adversarial guest": ("adversarial", "faithful"), "silent guest": ("silent", "faithful"),
            "honest guest": ("honest", "faithful"), "slow guest": ("slow", "faithful"),
            "guest side vs the adversarial host": ("honest", "adversarial")}
    for label, (guest, host) in rows.items():
        n = sum(p.applies(guest, host) for p in CATALOG)
        line = row(r"\| %s \((\d+)[^|]*\|(.*)" % re.escape(label), "docs/proofs.md")
        assert int(line[1]) == n, label
        assert re.findall(r"(\d+)/(\d+)", line[2]) == [(str(n), str(n))] * 3, label


def test_stored_invariant_counts() -> None:
    """docs/proofs.md quotes the sizes of the stored hardened invariant sets (after --core)."""
    import json

    from mhmailbox.proofs.store import PACKAGE_STORE as STORE

    with open(STORE) as fh:
        stored = {k: len(v) for k, v in json.load(fh).items() if k.startswith("hardened/")}
    m = one(r"left ([\d,]+) of [\d,]+ invariants stored in `proofs/invariants.json` \(relaxed slow ([\d,]+) of "
            r"[\d,]+, tso honest ([\d,]+) of", "docs/proofs.md")
    assert (num(m[1]), num(m[2]), num(m[3])) == (sum(stored.values()), stored["hardened/relaxed/slow/faithful/sb=2"],
                                                  stored["hardened/tso/honest/faithful/sb=2"])


# ------------------------------------------------------------------ figures from the explicit checker
def shortest(variant: str, memory: str, guest: str, prop: str) -> int:
    """Shortest violation of one property in one cell (checked alone: a far smaller state space)."""
    (r,) = check_cell(variant, memory, guest, "faithful", properties=[BY_ID[prop]])
    assert r.verdict == "violated", (variant, memory, guest, prop, r.verdict)
    return r.depth


def test_rfc_tso_honest_cell_figures() -> None:
    rs = check_cell("rfc", "tso", "honest", "faithful")
    holds = [r for r in rs if r.verdict == "holds-to-depth"]
    assert all(r.exhaustive for r in holds)
    m = one(r"That cell has ([\d,]+)\s+reachable states and a diameter of (\d+), and its deepest violation has\s+"
            r"length (\d+) ", "docs/proofs.md")
    assert (num(m[1]), int(m[2]), int(m[3])) == (rs[0].states, holds[0].depth,
                                                  max(r.depth for r in rs if r.verdict == "violated"))


#: the four rfc cells whose violations bmc struggles with, and their violated properties
DEEP = {("tso", "honest"): ("adversary.error-no-data", "state.init-before-use", "liveness.honest-progress"),
        ("tso", "slow"): ("order.publish", "order.response", "adversary.error-no-data", "state.init-before-use",
                          "liveness.recovery"),
        ("relaxed", "honest"): ("order.publish", "order.response", "adversary.error-no-data",
                                "state.init-before-use", "liveness.honest-progress"),
        ("relaxed", "slow"): ("order.publish", "order.response", "adversary.error-no-data", "state.init-before-use",
                              "liveness.recovery")}


@pytest.fixture(scope="module")
def deep_lengths() -> dict[tuple[str, str, str], int]:
    return {(m, g, p): shortest("rfc", m, g, p) for (m, g), props in DEEP.items() for p in props}


def test_deep_rfc_violation_lengths(deep_lengths) -> None:
    """docs/proofs.md: the 18 violations of these cells, the ten bmc does not reach in 120 s, the six
    it does not reach in 600 s: their explicit (shortest) lengths."""
    m = one(r"they find (\d+) of the (\d+) violations of the tso and relaxed honest/slow cells at the explicit "
            r"length \(depths (\d+)-(\d+)\); the other (\d+) \(explicit depths (\d+)-(\d+)\)", "docs/proofs.md")
    found, total, lo, hi, n_deep, deep_lo, deep_hi = (int(x) for x in m.groups())
    assert total == len(deep_lengths)
    deep = {k: d for k, d in deep_lengths.items() if d >= deep_lo}
    shallow = sorted(d for d in deep_lengths.values() if d < deep_lo)
    assert (found, lo, hi) == (len(shallow), shallow[0], shallow[-1])
    assert (n_deep, deep_lo, deep_hi) == (len(deep), min(deep.values()), max(deep.values()))
    listed = one(r"The other ten are in four cells: (.*?)\. bmc completes", "docs/proofs.md")[1]
    shown = {(c[0], c[1]): sorted(int(x) for x in c[2].split(","))
             for c in re.findall(r"(tso|relaxed) (honest|slow) \((?:explicit lengths )?([\d, ]+)\)", listed)}
    assert shown == {cell: sorted(d for (m_, g, _), d in deep.items() if (m_, g) == cell) for cell in DEEP}
    missing = re.findall(r"^\| (tso|relaxed) (honest|slow) \| `([\w.-]+)` \| (\d+) \| \d+ \|$",
                         text("docs/proofs.md"), re.M)
    assert len(missing) == 6
    for m_, g, prop, length in missing:
        prop = prop if prop in BY_ID else f"adversary.{prop}"
        assert deep[(m_, g, prop)] == int(length), (m_, g, prop)


def test_sc_rfc_lengths_quoted_in_proofs_page() -> None:
    assert int(one(r"and `error-no-data` at depth (\d+) under sc\)", "docs/proofs.md")[1]) == \
        shortest("rfc", "sc", "honest", "adversary.error-no-data")


def test_hardened_is_exhaustive_everywhere() -> None:
    """docs/proofs.md: explicit, hardened: 87 holds-to-depth (exhaustive), 9 vacuous."""
    rs = [r for c in cells(["hardened"], list(MODELS)) for r in check_cell(*c)]
    m = row(r"\| explicit \| [\d.]+ s, (\d+) holds-to-depth \(exhaustive\), (\d+) vacuous \| [\d.]+ s, (\d+) "
            r"violated \|", "docs/proofs.md")
    assert all(r.exhaustive for r in rs)
    assert (sum(r.verdict == "holds-to-depth" for r in rs), sum(r.verdict == "vacuous" for r in rs)) == \
        (int(m[1]), int(m[2])) and int(m[1]) + int(m[2]) == len(rs)


@pytest.mark.slow
def test_default_run_totals(capsys) -> None:
    """The whole default explicit run (`mhmailbox verify --no-trace --json`): about a minute on two
    cores. Its rfc violation count is quoted in docs/proofs.md."""
    import json

    doc = json.loads(run(["verify", "--no-trace", "--json"], capsys))
    rfc = [r for r in doc["results"] if r["variant"] == "rfc"]
    violated = [r for r in rfc if r["verdict"] == "violated"]
    m = row(r"\| explicit \| [\d.]+ s, (\d+) holds-to-depth \(exhaustive\), (\d+) vacuous \| [\d.]+ s, (\d+) "
            r"violated \|", "docs/proofs.md")
    assert len(violated) == int(m[3])
    assert int(one(r"its (\d+) rfc violations are all there", "docs/proofs.md")[1]) == len(violated)
    m = one(r"With the (\d+) shallower violations, bmc matches \d+ of the (\d+) explicit rfc violations",
            "docs/proofs.md")
    assert (int(m[1]), int(m[2])) == (len(violated) - sum(map(len, DEEP.values())), len(violated))
    held = one(r"No cell violates `([\w.-]+)` or `([\w.-]+)` for the published host", "docs/review-rfc.md").groups()
    assert held and not [r for r in violated if r["property"] in held]
    for (memory, guest), props in DEEP.items():  # the deep cells' violations are the ones checked alone above
        assert {r["property"] for r in violated if (r["memory"], r["guest"]) == (memory, guest)
                and r["host"] == "faithful"} == set(props)
