"""Variants from the user's own file: ``--variant PATH.py:Class``.

A reviewer judging a new design writes it as a subclass of the public ``Rfc`` or
``Hardened`` (docs/variants.md lists the methods meant to be overridden) in a file
of their own, and names it on the command line. :func:`resolve_variant` is the one
door every command uses: it accepts a built-in name, ``broken:NAME`` or
``PATH.py:Class``, imports the file once, checks the class against the model's
rules by building its threads in every memory model, and registers it under its
name, so that forked workers and :func:`mhmailbox.model.protocol.variant_class`
find it by that name as they find ``rfc``.

Every failure is a :class:`~mhmailbox.errors.UsageError` of one line (exit 2):
the user's file is input, and a broken input deserves a message, not a traceback.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import re
import sys
import traceback
from typing import Iterable

from mhmailbox.errors import UsageError

from .broken import MUTANTS
from .expr import Expr, variables
from .program import Read, Step, Thread, Write
from .properties import CATALOG, GUESTS, HOSTS, Property
from .variants import VARIANTS, Hardened, Rfc

#: user variants resolved in this process, by the name results carry (forked workers inherit it)
REGISTERED: dict[str, type[Rfc]] = {}
#: spec as given -> name, so a spec resolved twice is imported and checked once
_BY_SPEC: dict[str, str] = {}

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.+-]*$")


class VariantError(UsageError):
    """A user variant that cannot be used: one line naming the file or the variant, thread and step."""


def is_user_spec(spec: str) -> bool:
    """``PATH.py:Class`` (as opposed to a built-in name or ``broken:NAME``)."""
    path, sep, _cls = spec.rpartition(":")
    return bool(sep) and path.endswith(".py")


def resolve_variant(spec: str) -> type[Rfc]:
    """The variant class for ``spec``: ``rfc``, ``hardened``, ``broken:NAME`` or ``PATH.py:Class``.

    A user class is checked once and registered under its name (its own ``name``
    attribute if its body sets one, else the class name); results carry that name.
    """
    if spec in VARIANTS:
        return VARIANTS[spec]
    if spec in MUTANTS:
        return MUTANTS[spec]
    if spec in REGISTERED:
        return REGISTERED[spec]
    if spec in _BY_SPEC:
        return REGISTERED[_BY_SPEC[spec]]
    if not is_user_spec(spec):
        raise VariantError(f"unknown variant {spec!r}: give rfc, hardened, broken:NAME (see `mhmailbox properties`) "
                           "or PATH.py:Class (a subclass of Rfc or Hardened in your own file; docs/variants.md)")
    cls = _load(spec)
    name = _name_of(spec, cls)
    other = REGISTERED.get(name)
    if other is not None and other is not cls:
        raise VariantError(f"{spec}: another variant is already called {name!r} in this run; set a different "
                           "`name` in one of the classes")
    cls.name = name
    check_properties(cls)
    check_variant(cls)
    REGISTERED[name] = cls
    _BY_SPEC[spec] = name
    return cls


def variant_arg(spec: str) -> str:
    """argparse type for ``--variant``: resolve (and check) ``spec``; the name results carry.

    Resolving while the arguments are parsed registers a user class before any
    worker process is forked, and turns a bad file into argparse's one-line error.
    """
    try:
        return resolve_variant(spec).name
    except VariantError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# ---------------------------------------------------------------- loading

def _load(spec: str) -> type:
    path, _, clsname = spec.rpartition(":")
    if not os.path.isfile(path):
        raise VariantError(f"variant file {path} not found" if not os.path.exists(path)
                           else f"variant file {path} is not a file")
    real = os.path.realpath(path)
    modname = "mhmailbox_user_variant_" + hashlib.sha1(real.encode()).hexdigest()[:12]
    module = sys.modules.get(modname)
    if module is None:
        module_spec = importlib.util.spec_from_file_location(modname, real)
        if module_spec is None or module_spec.loader is None:
            raise VariantError(f"variant file {path} cannot be imported (not a Python source file)")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[modname] = module  # dataclass/attrs and pickling look classes up here
        try:
            module_spec.loader.exec_module(module)
        except BaseException as exc:  # anything the user's file raises, SystemExit included
            del sys.modules[modname]
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise VariantError(f"variant file {path} does not import: {_one_line(exc)}") from None
    cls = getattr(module, clsname, None)
    if cls is None:
        found = sorted(n for n, v in vars(module).items()
                       if isinstance(v, type) and issubclass(v, Rfc) and v.__module__ == modname)
        raise VariantError(f"{path} has no class {clsname!r}"
                           + (f"; its variants: {', '.join(found)}" if found else "; it defines no variant"))
    if not (isinstance(cls, type) and issubclass(cls, Rfc)):
        raise VariantError(f"{path}:{clsname} is not a variant: a variant is a class that subclasses "
                           "mhmailbox.model.variants.Rfc or Hardened")
    if cls in (Rfc, Hardened) or cls in MUTANTS.values():
        raise VariantError(f"{path}:{clsname} is the built-in {cls.name!r}; subclass it to make a new variant")
    return cls


def _name_of(spec: str, cls: type[Rfc]) -> str:
    name = cls.__dict__.get("name", cls.__name__)
    if not isinstance(name, str) or not _NAME.match(name):
        raise VariantError(f"{spec}: the variant's name {name!r} must be a word of letters, digits and . _ + - "
                           "(it names the variant in results)")
    if name in VARIANTS or name in MUTANTS or name.startswith("broken:"):
        raise VariantError(f"{spec}: the name {name!r} is a built-in variant's; set `name` to a name of your own")
    return name


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    first = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _user_frame(exc: BaseException, cls: type) -> str:
    """Where in the user's file the failing step was written: " (FILE line N, in METHOD)"."""
    src = sys.modules.get(cls.__module__)
    fname = os.path.realpath(getattr(src, "__file__", "") or "")
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.realpath(frame.filename) == fname:
            where = f" ({os.path.basename(fname)} line {frame.lineno}, in {frame.name})"
    return where


