"""``mhmailbox replay TRACE.json``: re-run a saved counterexample on the executable model."""
from __future__ import annotations

import argparse
import json

from mhmailbox.cli import UsageError
from mhmailbox.model.user_variant import variant_arg

from . import prove_cli


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay", help="re-run a saved counterexample on the executable model",
        description="Replay the counterexample(s) of a `verify --json` file (one result, or the whole "
                    "document), or of an ITF trace (or a list of them, as `verify --trace-format itf` writes; the two "
                    "are told apart by their shape) on the explicit model, checking every field of each result except the search's own statistics "
                    "(engine, states, seconds, exhaustive, note; listed in the output). Exit 0 when every trace is "
                    "confirmed, 1 when one is refuted or does not match its recorded bounds (the step where it diverged is printed), 2 for a file that is not a trace.")
    p.add_argument("trace", metavar="TRACE.json")
    p.add_argument("--property", action="append", metavar="ID", help="replay only these properties (repeatable)")
    p.add_argument("--variant", action="append", type=variant_arg, metavar="PATH.py:Class",
                   help="a variant of your own that the traces name (repeatable; docs/variants.md)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=run_replay)
    prove_cli.register(sub)  # prove, check-certificate, verify --certificate


def run_replay(args: argparse.Namespace) -> int:
    from .replay import IGNORED, Malformed, replay, results_in

    try:
        with open(args.trace, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise UsageError(f"replay: cannot read {args.trace}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"replay: {args.trace} is not JSON: {exc}") from None
    try:
        results = results_in(doc)
        todo = [r for r in results if r.get("verdict", "violated") == "violated" and r.get("trace")]
        if args.property:
            todo = [r for r in todo if r.get("property") in args.property]
        if not todo:
            raise UsageError(f"replay: {args.trace} holds no violated result with a trace"
                             + (" for the chosen properties" if args.property else "")
                             + " (run verify --json without --no-trace)")
        outcomes = [replay(r) for r in todo]
    except Malformed as exc:
        raise UsageError(f"replay: {args.trace}: {exc}") from None
    ignored = [k for k in IGNORED if any(k in r for r in todo)]
    if isinstance(doc, dict) and "results" in doc:  # a whole verify document: its summary
        ignored += [f"document {k}" for k in doc if k != "results"]
    if args.json:
        print(json.dumps({"replays": [{"property": o.property, "cell": o.cell, "confirmed": o.confirmed,
                                       "steps": o.steps, "diverged_at": o.diverged_at, "message": o.message}
                                      for o in outcomes], "ignored_fields": ignored}, indent=1))
    else:
        for o, r in zip(outcomes, todo):
            status = "CONFIRMED" if o.confirmed else "REFUTED"
            print(f"{status}  {o.property}  {o.cell}  ({r.get('engine', '?')}, {o.steps} steps): {o.message}")
        if ignored:
            print(f"not checked (they describe the search that found a trace, not the trace): {', '.join(ignored)}")
    return 0 if all(o.confirmed for o in outcomes) else 1
