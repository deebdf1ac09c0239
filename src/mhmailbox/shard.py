"""``--shard K/N``: one of N stable parts of a run, so that a CI matrix spreads one long
``verify`` or ``conform`` over N machines and ``mhmailbox merge`` joins their reports.

The split depends only on the items' names (a cell's ``variant/memory/guest/host``, a
case's id): sorted, then dealt round-robin, so the same K/N picks the same items on every
machine and Python (no dict order, no ``hash()``), every item lands in exactly one shard,
and shards differ in size by at most one item. Each sharded ``--json`` report carries a
*run record* saying which run it is part of; ``merge`` checks the records fit together.
"""
from __future__ import annotations

import argparse
import re
from typing import Any, Sequence

import attrs

#: options that change how a report is shown, where else it goes or how fast it is made,
#: never what it says (each part of a run may write its pages or logs to a place of its own)
PRESENTATION = frozenset({"json", "jobs", "junit", "force", "shard", "trace_format", "func", "command", "output",
                          "html", "record"})


@attrs.frozen
class Shard:
    """Shard ``index`` (from 1) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def pick(self, names: Sequence[str]) -> list[int]:
        """Positions (ascending) of this shard's items among ``names``."""
        order = sorted(range(len(names)), key=lambda i: names[i])
        return sorted(order[self.index - 1::self.count])


def parse_shard(text: str) -> Shard:
    """argparse type for ``K/N`` with 1 <= K <= N."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected K/N (shard K of N, e.g. 2/4), got {text!r}")
    k, n = int(m.group(1)), int(m.group(2))
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N, got {text!r}")
    return Shard(k, n)


def add_shard_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--shard", type=parse_shard, metavar="K/N",
                        help=f"run only part K of N of the {what} (a stable split: the same on every machine); "
                             "`mhmailbox merge` joins the parts' --json reports")


def select(names: Sequence[str], shard: Shard | None) -> list[int]:
    """Positions of the items a run with ``shard`` (None: all) takes."""
    return list(range(len(names))) if shard is None else shard.pick(names)


def run_record(command: str, args: argparse.Namespace, names: Sequence[str], picked: Sequence[int],
               counts: Sequence[int] | None = None) -> dict[str, Any]:
    """What a ``--json`` report says about its run: the command, the options that decide
    its results, the shard, and which of the run's items it holds (``[position, name,
    results]``, ``results`` the number of report entries of that item, in report order)."""
    from mhmailbox import __version__

    options = {k: v for k, v in sorted(vars(args).items()) if k not in PRESENTATION and not callable(v)}
    shard = getattr(args, "shard", None)
    counts = counts if counts is not None else [1] * len(picked)
    return {"command": command, "version": __version__, "options": _plain(options),
            "shard": str(shard) if shard else None, "items": len(names),
            "held": [[i, names[i], n] for i, n in zip(picked, counts)]}


def _plain(value: Any) -> Any:
    """Options as JSON keeps them (tuples become lists), so a record read back compares equal."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
