"""``mhmailbox conform --exec "CMD ARGS" --side host|guest --protocol rfc|hardened``: a side's cases over the wire."""
from __future__ import annotations

import argparse
import functools
import shlex
import sys
import time
from typing import Any, Callable

import attrs

from mhmailbox.errors import UsageError

from .adapter import OperationFailed
from .ckit.run import CResult
from .parallel import run_cases
from .runner import SHRINK_SECONDS, run_case, summary
from .wire import WIRE_VERSION, WireGuestImplementation, WireHostImplementation, wire_guest, wire_host
from .wire_format import GUEST_OPERATIONS


def add_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(f"implementations in any language, over JSON lines ({WIRE_VERSION}, docs/wire.md)")
    g.add_argument("--exec", dest="exec_cmd", metavar='"CMD ARGS"',
                   help="check the host or helper this command runs (one process per example; with --side "
                        "and --protocol)")


@attrs.define
class WireResult(CResult):
    """A case's result over the wire: a reproducer that starts the command again."""

    @property
    def reproducer(self) -> str | None:
        text = CResult.reproducer.fget(self)  # type: ignore[attr-defined]
        return None if text is None else text.replace(
            "from mhmailbox.conformance.ckit import", "from mhmailbox.conformance.wire import", 1)


def run_wire_case(case: Any, impl: WireHostImplementation | WireGuestImplementation, *, examples: int = 60, derandomize: bool = True,
                  shrink_seconds: float = SHRINK_SECONDS) -> WireResult:
    """One case on the command (a fresh process per example; every process stopped after)."""
    try:
        r = run_case(case, impl, examples=examples, derandomize=derandomize, shrink_seconds=shrink_seconds)
    finally:
        impl.stop()
    return WireResult(**{f.name: getattr(r, f.name) for f in attrs.fields(type(r))},
                      rebuild=f"wire_{_side(impl)}({list(impl.argv)!r}, {impl.protocol!r})")


def _side(impl: WireHostImplementation | WireGuestImplementation) -> str:
    return "guest" if isinstance(impl, WireGuestImplementation) else "host"


def _check(args: argparse.Namespace, cases: list) -> None:
    if args.c_host or args.c_guest:
        raise UsageError("--exec and --c-host/--c-guest check different implementations: give one of them")
    if args.side is None:
        raise UsageError("--exec needs --side host|guest (the side the process plays)")
    if args.protocol is None:
        raise UsageError("--exec needs --protocol rfc|hardened (the protocol the implementation follows)")


def describe(impl: WireHostImplementation | WireGuestImplementation) -> str:
    if isinstance(impl, WireGuestImplementation):
        return f"wire helper `{shlex.join(impl.argv)}` ({impl.protocol}; {WIRE_VERSION})"
    lacks = sorted({"save", "load", "cleanup"} - impl.operations)
    return (f"wire host `{shlex.join(impl.argv)}` ({impl.protocol}; {WIRE_VERSION}"
            f"{'; no ' + ', '.join(lacks) if lacks else ''})")


def main(args: argparse.Namespace, cases: list, print_result: Callable[[Any], None]) -> int:
    """Say hello to the command once, run its side's cases on it, report as the suite does."""
    from .cli import finish, report_json, summary_line, wall_note

    _check(args, cases)
    try:
        impl = (wire_host if args.side == "host" else wire_guest)(args.exec_cmd, args.protocol)
    except (ValueError, FileNotFoundError) as e:
        raise UsageError(f"--exec: {e}") from None
    except OperationFailed as e:
        print(f"error: --exec: the hello failed: {e}", file=sys.stderr)
        return 1
    if not args.json:
        print(describe(impl), flush=True)
    started = time.perf_counter()
    results = []
    run = functools.partial(run_wire_case, impl=impl, examples=args.examples, derandomize=not args.random)
    for r in run_cases(run, cases, args.jobs, impl.name):
        results.append(r)
        print_result(r)  # (it prints unless --json, and counts the case done)
    summ = summary(results)
    summ["impl"] = impl.name
    info = {"command": list(impl.argv), "side": args.side, "protocol": impl.protocol, "wire": WIRE_VERSION,
            "operations": sorted(impl.operations) if args.side == "host" else list(GUEST_OPERATIONS)}
    if args.json:
        report_json(args, results, summ, exec=info)
    else:
        print(f"\n{summary_line(impl.name, summ)}; {summ['examples']} examples in {summ['seconds']} s "
              f"({summ['examples_per_second']} examples/s){wall_note(args, started, summ)}")
    return finish(args.junit, impl.name, results, summ)