def _failing_step(exc: BaseException) -> str:
    """", thread T, step 'L'" for the step being compiled or written when ``exc`` was raised.

    The innermost frame holding a Step is the step being compiled; failing that, the innermost
    thread being built had its last step written, and the failure is in the next one's arguments.
    """
    step, thread = None, None
    for i, (frame, _line) in enumerate(traceback.walk_tb(exc.__traceback__)):
        if i == 0:  # the frame that caught it (check_variant: its own loop variables are no clue)
            continue
        for name, value in frame.f_locals.items():
            if isinstance(value, Step):
                step = value
            elif isinstance(value, Thread) and name != "self":  # a thread being built, not one asked a question
                thread = value
    if step is not None:
        return f", thread {step.thread}, step {step.label!r}"
    if thread is not None:
        last = thread.steps[-1].label if thread.steps else None
        return f", thread {thread.name}, " + (f"the step after {last!r}" if last else "its first step")
    return ""


# ---------------------------------------------------------------- checks

def check_properties(cls: type[Rfc]) -> None:
    """A variant's own properties: well formed, ids not already in the catalog, each applying somewhere."""
    props = cls.__dict__.get("PROPERTIES", getattr(cls, "PROPERTIES", ()))
    if not isinstance(props, (tuple, list)) or not all(isinstance(p, Property) for p in props):
        raise VariantError(f"variant {cls.name}: PROPERTIES must be a tuple of mhmailbox.model.properties.Property")
    seen = {p.id for p in CATALOG}
    for p in props:
        if p.id in seen:
            raise VariantError(f"variant {cls.name}: property {p.id!r} is already "
                               + ("in the catalog" if p.id in {c.id for c in CATALOG} else "declared twice"))
        if not _NAME.match(p.id):
            raise VariantError(f"variant {cls.name}: property id {p.id!r} must be a word of letters, digits and . _ + -")
        seen.add(p.id)
        if p.side not in ("host", "guest"):
            raise VariantError(f"variant {cls.name}: property {p.id}: side must be 'host' or 'guest', not {p.side!r}")
        bad = [g for g in p.guests if g not in GUESTS]
        if bad or (p.side == "host" and not p.guests):
            raise VariantError(f"variant {cls.name}: property {p.id}: guests must be some of {', '.join(GUESTS)}"
                               + (f" (not {bad[0]!r})" if bad else ""))
        try:
            p.assumption(Expr("var", ("k.D",)), Expr("var", ("k.Q",)))
        except ValueError as exc:
            raise VariantError(f"variant {cls.name}: property {p.id}: {exc}") from None
    cls.PROPERTIES = tuple(props)


