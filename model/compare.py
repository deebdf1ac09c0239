"""``mhmailbox compare A B``: two designs' verdicts side by side, and what B changes.

A reviewer's question about a new design is relative: which weaknesses of A does B
close, and does it open any? Both variants are checked in every cell the options
choose (the same cells, bounds and engines as ``verify``), and each row
(property, memory, guest, host) is marked:

* ``fixed``: A violated, B holds (``holds-to-depth`` or ``proved``);
* ``broken``: B violated where A was not (whatever A's verdict: a new violation),
  shown with B's shortest trace;
* ``still violated``, ``holds`` (both pass);
* ``unreached in B``: A violated, B vacuous: B no longer reaches the steps that could
  set the monitor, which is not a fix anyone has shown (docs/verdicts.md);
* ``vacuous``, ``unknown`` (an engine could not decide), ``only in A``/``only in B``
  (a variant's own property, or a cell only one of them has).

Exit status: 0 when B breaks nothing, 1 when it does (or engines disagree), 2 for
a usage error.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import attrs

from mhmailbox.cli import UsageError

from .check import Result
from .engines import ENGINES, load_engines
from .report import disagreements
from .runner import ALL_TIME_LIMIT, available_cpus, run_tasks, z3_time_limit
from .trace import render_table
from .user_variant import variant_arg

#: how verdicts of several engines combine into one per variant (``--engine all``): a
#: violation wins (a trace is a fact); vacuous qualifies any pass; a proof beats a bound
RANK = {"violated": 0, "vacuous": 1, "proved": 2, "holds-to-depth": 3, "unknown": 4}
PASS = ("holds-to-depth", "proved")
#: statuses in the order the summary lists them
STATUSES = ("fixed", "broken", "still violated", "unreached in B", "holds", "vacuous", "unknown", "only in A",
            "only in B")


@attrs.define
class Row:
    property: str
    memory: str
    guest: str
    host: str
    a: Result | None
    b: Result | None

    @property
    def status(self) -> str:
        a, b = self.a, self.b
        if a is None or b is None:
            return "only in B" if a is None else "only in A"
        av, bv = a.verdict, b.verdict
        if bv == "violated":
            return "still violated" if av == "violated" else "broken"
        if av == "violated":
            return "fixed" if bv in PASS else ("unreached in B" if bv == "vacuous" else "unknown")
        if "unknown" in (av, bv):
            return "unknown"
        if "vacuous" in (av, bv):
            return "vacuous"
        return "holds"

    def to_json(self) -> dict[str, Any]:
        def side(r: Result | None) -> dict[str, Any] | None:
            if r is None:
                return None
            return {"verdict": r.verdict, "engine": r.engine, "depth": r.depth, "exhaustive": r.exhaustive,
                    "bound": r.bound, "note": r.note}

        out = {"property": self.property, "memory": self.memory, "guest": self.guest, "host": self.host,
               "status": self.status, "a": side(self.a), "b": side(self.b)}
        if self.status == "broken":
            out["trace"] = self.b.trace
        return out


def combine(results: list[Result]) -> Result:
    """One verdict from several engines' (see :data:`RANK`); among violations the shortest trace,
    among bounded verdicts an exhaustive one, then the deepest."""
    return min(results, key=lambda r: (RANK.get(r.verdict, 9), r.depth if r.verdict == "violated" else 0,
                                       r.trace is None, not r.exhaustive, -r.depth))


def rows_of(a_results: list[Result], b_results: list[Result]) -> list[Row]:
    """Pair the two variants' results by (property, memory, guest, host), in the order they came."""
    def by_key(rs: list[Result]) -> dict[tuple, list[Result]]:
        out: dict[tuple, list[Result]] = {}
        for r in rs:
            out.setdefault((r.property, r.memory, r.guest, r.host), []).append(r)
        return out

    a, b = by_key(a_results), by_key(b_results)
    keys = list(dict.fromkeys(list(a) + list(b)))
    return [Row(*k, a=combine(a[k]) if k in a else None, b=combine(b[k]) if k in b else None) for k in keys]


def summary(rows: list[Row]) -> dict[str, int]:
    counts = {s: 0 for s in STATUSES}
    for r in rows:
        counts[r.status] += 1
    return {s: n for s, n in counts.items() if n}


