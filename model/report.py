"""What ``verify`` reports: the verdict table, the JSON report, the summary and the
engines' disagreements, from a run's results (whoever ran them: ``verify``, a bench,
or ``merge`` joining shards)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from .check import Result
from .engines import bounds_from
from .properties import BY_ID
from .trace import render_table


def disagreements(cell: tuple, per_engine: dict[str, list[Result]], deadline: int, quantum: int) -> list[str]:
    """Proofs against counterexamples, and shortest counterexamples of different lengths.

    A property's assumption on D and Q (the catalog's ``assumes``) is part of what the
    unbounded engines prove; when this run's bounds fall outside it, a counterexample
    of the bounded engines is a fact about the model, not a refutation of the proof."""
    by_prop: dict[str, dict[str, Result]] = {}
    for eng, rs in per_engine.items():
        for r in rs:
            by_prop.setdefault(r.property, {})[eng] = r
    out = []
    for pid, rs in by_prop.items():
        violated = {e: r for e, r in rs.items() if r.verdict == "violated"}
        # a vacuous proof is still a proof (its monitor is merely unreached in the bounded model)
        proved = {e: r for e, r in rs.items()
                  if r.verdict == "proved" or (r.verdict == "vacuous" and e in ("kind", "pdr"))}
        outside = pid in BY_ID and not BY_ID[pid].holds_for(deadline, quantum)
        if violated and proved and not outside:
            out.append(f"{pid} {' '.join(cell)}: {', '.join(proved)} proved, {', '.join(violated)} violated")
        # vacuous says no run of the bounded model reaches the monitor; a violation there is such a run
        bounded = {r.bound for r in violated.values()}
        for e, r in rs.items():
            if r.verdict == "vacuous" and e in ("explicit", "bmc") and r.bound in bounded:
                out.append(f"{pid} {' '.join(cell)}: {e} vacuous (no run reaches its monitor), "
                           f"{', '.join(v for v, x in violated.items() if x.bound == r.bound)} violated")
        # shortest lengths are comparable within one model: the unbounded engines (kind,
        # pdr) search a generalized model whose bound differs, and may be shorter there
        by_bound: dict[str, dict[str, Result]] = {}
        for e, r in violated.items():
            by_bound.setdefault(r.bound, {})[e] = r
        for group in by_bound.values():
            if len({r.depth for r in group.values()}) > 1:
                out.append(f"{pid} {' '.join(cell)}: counterexamples of different minimal length "
                           + ", ".join(f"{e}={r.depth}" for e, r in group.items()))
    return out


def result_json(r: Result, args: argparse.Namespace) -> dict[str, Any]:
    """One verdict as ``verify --json`` gives it."""
    d = r.to_json()
    if args.no_trace:
        d["trace"] = None
    elif d.get("trace") and "bounds" not in d["trace"][0]:
        # the explicit engine's traces carry their bounds as the Z3 engines' do, so that
        # `replay` can check the `bound` text against them (a store-buffer size, say,
        # appears nowhere else in an sc trace)
        from mhmailbox.proofs.replay import EXACT, bounds_record

        d["trace"][0]["bounds"] = bounds_record(bounds_from(args), EXACT)
    return d


def summary(results: list[Result], seconds: float) -> dict[str, Any]:
    verdicts: dict[str, int] = {}
    for r in results:
        verdicts[r.verdict] = verdicts.get(r.verdict, 0) + 1
    cells_ = {(r.variant, r.memory, r.guest, r.host, r.engine) for r in results}
    states = sum({(r.variant, r.memory, r.guest, r.host, r.engine): r.states for r in results}.values())
    return {"cells": len(cells_), "results": len(results), "verdicts": verdicts, "states": states,
            "seconds": round(seconds, 2)}


def print_coverage(results: list[Result], out: TextIO = sys.stdout) -> None:
    """Per cell, the steps no explored run took (the explicit engine's coverage), unless the
    exploration stopped because every property was already violated (the list would only say
    where the search stopped)."""
    shown: dict[tuple, Result] = {}
    for r in results:
        if r.engine == "explicit" and r.unreached and not r.coverage.startswith("partial: stopped once every"):
            shown.setdefault((r.variant, r.memory, r.guest, r.host), r)
    if not shown:
        return
    print("\nSteps no explored run took (a property whose monitor is set only there is vacuous):", file=out)
    for (variant, memory, guest, host), r in shown.items():
        scope = "" if r.coverage == "complete" else f" ({r.coverage})"
        print(f"  {variant} / {memory} / guest {guest} / host {host}{scope}: {', '.join(r.unreached)}", file=out)


def print_table(results: list[Result], args: argparse.Namespace, out: TextIO = sys.stdout) -> None:
    """The verdict table on ``out``, then each counterexample: a heading and its trace on
    ``out``; a Mermaid diagram alone on stdout, one per counterexample, blank-line separated."""
    head = ("property", "variant", "memory", "guest", "host", "engine", "verdict", "bound", "states", "seconds")
    rows = [head]
    for r in results:
        bound = f"depth {r.depth}" + (" (exhaustive)" if r.exhaustive else "")
        rows.append((r.property, r.variant, r.memory, r.guest, r.host, r.engine, r.verdict, bound, str(r.states),
                     f"{r.seconds:.2f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    for i, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip(), file=out)
        if i == 0:
            print("  ".join("-" * w for w in widths), file=out)
    if args.no_trace:  # verdicts only
        return
    print_coverage(results, out)
    if args.trace_format in TRACE_DOCUMENTS:  # those: print_report writes them whole
        return
    for r in results:
        if r.verdict != "violated" or not r.trace:
            continue
        heading = (f"== {r.property} violated: {r.variant} / {r.memory} / guest {r.guest} / host {r.host}"
                   f" ({r.engine}, {len(r.trace) - 1} steps; bounds {r.bound})")
        if args.trace_format == "mermaid":
            from .mermaid import render_mermaid

            print(f"\n{heading}", file=out)  # the diagram itself names the cell and the property
            print(render_mermaid(r))
            continue
        print(f"\n{heading}", file=out)
        print(json.dumps(r.trace, indent=1) if args.trace_format == "json" else render_table(r.trace), file=out)


#: ``--trace-format`` values whose output is one document holding every counterexample
TRACE_DOCUMENTS = ("html", "itf")


def trace_document(results: list[Result], args: argparse.Namespace) -> str:
    """The run's counterexamples as one HTML viewer page, or as ITF (one trace, or a list)."""
    violated = [result_json(r, args) for r in results if r.verdict == "violated" and r.trace]
    if args.trace_format == "html":
        from .html import verify_page

        return verify_page(violated)
    from .itf import document

    return json.dumps(document(violated), indent=1) + "\n"


def print_report(results: list[Result], disagreed: list[str], seconds: float, args: argparse.Namespace,
                 run: dict[str, Any] | None = None) -> int:
    """The whole ``verify`` report (JSON, or table, summary line and disagreements); the exit
    status: 1 when engines disagree, else 0. ``run``: the run record (mhmailbox.shard) the
    JSON carries, which ``merge`` reads."""
    if args.json:
        out = {"results": [result_json(r, args) for r in results], "summary": summary(results, seconds)}
        if disagreed:
            out["disagreements"] = disagreed
        if run is not None:
            out["run"] = run
        print(json.dumps(out, indent=1))
    else:
        # with mermaid, html or itf, stdout is only the traces (to paste, open or read with other tools)
        table_out = sys.stderr if args.trace_format in ("mermaid", *TRACE_DOCUMENTS) else sys.stdout
        print_table(results, args, table_out)
        s = summary(results, seconds)
        print(f"\n{s['cells']} cells, {s['results']} verdicts: " + ", ".join(f"{v} {k}" for k, v in s["verdicts"].items())
              + f"; {s['states']} states in {s['seconds']:.1f} s", file=table_out)
        for d in disagreed:
            print(f"DISAGREEMENT: {d}", file=table_out)
        if args.trace_format in TRACE_DOCUMENTS and not args.no_trace:
            print(trace_document(results, args), end="")
    if disagreed:
        print(f"error: engines disagree on {len(disagreed)} cell(s)", file=sys.stderr)
        return 1
    return 0
