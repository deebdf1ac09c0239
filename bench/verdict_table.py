"""Side by side: every case's verdict for the Python and C implementations of each protocol.

    python bench/verdict_table.py [--examples N] [--json] [--case ID ...] [--as-written]

One row per case, four columns: Python rfc (``--impl rfc``), C rfc (host cases: the published
QEMU RFC v2 host file, read from the reference files beside the repository when they are there;
helper cases: examples/c/rfc-helper), Python hardened, C hardened (examples/c/hardened-host,
examples/c/hardened-helper). A cell is the verdict (``fail: property``, ``deviates at access #k``,
``skipped: ...``) or ``not run: <why>`` (a file that is not there, or does not build here).
The published file's busy loop runs 10^8 polls per burst, each costing real time, so it is built
with ``--define MH_BUSYLOOP_TIMEOUT=1000`` (the protocol's logic does not depend on the burst
length; docs/ckit.md) unless ``--as-written``. The markdown goes to docs/conformance.md
("Side by side").
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable

from mhmailbox.conformance.cases import Case
from mhmailbox.conformance.runner import Result, run_case, select

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLISHED = os.path.join(os.path.dirname(REPO), "shared", "reference", "qemu-rfc", "confidential-ram.c")
C_HARDENED_HOST = os.path.join(REPO, "examples", "c", "hardened-host", "confidential-ram.c")
C_RFC_HELPER = os.path.join(REPO, "examples", "c", "rfc-helper", "ConfidentialMigrationRfc.c")
C_HARDENED_HELPER = os.path.join(REPO, "examples", "c", "hardened-helper", "ConfidentialMigrationHardened.c")
BUSYLOOP = "MH_BUSYLOOP_TIMEOUT=1000"
COLUMNS = ("Python rfc", "C rfc", "Python hardened", "C hardened")

#: a column's implementation for one side: a thing run_case takes, or the reason it cannot run
Source = Callable[[], Any]


class NotRun(Exception):
    """This column has nothing to run for this side; the message says why."""


def cell(r: Result | None, why: str | None = None) -> dict[str, Any]:
    """One cell as data: the verdict, and what it rests on."""
    if r is None:
        return {"verdict": "not run", "reason": why}
    out: dict[str, Any] = {"verdict": r.verdict, "examples": r.examples}
    if r.verdict == "fail":
        out["property"] = r.prop
    elif r.verdict == "deviates" and r.divergence:
        out["access"] = r.divergence["access"]
        out["why"] = r.divergence["why"]
    elif r.verdict in ("skipped", "unknown"):
        out["reason"] = r.reason or r.message
    return out


def text(c: dict[str, Any]) -> str:
    """A cell as it reads in the table."""
    v = c["verdict"]
    if v == "fail":
        return f"fail: {c['property']}"
    if v == "deviates":
        return f"deviates at access #{c.get('access', '?')}"
    if v == "skipped":
        return "skipped: " + ("needs a load" if "load" in (c.get("reason") or "") else (c.get("reason") or ""))
    if v in ("not run", "unknown"):
        return f"{v}: {c['reason']}"
    return v


class Columns:
    """Builds each column's implementation once (C files are compiled once) and stops them after."""

    def __init__(self, as_written: bool) -> None:
        self.as_written = as_written
        self.built: dict[tuple[str, str], Any] = {}

    def impl(self, column: str, side: str) -> Any:
        key = (column, side)
        if key not in self.built:
            try:
                self.built[key] = self._make(column, side)
            except NotRun as e:
                self.built[key] = e
        got = self.built[key]
        if isinstance(got, NotRun):
            raise got
        return got

    def _make(self, column: str, side: str) -> Any:
        if column.startswith("Python"):
            return column.split()[1]
        protocol = column.split()[1]
        if side == "host":
            path = PUBLISHED if protocol == "rfc" else C_HARDENED_HOST
            if not os.path.isfile(path):
                raise NotRun("the published host file (reference/qemu-rfc/confidential-ram.c beside the "
                             "repository) is not there" if protocol == "rfc" else f"{path} is missing")
            from mhmailbox.conformance.ckit import c_host

            defines = () if protocol != "rfc" or self.as_written else (BUSYLOOP,)
            try:
                return c_host(path, protocol, defines=defines)
            except Exception as e:  # noqa: BLE001 - no compiler, or the file does not build: say so in the cell
                raise NotRun(f"cannot build: {e}".splitlines()[0]) from None
        path = C_RFC_HELPER if protocol == "rfc" else C_HARDENED_HELPER
        from mhmailbox.conformance.ckit import c_guest

        try:
            return c_guest(path, protocol)
        except Exception as e:  # noqa: BLE001 - say so in the cell
            raise NotRun(f"cannot build {os.path.basename(path)}: {e}".splitlines()[0]) from None

    def stop(self) -> None:
        for impl in self.built.values():
            if hasattr(impl, "stop"):
                impl.stop()


def run(cases: list[Case], examples: int, as_written: bool = False,
        progress: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Every case in every column: ``{"columns", "rows": [{"case", "level", "cells"}], "seconds"}``."""
    cols = Columns(as_written)
    rows = []
    t0 = time.perf_counter()
    try:
        for case in cases:
            cells = {}
            for column in COLUMNS:
                try:
                    impl = cols.impl(column, case.side)
                except NotRun as e:
                    cells[column] = cell(None, str(e))
                    continue
                try:
                    r = run_case(case, impl, examples=examples)
                finally:
                    if hasattr(impl, "stop"):
                        impl.stop()
                cells[column] = cell(r)
                progress(f"{case.id:28} {column:16} {text(cells[column])}")
            rows.append({"case": case.id, "level": case.level, "cells": cells})
    finally:
        cols.stop()
    return {"columns": list(COLUMNS), "rows": rows, "examples": examples,
            "published_build": "as written" if as_written else f"--define {BUSYLOOP}",
            "seconds": round(time.perf_counter() - t0, 1)}


def markdown(table: dict[str, Any]) -> str:
    """The table as docs/conformance.md shows it."""
    lines = ["| case | " + " | ".join(table["columns"]) + " |", "|---" * (len(table["columns"]) + 1) + "|"]
    for row in table["rows"]:
        lines.append(f"| {row['case']} | " + " | ".join(text(row["cells"][c]) for c in table["columns"]) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=60, help="Hypothesis examples per case (default 60)")
    p.add_argument("--json", action="store_true", help="the table as JSON")
    p.add_argument("--case", action="append", default=[], metavar="ID", help="only this case (repeatable)")
    p.add_argument("--as-written", action="store_true",
                   help=f"build the published host file as written (slow: about 2 s per timed-out command) "
                        f"instead of with --define {BUSYLOOP}")
    args = p.parse_args(argv)
    if args.examples < 1:
        p.error("--examples must be at least 1")
    try:
        cases = select(None, args.case)
    except KeyError as e:
        p.error(f"unknown case id {e.args[0]}")
    table = run(cases, args.examples, args.as_written, progress=lambda s: print(s, file=sys.stderr, flush=True))
    if args.json:
        json.dump(table, sys.stdout, indent=2)
        print()
    else:
        print(markdown(table), end="")
        print(f"\n{args.examples} derandomized examples per case; the published file built "
              f"{table['published_build']}; {table['seconds']} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
