"""``mhmailbox verify``, ``review``, ``properties`` and ``litmus``: argument handling (the cells a command checks are chosen in model/cells.py)."""
from __future__ import annotations

import argparse
import json
import time

from mhmailbox.cli import UsageError, positive_int
from mhmailbox.shard import add_shard_option, run_record, select as select_shard

from .cells import add_cell_options, chosen_cells
from .check import Result
from .engines import ENGINES, load_engines
from .litmus import TESTS, table
from .memory import MODELS
from .properties import BY_ID
from .report import disagreements, print_report
from .runner import run_cells
from .trace import render_table
from .user_variant import catalog_of, variant_arg

_positive = positive_int


def register(sub: argparse._SubParsersAction) -> None:
    load_engines()
    p = sub.add_parser("verify", help="check the protocol's properties (explicit state or Z3)",
                       description="Check properties of the mailbox model. Options left out mean every value.")
    p.add_argument("--engine", choices=sorted(ENGINES) + (["all"] if len(ENGINES) > 1 else []), default="explicit")
    p.add_argument("--variant", action="append", type=variant_arg, metavar="VARIANT",
                   help="rfc, hardened, a one-fault teaching mutant broken:NAME (`mhmailbox properties` lists "
                        "what each mutant breaks), or your own PATH.py:Class (docs/variants.md); repeatable")
    add_cell_options(p)
    shape = p.add_mutually_exclusive_group()  # --json already holds every trace as JSON
    shape.add_argument("--trace-format", choices=["table", "json", "mermaid", "html", "itf"], default="table",
                       help="how counterexamples print: a step table, JSON, or on stdout only Mermaid diagrams, "
                            "one self-contained HTML viewer page, or ITF JSON (the verdict table then goes to stderr)")
    p.add_argument("--no-trace", action="store_true", help="verdicts only")
    shape.add_argument("--json", action="store_true", help="one JSON object on stdout")
    add_shard_option(p, "cells")
    p.set_defaults(func=run_verify)

    r = sub.add_parser("review", help="the design review of the published protocol: each finding, traced and fixed",
                       description="Check every finding of the design review on rfc (violated, with a shortest "
                                   "trace) and on hardened (holds), in the cell that isolates it.")
    r_out = r.add_mutually_exclusive_group()
    r_out.add_argument("--json", action="store_true", help="one JSON object on stdout")
    r_out.add_argument("--markdown", action="store_true", help="the report as Markdown (docs/review-rfc.md)")
    r.add_argument("--finding", action="append", metavar="ID", help="only these findings (F1, F2, ...)")
    r.add_argument("--html", metavar="DIR", help="also write a trace viewer page per finding and an index.html into DIR")
    r.add_argument("--force", action="store_true", help="overwrite pages already in the --html directory")
    r.set_defaults(func=run_review)

    pp = sub.add_parser("properties", help="list the property catalog (ids, sides, where each is checked)")
    pp.add_argument("--variant", action="append", type=variant_arg, metavar="VARIANT",
                    help="also list this variant's own properties (PATH.py:Class; repeatable)")
    pp_out = pp.add_mutually_exclusive_group()
    pp_out.add_argument("--json", action="store_true")
    pp_out.add_argument("--markdown", action="store_true", help="docs/properties.md")
    pp.set_defaults(func=run_properties)

    q = sub.add_parser("litmus", help="the litmus table of the memory models")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_litmus)


def run_verify(args: argparse.Namespace) -> int:
    variants = args.variant or ["rfc", "hardened"]
    props, todo = chosen_cells(args, variants, "verify")
    names = ["/".join(c) for c in todo]
    picked = select_shard(names, args.shard)
    todo = [todo[i] for i in picked]
    t0 = time.perf_counter()
    engines, done = run_cells(todo, props, args)
    results: list[Result] = []
    disagreed: list[str] = []
    counts = []
    for cell in todo:
        per_engine = {eng: done[(cell, eng)] for eng in engines}
        for eng in engines:
            results.extend(per_engine[eng])
        counts.append(sum(len(rs) for rs in per_engine.values()))
        if len(engines) > 1:
            disagreed.extend(disagreements(cell, per_engine, args.deadline, args.quantum))
    return print_report(results, disagreed, time.perf_counter() - t0, args,
                        run=run_record("verify", args, names, picked, counts))


def run_litmus(args: argparse.Namespace) -> int:
    outcomes = table()
    if args.json:
        print(json.dumps({"results": [{"test": o.test, "memory": o.memory, "allowed": o.allowed} for o in outcomes]},
                         indent=1))
        return 0
    print("test".ljust(12) + "".join(m.ljust(10) for m in MODELS))
    for t in TESTS:
        row = {o.memory: o.allowed for o in outcomes if o.test == t}
        print(t.ljust(12) + "".join(("sometimes" if row[m] else "never").ljust(10) for m in MODELS))
    return 0


