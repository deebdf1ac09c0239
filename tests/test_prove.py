"""``mhmailbox prove``: mines and proves a user variant's invariants into the user's store,
which ``verify --engine kind`` then reads; a set proved for the same model is reused; what
cannot be proved, or a Houdini run out of time, is said and nothing is stored.

One small cell (a user variant that is rfc under another name, sc, silent helper) and one
property, so that nothing stored in the package helps: the proof comes from prove's store alone.
"""
from __future__ import annotations

import json

import pytest

from mhmailbox.cli import main
from mhmailbox.proofs import prove as prove_mod
from mhmailbox.proofs import store

PROPERTY = "timeout.bounded-wait"
ARGS = ["--memory", "sc", "--guest", "silent", "--property", PROPERTY]


@pytest.fixture(scope="module")
def variant(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("variant") / "mine.py"
    path.write_text("from mhmailbox.model.variants import Rfc\n\n\nclass Mine(Rfc):\n    name = 'ProveTestMine'\n")
    return f"{path}:Mine"


@pytest.fixture()
def user_store(tmp_path, monkeypatch) -> str:
    path = str(tmp_path / "store" / "proved.json")
    monkeypatch.setenv(store.USER_STORE_ENV, path)
    monkeypatch.setattr(store, "_CACHE", {})
    return path


def verify_kind(variant: str, capsys) -> dict:
    assert main(["verify", "--engine", "kind", "--variant", variant, *ARGS, "--json", "--jobs", "1"]) == 0
    (r,) = json.loads(capsys.readouterr().out)["results"]
    return r


def test_prove_stores_what_kind_then_proves_with(variant, user_store, capsys) -> None:
    before = verify_kind(variant, capsys)
    assert before["verdict"] == "unknown"  # no stored set for this variant: nothing to strengthen with
    assert main(["prove", "--variant", variant, *ARGS, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (cell,) = doc["cells"]
    assert doc["store"] == user_store and cell["source"] == "mined" and cell["houdini_finished"]
    assert 0 < cell["invariants"] <= cell["candidates"]
    assert [(r["property"], r["verdict"]) for r in cell["results"]] == [(PROPERTY, "proved")]
    data = json.loads(open(user_store).read())
    assert len(data[cell["key"]]) == cell["invariants"] and cell["key"] in data["_fingerprints"]
    after = verify_kind(variant, capsys)  # the default store is read by verify
    assert after["verdict"] == "proved" and f"relative to {cell['invariants']} proved" in after["note"]
    # a second run reuses the set proved for this model: no mining
    assert main(["prove", "--variant", variant, *ARGS]) == 0
    out = capsys.readouterr().out
    assert f"reused {cell['invariants']} invariants proved for this model" in out
    assert "1 cells, 1 verdicts: 1 proved" in out


def test_houdini_out_of_budget_stores_nothing_and_says_why(variant, user_store, monkeypatch, capsys) -> None:
    monkeypatch.setattr(prove_mod, "houdini", lambda sym, cands, deadline: ([], False))
    assert main(["prove", "--variant", variant, *ARGS, "--json", "--budget", "5"]) == 0
    (cell,) = json.loads(capsys.readouterr().out)["cells"]
    assert not cell["houdini_finished"] and cell["reason"].startswith("Houdini did not finish within the budget")
    assert cell["results"][0]["verdict"] == "unknown"
    assert store.load(user_store) == {}


@pytest.mark.parametrize("extra,message", [
    (["--property", "no.such"], "unknown property 'no.such'"),
    (["--host", "adversarial", "--guest", "silent"], "no property applies"),
])
def test_usage_errors(variant, user_store, capsys, extra, message) -> None:
    assert main(["prove", "--variant", variant, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_store_that_is_not_json_is_refused_before_any_work(variant, user_store, tmp_path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["prove", "--variant", variant, *ARGS, "--store", str(bad)]) == 2
    assert "is not readable JSON" in capsys.readouterr().err
    assert bad.read_text() == "{not json"
    assert main(["prove", "--variant", variant, *ARGS, "--store", str(tmp_path)]) == 2
    assert "is a directory, not a file" in capsys.readouterr().err
    assert main(["prove", "--variant", variant, *ARGS, "--store", str(bad / "store.json")]) == 2
    assert "which is not a directory" in capsys.readouterr().err
    cert = tmp_path / "cert"
    cert.mkdir()
    (cert / "old").write_text("")
    assert main(["prove", "--variant", variant, *ARGS, "--certificate", str(cert)]) == 2
    assert "not empty (add --force" in capsys.readouterr().err


def test_the_users_store_is_read_before_the_packages(user_store) -> None:
    from mhmailbox.model.properties import CATALOG
    from mhmailbox.proofs.general import general_model
    from mhmailbox.proofs.invariant import cell_key
    from mhmailbox.proofs.symbolic import UNBOUNDED, Symbolic

    model, system, _ = general_model(("hardened", "sc", "silent", "faithful"), list(CATALOG), None)
    sym = Symbolic(system, UNBOUNDED)
    package = store.stored_candidates(model, store.load()[cell_key(model)])
    mine = package[:40]  # the user's own set for this model (the fingerprint covers model and invariants)
    data: dict = {}
    store.put(data, model, sym, mine)
    store.save(data, user_store)
    assert store.sources() == [user_store, store.PACKAGE_STORE]
    assert store.lookup(model, sym) == (mine, mine)
    assert store.lookup(model, sym, [store.PACKAGE_STORE, user_store]) == (package, package)
    stale = {cell_key(model): data[cell_key(model)], "_fingerprints": {cell_key(model): "0" * 64}}
    store.save(stale, user_store)
    assert store.lookup(model, sym) == (package, mine)  # reused from the package; the user's set comes first


def test_parallel_workers_keep_each_others_sets(tmp_path, monkeypatch) -> None:
    """prove --jobs: workers record their cells in one store; a slow read-modify-write without the
    lock would lose all but the last writer's."""
    import time as time_mod

    from mhmailbox.model.runner import forked_map

    path = str(tmp_path / "store.json")
    real_save = store.save

    def slow_save(data, where=None):
        time_mod.sleep(0.2)  # every worker has read the store before any has written it
        real_save(data, where)

    monkeypatch.setattr(store, "put", lambda data, model, sym, invs: data.__setitem__(model, invs))
    monkeypatch.setattr(store, "save", slow_save)
    list(forked_map(_save_one, [(path, f"cell{i}") for i in range(4)], 4))
    assert sorted(k for k in store.load(path)) == ["cell0", "cell1", "cell2", "cell3"]


def _save_one(item: tuple) -> None:
    path, key = item
    store.save_cell(path, key, None, [key])
