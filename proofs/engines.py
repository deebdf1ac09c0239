"""The Z3 engines, registered into ``mhmailbox verify --engine``.

* ``bmc``: incremental bounded model checking of the cell's own bounded model
  (the explicit checker's model, bit for bit): shortest counterexamples, or
  ``holds-to-depth`` k.
* ``kind``: k-induction over the *generalized* model (any host script, free
  deadline and quantum, no adversary budget, adversarial values from all
  integers), strengthened by the proved invariants of :mod:`.store`.
* ``pdr``: Spacer (IC3/PDR over constrained Horn clauses) over the same
  generalized model, also given the proved invariants.

Verdicts: ``violated`` (a trace, decoded with ``mhmailbox.model.trace.decode``),
``holds-to-depth`` (bmc only), ``proved`` (unbounded, for the generalized model),
``unknown`` (out of time or the solver gave up; never a pass).
"""
from __future__ import annotations

import argparse
import time
from typing import Any

import attrs

from mhmailbox.model.check import Result
from mhmailbox.model.engines import ENGINES
from mhmailbox.model.expr import And, V
from mhmailbox.model.properties import BY_ID
from mhmailbox.model.protocol import Bounds, Model, build
from mhmailbox.model.system import Monitor
from mhmailbox.model.trace import decode

from . import bmc as bmc_mod
from . import certificate as cert
from . import induction, pdr
from .general import cell_bounds, describe_general, general_model
from .symbolic import EXACT, UNBOUNDED, Generalize, Symbolic, with_initial

DEFAULT_DEPTH = 60
DEFAULT_TIME = 20.0


def _time_limit(args: argparse.Namespace) -> float:
    t = getattr(args, "time_limit", None)
    return float(t) if t else DEFAULT_TIME


def trace_of(model: Model, cex: bmc_mod.Cex, compiled_for, gen: Generalize) -> list[dict[str, Any]]:
    if cex.values:
        model = attrs.evolve(model, system=with_initial(model.system, cex.values))
    steps = decode(model, cex.path)
    kinds = {a.name: a.kind for a in model.system.actions}
    for st in steps[1:]:
        st["kind"] = kinds.get(st["action"], "step")
    D = cex.values.get("k.D", model.bounds.deadline)
    Q = cex.values.get("k.Q", model.bounds.quantum)
    b = model.bounds
    bounds = {"scripts": list(b.scripts), "deadline": D, "quantum": Q, "capacity": b.capacity,
              "symbolic_time": b.symbolic_time, "unbounded_adversary": gen.unbounded_adversary,
              "free_values": gen.free_values}
    for s in steps:
        if "clock" in s:
            s["clock"]["deadline"] = D
            s["clock"]["quantum"] = Q
    if steps:
        steps[0]["bounds"] = bounds
    return steps


def _common(model: Model, engine: str, bound: str) -> dict[str, Any]:
    return dict(variant=model.variant, memory=model.memory, guest=model.guest, host=model.host, engine=engine,
                bound=bound)


# ---------------------------------------------------------------- bmc

def run_bmc(cell: tuple, props: list, args: argparse.Namespace | None, *, depth: int | None = None,
            time_limit: float | None = None) -> list[Result]:
    bounds = cell_bounds(args)
    model = build(*cell, bounds, props)
    if not model.properties:
        return []
    depth = depth or (getattr(args, "depth", None) if args is not None else None) or DEFAULT_DEPTH
    limit = time_limit or (_time_limit(args) if args is not None else DEFAULT_TIME)
    system = model.system.reduced()
    sym = Symbolic(system, EXACT, sort="bv")
    factory = bmc_mod.compiled_factory(system)
    run = bmc_mod.bmc(sym, factory, depth, limit)
    common = _common(model, "bmc", bounds.describe(cell[3]))
    out = []
    for mi, prop in enumerate(model.properties):
        cex = run.found.get(mi)
        if cex is not None:
            out.append(Result(property=prop.id, verdict="violated", depth=cex.length, states=0,
                              seconds=round(run.seconds, 3), trace=trace_of(model, cex, factory, EXACT),
                              note="shortest counterexample (BMC)", **common))
        else:
            why = {"time": "stopped at the time limit", "unknown": "the solver gave up",
                   "depth": "stopped at the depth bound", "all-found": ""}[run.stopped]
            if run.depth < 0:
                out.append(Result(property=prop.id, verdict="unknown", depth=0, states=0,
                                  seconds=round(run.seconds, 3), note=why, **common))
            else:
                out.append(Result(property=prop.id, verdict="holds-to-depth", depth=run.depth, states=0,
                                  seconds=round(run.seconds, 3),
                                  note=f"no violation within {run.depth} steps (BMC); {why}", **common))
    return out


