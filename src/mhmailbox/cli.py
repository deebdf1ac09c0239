"""The ``mhmailbox`` command line.

Each subcommand lives beside the code it drives (``mhmailbox.<pkg>.cli``) and
registers itself here through ``register(subparsers)``; this module only wires
them up and maps failures to exit codes:

* 0: the run completed, whatever the verdicts;
* 2: a usage error (one line on stderr, no traceback);
* 1: an internal error.
"""
from __future__ import annotations

import argparse
import importlib
import math
import sys
from typing import Callable, Sequence

#: Subcommand modules, each exposing ``register(subparsers)``; a module that
#: is not there yet (an issue still open) is skipped.
COMMAND_MODULES = (
    "mhmailbox.model.cli",
    "mhmailbox.model.compare",
    "mhmailbox.proofs.cli",
    "mhmailbox.impl.cli",
    "mhmailbox.conformance.cli",
    "mhmailbox.merge",
)


from mhmailbox.errors import UsageError  # noqa: E402  (re-exported: subcommands raise it)


def positive_int(text: str) -> int:
    """argparse type for counts and bounds: a clear message instead of a traceback."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def int_up_to(limit: int) -> Callable[[str], int]:
    """argparse type: a positive integer no larger than ``limit`` (a bound past which the
    model cannot be built or encoded, rather than a mere budget)."""

    def parse(text: str) -> int:
        v = positive_int(text)
        if v > limit:
            raise argparse.ArgumentTypeError(f"expected a positive integer up to {limit}, got {text!r}")
        return v

    parse.__name__ = f"int_up_to_{limit}"  # argparse names the type in its messages
    return parse


def finite_positive(text: str) -> float:
    """argparse type for durations and rates: finite and positive (``inf``, ``nan``, 0 and negatives refused)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {text!r}")
    return v


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit 2 with usage; keep it one line
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mhmailbox", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def _version() -> str:
    from mhmailbox import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            raise UsageError("mhmailbox: a command is required (try `mhmailbox --help`)")
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