def check_variant(cls: type[Rfc]) -> None:
    """Build the variant's threads in every cell shape and memory model; refuse steps that break the rules.

    The rules: a step updates each variable at most once, reads and writes only the
    variant's shared fields, and its guard, updates and next step mention only
    variables the model declares (a thread's own locals, the shared memory, the
    ghosts, the monitor flags) and parameters the step declares.
    """
    from .memory import MODELS
    from .protocol import Bounds, build

    flagged: set[str] = set()  # every variable some step updates, to find a monitor no step sets
    shapes = [("honest", "faithful", Bounds()), ("honest", "adversarial", Bounds()),
              ("adversarial", "faithful", Bounds()),
              ("honest", "faithful", Bounds(scripts=("any",), symbolic_time=True)),
              ("slow", "faithful", Bounds(scripts=("source2", "target"), helper_first=True))]
    for memory in MODELS:
        for guest, host, bounds in shapes:
            try:
                model = build(cls, memory, guest, host, bounds)
            except Exception as exc:  # the user's code, or a rule build() enforces
                where = _failing_step(exc)
                cell = f"{memory}, {guest} guest, {host} host" + (", helper first" if bounds.helper_first else "")
                raise VariantError(f"variant {cls.name}{where} ({cell}) cannot be built{_user_frame(exc, cls)}: "
                                   f"{_one_line(exc)}") from None
            for thread in model.threads.values():
                for st in thread.steps:
                    problem = _step_problem(cls, thread, st, set(model.system.variables))
                    if problem:
                        raise VariantError(f"variant {cls.name}, thread {thread.name}, step {st.label!r}: {problem}")
                    flagged.update(n for n, _ in st.updates)
    if cls.lemmas is not Rfc.lemmas:  # evaluated on the models the proofs build: any script, symbolic time
        for memory in MODELS:
            for guest in GUESTS:
                for host in HOSTS:
                    try:
                        model = build(cls, memory, guest, host, Bounds(scripts=("any",), symbolic_time=True))
                    except Exception as exc:  # the user's code, or a rule build() enforces
                        raise VariantError(f"variant {cls.name}{_failing_step(exc)} ({memory}, {guest} guest, {host} host, "
                                           f"any script) cannot be built{_user_frame(exc, cls)}: {_one_line(exc)}") from None
                    variant_lemmas(cls, model)
    for p in cls.PROPERTIES:
        if type(p).bad is Property.bad and f"v.{p.id}" not in flagged:
            raise VariantError(f"variant {cls.name}: no step sets the monitor of its property {p.id} "
                               f"(flag({p.id!r}, condition) in a step's ghost=): it could never fail")


def variant_lemmas(cls: type[Rfc], model) -> list[tuple[str, Expr]]:
    """``(name, expr)`` of each lemma the variant's ``lemmas(model)`` writes for this cell, checked.

    A lemma is an ``Invariant(name, expr)`` (``mhmailbox.proofs.lemmas``; checked by shape here,
    the model being below the proofs); one that is not, that names a step a thread lacks, or that
    reads a variable the model does not declare is refused in one line naming it."""
    if cls.lemmas is Rfc.lemmas:
        return []
    cell = f"{model.memory}, {model.guest} guest, {model.host} host"
    try:
        got = list(cls().lemmas(model))
    except Exception as exc:  # the user's code: a step its at() names that the thread lacks, ...
        raise VariantError(f"variant {cls.name}: its lemmas ({cell}) fail{_user_frame(exc, cls)}: "
                           f"{_one_line(exc)}") from None
    declared = set(model.system.variables)
    out = []
    for i, lem in enumerate(got, 1):
        name, e = getattr(lem, "name", None), getattr(lem, "expr", None)
        if not isinstance(name, str) or not isinstance(e, Expr):
            raise VariantError(f"variant {cls.name}: lemma {i} ({lem!r:.60}) is not an Invariant(name, expr) "
                               "from mhmailbox.proofs.lemmas")
        unknown = sorted(variables(e) - declared)
        if unknown:
            raise VariantError(f"variant {cls.name}: lemma {name!r} reads unknown variable {unknown[0]} ({cell})")
        stray = sorted(_params(e))
        if stray:
            raise VariantError(f"variant {cls.name}: lemma {name!r} uses step parameter {stray[0]!r}")
        out.append((name, e))
    return out


def _step_problem(cls: type[Rfc], thread, st, declared: set[str]) -> str | None:
    names = [n for n, _ in st.updates]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        return f"{twice[0]} updated twice in one step"
    op = st.mem
    if isinstance(op, (Read, Write)) and op.field not in cls.FIELDS:
        return f"accesses {op.field!r}, which is not a shared field ({', '.join(cls.FIELDS)})"
    declared_params = {p for p, _ in st.params}
    for what, exprs in (("guard", [st.guard]), ("update", [e for _, e in st.updates]),
                        ("next step", [thread.next_pc(st)]),
                        ("write", [op.value, op.ghost] if isinstance(op, Write) else [])):
        for e in exprs:
            e = thread.resolve(e)
            unknown = sorted(variables(e) - declared)
            if unknown:
                return f"{what} reads unknown variable {unknown[0]}"
            stray = sorted(_params(e) - declared_params)
            if stray:
                return f"{what} uses parameter {stray[0]!r}, which the step does not declare (params=...)"
    return None


def _params(e: Expr) -> set[str]:
    if e.op == "param":
        return {e.args[0]}
    if e.op in ("var", "const", "true", "false", "label"):
        return set()
    out: set[str] = set()
    for a in e.args:
        if isinstance(a, Expr):
            out |= _params(a)
    return out


def catalog_of(names: Iterable[str]) -> tuple[Property, ...]:
    """The catalog for a run over these variants: the built-in properties, then each variant's own."""
    out = {p.id: p for p in CATALOG}
    for n in names:
        for p in resolve_variant(n).PROPERTIES:
            if out.setdefault(p.id, p) != p:
                raise VariantError(f"variant {n} declares property {p.id} differently from another variant of "
                                   "this run; give one of them another id")
    return tuple(out.values())


__all__ = ["resolve_variant", "variant_lemmas", "variant_arg", "catalog_of", "is_user_spec", "VariantError", "REGISTERED"]