# ---------------------------------------------------------------- pdr / kind

def run_unbounded(engine: str, cell: tuple, props: list, args: argparse.Namespace | None, *,
                  time_limit: float | None = None, certificate: str | None = None) -> list[Result]:
    """``kind`` or ``pdr`` on one cell; with ``certificate`` (or ``args.certificate``) a
    directory, each verdict proved relative to the invariants gets its certificate there."""
    certificate = certificate or (getattr(args, "certificate", None) if args is not None else None)
    t0 = time.perf_counter()
    model, system, bounds, sym = _stored_model(cell, props, args)
    if not model.properties:
        return []
    limit = time_limit or (_time_limit(args) if args is not None else DEFAULT_TIME)
    wanted = {p.id for p in props} or {p.id for p in model.properties}  # none given: the cell's catalog
    factory = bmc_mod.compiled_factory(system)
    fn = pdr.prove if engine == "pdr" else induction.prove
    verdicts = fn(sym, model, limit)
    common = _common(model, engine, describe_general(bounds, cell[3]))
    certified = (_certify(certificate, engine, model, sym,
                          {mi: v for mi, v in verdicts.items() if model.properties[mi].id in wanted})
                 if certificate else {})
    out = []
    for mi, prop in enumerate(model.properties):
        if prop.id not in wanted:
            continue
        v = verdicts[mi]
        trace = None
        depth = v.depth
        if v.cex is not None:
            trace = trace_of(model, v.cex, factory, UNBOUNDED)
            depth = v.cex.length
        note = v.note + (f" (claimed for {prop.assumes}, the property's assumption)" if prop.assumes else "")
        if v.verdict == "proved" and certificate:
            note += (f"; certificate in {certified[mi]}" if mi in certified
                     else "; no certificate (Spacer's own invariant is not exported)")
        out.append(Result(property=prop.id, verdict=v.verdict, depth=depth, states=0,
                          seconds=round(time.perf_counter() - t0, 3), trace=trace, note=note, **common))
    return out


def _stored_model(cell: tuple, props: list, args: argparse.Namespace | None):
    """The generalized model of the cell for ``props``, with its symbolic encoding; or, when
    the stores hold a set proved for the model of the cell's whole catalog but not for this
    one (a run with --property: the model keeps only the chosen monitors' variables, so its
    fingerprint differs), that whole model, whose stored proof is then reused as it is
    (run_unbounded reports the chosen properties only). Without it, one property alone
    would send Houdini over the stored set again and could end ``unknown`` where the cell's
    full run proves it."""
    from mhmailbox.model.user_variant import catalog_of

    from . import store

    model, system, bounds = general_model(cell, props, args)
    sym = Symbolic(system, UNBOUNDED, sort="int")
    if not props or not model.properties or store.lookup(model, sym)[0] is not None:
        return model, system, bounds, sym
    full = list(catalog_of([cell[0]]))
    if {p.id for p in full} == {p.id for p in props}:
        return model, system, bounds, sym
    fmodel, fsystem, fbounds = general_model(cell, full, args)
    fsym = Symbolic(fsystem, UNBOUNDED, sort="int")
    if store.lookup(fmodel, fsym)[0] is not None:
        return fmodel, fsystem, fbounds, fsym
    return model, system, bounds, sym


