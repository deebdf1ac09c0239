"""Run cases against an implementation: verdicts, examples, shrunk reproducers, timings.

Verdicts, graded ``pass < skipped < deviates < unknown < fail`` (:data:`GRADE`):

* ``pass``: no example failed and none left the model;
* ``skipped``: nothing failed, but a part of the case's check needs a host operation the
  implementation does not have (``Case.needs``; the rule was left out): never ``pass``;
* ``deviates``: no property failed in any example, but the implementation made an access its
  model cannot explain (a divergence). The model's monitors stop there; the rigs' direct
  checks ran to the end of every example. The divergence is then shrunk in a second pass;
* ``fail``: a property failed (the shrunk example is the reproducer);
* ``unknown``: the run itself could not conclude (Hypothesis gave up, or the rig raised an
  internal error).
"""
from __future__ import annotations

import contextlib
import pprint
import time
from typing import Any, Iterable, Sequence

import attrs
from hypothesis import HealthCheck, Verbosity, core as _core, settings
from hypothesis.errors import Flaky
from hypothesis.internal.conjecture import engine as _engine
from hypothesis.internal.conjecture import providers as _providers
from hypothesis.stateful import run_state_machine_as_test

from .adapter import HOST_OPERATIONS, IMPLEMENTATIONS, Implementation
from .cases import (BY_ID, CASES, FIRST, LAST, ORACLE, Case, ConformanceFailure, Deviation, deviation_message, machine,
                    unrun_checks)

#: Operations per example (Hypothesis shrinks a failure down from here).
STEPS_PER_EXAMPLE = 10
#: Seconds spent shrinking one failure at most.
SHRINK_SECONDS = 8.0
#: Verdicts from best to worst (a summary's ``verdict`` is the worst of its cases).
GRADE = ("pass", "skipped", "deviates", "unknown", "fail")


@attrs.define
class Result:
    case: Case
    impl: str
    verdict: str
    examples: int
    seconds: float
    prop: str | None = None
    message: str | None = None
    steps: list = attrs.field(factory=list)
    divergence: dict | None = None
    trace: list = attrs.field(factory=list)
    model_steps: int = 0
    accesses: int = 0
    found_after: float | None = None  # seconds until the first failing example (before shrinking)
    coverage: dict = attrs.field(factory=dict)  # model steps visited by the run, rule uses
    diverged: int = 0  # examples in which the implementation left its model
    reason: str | None = None  # what of the case was not run (an operation the implementation lacks)

    @property
    def reproducer(self) -> str | None:
        if self.verdict not in ("fail", "deviates"):
            return None
        body = pprint.pformat(self.steps, width=100, compact=True)
        return (
            "from mhmailbox.conformance.cases import replay\n"
            f"failure = replay({self.case.id!r}, {self.impl!r}, {body})\n"
            "print(failure)  # None once fixed\n"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.case.id, "level": self.case.level, "side": self.case.side, "verdict": self.verdict,
            "examples": self.examples, "seconds": round(self.seconds, 3), "property": self.prop,
            "message": self.message, "findings": list(self.case.findings), "steps": len(self.steps),
            "reproducer": self.reproducer, "divergence": self.divergence,
            "found_after_seconds": None if self.found_after is None else round(self.found_after, 3),
            "trace_tail": self.trace if self.verdict in ("fail", "deviates") else [],
            "coverage": self.coverage, "diverged_examples": self.diverged, "reason": self.reason,
            "model_steps": self.model_steps, "accesses": self.accesses,  # (merge recomputes the summary from them)
        }


def machine_labels(case: Case, impl: Implementation) -> list[str]:
    """Labels of the model thread a case observes (for coverage)."""
    from mhmailbox.model.variants import VARIANTS

    v = VARIANTS[impl.protocol](deadline=4, quantum=1)
    return [s.label for s in (v.host([]) if case.side == "host" else v.guest()).steps]


