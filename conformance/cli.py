"""``mhmailbox conform``: run the conformance cases against an implementation, or the mutants."""
from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from typing import Any, Sequence
from xml.sax.saxutils import escape, quoteattr

from mhmailbox.cli import UsageError, positive_int
from mhmailbox.outfiles import check_output, write_atomically
from mhmailbox.progress import Progress
from mhmailbox.shard import add_shard_option, run_record, select as select_shard

from .adapter import IMPLEMENTATIONS


_positive = positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "conform", help="conformance suite: Hypothesis state machines against an implementation, model as oracle",
        description="Run the conformance cases (stable ids, MUST/SHOULD) against an implementation's host "
                    "and/or helper; every shared access is a scheduling point; the protocol's model is the oracle.")
    p.add_argument("--impl", choices=sorted(IMPLEMENTATIONS), default="hardened", help="implementation under test")
    p.add_argument("--side", choices=("host", "guest"), help="only the host's or the helper's cases")
    p.add_argument("--case", action="append", metavar="ID", default=[], help="a case id (repeatable); see --list")
    p.add_argument("--examples", type=_positive, default=60, help="Hypothesis examples per case (default 60)")
    p.add_argument("--random", action="store_true",
                   help="fresh random examples each run (default: derandomized, the same examples every run)")
    p.add_argument("--list", action="store_true", help="list the cases and exit (like h2spec --dryrun)")
    p.add_argument("--mutants", action="store_true", help="run the one-fault mutants of hardened instead")
    p.add_argument("--mutant", action="append", metavar="ID", default=[], help="only this mutant (repeatable)")
    p.add_argument("--oracle-only", action="store_true",
                   help="with --mutants: skip the second search that judges by properties alone")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report (checked before the run)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --junit file (or --html pages)")
    p.add_argument("--html", metavar="DIR", help="also write a trace viewer page per failed case (its shrunk run "
                   "beside the model's steps) and an index.html into DIR (checked before the run)")
    add_shard_option(p, "cases")
    p.add_argument("--jobs", type=_positive, default=1, metavar="N",
                   help="run N cases at once in worker processes (default 1); the same results, in the same order")
    p.add_argument("--record", metavar="DIR", help="write the log of each failing case's shrunk run into DIR "
                   "(CASE.jsonl, mhmailbox-log 1: check it again with `mhmailbox check-log`; --force overwrites)")
    from .ckit.cli import add_options
    from .wire_cli import add_options as add_wire_options

    add_options(p)
    add_wire_options(p)
    p.set_defaults(func=main)
    from .logcli import register as register_check_log

    register_check_log(sub)
    from .stress_cli import register as register_stress

    register_stress(sub)


def _cases(args: argparse.Namespace, sharded: bool = True) -> list:
    """The cases chosen by --side and --case, and of those this --shard's part (unless not ``sharded``)."""
    from .runner import select

    try:
        cases = select(args.side, args.case)
    except KeyError as e:
        raise UsageError(f"unknown case id {e.args[0]} (try `mhmailbox conform --list`)") from None
    return [cases[i] for i in select_shard([c.id for c in cases], args.shard if sharded else None)]


def report_json(args: argparse.Namespace, results: Sequence[Any], summ: dict, **extra: Any) -> None:
    """The run's ``--json`` report on stdout, with its run record (``mhmailbox merge`` reads it)."""
    names = [c.id for c in _cases(args, sharded=False)]
    run = run_record("conform", args, names, select_shard(names, args.shard))
    json.dump({"cases": [r.as_json() for r in results], "summary": summ, **extra, "run": run}, sys.stdout, indent=2)
    print()


