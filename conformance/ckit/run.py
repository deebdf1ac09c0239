"""Run the cases against a built C host or helper: the suite's own runner, and reproducers that rebuild the file.

A file declares the entry points it defines as its operations
(``CHostImplementation.operations``): one with no load function (the published one has
none) is run with no ``load`` rule, and a case whose check needs a load gets
``skipped`` (never ``pass``) from the runner itself.
"""
from __future__ import annotations

from typing import Any, Sequence

import attrs

from .. import runner
from ..cases import CASES, Case
from .build import ENTRIES
from .guest import CGuestImplementation
from .host import CHostImplementation

CImplementation = CHostImplementation | CGuestImplementation

#: Host cases whose check needs a load, and what of it a file with no load cannot show (``Case.needs``).
NEEDS_LOAD = {c.id: what for c in CASES for op, what in c.needs if op == "load"}


@attrs.define
class CResult(runner.Result):
    """A case's result for C code: a reproducer that rebuilds the file."""

    rebuild: str = ""

    @property
    def reproducer(self) -> str | None:
        text = runner.Result.reproducer.fget(self)  # type: ignore[attr-defined]
        if text is None:
            return None
        return (f"from mhmailbox.conformance.ckit import {self.rebuild.split('(')[0]}\nimpl = {self.rebuild}\n"
                + text.replace(f"replay({self.case.id!r}, {self.impl!r}, ", f"replay({self.case.id!r}, impl, ", 1))

    def as_json(self) -> dict[str, Any]:
        out = super().as_json()
        out["reproducer"] = self.reproducer
        return out


def side_of(impl: CImplementation) -> str:
    """``host`` or ``guest``: the cases a built C file can run."""
    return "guest" if isinstance(impl, CGuestImplementation) else "host"


def rebuild_call(impl: CImplementation) -> str:
    """The ``c_host(...)``/``c_guest(...)`` call that builds the same implementation again (for reproducers)."""
    import os

    b = impl.build
    entry = f"entry={b.entry!r}, " if side_of(impl) == "guest" else ""
    return (f"c_{side_of(impl)}({[os.path.abspath(s) for s in b.sources]!r}, {impl.protocol!r}, {entry}"
            f"defines={tuple(f'{o.name}={o.new}' for o in b.overrides)!r}, cflags={b.cflags!r})")


def run_c_case(case: Case | str, impl: CImplementation, *, examples: int = 60, derandomize: bool = True,
               shrink_seconds: float = runner.SHRINK_SECONDS) -> CResult:
    """One case of the file's side (fresh child per example; every child stopped after)."""
    case = runner.BY_ID[case] if isinstance(case, str) else case
    if case.side != side_of(impl):
        raise ValueError(f"{case.id} is a {case.side} case; {impl.name} is a C {side_of(impl)}")
    try:
        r = runner.run_case(case, impl, examples=examples, derandomize=derandomize, shrink_seconds=shrink_seconds)
    finally:
        impl.stop()
    return CResult(**{f.name: getattr(r, f.name) for f in attrs.fields(runner.Result)}, rebuild=rebuild_call(impl))


def summarize(results: Sequence[CResult], impl: CImplementation) -> dict[str, Any]:
    """The runner's summary, plus how the file was built."""
    out = runner.summary(results)
    out["impl"] = impl.name
    out["build"] = build_info(impl)
    return out


def build_info(impl: CImplementation) -> dict[str, Any]:
    b = impl.build
    out = {"side": side_of(impl), "sources": list(b.sources), "protocol": impl.protocol, "compiler": b.compiler,
           "cflags": list(b.cflags), "entries": sorted(b.entries),
           "overrides": [{"name": o.name, "value": o.new, "was": o.old, "file": o.file} for o in b.overrides]}
    if isinstance(impl, CHostImplementation):
        out["deadline_ns"] = impl.deadline_ns
    return out


def describe(impl: CImplementation) -> str:
    """One line: the file, the build, every override (printed in every report)."""
    b = impl.build
    ov = "; ".join(str(o) for o in b.overrides) or "none (the file as written)"
    if side_of(impl) == "guest":
        return f"C helper {', '.join(b.sources)} ({impl.protocol}; {b.compiler}; entry {b.entry}); overrides: {ov}"
    missing = [f for e, f in ENTRIES.items() if e not in b.entries]
    lacks = f"; no {', '.join(missing)}" if missing else ""
    return f"C host {', '.join(b.sources)} ({impl.protocol}; {b.compiler}{lacks}); overrides: {ov}"
