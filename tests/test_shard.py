"""--shard K/N and `mhmailbox merge`: shards cover a run once, and merged they report what the
unsharded run reports."""
from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys

import pytest

from mhmailbox.cli import main
from mhmailbox.shard import Shard, parse_shard

VERIFY = ["verify", "--variant", "rfc", "--memory", "sc", "--depth", "7", "--jobs", "1", "--no-trace"]
CONFORM = ["conform", "--impl", "rfc", "--case", "guest/gpa-checked", "--case", "guest/honest",
           "--case", "host/honest", "--examples", "6"]


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def shards(argv: list[str], n: int, capsys, tmp_path) -> list[str]:
    paths = []
    for k in range(1, n + 1):
        status, out, _ = run(argv + ["--json", "--shard", f"{k}/{n}"], capsys)
        assert status in (0, 1)
        paths.append(str(tmp_path / f"{argv[0]}-{k}.json"))
        with open(paths[-1], "w") as f:
            f.write(out)
    return paths


@pytest.mark.parametrize("n", [1, 2, 3, 7, 40])
def test_shards_take_every_item_once_whatever_the_order_given(n: int) -> None:
    names = [f"cell{i:02d}/sc" for i in range(23)]
    parts = [Shard(k, n).pick(names) for k in range(1, n + 1)]
    assert sorted(i for p in parts for i in p) == list(range(len(names)))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    shuffled = names[:]
    random.Random(n).shuffle(shuffled)
    for k, part in enumerate(parts, 1):  # the same names, whatever order the run lists them in
        assert sorted(shuffled[i] for i in Shard(k, n).pick(shuffled)) == sorted(names[i] for i in part)


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", "1/0", "-1/2"])
def test_a_bad_shard_is_a_usage_error(text: str, capsys) -> None:
    status, out, err = run(["verify", "--shard", text], capsys)
    assert status == 2 and out == "" and err.count("\n") == 1 and "--shard" in err
    assert parse_shard(" 2 / 4 ") == Shard(2, 4)


def test_the_split_does_not_depend_on_the_hash_seed() -> None:
    def listed(seed: str) -> str:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        return subprocess.run([sys.executable, "-m", "mhmailbox", "conform", "--list", "--shard", "2/3"], env=env,
                              capture_output=True, text=True, check=True).stdout

    first = listed("1")
    assert first and first == listed("2")


def _rows(text: str) -> list[str]:
    """The verdict table without its timing columns (states and seconds)."""
    return [re.sub(r"\s+\S+\s+\S+$", "", line) for line in text.splitlines() if re.match(r"^[a-z]+\.", line)]


def test_verify_shards_merged_give_the_unsharded_verdicts(capsys, tmp_path) -> None:
    status, whole, _ = run(VERIFY + ["--json"], capsys)
    assert status == 0
    whole = json.loads(whole)
    paths = shards(VERIFY, 3, capsys, tmp_path)
    held = [json.load(open(p))["run"]["held"] for p in paths]
    assert all(held) and sorted(h[0] for part in held for h in part) == list(range(whole["run"]["items"]))

    status, out, _ = run(["merge", *reversed(paths), "--json"], capsys)
    assert status == 0
    merged = json.loads(out)
    key = lambda r: (r["property"], r["variant"], r["memory"], r["guest"], r["host"], r["verdict"], r["depth"])
    assert [key(r) for r in merged["results"]] == [key(r) for r in whole["results"]]  # same verdicts, same order
    assert merged["summary"]["verdicts"] == whole["summary"]["verdicts"]
    assert merged["summary"]["cells"] == whole["summary"]["cells"]
    assert merged["run"]["shard"] is None and merged["run"]["held"] == whole["run"]["held"]

    status, table, _ = run(["merge", *paths], capsys)  # printed as the unsharded run prints it
    _, unsharded, _ = run(VERIFY, capsys)
    assert status == 0 and _rows(table) == _rows(unsharded) and len(_rows(table)) == len(whole["results"])
    assert re.sub(r"in \S+ s", "", table.splitlines()[-1]) == re.sub(r"in \S+ s", "", unsharded.splitlines()[-1])


def test_merge_judges_the_engines_disagreements_again(capsys, tmp_path) -> None:
    """Each cell's verdicts of every engine are in one shard; merged, a proof against a
    counterexample is still a disagreement (exit 1), as in the unsharded run."""
    def report(k: int, engine: str, verdict: str) -> dict:
        r = {"property": "order.response", "variant": "rfc", "memory": "sc", "guest": "honest", "host": "faithful",
             "engine": engine, "verdict": verdict, "depth": 3, "states": 1, "seconds": 0.1, "bound": "b"}
        other = dict(r, memory="tso", engine=engine, verdict="holds-to-depth")
        options = {"engine": "all", "deadline": 2, "quantum": 1, "no_trace": True}
        return {"results": [r, other] if k == 1 else [], "summary": {"seconds": 1.0},
                "run": {"command": "verify", "version": "x", "options": options, "shard": f"{k}/2", "items": 2,
                        "held": [[1, "rfc/sc/honest/faithful", 2]] if k == 1 else []}}

    docs = {1: report(1, "explicit", "violated"), 2: report(2, "explicit", "violated")}
    docs[1]["results"][1] = dict(docs[1]["results"][0], engine="kind", verdict="proved")
    docs[2]["results"] = [dict(docs[1]["results"][0], memory="tso", engine="explicit", verdict="holds-to-depth")]
    docs[2]["run"]["held"] = [[0, "rfc/tso/honest/faithful", 1]]
    paths = []
    for k, doc in docs.items():
        paths.append(str(tmp_path / f"{k}.json"))
        json.dump(doc, open(paths[-1], "w"))
    status, out, err = run(["merge", *paths], capsys)
    assert status == 1 and "DISAGREEMENT: order.response rfc sc honest faithful: kind proved, explicit violated" in out
    rows = [line.split()[:6] for line in out.splitlines() if line.startswith("order.response")]
    assert [r[2] for r in rows] == ["tso", "sc", "sc"] and [r[5] for r in rows] == ["explicit", "explicit", "kind"]


