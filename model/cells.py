"""The cells a command checks: the options that choose them, and the choice.

``verify``, ``compare`` and ``prove`` take the same --memory/--guest/--host/--property
options and bounds; they share this module, which sits below every command line (the
proofs' ``prove`` imports it, never ``model/cli.py``).
"""
from __future__ import annotations

import argparse

from mhmailbox.cli import UsageError, finite_positive, int_up_to, positive_int as _positive

from .engines import MAX_BUFFER, MAX_TICKS
from .memory import MODELS
from .properties import GUESTS, HOSTS
from .protocol import SCRIPTS, cells
from .runner import ALL_TIME_LIMIT
from .user_variant import catalog_of


def add_cell_options(p: argparse.ArgumentParser) -> None:
    """The options that choose cells and bounds and run engines (verify, compare)."""
    p.add_argument("--memory", action="append", choices=MODELS, help="sc, tso or relaxed (repeatable)")
    p.add_argument("--guest", action="append", choices=GUESTS, help="guest behaviour (repeatable)")
    p.add_argument("--host", action="append", choices=HOSTS, help="host behaviour (repeatable)")
    p.add_argument("--property", action="append", metavar="ID", help="property id (repeatable); see docs/properties.md")
    p.add_argument("--depth", type=_positive, help="explore at most K steps (default: until exhausted or a budget)")
    p.add_argument("--max-states", type=_positive, default=1_000_000, help="state budget per cell (default 1000000)")
    p.add_argument("--time-limit", type=finite_positive, default=None, help="seconds per cell and engine (default: none for "
                   f"explicit, 20 for a Z3 engine alone, {ALL_TIME_LIMIT:g} for each Z3 engine under --engine all)")
    p.add_argument("--jobs", "-j", type=_positive, default=None,
                   help="cells checked at once, each in its own process (default: the CPUs this process may use)")
    p.add_argument("--deadline", type=int_up_to(MAX_TICKS), default=2,
                   help=f"host deadline in model ticks (default 2, at most {MAX_TICKS})")
    p.add_argument("--quantum", type=int_up_to(MAX_TICKS), default=1,
                   help=f"polling burst in model ticks (default 1, at most {MAX_TICKS})")
    p.add_argument("--buffer", type=int_up_to(MAX_BUFFER), default=2,
                   help=f"store-buffer entries per thread (default 2, at most {MAX_BUFFER})")
    p.add_argument("--script", action="append", choices=sorted(SCRIPTS), help="host migration script (repeatable)")


def chosen_cells(args: argparse.Namespace, variants: list[str], command: str) -> tuple[list, list[tuple]]:
    """The properties (``--property``, else the variants' whole catalog) and the cells the
    options choose; a usage error for an unknown property or an empty choice."""
    catalog = {p.id: p for p in catalog_of(variants)}  # with the variants' own properties
    props = []
    for pid in args.property or []:
        if pid not in catalog:
            raise UsageError(f"{command}: unknown property {pid!r}; known: {', '.join(catalog)}")
        props.append(catalog[pid])
    props = props or list(catalog.values())
    memories = args.memory or list(MODELS)
    todo = [c for c in cells(variants, memories, args.guest, props) if not args.host or c[3] in args.host]
    if not todo:
        raise UsageError(f"{command}: no property applies to the chosen cells (guest.* needs --host adversarial; "
                         "see docs/properties.md)")
    return props, todo