def resolve_impl(impl: Implementation | str) -> Implementation:
    return IMPLEMENTATIONS[impl] if isinstance(impl, str) else impl


def run_case(case: Case | str, impl: Implementation | str, *, examples: int = 60, derandomize: bool = True,
             steps: int = STEPS_PER_EXAMPLE, shrink_seconds: float = SHRINK_SECONDS) -> Result:
    """Run one case; ``examples`` is Hypothesis' max_examples (each a sequence of operations).

    Shrinking a failure stops after ``shrink_seconds`` (Hypothesis' documented monkeypatchable
    shrinking deadline), keeping the smallest example found so far.
    """
    case = BY_ID[case] if isinstance(case, str) else case
    impl = resolve_impl(impl)
    M = machine(case, impl)
    counters: dict[str, Any] = {"examples": 0, "model_steps": 0, "accesses": 0, "visited": set(), "elided": 0,
                                "diverged": 0, "deviation": None}
    orig_init = M.__init__

    def counted_init(self: Any) -> None:
        orig_init(self)
        counters["examples"] += 1
        rig = self.rig
        obs = rig.observer
        self._count = (rig, obs)

    def teardown(self: Any) -> None:
        rig, obs = self._count
        counters["model_steps"] += obs.steps
        counters["accesses"] += rig.accesses
        counters["visited"] |= obs.visited
        counters["elided"] += obs.elided
        if rig.divergence is not None and ORACLE["on"]:
            counters["diverged"] += 1
            if counters["deviation"] is None:
                counters["deviation"] = (time.perf_counter(), list(self.steps), rig.divergence.as_dict(), rig.trace[-40:])

    M.__init__ = counted_init  # type: ignore[method-assign]
    M.teardown = teardown  # type: ignore[method-assign]
    LAST.pop(case.id, None)
    FIRST.pop(case.id, None)
    s = settings(max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
                 derandomize=derandomize, verbosity=Verbosity.quiet, report_multiple_bugs=False,
                 suppress_health_check=list(HealthCheck))
    t0 = time.perf_counter()
    saved_budget = _engine.MAX_SHRINKING_SECONDS
    _engine.MAX_SHRINKING_SECONDS = shrink_seconds  # type: ignore[assignment]
    try:
        with fixed_constant_pool(), remembered_digests():
            run_state_machine_as_test(M, settings=s)
            if counters["deviation"] is not None:
                _shrink_deviation(case, impl, s)
    except ConformanceFailure as e:
        f = LAST.get(case.id, e)
        found = FIRST.get(case.id)
        result = Result(case, impl.name, "fail", counters["examples"], time.perf_counter() - t0, f.prop, f.message,
                        f.steps, f.divergence, f.trace, counters["model_steps"], counters["accesses"],
                        None if found is None else found - t0)
        if isinstance(f, Deviation):
            result.verdict = "deviates"
            result.message = deviation_message(case, f.divergence or {}, counters["examples"], counters["diverged"])
            result.found_after = counters["deviation"][0] - t0
    except (Flaky, Exception) as e:  # noqa: BLE001 - the run did not conclude
        result = Result(case, impl.name, "unknown", counters["examples"], time.perf_counter() - t0, None,
                        f"{type(e).__name__}: {e}"[:500], model_steps=counters["model_steps"],
                        accesses=counters["accesses"])
    else:
        result = Result(case, impl.name, "pass", counters["examples"], time.perf_counter() - t0,
                        model_steps=counters["model_steps"], accesses=counters["accesses"])
        if counters["deviation"] is not None:  # the second pass did not find it again: the first example, unshrunk
            at, steps_, div, trace = counters["deviation"]
            result.verdict, result.prop, result.steps, result.divergence, result.trace = (
                "deviates", "divergence", steps_, div, trace)
            result.message = deviation_message(case, div, counters["examples"], counters["diverged"])
            result.found_after = at - t0
    finally:
        _engine.MAX_SHRINKING_SECONDS = saved_budget
    result.diverged = counters["diverged"]
    _judge_operations(result, impl)
    labels = machine_labels(case, impl)
    result.coverage = {
        "model_steps_visited": len(counters["visited"] & set(labels)), "model_steps_total": len(labels),
        "not_visited": [x for x in labels if x not in counters["visited"]],
        "elided_reads": counters["elided"],
    }
    return result


