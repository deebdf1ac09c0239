"""The registry of ``verify`` engines and the model's bounds as the command line gives them.

It sits below every engine: the explicit engine registers here, and
``mhmailbox.proofs.engines`` registers bmc, kind and pdr on import
(:func:`load_engines`), so the proofs import the model and never its command line.
"""
from __future__ import annotations

import argparse
from typing import Callable

from .check import Result, check_cell
from .protocol import Bounds

#: engine name -> function(cell, properties, args) -> list[Result]; proofs/ adds its engines
ENGINES: dict[str, Callable[..., list[Result]]] = {}

#: Upper limits of the model's bounds: past them the model cannot be built (deeper store
#: buffers nest expressions past Python's parser limit) or the Z3 engines' 36-bit
#: bit-vectors would wrap (deadline and quantum, as the symbolic search bounds them).
MAX_BUFFER = 32
MAX_TICKS = 1 << 16


def bounds_from(args: argparse.Namespace) -> Bounds:
    """The cell's bounds from ``verify``'s options (every engine reads them the same way)."""
    return Bounds(deadline=args.deadline, quantum=args.quantum, capacity=args.buffer,
                  scripts=tuple(args.script or ("source", "target")))


def _explicit(cell: tuple, props: list, args: argparse.Namespace, progress=None) -> list[Result]:
    return check_cell(*cell, properties=props, bounds=bounds_from(args), depth=args.depth or 10_000,
                      max_states=args.max_states, time_limit=args.time_limit, progress=progress)


ENGINES["explicit"] = _explicit


def load_engines() -> None:
    """Register the Z3 engines if the proofs package is there (an install may leave it out)."""
    try:
        from mhmailbox.proofs import engines  # noqa: F401  (registers bmc/kind/pdr)
    except ImportError:
        pass


def run_one(task: tuple, props: list, args: argparse.Namespace) -> list[Result]:
    """One (cell, engine) task: the engine's verdicts on ``props`` in that cell."""
    cell, eng = task
    return ENGINES[eng](cell, props, args)