def test_conform_shards_merged_give_the_unsharded_verdicts(capsys, tmp_path) -> None:
    status, whole, _ = run(CONFORM + ["--json"], capsys)
    assert status == 1  # rfc fails guest/gpa-checked
    whole = json.loads(whole)
    paths = shards(CONFORM, 2, capsys, tmp_path)
    status, out, _ = run(["merge", *paths, "--json"], capsys)
    merged = json.loads(out)
    assert status == 1
    assert [(c["id"], c["verdict"], c["property"]) for c in merged["cases"]] == \
        [(c["id"], c["verdict"], c["property"]) for c in whole["cases"]]
    for key in ("pass", "fail", "verdict", "must_failed", "impl"):
        assert merged["summary"][key] == whole["summary"][key]
    assert merged["summary"]["examples"] == sum(c["examples"] for c in merged["cases"])

    out_file = tmp_path / "merged.json"
    assert main(["merge", *paths, "-o", str(out_file)]) == 1
    assert json.loads(out_file.read_text())["cases"] == merged["cases"]
    status, text, _ = run(["merge", *paths], capsys)
    printed = [line.split()[:3] for line in text.splitlines() if line[:4] in ("ok  ", "FAIL")]
    assert printed == [[{"pass": "ok", "fail": "FAIL"}[c["verdict"]], "MUST", c["id"]] for c in whole["cases"]]
    assert "reproducer:" in text  # the failing case's reproducer, as the live run prints it
    assert "rfc: 2 pass, 0 skipped, 0 deviates, 1 fail, 0 unknown;" in text


def _fake(tmp_path, name: str, shard: str | None, options: dict | None = None, command: str = "conform") -> str:
    run_ = {"command": command, "version": "1", "options": options or {"examples": 3}, "shard": shard, "items": 2,
            "held": [[int(shard[0]) - 1 if shard else 0, "a", 1]]}
    path = tmp_path / name
    path.write_text(json.dumps({"cases" if command == "conform" else "results": [{"id": "a"}], "summary": {},
                                "run": run_}))
    return str(path)


@pytest.mark.parametrize("case,needle", [
    ("duplicate", "shard 1/2 given twice"),
    ("missing", "shard 2/2 missing"),
    ("options", "different runs (--examples 4 vs 3)"),
    ("split", "different splits"),
    ("command", "different runs (command verify vs conform)"),
    ("not-json", "is not JSON"),
    ("no-record", "is not a verify or conform --json report"),
    ("absent", "cannot read"),
])
def test_merge_refuses_what_is_not_one_run(case: str, needle: str, tmp_path, capsys) -> None:
    a = _fake(tmp_path, "a.json", "1/2")
    make = {
        "duplicate": lambda: [_fake(tmp_path, "b.json", "1/2")],
        "missing": lambda: [],
        "options": lambda: [_fake(tmp_path, "b.json", "2/2", {"examples": 4})],
        "split": lambda: [_fake(tmp_path, "b.json", "2/3")],
        "command": lambda: [_fake(tmp_path, "b.json", "2/2", command="verify")],
    }
    others = {case: make[case]()} if case in make else {}
    if case == "not-json":
        (tmp_path / "b.json").write_text("{nope")
        others[case] = [str(tmp_path / "b.json")]
    elif case == "no-record":
        (tmp_path / "b.json").write_text('{"results": []}')
        others[case] = [str(tmp_path / "b.json")]
    elif case == "absent":
        others[case] = [str(tmp_path / "none.json")]
    status, out, err = run(["merge", a, *others[case]], capsys)
    assert status == 2 and out == "" and err.count("\n") == 1 and needle in err, err


def test_merge_does_not_overwrite_without_force(tmp_path, capsys) -> None:
    target = tmp_path / "out.json"
    target.write_text("keep")
    status, _, err = run(["merge", _fake(tmp_path, "a.json", None), "-o", str(target)], capsys)
    assert status == 2 and "exists" in err and target.read_text() == "keep"


def test_the_docs_sharding_example_runs_as_written(tmp_path) -> None:
    """docs/conformance.md's shell example: three parts of verify, merged, print the whole run."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parent.parent / "docs" / "conformance.md").read_text()
    script = doc.split("## Sharding a long run over machines", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["verify-1.json", "verify-2.json", "verify-3.json"]
    assert re.search(r"^5 cells, \d+ verdicts: ", done.stdout, re.M), done.stdout
