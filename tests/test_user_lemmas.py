"""A user variant's own strengthening lemmas (``lemmas(self, model)``, docs/variants.md):
they join the proofs' candidates, Houdini keeps the inductive ones and drops the rest,
and a lemma that cannot be evaluated is a one-line error (exit 2)."""
from __future__ import annotations

import os
import textwrap
import time

import pytest
import z3

from mhmailbox.cli import main
from mhmailbox.model.properties import CATALOG
from mhmailbox.model.user_variant import resolve_variant
from mhmailbox.proofs import houdini as hd
from mhmailbox.proofs.general import general_model
from mhmailbox.proofs.lemmas import handshake, lemmas
from mhmailbox.proofs.store import with_lemmas
from mhmailbox.proofs.symbolic import UNBOUNDED, Symbolic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "variants", "reqid.py") + ":RequestId"

#: a variant with one inductive lemma and one that holds initially but not after a command
WITH_LEMMAS = f"""
from mhmailbox.model.user_variant import resolve_variant
from mhmailbox.proofs.lemmas import Invariant, V

RequestId = resolve_variant({EXAMPLE!r})


class WithLemmas(RequestId):
    name = "reqid-with-lemmas"

    def lemmas(self, model):
        if model.host != "faithful" or model.guest not in ("honest", "slow"):
            return []
        return [Invariant("go in memory is not ahead of the host's seq", V("m.go").le(V("host.seq"))),
                Invariant("never past the first command", V("host.seq").le(0))]
"""

GOOD = "lemma: reqid-with-lemmas: go in memory is not ahead of the host's seq"
WRONG = "lemma: reqid-with-lemmas: never past the first command"


@pytest.fixture(scope="module")
def with_lemmas_cell(tmp_path_factory):
    """The sc honest cell of WITH_LEMMAS, as prove builds it (registered once per run)."""
    path = tmp_path_factory.mktemp("lemmas") / "mine.py"
    path.write_text(textwrap.dedent(WITH_LEMMAS))
    cls = resolve_variant(f"{path}:WithLemmas")
    model, system, _ = general_model((cls.name, "sc", "honest", "faithful"), list(CATALOG), None)
    return model, Symbolic(system, UNBOUNDED)


def test_a_variants_lemmas_join_the_candidates_prove_uses(with_lemmas_cell) -> None:
    model, _ = with_lemmas_cell
    names = [c.name for c in with_lemmas(model, [])]
    assert names == [GOOD, WRONG]  # reqid is not hardened: no built-in lemma, only its own


def test_houdini_keeps_the_inductive_lemma_and_drops_the_wrong_one(with_lemmas_cell) -> None:
    model, sym = with_lemmas_cell
    kept, finished = hd.houdini(sym, lemmas(model), time.perf_counter() + 60)
    assert finished
    assert [c.name for c in kept] == [GOOD]


def test_built_in_variants_get_only_the_built_in_lemmas() -> None:
    model, _, _ = general_model(("hardened", "sc", "silent", "faithful"), list(CATALOG), None)
    assert [c.name for c in lemmas(model)] == [c.name for c in handshake(model)]
    model, _, _ = general_model(("rfc", "sc", "honest", "faithful"), list(CATALOG), None)
    assert lemmas(model) == []


BAD = """
from mhmailbox.model.user_variant import resolve_variant
from mhmailbox.proofs.lemmas import Invariant, V, at

RequestId = resolve_variant({example!r})


class Bad(RequestId):
    name = {name!r}

    def lemmas(self, model):
        if model.host != "faithful" or model.guest not in ("honest", "slow"):
            return []
        G = at(model, "guest")
        return [{lemma}]
"""


@pytest.mark.parametrize("case, lemma, expected", [
    ("unknown-var", 'Invariant("the ghost", V("guest.nonesuch").le(1))',
     "lemma 'the ghost' reads unknown variable guest.nonesuch"),
    ("unknown-step", 'Invariant("parked", G("nowhere"))', "guest has no step 'nowhere'"),
    ("not-invariant", 'V("host.seq").ge(0)', "lemma 1 ("),
])
def test_a_broken_lemma_is_a_one_line_error_with_exit_2(capsys, tmp_path, case, lemma, expected) -> None:
    path = tmp_path / "bad.py"
    path.write_text(textwrap.dedent(BAD.format(example=EXAMPLE, name=f"reqid-bad-{case}", lemma=lemma)))
    assert main(["verify", "--variant", f"{path}:Bad", "--memory", "sc"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"variant reqid-bad-{case}" in err and expected in err, err


def _one_step_safe(sym, invs, monitor: int) -> bool:
    """No step leads from a state satisfying ``invs`` and not ``monitor``'s violation into one."""
    s, t = sym.state("a"), sym.state("b")
    solver = z3.SolverFor("QF_LIA")
    memo: dict = {}
    solver.add(*[sym.to_z3(i.expr, s, None, memo) for i in invs])
    solver.add(*sym.trans(s, t, sym.selectors("a"), sym.params("a")))
    solver.add(z3.Not(sym.bad(monitor, s)), sym.bad(monitor, t))
    solver.set("timeout", 60_000)
    return solver.check() == z3.unsat


@pytest.mark.parametrize("memory, guest, props", [
    ("sc", "honest", ("order.publish", "order.response", "adversary.error-no-data", "liveness.honest-progress")),
    ("tso", "honest", ("order.publish", "order.response", "liveness.honest-progress")),
    ("sc", "slow", ("order.response", "timeout.no-false-timeout", "liveness.recovery")),
    ("tso", "slow", ("order.response", "timeout.no-false-timeout", "liveness.recovery")),
    ("relaxed", "honest", ("timeout.bounded-wait", "adversary.header-bound", "adversary.in-bounds")),
])
def test_reqids_own_lemmas_are_inductive_and_prove_the_properties_that_hold(memory, guest, props) -> None:
    """examples/variants/reqid.py's lemmas alone: all kept by Houdini, and with them each of these
    properties (the order, timeout and liveness ones left unknown by the mined sets alone,
    docs/review-reqid.md) is 1-inductive, while the one the explicit engine finds violated is not."""
    cls = resolve_variant(EXAMPLE)
    model, system, _ = general_model((cls.name, memory, guest, "faithful"), list(CATALOG) + list(cls.PROPERTIES), None)
    sym = Symbolic(system, UNBOUNDED)
    cands = lemmas(model)
    kept, finished = hd.houdini(sym, cands, time.perf_counter() + 60)
    assert finished and [c.name for c in kept] == [c.name for c in cands]
    index = {m.id: i for i, m in enumerate(sym.system.monitors)}
    assert [p for p in props if not _one_step_safe(sym, kept, index[p])] == []
    assert not _one_step_safe(sym, kept, index["state.init-before-use"])  # violated (INIT kept after RESET)
