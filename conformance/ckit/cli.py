"""``mhmailbox conform --c-host FILE.c ... / --c-guest FILE.c ... --protocol rfc|hardened``: the cases on C files."""
from __future__ import annotations

import argparse
import functools
import shlex
import time
from typing import Any, Callable

from mhmailbox.errors import UsageError

from ..cli import finish, report_json, summary_line, wall_note
from ..parallel import run_cases
from .build import HELPER_ENTRY
from .guest import c_guest
from .host import c_host
from .run import build_info, describe, run_c_case, side_of, summarize


def add_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("C implementations (compiled with gcc or clang; the files are never edited)")
    g.add_argument("--c-host", nargs="+", metavar="FILE.c", help="check this C host (QEMU-style entry points cgs_mh_*)")
    g.add_argument("--c-guest", nargs="+", metavar="FILE.c",
                   help="check this C helper (EDK2-style; its entry loops for ever, see --entry)")
    g.add_argument("--entry", default=HELPER_ENTRY, metavar="NAME",
                   help=f"the C helper's entry function (default {HELPER_ENTRY})")
    g.add_argument("--protocol", choices=("rfc", "hardened"), help="the protocol the C code implements (its oracle)")
    g.add_argument("--define", action="append", default=[], metavar="NAME=VALUE",
                   help="override a constant the file #defines, on the kit's copy (reported in every result)")
    g.add_argument("--cflags", default="", metavar='"..."', help="extra compiler flags")


def _options(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The sides given and the compiler flags; UsageError for what cannot run."""
    sides = [s for s, files in (("host", args.c_host), ("guest", args.c_guest)) if files]
    flag = " and ".join(f"--c-{s}" for s in sides)
    if args.protocol is None:
        raise UsageError(f"{flag} needs --protocol rfc|hardened (the protocol the file implements)")
    if args.side is not None and args.side not in sides:
        raise UsageError(f"--side {args.side}: {flag} checks the {' and '.join(sides)} cases; "
                         f"give --c-{args.side} FILE.c for the {args.side} cases")
    try:
        cflags = shlex.split(args.cflags)
    except ValueError as e:
        raise UsageError(f"--cflags: {e}") from None
    return sides, cflags


def main(args: argparse.Namespace, cases: list, print_result: Callable[[Any], None]) -> int:
    """Build the C file(s), run each side's cases on them, report as the suite does."""
    sides, cflags = _options(args)
    wrong = [c.id for c in cases if args.case and c.side not in sides]
    if wrong:
        raise UsageError(f"--case {wrong[0]} is a {wrong[0].split('/')[0]} case: give --c-{wrong[0].split('/')[0]} "
                         f"FILE.c to run it")
    impls = []  # every file is built (and every build error reported) before any case runs
    if "host" in sides:
        impls.append(c_host(args.c_host, args.protocol, defines=tuple(args.define), cflags=tuple(cflags)))
    if "guest" in sides:
        impls.append(c_guest(args.c_guest, args.protocol, entry=args.entry, defines=tuple(args.define),
                             cflags=tuple(cflags)))
    started = time.perf_counter()  # (after the builds)
    results = []
    for impl in impls:
        if not args.json:
            print(describe(impl), flush=True)
        run = functools.partial(run_c_case, impl=impl, examples=args.examples, derandomize=not args.random)
        for r in run_cases(run, [c for c in cases if c.side == side_of(impl)], args.jobs, impl.name):
            results.append(r)
            print_result(r)  # (it prints unless --json, and counts the case done)
    name = " + ".join(i.name for i in impls)
    summ = summarize(results, impls[0])
    summ["impl"] = name
    summ["builds"] = [build_info(i) for i in impls]
    if args.json:
        report_json(args, results, summ, build=build_info(impls[0]), builds=summ["builds"])
    else:
        print("\n" + "\n".join(describe(i) for i in impls))
        print(f"{summary_line(name, summ)}; {summ['examples']} examples in "
              f"{summ['seconds']} s ({summ['examples_per_second']} examples/s){wall_note(args, started, summ)}")
    return finish(args.junit, name, results, summ)