@contextlib.contextmanager
def fixed_constant_pool():
    """Draw without the constants Hypothesis collects from "local" source modules.

    Hypothesis sometimes (p = 0.05 per draw) draws a literal taken from every non-installed module
    loaded so far. Which modules those are depends on how mhmailbox was installed (editable or not),
    on what the process imported before the run (the command line, the user's adapter) and on every
    literal in their source: a derandomized case then drew other examples, and found or missed
    a fault, for reasons that have nothing to do with the case. With the pool pinned empty, a
    derandomized run depends on the case, the implementation and the settings only. Hypothesis'
    own global constants (edge values of each type) are still drawn.
    """
    saved = getattr(_providers, "_get_local_constants", None)
    if saved is None:  # an older Hypothesis draws no local constants: nothing to pin
        yield
        return
    empty = _providers.Constants()
    _providers._get_local_constants = lambda: empty
    _providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        _providers._get_local_constants = saved
        _providers.CONSTANTS_CACHE.cache.clear()


@contextlib.contextmanager
def remembered_digests():
    """Hypothesis' digest of a test function (its derandomized seed, its database key), computed
    once per function code instead of twice per run.

    The digest hashes the function's source (found, read and re-tokenized each time: about 15 ms
    for the state machine runner's inner test, the same code in every run), its signature and the
    digest of the machine class added to it; those two are the key here with the code, so the
    digest, the seed and the examples drawn are the ones Hypothesis computes."""
    saved = _core.function_digest

    def digest(function: Any) -> bytes:
        code = getattr(function, "__code__", None)
        if code is None:
            return saved(function)
        key = (code, getattr(function, "_hypothesis_internal_add_digest", None))
        if key not in _DIGESTS:
            _DIGESTS[key] = saved(function)
        return _DIGESTS[key]

    _core.function_digest = digest
    try:
        yield
    finally:
        _core.function_digest = saved


#: (function code, the digest Hypothesis adds to it) -> Hypothesis' digest of the function
_DIGESTS: dict[tuple, bytes] = {}


def _shrink_deviation(case: Case, impl: Implementation, s: settings) -> None:
    """Second pass, once no property failed: the same search, stopping at the first divergence,
    so that Hypothesis shrinks it (raises the shrunk :class:`Deviation`, or a property failure
    met on the way; returns if it does not meet the divergence again)."""
    M = machine(case, impl)
    M.stop_at_divergence = True  # type: ignore[attr-defined]
    LAST.pop(case.id, None)
    run_state_machine_as_test(M, settings=s)


def _judge_operations(result: Result, impl: Implementation) -> None:
    """Say what an implementation's missing host operations left out of a case; a case whose
    check needs one is never ``pass``."""
    case = result.case
    lacks = sorted(HOST_OPERATIONS - impl.operations)
    if not lacks or case.side != "host":
        return
    unrun = unrun_checks(case, impl.operations)
    if not unrun:
        names = ", ".join(impl.operation_name(op) for op in lacks)
        result.reason = f"drawn without {names} ({impl.name} does not have it); no check of this case needs it"
        return
    names = ", ".join(impl.operation_name(op) for op, _ in case.needs if op in lacks)
    ran = " and ".join(f"{op}s" for op in sorted(impl.operations))
    result.reason = f"not run: {'; '.join(unrun)} (needs {names}, which {impl.name} does not have)"
    if result.verdict == "pass":
        result.verdict = "skipped"
        result.reason += f"; its {ran} passed {result.examples} examples"


