"""``mhmailbox stress``: an implementation against a peer on real concurrency (see :mod:`.stress`)."""
from __future__ import annotations

import argparse
import glob
import json
import os
import shlex
import shutil
import sys
import tempfile
from typing import Callable

from mhmailbox.cli import finite_positive
from mhmailbox.errors import UsageError

from .adapter import IMPLEMENTATIONS
from .ckit.build import HELPER_ENTRY
from .stress import DEFAULT_DELAY, StressReport, Target, build_c_host, progress_line, stress


def _int_in(lo: int, hi: int | None, what: str) -> Callable[[str], int]:
    """argparse type: an integer from ``lo`` to ``hi`` (no bound: None), named ``what`` in its message."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            v = None
        if v is None or v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return v

    return parse


_percent = _int_in(0, 100, "a percentage 0-100")
_ns = _int_in(0, 10**9, "0 to 1000000000 nanoseconds (0: no delay)")
_seed = _int_in(0, None, "a non-negative integer")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stress", help="an implementation and a peer on real concurrency, one shared mapping, every access logged",
        description="Run an implementation (a host, or a helper) and our peer (honest or adversarial) as separate "
                    "processes on one real shared mapping, with random short delays at accesses; log every access "
                    "in one global order and judge each run's log against the model (check-log). Exit 1 when a "
                    "violation is found, 0 when none is, 2 for a usage error.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--c-host", nargs="+", metavar="FILE.c", help="a C host (QEMU-style cgs_mh_* entry points)")
    what.add_argument("--c-guest", nargs="+", metavar="FILE.c",
                      help="a C helper (EDK2-style: its entry loops for ever, see --entry); our host is its peer")
    what.add_argument("--impl", choices=sorted(IMPLEMENTATIONS), help="our Python host of this protocol")
    what.add_argument("--exec", dest="exec_cmd", metavar='"CMD ARGS"',
                      help="a host in any language: a process speaking mhmailbox-wire 1 (docs/wire.md)")
    p.add_argument("--side", choices=("host", "guest"), default="host",
                   help="the side under test (default host, our helper its peer; guest, with --impl: our "
                        "helper under test, our host its peer)")
    p.add_argument("--protocol", choices=("rfc", "hardened"),
                   help="the protocol the implementation implements (default with --impl: its own)")
    p.add_argument("--seconds", type=finite_positive, default=10.0, help="time budget (default 10)")
    p.add_argument("--peer", choices=("adversarial", "honest"), default="adversarial",
                   help="our reference peer, or one that also makes the suite's hostile moves (default)")
    p.add_argument("--keep-going", action="store_true", help="go on after a violation until the time is spent")
    p.add_argument("--stop-on", action="append", default=[], metavar="PROPERTY",
                   help="go on until a violation of this property (repeatable), e.g. adversary.header-bound")
    p.add_argument("--seed", type=_seed, help="seed of the runs' operations and hostile moves (default: random); "
                                              "real timing still differs from one session to the next")
    p.add_argument("--delay-percent", type=_percent, default=DEFAULT_DELAY[0],
                   help=f"chance of a delay before each access, in percent (default {DEFAULT_DELAY[0]})")
    p.add_argument("--delay-ns", type=_ns, default=DEFAULT_DELAY[1],
                   help=f"longest delay, in ns (default {DEFAULT_DELAY[1]}; 0: no delays)")
    p.add_argument("--logs", metavar="DIR", help="where the logs of runs with a violation go "
                                                 "(default: a new directory in the system's temporary one)")
    p.add_argument("--force", action="store_true", help="replace logs of an earlier session in --logs DIR")
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.add_argument("--define", action="append", default=[], metavar="NAME=VALUE",
                   help="override a constant the C file #defines, on the kit's copy")
    p.add_argument("--cflags", default="", metavar='"..."', help="extra compiler flags for the C file")
    p.add_argument("--entry", default=HELPER_ENTRY, metavar="NAME",
                   help=f"the C helper's entry function (default {HELPER_ENTRY})")
    p.set_defaults(func=main)


def _log_dir(args: argparse.Namespace) -> str:
    if args.logs is None:
        return tempfile.mkdtemp(prefix="mhstress-logs-")
    parent = os.path.dirname(os.path.abspath(args.logs))
    if os.path.exists(args.logs) and not os.path.isdir(args.logs):
        raise UsageError(f"--logs {args.logs}: not a directory")
    if not os.path.isdir(parent):
        raise UsageError(f"--logs {args.logs}: {parent} does not exist")
    old = glob.glob(os.path.join(args.logs, "mhstress-run-*.jsonl"))
    if old and not args.force:
        raise UsageError(f"--logs {args.logs} holds logs of an earlier session ({os.path.basename(old[0])}, ...): "
                         f"use --force to replace them, or another directory")
    os.makedirs(args.logs, exist_ok=True)
    for f in old:
        os.unlink(f)
    return args.logs


def main(args: argparse.Namespace) -> int:
    from mhmailbox.model.properties import BY_ID

    if args.c_guest:
        args.side = "guest"
    if args.side == "guest" and args.impl is None and not args.c_guest:
        raise UsageError("--side guest: a helper is stressed with --c-guest FILE.c or --impl NAME; "
                         "--c-host and --exec run a host")
    if (args.define or args.cflags) and not (args.c_host or args.c_guest):
        raise UsageError("--define and --cflags are for a C file (--c-host)")
    known = set(BY_ID) | {"divergence", "robust"}
    for prop in args.stop_on:
        if prop not in known:
            raise UsageError(f"--stop-on {prop}: not a property (e.g. adversary.header-bound, order.response, "
                             f"divergence, robust)")
    if args.c_host or args.c_guest:
        flag, files = ("--c-host", args.c_host) if args.c_host else ("--c-guest", args.c_guest)
        if args.protocol is None:
            raise UsageError(f"{flag} needs --protocol rfc|hardened (the protocol the file implements)")
        try:
            cflags = shlex.split(args.cflags)
        except ValueError as e:
            raise UsageError(f"--cflags: {e}") from None
        binary = build_c_host(files, tuple(args.define), tuple(cflags), args.entry if args.c_guest else None)
        name = " ".join(os.path.basename(f) for f in files)
        side = "guest" if args.c_guest else "host"
        target = Target(f"c-{side}", args.protocol, f"C {'helper' if args.c_guest else 'host'} {name}", binary,
                        side=side)
    elif args.exec_cmd is not None:
        if args.protocol is None:
            raise UsageError("--exec needs --protocol rfc|hardened (the protocol the process implements)")
        try:
            argv = tuple(shlex.split(args.exec_cmd))
        except ValueError as e:
            raise UsageError(f"--exec: {e}") from None
        if not argv:
            raise UsageError("--exec: an empty command")
        if shutil.which(argv[0]) is None:
            raise UsageError(f"--exec: {argv[0]}: no such command")
        target = Target("exec", args.protocol, f"process {args.exec_cmd}", argv=argv)
    else:
        protocol = args.protocol or IMPLEMENTATIONS[args.impl].protocol
        if protocol != IMPLEMENTATIONS[args.impl].protocol:
            raise UsageError(f"--impl {args.impl} implements {IMPLEMENTATIONS[args.impl].protocol}, not {protocol}")
        target = Target("impl", protocol, f"Python {'helper' if args.side == 'guest' else 'host'} {args.impl}",
                        side=args.side)
    log_dir = _log_dir(args)
    delay = (args.delay_percent, args.delay_ns) if args.delay_ns else (0, 0)
    if not args.json:
        print(f"stress: {target.name} ({target.protocol}) against our {args.peer} "
              f"{'host' if target.side == 'guest' else 'helper'}; delays "
              + (f"{delay[0]}% up to {delay[1]} ns" if delay[1] else "off") + f"; {args.seconds:g} s", flush=True)
    show = progress_line if sys.stderr.isatty() and not args.json else None
    rep = stress(target, seconds=args.seconds, adversarial=args.peer == "adversarial", seed=args.seed, delay=delay,
                 log_dir=log_dir, keep_going=args.keep_going, stop_on=args.stop_on,
                 progress=show)
    if show is not None:
        sys.stderr.write("\n")
    if not rep.findings and args.logs is None:
        os.rmdir(log_dir)
        rep.log_dir = None
    if args.json:
        print(json.dumps(rep.as_dict(), indent=2))
    else:
        _print(rep)
    return 1 if rep.findings else 0


def _print(rep: StressReport) -> None:
    d = rep.as_dict()
    print(f"seed {d['seed']}: {d['runs']} runs, {d['operations']} operations ({d['saves']} saves), "
          f"{d['accesses']:,} logged accesses in {d['seconds']:.1f} s "
          f"({d['runs_per_second']} runs/s, {d['accesses_per_second']:,.0f} accesses/s)")
    for f in rep.findings:
        v = f.violation
        print(f"VIOLATED {v.property} in run {f.run} (after {f.after_s:.1f} s, {f.saves} saves): {v.message}")
        print(f"  log: {f.log} (its event i={v.i})")
        for line in f.excerpt:
            print(f"  | {line}")
    print(f"{len(rep.findings)} violation(s) found" if rep.findings else "nothing found")