def run_review(args: argparse.Namespace) -> int:
    from .findings import FINDINGS, review

    chosen = FINDINGS
    if args.finding:
        known = {f.id: f for f in FINDINGS}
        bad = [f for f in args.finding if f not in known]
        if bad:
            raise UsageError(f"review: unknown finding {bad[0]!r}; known: {', '.join(known)}")
        chosen = tuple(known[f] for f in args.finding)
    if args.html is not None:
        from .html import check_page_dir, review_page_names

        check_page_dir(args.html, review_page_names(f.id for f in chosen), force=args.force, what="review: --html")
    t0 = time.perf_counter()
    reviews = review(chosen)
    seconds = time.perf_counter() - t0
    if args.html is not None:
        from .html import review_pages, write_pages

        write_pages(args.html, review_pages(reviews))
        import sys

        print(f"review: {len(reviews) + 1} pages in {args.html}/ (open index.html)", file=sys.stderr)
    if args.json:
        print(json.dumps({"findings": [r.to_json() for r in reviews],
                          "summary": {"findings": len(reviews), "confirmed": sum(r.confirmed for r in reviews),
                                      "seconds": round(seconds, 2)}}, indent=1))
        return 0
    if args.markdown:
        print(_review_markdown(reviews))
        return 0
    for r in reviews:
        f = r.finding
        print(f"{f.id:>4}  {'confirmed' if r.confirmed else 'NOT CONFIRMED':<13} {f.title}")
        print(f"      {f.property} on {f.memory}/{f.guest} guest/{f.host} host: rfc {r.rfc.verdict} in "
              f"{r.rfc.depth} steps; hardened {r.hardened.verdict}"
              + (" (exhaustive)" if r.hardened.exhaustive else f" to depth {r.hardened.depth}"))
    n = sum(r.confirmed for r in reviews)
    print(f"\n{n} of {len(reviews)} findings confirmed in {seconds:.1f} s. Traces: mhmailbox review --markdown,"
          " or mhmailbox verify --variant rfc --property ID.")
    return 0


def _review_markdown(reviews) -> str:
    from .hardened_doc import HARDENED_CHANGES

    lines = ["# Design review of the published mailbox (rfc)", "",
             "Generated by `mhmailbox review --markdown`; every trace below is a shortest counterexample found by",
             "the explicit-state checker in the model of `model/variants.py` (`Rfc`), and every fix is checked on",
             "`Hardened` in the same cell (see docs/hardened.md). Verdict words: docs/verdicts.md.", "",
             "| id | finding | property | cell | rfc | hardened |", "|---|---|---|---|---|---|"]
    for r in reviews:
        f = r.finding
        cell = f"{f.memory}, {f.guest} guest, {f.host} host" + (", helper first" if f.helper_first else "")
        hv = r.hardened.verdict + (" (exhaustive)" if r.hardened.exhaustive else f" (depth {r.hardened.depth})")
        lines.append(f"| {f.id} | {f.title} | `{f.property}` | {cell} | violated, {r.rfc.depth} steps | {hv} |")
    for r in reviews:
        f = r.finding
        lines += ["", f"## {f.id}. {f.title}", "",
                  f"**Property** `{f.property}`: {BY_ID[f.property].text}", "",
                  f"**Cause.** {f.cause}", "", f"**Fix.** {f.fix}", "",
                  f"**Shortest trace** ({r.rfc.depth} steps; {r.rfc.memory}, {r.rfc.guest} guest, {r.rfc.host} host; "
                  f"bounds {r.rfc.bound}):", "", "```", render_table(r.rfc.trace or []), "```"]
    lines += ["", "## What holds for rfc", "",
              "No cell violates `timeout.bounded-wait` or `timeout.no-false-timeout` for the published host "
              "(`mhmailbox verify --variant rfc` gives each verdict and its depth): the clock check between bursts "
              "and the final re-read of done are sound; the weaknesses are in what the host accepts, not in how "
              "long it waits.",
              "", "## The changes in hardened", ""]
    lines += [f"{i}. {c}" for i, c in enumerate(HARDENED_CHANGES, 1)]
    return "\n".join(lines)


def run_properties(args: argparse.Namespace) -> int:
    from .broken import MUTANTS

    catalog = catalog_of(args.variant or [])
    if args.json:
        print(json.dumps({"properties": [{"id": p.id, "side": p.side, "guests": list(p.guests) if p.side == "host"
                                          else ["honest"], "hosts": ["faithful"] if p.side == "host" else
                                          ["adversarial"], "text": p.text, "assumes": p.assumes or None}
                                         for p in catalog]}, indent=1))
        return 0
    if not args.markdown:
        for p in catalog:
            where = (f"host side, guests: {', '.join(p.guests)}" if p.side == "host"
                     else "guest side, against the adversarial host")
            print(f"{p.id:<26} {where}")
        return 0
    lines = ["# Property catalog", "",
             "Generated by `mhmailbox properties --markdown` from `model/properties.py`. Ids are stable.",
             "Host-side properties run the variant's own host against each guest behaviour listed; guest-side",
             "properties run the variant's helper against the adversarial host. Each property is a safety monitor",
             "over the model's state and ghost variables (docs/model.md); the mutant named under each one is a",
             "one-fault version of `hardened` that the property catches (`model/broken.py`).", ""]
    for p in catalog:
        where = (f"checked against guests: {', '.join(p.guests)} (faithful host)" if p.side == "host"
                 else "checked against the adversarial host (the variant's own helper)")
        mutants = ", ".join(f"`{m.name}`" for m in MUTANTS.values() if m.breaks == p.id)
        assumes = f"; claimed for {p.assumes} (deadline D, polling quantum Q)" if p.assumes else ""
        caught = f"; caught mutant: {mutants}" if mutants else ""  # a variant's own property has none
        lines += [f"## `{p.id}`", "", p.text, "", f"*{where}{caught}{assumes}*", ""]
    print("\n".join(lines).rstrip())
    return 0