def select(side: str | None = None, ids: Sequence[str] = ()) -> list[Case]:
    out = [c for c in CASES if side in (None, c.side)]
    if ids:
        unknown = [i for i in ids if i not in BY_ID]
        if unknown:
            raise KeyError(", ".join(unknown))
        out = [c for c in out if c.id in ids]
    return out


def run_all(impl: Implementation | str, cases: Iterable[Case], *, examples: int = 60,
            derandomize: bool = True) -> list[Result]:
    return [run_case(c, impl, examples=examples, derandomize=derandomize) for c in cases]


def summary(results: Sequence[Result]) -> dict[str, Any]:
    """Counts per verdict, the ids behind each, the worst verdict, and throughput."""
    out: dict[str, Any] = {v: 0 for v in GRADE}
    for r in results:
        out[r.verdict] += 1
    out["verdict"] = max((r.verdict for r in results), key=GRADE.index, default="pass")
    out["must_failed"] = [r.case.id for r in results if r.verdict == "fail" and r.case.level == "MUST"]
    out["should_failed"] = [r.case.id for r in results if r.verdict == "fail" and r.case.level == "SHOULD"]
    out["deviates_ids"] = [r.case.id for r in results if r.verdict == "deviates"]
    out["skipped_ids"] = [r.case.id for r in results if r.verdict == "skipped"]
    out["unknown_ids"] = [r.case.id for r in results if r.verdict == "unknown"]
    out["examples"] = sum(r.examples for r in results)
    secs = sum(r.seconds for r in results)
    out["seconds"] = round(secs, 2)
    # no time spent (no case ran: an empty --shard part): no examples per second, not None in the text
    out["examples_per_second"] = round(out["examples"] / secs, 1) if secs else 0.0
    out["model_steps_per_second"] = round(sum(r.model_steps for r in results) / secs) if secs else 0
    return out


@attrs.define
class MutantResult:
    id: str
    text: str
    side: str
    killed: bool
    by: str | None
    property: str | None
    seconds: float
    #: with the oracle off (properties alone): the first case that fails, and its property
    by_property: str | None = None
    property_only: str | None = None
    verdict: str | None = None  # of the killing case: fail, or deviates (the oracle alone saw it there)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "killed": self.killed, "by": self.by, "property": self.property, "verdict": self.verdict,
                "by_property_alone": self.by_property, "property_alone": self.property_only,
                "side": self.side, "text": self.text, "seconds": round(self.seconds, 3)}


def _first_kill(mutant: Any, side: str, examples: int, derandomize: bool) -> tuple[str | None, str | None, str | None]:
    """The first case that detects the mutant (``fail``, or ``deviates``), its property and verdict."""
    for case in select(side):
        r = run_case(case, mutant.impl, examples=examples, derandomize=derandomize, shrink_seconds=1.0)
        if r.verdict in ("fail", "deviates"):
            return case.id, r.prop, r.verdict
    return None, None, None


def run_mutant(mutant: Any, *, examples: int = 60, derandomize: bool = True, properties_too: bool = False) -> MutantResult:
    """Run the cases of the mutant's side in catalog order until one fails (kills it).

    ``properties_too``: also search again with the oracle off, to name the first case whose
    *property* (not the model's step-by-step check) fails on the mutant.
    """
    from mhmailbox.impl.host import Host

    side = "host" if mutant.impl.host_cls is not Host else "guest"
    t0 = time.perf_counter()
    by, prop, verdict = _first_kill(mutant, side, examples, derandomize)
    out = MutantResult(mutant.id, mutant.text, side, by is not None, by, prop, 0.0, verdict=verdict)
    if properties_too:
        ORACLE["on"] = False
        try:
            out.by_property, out.property_only, _ = _first_kill(mutant, side, examples, derandomize)
        finally:
            ORACLE["on"] = True
    out.seconds = time.perf_counter() - t0
    return out
