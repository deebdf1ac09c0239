"""``mhmailbox migrate``: one real migration across helper processes, verified."""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "mb": 1 << 20,
          "g": 1 << 30, "gib": 1 << 30, "gb": 1 << 30}
#: Largest RAM the command accepts (two RAM files of this size are created).
MAX_RAM = 4 << 30


def _usage(message: str) -> Exception:
    from mhmailbox.cli import UsageError

    return UsageError(message)


def parse_size(text: str) -> int:
    """'64MiB', '16M', '65536' -> bytes (binary units); a positive multiple of 4096."""
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise _usage(f"migrate: --ram: cannot parse {text!r} (try 64MiB)")
    n = int(m.group(1)) * _UNITS[m.group(2).lower()]
    if n <= 0 or n % 4096:
        raise _usage(f"migrate: --ram: {n} bytes is not a positive multiple of 4096")
    if n > MAX_RAM:
        raise _usage(f"migrate: --ram: at most {MAX_RAM >> 30} GiB")
    return n


def register(subparsers: Any) -> None:
    from mhmailbox.cli import finite_positive

    p = subparsers.add_parser(
        "migrate",
        help="migrate a guest's RAM through real helper processes and verify it",
        description="Save every RAM page of a patterned source guest through the mailbox into a stream, "
        "load it into a target guest (its own helper process, same transfer key), verify target RAM.",
    )
    p.add_argument("--ram", default="64MiB", help="guest RAM size (default 64MiB)")
    p.add_argument("--mode", choices=("hardened", "rfc"), default="hardened", help="protocol variant (default hardened)")
    p.add_argument("--stream", metavar="FILE", help="keep the migration stream in FILE (default: a temp file; "
                   "check it with `mhmailbox check-stream FILE`)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --stream (or --record) file")
    p.add_argument("--record", metavar="FILE", help="log the run (both VMs' hosts and helpers, every access in one "
                   "order) into FILE as mhmailbox-log 1, for `mhmailbox check-log`; slow: use a small --ram")
    p.add_argument("--timeout-ms", type=finite_positive, default=100.0, help="host command timeout (default 100)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.set_defaults(func=run)

    c = subparsers.add_parser(
        "check-stream", help="validate a saved migration stream (format, not page authenticity)",
        description="Read a migration stream (migrate --stream FILE) strictly: the file header, every record's "
        "fields and lengths, the record count. Exit 0 when the stream is valid, 1 when it is not (the byte "
        "offset, the record number and the problem are printed), 2 for a usage error (e.g. a missing file).")
    c.add_argument("file", metavar="FILE")
    c.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    c.set_defaults(func=run_check_stream)


def _progress_bar() -> Any:
    if not sys.stderr.isatty():
        return None

    def show(phase: str, done: int, total: int) -> None:
        width = 30
        frac = done / total if total else 1.0
        bar = "#" * int(frac * width)
        end = "\n" if phase == "load" and done >= total else ""
        sys.stderr.write(f"\r{phase:4} [{bar:<{width}}] {frac:6.1%} {done}/{total} pages{end}")
        sys.stderr.flush()

    return show


def run(args: argparse.Namespace) -> int:
    from .migrate import MigrationFailed, run_migration

    from mhmailbox.outfiles import check_output

    ram = parse_size(args.ram)
    if args.stream is not None:
        check_output(args.stream, force=args.force, what="migrate: --stream", pipe_ok=False)  # it is read back
    if args.record is not None:
        check_output(args.record, force=args.force, what="migrate: --record")
    try:
        report = run_migration(ram, args.mode, stream_path=args.stream, timeout=args.timeout_ms / 1e3,
                               progress=_progress_bar(), record=args.record)
    except KeyboardInterrupt:
        if args.record is not None and os.path.exists(args.record):  # the recorder keeps what it saw
            print(f"migrate: the run up to the interrupt is recorded in {args.record}", file=sys.stderr)
        raise
    except MigrationFailed as exc:
        print(f"error: migration failed: {exc}", file=sys.stderr)
        if args.record is not None:
            print(f"migrate: the run is recorded in {args.record} (mhmailbox check-log {args.record} "
                  f"--protocol {args.mode})", file=sys.stderr)
        return 1
    s = report.summary()
    if args.json:
        print(json.dumps(s))
    else:
        print(f"{s['mode']}: {s['pages']} pages in {s['seconds']:.3f} s ({s['pages_per_s']:.0f} pages/s, "
              f"{s['mib_per_s']:.1f} MiB/s); target RAM {'verified' if s['verified'] else 'DIFFERS'}; "
              f"plaintext pages in stream: {s['plaintext_pages_in_stream']}")
    return 0


def run_check_stream(args: argparse.Namespace) -> int:
    import os

    from .stream import check_stream

    try:
        with open(args.file, "rb", buffering=1 << 20) as f:
            result = check_stream(f, os.fstat(f.fileno()).st_size)
    except OSError as exc:
        raise _usage(f"check-stream: cannot read {args.file}: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps({"file": args.file, **result.as_json()}))
    elif result.valid:
        h = result.header
        print(f"{args.file}: valid {h.mode} stream, {result.records} records, {result.size} bytes")
    else:
        where = f"record {result.record}" if result.record else ("file header" if result.header is None
                                                                  else "after the last record")
        print(f"{args.file}: INVALID at byte {result.offset} ({where}): {result.problem}")
    return 0 if result.valid else 1
