"""``mhmailbox verify`` and ``mhmailbox litmus``."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from typing import Any, Callable, Iterator, TextIO

from mhmailbox.cli import UsageError, int_up_to, positive_int, finite_positive

from .check import Result, check_cell
from .litmus import TESTS, table
from .memory import MODELS
from .properties import BY_ID, CATALOG, GUESTS, HOSTS
from .protocol import Bounds, SCRIPTS, cells
from .trace import render_table
from .broken import MUTANTS
from .variants import VARIANTS

#: engine name -> function(cell, properties, args) -> list[Result]; proofs/ adds its engines
ENGINES: dict[str, Callable[..., list[Result]]] = {}

#: ``--engine all`` without ``--time-limit``: seconds per cell for each Z3 engine. The
#: whole catalog then takes under two minutes on two cores (docs/proofs.md has the
#: figures); the explicit engine keeps its state budget as its only limit.
ALL_TIME_LIMIT = 3.0


def _explicit(cell: tuple, props: list, args: argparse.Namespace, progress=None) -> list[Result]:
    return check_cell(*cell, properties=props, bounds=bounds_from(args), depth=args.depth or 10_000,
                      max_states=args.max_states, time_limit=args.time_limit, progress=progress)


ENGINES["explicit"] = _explicit


def bounds_from(args: argparse.Namespace) -> Bounds:
    return Bounds(deadline=args.deadline, quantum=args.quantum, capacity=args.buffer,
                  scripts=tuple(args.script or ("source", "target")))


_positive = positive_int

#: Upper limits of the model's bounds: past them the model cannot be built (deeper store
#: buffers nest expressions past Python's parser limit) or the Z3 engines' 36-bit
#: bit-vectors would wrap (deadline and quantum, as the symbolic search bounds them).
MAX_BUFFER = 32
MAX_TICKS = 1 << 16


def register(sub: argparse._SubParsersAction) -> None:
    _load_engines()
    p = sub.add_parser("verify", help="check the protocol's properties (explicit state or Z3)",
                       description="Check properties of the mailbox model. Options left out mean every value.")
    p.add_argument("--engine", choices=sorted(ENGINES) + (["all"] if len(ENGINES) > 1 else []), default="explicit")
    p.add_argument("--variant", action="append", choices=sorted(VARIANTS) + sorted(MUTANTS), metavar="VARIANT",
                   help="rfc, hardened, or a one-fault teaching mutant broken:NAME (repeatable; "
                        "`mhmailbox properties` lists what each mutant breaks)")
    p.add_argument("--memory", action="append", choices=MODELS, help="sc, tso or relaxed (repeatable)")
    p.add_argument("--guest", action="append", choices=GUESTS, help="guest behaviour (repeatable)")
    p.add_argument("--host", action="append", choices=HOSTS, help="host behaviour (repeatable)")
    p.add_argument("--property", action="append", metavar="ID", help="property id (repeatable); see docs/properties.md")
    p.add_argument("--depth", type=_positive, help="explore at most K steps (default: until exhausted or a budget)")
    p.add_argument("--max-states", type=_positive, default=1_000_000, help="state budget per cell (default 1000000)")
    p.add_argument("--time-limit", type=finite_positive, default=None, help="seconds per cell and engine (default: none for "
                   f"explicit, 20 for a Z3 engine alone, {ALL_TIME_LIMIT:g} for each Z3 engine under --engine all)")
    p.add_argument("--jobs", "-j", type=_positive, default=None,
                   help="cells checked at once, each in its own process (default: the CPUs this process may use)")
    p.add_argument("--deadline", type=int_up_to(MAX_TICKS), default=2,
                   help=f"host deadline in model ticks (default 2, at most {MAX_TICKS})")
    p.add_argument("--quantum", type=int_up_to(MAX_TICKS), default=1,
                   help=f"polling burst in model ticks (default 1, at most {MAX_TICKS})")
    p.add_argument("--buffer", type=int_up_to(MAX_BUFFER), default=2,
                   help=f"store-buffer entries per thread (default 2, at most {MAX_BUFFER})")
    p.add_argument("--script", action="append", choices=sorted(SCRIPTS), help="host migration script (repeatable)")
    shape = p.add_mutually_exclusive_group()  # --json already holds every trace as JSON
    shape.add_argument("--trace-format", choices=["table", "json", "mermaid"], default="table",
                       help="how counterexamples print: a step table, JSON, or only Mermaid diagrams on stdout "
                            "(the verdict table then goes to stderr)")
    p.add_argument("--no-trace", action="store_true", help="verdicts only")
    shape.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=run_verify)

    r = sub.add_parser("review", help="the design review of the published protocol: each finding, traced and fixed",
                       description="Check every finding of the design review on rfc (violated, with a shortest "
                                   "trace) and on hardened (holds), in the cell that isolates it.")
    r_out = r.add_mutually_exclusive_group()
    r_out.add_argument("--json", action="store_true", help="one JSON object on stdout")
    r_out.add_argument("--markdown", action="store_true", help="the report as Markdown (docs/review-rfc.md)")
    r.add_argument("--finding", action="append", metavar="ID", help="only these findings (F1, F2, ...)")
    r.set_defaults(func=run_review)

    pp = sub.add_parser("properties", help="list the property catalog (ids, sides, where each is checked)")
    pp_out = pp.add_mutually_exclusive_group()
    pp_out.add_argument("--json", action="store_true")
    pp_out.add_argument("--markdown", action="store_true", help="docs/properties.md")
    pp.set_defaults(func=run_properties)

    q = sub.add_parser("litmus", help="the litmus table of the memory models")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_litmus)


def _load_engines() -> None:
    try:
        from mhmailbox.proofs import engines  # noqa: F401  (registers bmc/kind/pdr)
    except ImportError:
        pass


def run_verify(args: argparse.Namespace) -> int:
    props = []
    for pid in args.property or []:
        if pid not in BY_ID:
            raise UsageError(f"verify: unknown property {pid!r}; known: {', '.join(BY_ID)}")
        props.append(BY_ID[pid])
    props = props or list(CATALOG)
    variants = args.variant or ["rfc", "hardened"]
    memories = args.memory or list(MODELS)
    todo = [c for c in cells(variants, memories, args.guest, props) if not args.host or c[3] in args.host]
    if not todo:
        raise UsageError("verify: no property applies to the chosen cells (guest.* needs --host adversarial; "
                         "see docs/properties.md)")
    engines = sorted(ENGINES) if args.engine == "all" else [args.engine]
    t0 = time.perf_counter()
    tasks = [(cell, eng) for cell in todo for eng in engines]
    per_engine_args = None
    if args.engine == "all" and args.time_limit is None:
        per_engine_args = z3_time_limit(args, engines, ALL_TIME_LIMIT)
    done = run_tasks(tasks, props, args, jobs=args.jobs or available_cpus(), per_engine_args=per_engine_args)
    results: list[Result] = []
    disagreements: list[str] = []
    for cell in todo:
        per_engine = {eng: done[(cell, eng)] for eng in engines}
        for eng in engines:
            results.extend(per_engine[eng])
        if len(engines) > 1:
            disagreements.extend(_disagreements(cell, per_engine, args.deadline, args.quantum))
    total = time.perf_counter() - t0
    if args.json:
        out = {"results": [_json(r, args) for r in results], "summary": _summary(results, total)}
        if disagreements:
            out["disagreements"] = disagreements
        print(json.dumps(out, indent=1))
    else:
        # with mermaid, stdout is only the diagrams (to paste into a ```mermaid block)
        table_out = sys.stderr if args.trace_format == "mermaid" else sys.stdout
        _print_table(results, args, table_out)
        s = _summary(results, total)
        print(f"\n{s['cells']} cells, {s['results']} verdicts: " + ", ".join(f"{v} {k}" for k, v in s["verdicts"].items())
              + f"; {s['states']} states in {s['seconds']:.1f} s", file=table_out)
        for d in disagreements:
            print(f"DISAGREEMENT: {d}", file=table_out)
    if disagreements:
        print(f"error: engines disagree on {len(disagreements)} cell(s)", file=sys.stderr)
        return 1
    return 0


def z3_time_limit(args: argparse.Namespace, engines: list[str], seconds: float) -> dict[str, argparse.Namespace]:
    """Per-engine options: the Z3 engines get ``seconds`` per cell; the explicit engine keeps
    ``args`` (its state budget, and its own time limit if any)."""
    z3_args = argparse.Namespace(**{**vars(args), "time_limit": seconds})
    return {eng: args if eng == "explicit" else z3_args for eng in engines}


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _run_one(task: tuple, props: list, args: argparse.Namespace) -> list[Result]:
    cell, eng = task
    return ENGINES[eng](cell, props, args)


def _worker_init() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the workers


def _run_task(item: tuple) -> tuple[tuple, list[Result]]:
    task, props, args = item
    return task, _run_one(task, props, args)


def forked_map(fn: Callable[[Any], Any], items: list, jobs: int, ordered: bool = False) -> Iterator[Any]:
    """``fn(item)`` for every item, ``jobs`` forked worker processes at a time: as they finish,
    or in the items' order with ``ordered``. ``fn`` must be a module-level function.

    Workers ignore SIGINT: Ctrl-C (or a failed item) in the parent terminates them at
    once, not after their running Z3 calls."""
    import multiprocessing as mp

    pool = mp.get_context("fork").Pool(jobs, initializer=_worker_init)
    try:
        yield from (pool.imap if ordered else pool.imap_unordered)(fn, items)
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.close()
        pool.join()


def run_tasks(tasks: list[tuple], props: list, args: argparse.Namespace, jobs: int = 1,
              per_engine_args: dict[str, argparse.Namespace] | None = None) -> dict[tuple, list[Result]]:
    """Run (cell, engine) tasks, ``jobs`` at a time in forked worker processes; results by task.

    ``per_engine_args`` (optional) gives an engine its own options (e.g. its time limit).
    Each engine is single-threaded (Z3 and the explicit search alike) and a cell's
    verdicts do not depend on the others, so cells run side by side. The Z3 engines'
    time limits are wall-clock: with more jobs than free CPUs a verdict near its limit
    may come out ``unknown``, never wrongly. A progress line goes to a terminal.
    """
    tty = sys.stderr.isatty()
    jobs = min(jobs, len(tasks))  # never more worker processes than tasks (--jobs 100000)
    out: dict[tuple, list[Result]] = {}
    args_for = per_engine_args or {}

    def show(n: int, what: str) -> None:
        if tty:
            print(f"\r[{n}/{len(tasks)}] {what}"[:79].ljust(79), end="", file=sys.stderr, flush=True)

    if jobs <= 1 or len(tasks) <= 1:
        for n, task in enumerate(tasks, 1):
            show(n, f"{task[1]} {' '.join(task[0])} ...")
            out[task] = _run_one(task, props, args_for.get(task[1], args))
    else:
        # explicit first: its cells' costs vary most (a few take most of its time); the
        # many time-limited Z3 tasks then fill in around them
        order = sorted(tasks, key=lambda t: t[1] != "explicit")
        work = [(t, props, args_for.get(t[1], args)) for t in order]
        with contextlib.closing(forked_map(_run_task, work, jobs)) as done:  # (closed on any exception)
            for n, (task, rs) in enumerate(done, 1):
                out[task] = rs
                show(n, f"done: {task[1]} {' '.join(task[0])}")
    if tty:
        print("\r".ljust(80) + "\r", end="", file=sys.stderr)
    return out


def _disagreements(cell: tuple, per_engine: dict[str, list[Result]], deadline: int, quantum: int) -> list[str]:
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
        proved = {e: r for e, r in rs.items() if r.verdict == "proved"}
        outside = pid in BY_ID and not BY_ID[pid].holds_for(deadline, quantum)
        if violated and proved and not outside:
            out.append(f"{pid} {' '.join(cell)}: {', '.join(proved)} proved, {', '.join(violated)} violated")
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


def _json(r: Result, args: argparse.Namespace) -> dict[str, Any]:
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


def _summary(results: list[Result], seconds: float) -> dict[str, Any]:
    verdicts: dict[str, int] = {}
    for r in results:
        verdicts[r.verdict] = verdicts.get(r.verdict, 0) + 1
    cells_ = {(r.variant, r.memory, r.guest, r.host, r.engine) for r in results}
    states = sum({(r.variant, r.memory, r.guest, r.host, r.engine): r.states for r in results}.values())
    return {"cells": len(cells_), "results": len(results), "verdicts": verdicts, "states": states,
            "seconds": round(seconds, 2)}


def _print_table(results: list[Result], args: argparse.Namespace, out: TextIO = sys.stdout) -> None:
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
    if args.no_trace:
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
    t0 = time.perf_counter()
    reviews = review(chosen)
    seconds = time.perf_counter() - t0
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

    if args.json:
        print(json.dumps({"properties": [{"id": p.id, "side": p.side, "guests": list(p.guests) if p.side == "host"
                                          else ["honest"], "hosts": ["faithful"] if p.side == "host" else
                                          ["adversarial"], "text": p.text, "assumes": p.assumes or None}
                                         for p in CATALOG]}, indent=1))
        return 0
    if not args.markdown:
        for p in CATALOG:
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
    for p in CATALOG:
        where = (f"checked against guests: {', '.join(p.guests)} (faithful host)" if p.side == "host"
                 else "checked against the adversarial host (the variant's own helper)")
        mutants = ", ".join(f"`{m.name}`" for m in MUTANTS.values() if m.breaks == p.id)
        assumes = f"; claimed for {p.assumes} (deadline D, polling quantum Q)" if p.assumes else ""
        lines += [f"## `{p.id}`", "", p.text, "", f"*{where}; caught mutant: {mutants}{assumes}*", ""]
    print("\n".join(lines).rstrip())
    return 0