def _certify(directory: str, engine: str, model: Model, sym: Symbolic, verdicts: dict) -> dict[int, str]:
    """Write the certificates of the verdicts proved relative to a proved set; monitor -> folder."""
    proofs = [cert.ProofOf(m, v.depth or 1, tuple(v.invariants.names), tuple(v.invariants.exprs))
              for m, v in sorted(verdicts.items()) if v.verdict == "proved" and v.invariants is not None]
    folder = cert.write_cell(directory, engine, model, sym, proofs, model.properties)
    return {p.monitor: folder for p in proofs} if folder else {}


def _with_coverage(results: list[Result], cell: tuple, props: list, args) -> list[Result]:
    """A passing verdict whose monitor no run of the cell's bounded model reaches is ``vacuous``
    (model/coverage.py: every run of the bounded model is one of the generalized model)."""
    from mhmailbox.model.coverage import vacuity

    return vacuity(results, cell, props, cell_bounds(args), _time_limit(args) if args is not None else DEFAULT_TIME)


def _bmc_engine(cell, props, args):
    return _with_coverage(run_bmc(cell, props, args), cell, props, args)


def _kind_engine(cell, props, args):
    return _with_coverage(run_unbounded("kind", cell, props, args), cell, props, args)


def _pdr_engine(cell, props, args):
    return _with_coverage(run_unbounded("pdr", cell, props, args), cell, props, args)


ENGINES["bmc"] = _bmc_engine
ENGINES["kind"] = _kind_engine
ENGINES["pdr"] = _pdr_engine


# ---------------------------------------------------------------- bounded-wait is tight

def tightness_witness(variant: str, memory: str, guest: str, *, deadline: int | None = None,
                      quantum: int | None = None, time_limit: float = 20.0, depth: int = 60):
    """A trace on which a command's wait reaches the bound of timeout.bounded-wait, or None.

    The host reads the clock every Q ticks, so in integer ticks the longest wait is
    Q * ceil(D / Q) <= D + Q - 1 (a real clock read may come just before a burst ends:
    the catalog's D + Q is that limit). The witness reaches D + Q - 1 ticks, which
    needs D = 1 mod Q: so the bound cannot be lowered by more than the one-tick
    discretization. None if no such trace is found within ``depth`` steps.

    With ``deadline``/``quantum`` None they are left free (Z3 picks them, up to 2**16);
    the trace's step 0 records the values. Returns (Result-like dict, D, Q) or None.
    """
    free = deadline is None or quantum is None
    bounds = Bounds(deadline=deadline or 2, quantum=quantum or 1, symbolic_time=free)
    model = build(variant, memory, guest, "faithful", bounds, [BY_ID["timeout.bounded-wait"]])
    D, Q = (V("k.D"), V("k.Q")) if free else (deadline, quantum)
    # free: ask for a quantum of at least 2, so the witness shows the overshoot past D
    reach = Monitor("timeout.bounded-wait:reached",
                    And(V("x.el").ge(V("k.D") + V("k.Q") - 1), V("k.Q").ge(2)) if free else V("x.el").ge(D + Q - 1))
    model.system.monitors[:] = [reach]
    system = model.system.reduced()
    gen = Generalize(free_time=free)
    sym = Symbolic(system, gen, sort="bv")
    factory = bmc_mod.compiled_factory(system)
    run = bmc_mod.bmc(sym, factory, depth, time_limit)
    cex = run.found.get(0)
    if cex is None:
        return None
    trace = trace_of(model, cex, factory, gen)
    d = cex.values.get("k.D", deadline)
    q = cex.values.get("k.Q", quantum)
    return {"property": "timeout.bounded-wait", "variant": model.variant, "memory": memory, "guest": guest,
            "host": "faithful", "engine": "bmc", "verdict": "reached", "depth": cex.length, "trace": trace,
            "bound": f"D={d}, Q={q}", "note": f"the wait reaches D + Q - 1 = {d + q - 1} ticks"}, d, q