def main(args: argparse.Namespace) -> int:
    _RECORD.clear()
    if args.record is not None:
        _check_record(args)
    if args.junit is not None:
        if args.list or args.mutants or args.mutant:
            raise UsageError("conform: --junit reports a run of the cases, not --list or --mutants")
        check_output(args.junit, force=args.force, what="conform: --junit")
    _PAGES.clear()
    if args.html is not None:
        _check_html(args)
        _PAGES.append(args)
    if args.list:
        return _list(args)
    if args.mutants or args.mutant:
        if args.shard:
            raise UsageError("conform: --shard splits the cases, not --mutants")
        return _mutants(args)
    from .runner import run_case, summary

    if not _cases(args, sharded=False):
        raise UsageError("no case matches --side/--case")
    cases = _cases(args)  # (a shard past the number of cases runs none, and says so in its report)
    if args.exec_cmd is not None or args.c_host or args.c_guest:
        # the C kit and the wire run each case and hand its result to report_case; the C
        # kit runs only the cases of the sides it was given files for
        sides = {"host"} if args.c_host else set()
        sides |= {"guest"} if args.c_guest else set()
        total = len(cases) if args.exec_cmd is not None else sum(c.side in sides for c in cases)
        with Progress(total, interval=0) as progress:  # (they print before their first case: no ticker)
            def report_case(r: Any) -> None:
                if not args.json:
                    with progress.paused():
                        _print_result(r)
                progress.finish(f"done: {r.case.id}")
                if progress.done >= total:
                    progress.close()  # before they print their summary

            if args.exec_cmd is not None:
                from .wire_cli import main as wire_main

                return wire_main(args, cases, report_case)
            from .ckit.cli import main as c_main

            return c_main(args, cases, report_case)
    from .parallel import run_cases

    started = time.perf_counter()
    results = []
    run = functools.partial(run_case, impl=args.impl, examples=args.examples, derandomize=not args.random)
    ran = run_cases(run, cases, args.jobs, args.impl)  # (forks its workers before the ticker starts)
    with Progress(len(cases)) as progress:
        for c in cases:
            progress.start(c.id)
            r = next(ran)
            results.append(r)
            if not args.json:
                with progress.paused():
                    _print_result(r)
            progress.finish()
    summ = summary(results)
    summ["impl"] = args.impl
    if args.json:
        report_json(args, results, summ)
    else:
        print(f"\n{summary_line(args.impl, summ)}; {summ['examples']} examples in {summ['seconds']} s "
              f"({summ['examples_per_second']} examples/s, {summ['model_steps_per_second']} model steps/s)"
              f"{wall_note(args, started, summ)}")
    return finish(args.junit, args.impl, results, summ)


#: the command line of a run with ``--html DIR``: :func:`finish`, where every kind of run ends
#: (the Python implementations', the C kit's, the wire's), writes the pages there
_PAGES: list[argparse.Namespace] = []


def _check_html(args: argparse.Namespace) -> None:
    """``--html DIR``: a run of the cases, into a directory that can take a page for any case
    and the index."""
    from mhmailbox.model.html import check_page_dir

    from .cases import CASES
    from .html_run import conform_page_names

    if args.list or args.mutants or args.mutant:
        raise UsageError("conform: --html shows a run of the cases (not --list or --mutants)")
    names = conform_page_names([c for c in CASES]) + ["index.html"]
    check_page_dir(args.html, names, force=args.force, what="conform: --html")


def summary_line(name: str, summ: dict) -> str:
    """The verdict counts of a run, naming the cases that deviate or were skipped."""
    line = (f"{name}: {summ['pass']} pass, {summ['skipped']} skipped, {summ['deviates']} deviates, "
            f"{summ['fail']} fail, {summ['unknown']} unknown")
    for key, what in (("deviates_ids", "deviates"), ("skipped_ids", "skipped")):
        if summ[key]:
            line += f" ({what}: {', '.join(summ[key])})"
    return line


def wall_note(args: argparse.Namespace, started: float, summ: dict) -> str:
    """With ``--jobs`` N > 1, the run's wall time and examples per wall second (the summary's
    seconds and examples/s add up the cases' own times, which overlap then)."""
    if args.jobs <= 1:
        return ""
    wall = time.perf_counter() - started
    return f"; {wall:.1f} s wall with --jobs {args.jobs} ({summ['examples'] / wall:.1f} examples per wall second)"


def exit_status(summ: dict) -> int:
    """1 if a case failed or could not conclude; 0 otherwise (pass, skipped, deviates)."""
    return 1 if summ["fail"] or summ["unknown"] else 0


#: the command line of a run with --record (finish() writes the logs of its failing cases)
_RECORD: list[argparse.Namespace] = []


