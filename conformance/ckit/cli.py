"""``mhmailbox conform --c-host FILE.c ... --protocol rfc|hardened``: the host cases on a C file."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any, Callable

from mhmailbox.errors import UsageError

from ..cli import finish, summary_line
from .host import c_host
from .run import build_info, describe, run_c_case, summarize


def add_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("C implementations (compiled with gcc or clang; the files are never edited)")
    g.add_argument("--c-host", nargs="+", metavar="FILE.c", help="check this C host (QEMU-style entry points cgs_mh_*)")
    g.add_argument("--protocol", choices=("rfc", "hardened"), help="the protocol the C code implements (its oracle)")
    g.add_argument("--define", action="append", default=[], metavar="NAME=VALUE",
                   help="override a constant the file #defines, on the kit's copy (reported in every result)")
    g.add_argument("--cflags", default="", metavar='"..."', help="extra compiler flags")


def main(args: argparse.Namespace, cases: list, print_result: Callable[[Any], None]) -> int:
    """Build the C host, run the host cases on it, report as the suite does (plus skipped cases)."""
    if args.protocol is None:
        raise UsageError("--c-host needs --protocol rfc|hardened (the protocol the file implements)")
    if args.side == "guest" or (args.case and any(c.side != "host" for c in cases)):
        raise UsageError("--c-host checks the host cases (C helpers: not yet); drop --side guest / the guest case ids")
    try:
        cflags = shlex.split(args.cflags)
    except ValueError as e:
        raise UsageError(f"--cflags: {e}") from None
    impl = c_host(args.c_host, args.protocol, defines=tuple(args.define), cflags=tuple(cflags))
    cases = [c for c in cases if c.side == "host"]
    if not args.json:
        print(describe(impl), flush=True)
    results = []
    for c in cases:
        r = run_c_case(c, impl, examples=args.examples, derandomize=not args.random)
        results.append(r)
        if not args.json:
            print_result(r)
    summ = summarize(results, impl)
    if args.json:
        json.dump({"cases": [r.as_json() for r in results], "summary": summ, "build": build_info(impl)},
                  sys.stdout, indent=2)
        print()
    else:
        print(f"\n{describe(impl)}\n{summary_line(impl.name, summ)}; {summ['examples']} examples in "
              f"{summ['seconds']} s ({summ['examples_per_second']} examples/s)")
    return finish(args.junit, impl.name, results, summ)
