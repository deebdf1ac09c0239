"""The generalized model a cell's unbounded proofs are about, and its bounds.

``kind``, ``pdr``, Houdini, mining and ``mhmailbox prove`` all work on this
model: any host script, symbolic deadline and quantum, the cell's store buffers
(see docs/proofs.md, "The generalized model").
"""
from __future__ import annotations

import argparse

import attrs

from mhmailbox.model.engines import bounds_from
from mhmailbox.model.expr import And, V
from mhmailbox.model.protocol import Bounds, build
from mhmailbox.model.system import Monitor


def cell_bounds(args: argparse.Namespace | None) -> Bounds:
    """The explicit cell's bounds, from the verify options (same as the explicit engine)."""
    if args is None:
        return Bounds()
    return bounds_from(args)


def general_bounds(args: argparse.Namespace | None) -> Bounds:
    """The generalized model's bounds: any script, symbolic time, same buffers."""
    b = cell_bounds(args)
    return attrs.evolve(b, scripts=("any",), symbolic_time=True)


def describe_general(b: Bounds, host: str) -> str:
    if host == "adversarial":
        return f"unbounded: any number of sessions, the host writes any value (gpa by class), sb={b.capacity}"
    return (f"unbounded: any script, any number of commands and migrations, D>=1 and Q>=1 free, "
            f"an adversarial guest's values from all integers, sb={b.capacity}")


def general_model(cell: tuple, props: list, args: argparse.Namespace | None):
    """The generalized model of a cell; a property's assumption on D and Q (the catalog's
    ``assumes``) is conjoined to its monitor, so it is proved under that assumption."""
    bounds = general_bounds(args)
    model = build(*cell, bounds, props)
    for i, prop in enumerate(model.properties):
        a = prop.assumption(V("k.D"), V("k.Q"))
        if a is not None:
            m = model.system.monitors[i]
            assert m.id == prop.id
            model.system.monitors[i] = Monitor(m.id, And(m.bad, a))
    system = model.system.reduced()
    return model, system, bounds