def _check_record(args: argparse.Namespace) -> None:
    """--record DIR: an existing directory, no log there overwritten without --force."""
    import os

    from .logrecord import log_name

    if args.list or args.mutants or args.mutant:
        raise UsageError("conform: --record logs a run of the cases, not --list or --mutants")
    if not os.path.isdir(args.record):
        raise UsageError(f"conform: --record {args.record}: not a directory")
    taken = [c.id for c in _cases(args) if os.path.exists(os.path.join(args.record, log_name(c.id)))]
    if taken and not args.force:
        raise UsageError(f"conform: --record: {os.path.join(args.record, log_name(taken[0]))} exists "
                         "(add --force to overwrite)")
    _RECORD.append(args)


def finish(junit: str | None, name: str, results: Sequence[Any], summ: dict) -> int:
    """Write the JUnit report if asked (and the --record logs); the run's exit status."""
    if _RECORD:
        from .logrecord import record_failures

        for path in record_failures(_RECORD.pop(), results):
            print(f"recorded {path}", file=sys.stderr)
    if _PAGES:
        from mhmailbox.model.html import write_pages

        from .html_run import conform_pages
        from .logrecord import implementation_of

        run = _PAGES.pop()
        write_pages(run.html, conform_pages(name, list(results), lambda side: implementation_of(run, side)))
        print(f"conform: pages in {run.html}/ (open index.html)", file=sys.stderr)
    if junit is not None and write_junit(junit, name, results):
        return 1
    return exit_status(summ)


def write_junit(path: str, impl: str, results: Sequence[Any]) -> int:
    """Write the JUnit report (its path was checked before the run); the exit status."""
    try:
        write_atomically(path, _junit(impl, results))
    except OSError as exc:  # the disk filled or the directory went away during the run
        print(f"error: conform: cannot write {path}: {exc.strerror or exc} (the results are above)", file=sys.stderr)
        return 1
    return 0


def _print_result(r: Any) -> None:
    print_case(r.as_json())


def print_case(c: dict) -> None:
    """A case's result (``Result.as_json()``, as a live run or ``merge`` has it) as the run prints it."""
    verdict = c["verdict"]
    mark = {"pass": "ok", "skipped": "skip", "deviates": "DEV", "fail": "FAIL", "unknown": "??"}[verdict]
    extra = ""
    if verdict == "fail":
        extra = (f"  {c['property']}: {c['message']}  (found after {c['found_after_seconds'] or 0:.1f} s, "
                 f"shrunk to {c['steps']} steps)")
    elif verdict == "deviates":
        extra = f"  {c['message']}  (shrunk to {c['steps']} steps)"
    elif verdict in ("unknown", "skipped"):
        extra = f"  {c['reason'] if verdict == 'skipped' else c['message']}"
    print(f"{mark:4} {c['level']:6} {c['id']:28} {c['examples']:5} examples {c['seconds']:6.1f} s{extra}", flush=True)
    if c["reason"] and verdict != "skipped":
        print(f"     {c['reason']}")
    if verdict in ("fail", "deviates"):
        if c["divergence"]:
            from .cases import divergence_line

            print(f"     {divergence_line(c['divergence'])}")
        print("     reproducer:")
        for line in (c["reproducer"] or "").splitlines():
            print(f"       {line}")


def _list(args: argparse.Namespace) -> int:
    cases = _cases(args)
    if args.json:
        json.dump({"cases": [{"id": c.id, "side": c.side, "level": c.level, "properties": list(c.properties),
                              "findings": list(c.findings), "behaviours": list(c.behaviours), "text": c.text}
                             for c in cases]}, sys.stdout, indent=2)
        print()
        return 0
    for c in cases:
        f = f" [{', '.join(c.findings)}]" if c.findings else ""
        print(f"{c.id:28} {c.level:6} {', '.join(c.properties)}{f}\n    {c.text}")
    return 0


