"""``mhmailbox check-log``: judge a recorded run against the model (docs/log.md)."""
from __future__ import annotations

import argparse
import json
import sys

from mhmailbox.errors import UsageError

from .logcheck import MEMORY_MODELS, LogReport, check_log
from .logformat import LogFormatError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-log", help="judge a recorded run (mhmailbox-log 1) against the model: the first access it cannot "
                          "explain, the properties violated",
        description="Validate a recorded run of a host and/or helper (docs/log.md) against the protocol's model, "
                    "through the conformance suite's oracle. Exit 0: conforms; 1: a violation or a divergence; "
                    "2: a usage error or a malformed log.")
    p.add_argument("log", metavar="LOG.jsonl", help="the log (mhmailbox-log 1, JSON lines)")
    p.add_argument("--protocol", choices=("rfc", "hardened"), required=True, help="the model to judge against")
    p.add_argument("--side", choices=("host", "guest"), help="judge only this side (default: the header's sides)")
    p.add_argument("--memory", choices=MEMORY_MODELS, default="sc",
                   help="the memory model the reads are explained under (default sc; a run on x86: tso)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=main)


def excerpt(path: str, line: int, context: int = 3, width: int = 120) -> list[str]:
    """The lines of the log around ``line``, numbered, long ones cut."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, text in enumerate(f, 1):
            if n > line + context:
                break
            if n >= line - context:
                text = text.rstrip("\n")
                cut = text if len(text) <= width else text[:width] + "..."
                out.append(f"{'>' if n == line else ' '}{n:6}  {cut}")
    return out


def main(args: argparse.Namespace) -> int:
    try:
        report = check_log(args.log, args.protocol, args.side, args.memory)
    except FileNotFoundError:
        raise UsageError(f"check-log: {args.log}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"check-log: {args.log}: a directory, not a log") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"check-log: {args.log}: not UTF-8 text ({e.reason})") from None
    except LogFormatError as e:
        raise UsageError(f"check-log: {args.log}: {e}") from None
    if args.json:
        out = report.as_json()
        first = report.divergence["line"] if report.divergence else (
            report.violations[0].line if report.violations else None)
        out["excerpt"] = [] if first is None else excerpt(args.log, first)  # the log around the first finding
        json.dump(out, sys.stdout, indent=2)
        print()
    else:
        print_report(report, args.log)
    return report.exit_status


def print_report(r: LogReport, path: str | None = None) -> None:
    print(f"{r.source}: {r.protocol}, judging {' and '.join(r.sides)} under {r.memory}: "
          f"{r.events} events, {r.accesses} accesses")
    d = r.divergence
    if d is not None:
        if d["kind"] == "memory":
            print(f"DIVERGES at line {d['line']} ({d['side']}): {d['why']}: {d['observed']}; "
                  f"expected {'; '.join(d['model_expects'])}")
        else:
            print(f"DIVERGES at line {d['line']} ({d['side']}, its access #{d['access']}): the {d['side']} did "
                  f"`{d['observed']}`; the model at {d['model_at']} expects: {'; '.join(d['model_expects'])}")
            if d.get("answer"):
                print(f"  a wrong answer: {d['answer']}")
            state = " ".join(f"{k}={v}" for k, v in d["model_state"].items())
            print(f"  model state: {state}")
        if path is not None:
            print("  the log there:")
            for line in excerpt(path, d["line"]):
                print(f"  {line}")
    for v in r.violations:
        print(f"VIOLATED {v.prop} at line {v.line} ({v.side}): {v.message}")
        if path is not None and d is None:
            for line in excerpt(path, v.line, context=2):
                print(f"  {line}")
    for n in r.notes:
        print(f"note: {n}")
    verdict = {"conforms": "conforms: every access explained by the model",
               "violated": f"violated: {', '.join(v.prop for v in r.violations)}",
               "diverges": "diverges: the model cannot explain the run (the judgement stops there)"}[r.verdict]
    print(f"{verdict}; properties judged: {', '.join(r.judged)}")