def register(sub: argparse._SubParsersAction) -> None:
    from .cells import add_cell_options

    load_engines()
    p = sub.add_parser("compare", help="two variants side by side: what B fixes, breaks and keeps",
                       description="Check variants A and B in the same cells and mark, per (property, memory, guest, "
                                   "host), what B fixes (A violated, B holds), what B breaks (B violated where A was "
                                   "not, with B's shortest trace) and what stays. Exit 0 when B breaks nothing, 1 "
                                   "when it does.")
    p.add_argument("a", type=variant_arg, metavar="A", help="rfc, hardened, broken:NAME or PATH.py:Class")
    p.add_argument("b", type=variant_arg, metavar="B", help="the design judged against A (same forms)")
    p.add_argument("--engine", choices=sorted(ENGINES) + (["all"] if len(ENGINES) > 1 else []), default="explicit")
    add_cell_options(p)
    p.add_argument("--no-trace", action="store_true", help="no trace for the new violations")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object on stdout")
    out.add_argument("--markdown", action="store_true", help="the comparison as Markdown")
    p.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from .cells import chosen_cells

    if args.a == args.b:
        raise UsageError(f"compare: A and B are the same variant ({args.a})")
    props, todo = chosen_cells(args, [args.a, args.b], "compare")
    engines = sorted(ENGINES) if args.engine == "all" else [args.engine]
    t0 = time.perf_counter()
    tasks = [(cell, eng) for cell in todo for eng in engines]
    per_engine_args = None
    if args.engine == "all" and args.time_limit is None:
        per_engine_args = z3_time_limit(args, engines, ALL_TIME_LIMIT)
    done = run_tasks(tasks, props, args, jobs=args.jobs or available_cpus(), per_engine_args=per_engine_args)
    per_variant: dict[str, list[Result]] = {args.a: [], args.b: []}
    disagreed: list[str] = []
    for cell in todo:
        per_engine = {eng: done[(cell, eng)] for eng in engines}
        for rs in per_engine.values():
            per_variant[cell[0]].extend(rs)
        if len(engines) > 1:
            disagreed.extend(disagreements(cell, per_engine, args.deadline, args.quantum))
    rows = rows_of(per_variant[args.a], per_variant[args.b])
    seconds = time.perf_counter() - t0
    if args.json:
        doc = {"a": args.a, "b": args.b, "engine": args.engine, "rows": [r.to_json() for r in rows],
               "summary": {**summary(rows), "seconds": round(seconds, 2)}}
        if args.no_trace:
            for r in doc["rows"]:
                r.pop("trace", None)
        if disagreed:
            doc["disagreements"] = disagreed
        print(json.dumps(doc, indent=1))
    elif args.markdown:
        print(markdown(args.a, args.b, rows, args.engine, traces=not args.no_trace))
    else:
        print_text(args.a, args.b, rows, seconds, traces=not args.no_trace)
    for d in disagreed:
        print(f"DISAGREEMENT: {d}", file=sys.stderr)
    if disagreed:
        print(f"error: engines disagree on {len(disagreed)} cell(s)", file=sys.stderr)
        return 1
    return 1 if any(r.status == "broken" for r in rows) else 0


def _verdict(r: Result | None) -> str:
    if r is None:
        return "-"
    if r.verdict == "violated":
        return f"violated ({r.depth} steps)"
    if r.verdict in ("holds-to-depth", "vacuous") and r.engine in ("explicit", "bmc"):
        return f"{r.verdict} ({'exhaustive' if r.exhaustive else f'depth {r.depth}'})"
    return r.verdict


def _heading(a: str, b: str, r: Row) -> str:
    return (f"{r.property} newly violated by {b} on {r.memory} / guest {r.guest} / host {r.host} "
            f"({r.b.engine}, {r.b.depth} steps; bounds {r.b.bound}; {a}: {_verdict(r.a)})")


def summary_line(a: str, b: str, rows: list[Row]) -> str:
    s = summary(rows)
    return (f"{b} against {a}: {len(rows)} row{'s' if len(rows) != 1 else ''}; "
            + ", ".join(f"{n} {status}" for status, n in s.items()))


def print_text(a: str, b: str, rows: list[Row], seconds: float, traces: bool = True) -> None:
    head = ("property", "memory", "guest", "host", a, b, "status")
    table = [head] + [(r.property, r.memory, r.guest, r.host, _verdict(r.a), _verdict(r.b), r.status)
                      for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for i, row in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for r in rows:
        if r.status == "broken" and traces and r.b.trace:
            print(f"\n== {_heading(a, b, r)}")
            print(render_table(r.b.trace))
    print(f"\n{summary_line(a, b, rows)} in {seconds:.1f} s")


def markdown(a: str, b: str, rows: list[Row], engine: str, traces: bool = True) -> str:
    lines = [f"# {b} compared with {a}", "",
             f"Generated by `mhmailbox compare {a} {b} --engine {engine} --markdown`. Verdict words: "
             "docs/verdicts.md.", "",
             f"| property | cell | {a} | {b} | status |", "|---|---|---|---|---|"]
    for r in rows:
        status = f"**{r.status}**" if r.status in ("fixed", "broken") else r.status
        lines.append(f"| `{r.property}` | {r.memory}, {r.guest} guest, {r.host} host | {_verdict(r.a)} | "
                     f"{_verdict(r.b)} | {status} |")
    lines += ["", summary_line(a, b, rows) + "."]
    broken = [r for r in rows if r.status == "broken"]
    if traces:
        for r in broken:
            lines += ["", f"## {_heading(a, b, r)}", "", "```", render_table(r.b.trace or []), "```"]
    return "\n".join(lines)