def _mutants(args: argparse.Namespace) -> int:
    from .mutants import BY_ID, MUTANTS

    chosen = MUTANTS
    if args.mutant:
        unknown = [m for m in args.mutant if m not in BY_ID]
        if unknown:
            raise UsageError(f"unknown mutant {', '.join(unknown)}; known: {', '.join(BY_ID)}")
        chosen = tuple(BY_ID[m] for m in args.mutant)
    from .parallel import run_each

    t0 = time.perf_counter()
    out = []
    # (by index: a mutant's classes do not pickle)
    run = functools.partial(_run_mutant_at, chosen, args.examples, not args.oracle_only)
    ran = run_each(run, range(len(chosen)), args.jobs, functools.partial(_mutant_lost, chosen))
    with Progress(len(chosen)) as progress:
        for m in chosen:
            progress.start(m.id)
            r = next(ran)
            out.append(r)
            if not args.json:
                status = (f"killed by {r.by} ({r.property}{': deviates' if r.verdict == 'deviates' else ''})"
                          if r.killed else f"UNKNOWN: {r.property}" if r.verdict == "unknown" else "SURVIVED")
                alone = "" if args.oracle_only else (
                    f"  | properties alone: {r.by_property} ({r.property_only})" if r.by_property
                    else "  | properties alone: survives")
                with progress.paused():
                    print(f"{m.id:30} {status:52} {r.seconds:5.1f} s{alone}", flush=True)
            progress.finish()
    killed = sum(r.killed for r in out)
    #: detected, but no case fails on them: only a deviation from the reference procedure shows them
    by_deviation = [] if args.oracle_only else [r.id for r in out if r.killed and r.by_property is None]
    if args.json:
        json.dump({"mutants": [r.as_json() for r in out],
                   "summary": {"killed": killed, "survived": len(out) - killed,
                               "killed_by_properties_alone": sum(r.by_property is not None for r in out),
                               "detected_only_by_deviation": by_deviation,
                               "seconds": round(time.perf_counter() - t0, 2)}}, sys.stdout, indent=2)
        print()
    else:
        only = f"; detected only by a deviation: {', '.join(by_deviation)}" if by_deviation else ""
        print(f"\n{killed}/{len(out)} mutants killed in {time.perf_counter() - t0:.1f} s{only}")
    return 0


def _run_mutant_at(chosen: Sequence[Any], examples: int, properties_too: bool, i: int) -> Any:
    from .runner import run_mutant

    return run_mutant(chosen[i], examples=examples, properties_too=properties_too)


def _mutant_lost(chosen: Sequence[Any], i: int, why: str) -> Any:
    """A mutant whose worker process died twice under it: neither killed nor survived."""
    from mhmailbox.impl.host import Host

    from .runner import MutantResult

    m = chosen[i]
    side = "host" if m.impl.host_cls is not Host else "guest"
    return MutantResult(m.id, m.text, side, False, None, f"the worker process running it died ({why})", 0.0,
                        verdict="unknown")


def _junit(impl: str, results: Sequence[Any]) -> str:
    """The JUnit XML report of a run: ``fail`` a <failure>, ``unknown`` an <error>, ``skipped`` a
    <skipped>; ``deviates`` is not a failure (as in the exit status): a passed testcase whose
    property ``verdict`` is ``deviates``, with the message and reproducer in <system-out>."""
    count = {v: sum(r.verdict == v for r in results) for v in ("fail", "unknown", "skipped", "deviates")}
    lines = [f'<?xml version="1.0" encoding="utf-8"?>',
             f'<testsuite name={quoteattr("mhmailbox conform " + impl)} tests="{len(results)}" failures="{count["fail"]}" '
             f'errors="{count["unknown"]}" skipped="{count["skipped"]}" time="{sum(r.seconds for r in results):.3f}">',
             f'  <properties><property name="deviates" value="{count["deviates"]}"/></properties>']
    for r in results:
        lines.append(f'  <testcase classname={quoteattr(r.case.side)} name={quoteattr(r.case.id + " [" + r.case.level + "]")} '
                     f'time="{r.seconds:.3f}">')
        lines.append(f'    <properties><property name="verdict" value="{r.verdict}"/></properties>')
        body = (r.reproducer or "") + ("\n" + json.dumps(r.divergence, indent=1) if r.divergence else "")
        if r.verdict == "fail":
            lines.append(f'    <failure message={quoteattr(f"{r.prop}: {r.message}")}>{escape(body)}</failure>')
        elif r.verdict == "unknown":
            lines.append(f'    <error message={quoteattr(r.message or "unknown")}/>')
        elif r.verdict == "skipped":
            lines.append(f'    <skipped message={quoteattr(r.reason or "skipped")}/>')
        elif r.verdict == "deviates":
            lines.append(f'    <system-out>{escape((r.message or "") + chr(10) + body)}</system-out>')
        lines.append("  </testcase>")
    lines.append("</testsuite>")
    return "\n".join(lines) + "\n"
