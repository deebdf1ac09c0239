"""Run the host cases against a built C host: the suite's own runner, plus what a C file may lack.

A file with no load function (the published one has none) is run with the state
machines' ``load`` rule removed: its saves and cleanups are checked as usual. A case
whose check is about loads cannot be run by such a file: if nothing fails in its saves
and cleanups, its verdict is ``skipped`` with the reason, never ``pass``; a failure
found without loads is a failure.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

import attrs

from .. import runner
from ..cases import Case
from .build import ENTRIES
from .host import CHostImplementation

#: Host cases whose check is about loads, and what of it a file with no load cannot show.
NEEDS_LOAD = {
    "host/honest": "every load succeeding with an honest helper",
    "host/init-after-reset": "DECRYPT only after an INIT since the last RESET",
}


@attrs.define
class CResult(runner.Result):
    """A case's result for a C host: ``skipped`` possible, and a reproducer that rebuilds the file."""

    reason: str | None = None
    rebuild: str = ""

    @property
    def reproducer(self) -> str | None:
        text = runner.Result.reproducer.fget(self)  # type: ignore[attr-defined]
        if text is None:
            return None
        return (f"from mhmailbox.conformance.ckit import c_host\nimpl = {self.rebuild}\n"
                + text.replace(f"replay({self.case.id!r}, {self.impl!r}, ", f"replay({self.case.id!r}, impl, ", 1))

    def as_json(self) -> dict[str, Any]:
        out = super().as_json()
        out["reproducer"] = self.reproducer
        if self.reason:
            out["reason"] = self.reason
        return out


def rebuild_call(impl: CHostImplementation) -> str:
    """The ``c_host(...)`` call that builds the same implementation again (for reproducers)."""
    import os

    b = impl.build
    return (f"c_host({[os.path.abspath(s) for s in b.sources]!r}, {impl.protocol!r}, "
            f"defines={tuple(f'{o.name}={o.new}' for o in b.overrides)!r}, cflags={b.cflags!r})")


@contextlib.contextmanager
def _without_load(impl: CHostImplementation) -> Iterator[None]:
    """The runner builds its machines with the ``load`` rule removed (a file with no load)."""
    if impl.has_load:
        yield
        return
    build_machine = runner.machine

    def machine(case: Case, im: Any) -> type:
        m = build_machine(case, im)
        if case.side != "host":
            return m
        return type(m.__name__, (m,), {"load": None})  # shadows the rule: Hypothesis drops it

    runner.machine = machine  # type: ignore[assignment]
    try:
        yield
    finally:
        runner.machine = build_machine  # type: ignore[assignment]


def run_c_case(case: Case | str, impl: CHostImplementation, *, examples: int = 60, derandomize: bool = True,
               shrink_seconds: float = runner.SHRINK_SECONDS) -> CResult:
    """One host case against the C host (fresh child per example; every child stopped after)."""
    case = runner.BY_ID[case] if isinstance(case, str) else case
    if case.side != "host":
        raise ValueError(f"{case.id} is a helper case; the C kit checks hosts")
    try:
        with _without_load(impl):
            r = runner.run_case(case, impl, examples=examples, derandomize=derandomize, shrink_seconds=shrink_seconds)
    finally:
        impl.stop()
    out = CResult(**{f.name: getattr(r, f.name) for f in attrs.fields(runner.Result)}, rebuild=rebuild_call(impl))
    if not impl.has_load and case.id in NEEDS_LOAD and out.verdict == "pass":
        out.verdict = "skipped"
        out.reason = (f"needs a load (it checks {NEEDS_LOAD[case.id]}) and the file has no "
                      f"cgs_mh_load_encrypted_page; its saves and cleanups passed {out.examples} examples")
    return out


def summarize(results: Sequence[CResult], impl: CHostImplementation) -> dict[str, Any]:
    """The runner's summary of the cases that ran, plus the skipped ones and how the file was built."""
    ran = [r for r in results if r.verdict != "skipped"]
    out = runner.summary(ran)
    out["skipped"] = len(results) - len(ran)
    out["skipped_ids"] = [r.case.id for r in results if r.verdict == "skipped"]
    out["impl"] = impl.name
    out["build"] = build_info(impl)
    return out


def build_info(impl: CHostImplementation) -> dict[str, Any]:
    b = impl.build
    return {"sources": list(b.sources), "protocol": impl.protocol, "compiler": b.compiler, "cflags": list(b.cflags),
            "entries": sorted(b.entries), "deadline_ns": impl.deadline_ns,
            "overrides": [{"name": o.name, "value": o.new, "was": o.old, "file": o.file} for o in b.overrides]}


def describe(impl: CHostImplementation) -> str:
    """One line: the file, the build, every override (printed in every report)."""
    b = impl.build
    ov = "; ".join(str(o) for o in b.overrides) or "none (the file as written)"
    missing = [f for e, f in ENTRIES.items() if e not in b.entries]
    lacks = f"; no {', '.join(missing)}" if missing else ""
    return f"C host {', '.join(b.sources)} ({impl.protocol}; {b.compiler}{lacks}); overrides: {ov}"
