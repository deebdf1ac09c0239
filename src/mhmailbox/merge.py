"""``mhmailbox merge A.json B.json ...``: join the ``--json`` reports of a run's shards
(``verify --shard K/N``, ``conform --shard K/N``) into the report of the whole run.

Each report's run record (:mod:`mhmailbox.shard`) says which run it is part of; merge
refuses reports of different runs, a shard given twice or missing, and files that are
not such reports, each in one line (exit 2). The merged report is the one the unsharded
run prints (its items in the run's order, its summary recomputed, the engines'
disagreements judged again), with one difference: its ``seconds`` add up the shards'.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
from typing import Any

from mhmailbox.errors import UsageError
from mhmailbox.outfiles import check_output, write_atomically
from mhmailbox.shard import Shard, parse_shard

#: where each command's report keeps its entries (verdicts, cases)
ENTRIES = {"verify": "results", "conform": "cases"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("merge", help="join the --json reports of a sharded verify or conform run into one report",
                       description="Join the --json reports of every shard of one run (verify/conform --shard K/N) "
                                   "into the report of the whole run: printed as the unsharded run prints it, or "
                                   "as its JSON.")
    p.add_argument("reports", nargs="+", metavar="REPORT.json", help="one --json report per shard, in any order")
    p.add_argument("--json", action="store_true", help="the merged report as JSON on stdout")
    p.add_argument("-o", "--output", metavar="FILE", help="write the merged JSON report to FILE (checked first)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --output file")
    p.set_defaults(func=run_merge)


def run_merge(args: argparse.Namespace) -> int:
    if args.output is not None:
        check_output(args.output, force=args.force, what="merge: --output")
    docs = [(path, load(path)) for path in args.reports]
    buf = io.StringIO()  # the report is printed whole or not at all
    try:
        command, merged = join(docs)
        with contextlib.redirect_stdout(buf):
            status = show(command, merged, as_json=args.json or args.output is not None)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # a hand-edited or foreign report
        raise UsageError(f"merge: {', '.join(args.reports)}: a field is not what a verify or conform --json "
                         f"report holds ({type(exc).__name__}: {exc})") from None
    if args.output is not None:
        write_atomically(args.output, buf.getvalue())
    else:
        print(buf.getvalue(), end="")
    return status


def load(path: str) -> dict[str, Any]:
    """A report read back and checked for the shape merge relies on."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as exc:
        raise UsageError(f"merge: cannot read {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"merge: {path} is not JSON ({exc})") from None
    run = doc.get("run") if isinstance(doc, dict) else None
    if not isinstance(run, dict) or not isinstance(run.get("command"), str) or run["command"] not in ENTRIES:
        raise UsageError(f"merge: {path} is not a verify or conform --json report (it has no run record)")
    entries = doc.get(ENTRIES[run["command"]])
    held = run.get("held")
    if (not isinstance(entries, list) or not isinstance(held, list) or not isinstance(run.get("items"), int)
            or not all(isinstance(h, list) and len(h) == 3 and isinstance(h[0], int) and isinstance(h[2], int)
                       for h in held)
            or sum(h[2] for h in held) != len(entries)):
        raise UsageError(f"merge: {path}: its run record does not match its {ENTRIES[run['command']]}")
    try:
        run["_shard"] = parse_shard(run["shard"]) if run.get("shard") is not None else Shard(1, 1)
    except (argparse.ArgumentTypeError, TypeError) as exc:
        raise UsageError(f"merge: {path}: shard {run.get('shard')!r}: {exc}") from None
    return doc


def join(docs: list[tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]]:
    """The whole run's report from its shards' reports; UsageError if they do not make one run."""
    path0, first = docs[0]
    run0 = first["run"]
    for path, doc in docs[1:]:
        run = doc["run"]
        for key in ("command", "version", "items"):
            if run.get(key) != run0.get(key):
                raise UsageError(f"merge: {path} and {path0} are parts of different runs "
                                 f"({key} {run.get(key)} vs {run0.get(key)})")
        for key in sorted(set(run["options"]) | set(run0["options"])):
            a, b = run["options"].get(key), run0["options"].get(key)
            if a != b:
                raise UsageError(f"merge: {path} and {path0} are parts of different runs "
                                 f"(--{key.replace('_', '-')} {json.dumps(a)} vs {json.dumps(b)})")
        if run["_shard"].count != run0["_shard"].count:
            raise UsageError(f"merge: {path} is shard {run['_shard']} and {path0} shard {run0['_shard']}: "
                             "different splits of the run")
    count = run0["_shard"].count
    by_index: dict[int, str] = {}
    for path, doc in docs:
        shard = doc["run"]["_shard"]
        if shard.index in by_index:
            raise UsageError(f"merge: shard {shard} given twice ({by_index[shard.index]} and {path})")
        by_index[shard.index] = path
    missing = [f"{k}/{count}" for k in range(1, count + 1) if k not in by_index]
    if missing:
        raise UsageError(f"merge: shard{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing")
    command = run0["command"]
    key = ENTRIES[command]
    parts: dict[int, tuple[str, list]] = {}
    for path, doc in docs:
        entries = iter(doc[key])
        for pos, name, n in doc["run"]["held"]:
            if pos in parts:
                raise UsageError(f"merge: {path} and another report both hold {name} (reports of different versions?)")
            parts[pos] = (name, [next(entries) for _ in range(n)])
    if sorted(parts) != list(range(run0["items"])):
        raise UsageError(f"merge: the shards do not hold each of the run's {run0['items']} items once "
                         "(reports of different versions?)")
    merged = {k: v for k, v in first.items() if k not in (key, "summary", "run", "disagreements")}
    merged["items"] = [(parts[i][0], parts[i][1]) for i in range(run0["items"])]
    merged["seconds"] = sum(doc.get("summary", {}).get("seconds") or 0 for _, doc in docs)
    merged["first_summary"] = first.get("summary", {})
    merged["run"] = {k: v for k, v in run0.items() if k != "_shard"} | {
        "shard": None, "held": [[i, parts[i][0], len(parts[i][1])] for i in range(run0["items"])]}
    return command, merged


def show(command: str, merged: dict[str, Any], *, as_json: bool) -> int:
    """Print the merged report as the unsharded run would; its exit status."""
    if command == "verify":
        return _show_verify(merged, as_json)
    return _show_conform(merged, as_json)


def _show_verify(merged: dict[str, Any], as_json: bool) -> int:
    import attrs

    from mhmailbox.model.check import Result
    from mhmailbox.model.report import disagreements, print_report

    options = merged["run"]["options"]
    fields = attrs.fields_dict(Result)
    results: list[Result] = []
    disagreed: list[str] = []
    for name, entries in merged["items"]:
        rs = [Result(**{k: v for k, v in e.items() if k in fields}) for e in entries]
        results.extend(rs)
        if options.get("engine") == "all":
            per_engine: dict[str, list[Result]] = {}
            for r in rs:
                per_engine.setdefault(r.engine, []).append(r)
            disagreed.extend(disagreements(tuple(name.rsplit("/", 3)), per_engine, options["deadline"],
                                           options["quantum"]))
    args = argparse.Namespace(**{**options, "json": as_json, "trace_format": "table"})
    return print_report(results, disagreed, merged["seconds"], args, run=merged["run"])


def _show_conform(merged: dict[str, Any], as_json: bool) -> int:
    from types import SimpleNamespace

    from mhmailbox.conformance.cli import exit_status, print_case, summary_line
    from mhmailbox.conformance.runner import summary

    cases = [e for _, entries in merged["items"] for e in entries]
    summ = {**merged["first_summary"], **summary([
        SimpleNamespace(verdict=c["verdict"], case=SimpleNamespace(id=c["id"], level=c["level"]),
                        examples=c["examples"], seconds=c["seconds"], model_steps=c.get("model_steps", 0))
        for c in cases])}
    if as_json:
        extra = {k: v for k, v in merged.items() if k not in ("items", "seconds", "first_summary", "run")}
        print(json.dumps({"cases": cases, "summary": summ, **extra, "run": merged["run"]}, indent=2))
    else:
        for c in cases:
            print_case(c)
        options = merged["run"]["options"]
        python_impl = not any(options.get(k) for k in ("exec_cmd", "c_host", "c_guest"))  # (it counts model steps)
        steps = f", {summ['model_steps_per_second']} model steps/s" if python_impl else ""
        print(f"\n{summary_line(summ.get('impl', 'implementation'), summ)}; {summ['examples']} examples in "
              f"{summ['seconds']} s ({summ['examples_per_second']} examples/s{steps})")
    return exit_status(summ)
