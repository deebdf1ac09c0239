"""Assemble one checkable model: variant x memory model x guest x host x bounds.

This is where behaviours meet the variant's procedures:

* ``guest``: ``honest`` runs the variant's helper and may not let time pass
  while it has work; ``slow`` runs the same helper with no timing promise
  until it nondeterministically turns *prompt* (then it is honest); ``silent``
  never runs; ``adversarial`` may write any guest-writable field at any moment,
  including between two host reads of the same field: every host read of
  ret, done, hdr.len or the io page returns any value of a representative
  domain, afresh each time (no write budget; it subsumes running the helper).
* ``host``: ``faithful`` runs the variant's host; ``adversarial`` may write any
  host-writable field at any moment: every helper read of cmd_type, gpa, go or
  the io page returns any value (any command, any gpa: in RAM, inside the
  shared area, outside RAM; replayed, moved or forged pages).

Time: one integer clock, ``host.t``, counts model ticks since the current
command started. A tick is the only action that advances it, and it is
enabled only while the host busy-waits, before the host's next clock check,
when every store is visible, and when the guest's timing promise allows.
"""
from __future__ import annotations

from typing import Sequence

import attrs

from . import values as val
from .expr import And, B, Expr, Ite, Not, Or, P, V, lift
from .memory import MemoryModel, mem, mem_ghost
from .program import Thread
from .properties import CATALOG, GUESTS, HOSTS, Property, bad_expr
from .system import Action, Monitor, System
from .variants import OP_CLEANUP, OP_LOAD, OP_SAVE, VARIANTS, Rfc


@attrs.frozen
class Bounds:
    """The finite bounds of an explicit check (reported with every verdict)."""

    #: the faithful host's migration scripts (chosen nondeterministically at start)
    scripts: tuple[str, ...] = ("source", "target")
    deadline: int = 2  #: ticks
    quantum: int = 1  #: ticks per polling burst
    capacity: int = 2  #: store-buffer entries per thread
    #: deadline and quantum as state constants k.D, k.Q (Z3 leaves them free)
    symbolic_time: bool = False
    #: the helper has started before the host's first command (isolates findings
    #: from the published helper's "go = 0 at start")
    helper_first: bool = False

    def describe(self, host: str) -> str:
        if host == "adversarial":
            return f"sb={self.capacity}, sessions<={MAX_SESSIONS}"
        return (f"scripts={'+'.join(self.scripts)}, D={self.deadline}, Q={self.quantum}, sb={self.capacity}"
                + (", helper first" if self.helper_first else ""))


#: Host migration scripts: (operation, gpa) in order. Each runs two migrations
#: (the second after cleanup) over both private gpas: 5 commands for a source.
SCRIPTS: dict[str, tuple[tuple[int, int], ...] | None] = {
    "any": None,  # unbounded: any operation, any number of times (depth-bounded here; Z3 proves it unbounded)
    "source": ((OP_SAVE, val.G0), (OP_CLEANUP, 0), (OP_SAVE, val.G1)),
    "target": ((OP_LOAD, val.G0), (OP_CLEANUP, 0), (OP_LOAD, val.G1)),
    "source2": ((OP_SAVE, val.G0), (OP_SAVE, val.G1), (OP_CLEANUP, 0), (OP_SAVE, val.G0)),
}

#: Against the adversarial host, the helper serves at most this many sessions (INITs).
MAX_SESSIONS = 3

GHOSTS = {"x.el": 0, "x.failed": 0, "x.seen": 0, "x.ginit": 0, "x.epoch": 0, "x.prompt": 0, "x.prompt_at": 0}


@attrs.define
class Model:
    variant: str
    memory: str
    guest: str
    host: str
    bounds: Bounds
    system: System
    threads: dict[str, Thread]
    properties: list[Property]
    memory_model: MemoryModel

    def label(self, thread: str, pc: int) -> str:
        t = self.threads.get(thread)
        return t.steps[pc].label if t and 0 <= pc < len(t.steps) else str(pc)


def build(
    variant: str | type[Rfc],
    memory: str = "sc",
    guest: str = "honest",
    host: str = "faithful",
    bounds: Bounds | None = None,
    properties: Sequence[Property] | None = None,
) -> Model:
    """Build the transition system for one cell; monitors for ``properties`` that apply."""
    bounds = bounds or Bounds()
    vcls = variant_class(variant) if isinstance(variant, str) else variant
    if guest not in GUESTS:
        raise ValueError(f"unknown guest behaviour {guest!r}; choose one of {', '.join(GUESTS)}")
    if host not in HOSTS:
        raise ValueError(f"unknown host behaviour {host!r}; choose one of {', '.join(HOSTS)}")
    if bounds.symbolic_time:
        # constants the Z3 engines leave free (any positive values); the explicit
        # checker runs them at their initial values
        system_time = (V("k.D"), V("k.Q"))
    else:
        system_time = (lift(bounds.deadline), lift(bounds.quantum))
    v = vcls(*system_time)
    mm = MemoryModel(memory, vcls.FIELDS, capacity=bounds.capacity)
    system = System()
    if bounds.symbolic_time:
        system.declare("k.D", bounds.deadline)
        system.declare("k.Q", bounds.quantum)

    threads: dict[str, Thread] = {}
    if host == "faithful":
        scripts = [SCRIPTS[name] for name in bounds.scripts]
        if any(sc is None for sc in scripts):
            if len(scripts) > 1:
                raise ValueError("script 'any' cannot be combined with other scripts")
            scripts = []
        threads["host"] = v.host(scripts)
    n_cmds = 2 * max(len(SCRIPTS[s] or ()) for s in bounds.scripts) + 1
    if "host" in threads and guest == "adversarial":
        threads["host"].havoc_reads({
            "ret": (val.OK, val.INVALID, val.RET_UNKNOWN),
            "done": v.guest_done_domain(n_cmds),
            "hdr_len": val.HLEN_ADVERSARY,
            "io": (val.FORGED, 2),  # forged bytes, or the plaintext of another page
        }, ghost=1)
    if guest in ("honest", "slow"):
        threads["guest"] = v.guest()
        if bounds.helper_first and "host" in threads:
            threads["host"].patch("begin", guard=V("guest.pc").ne(threads["guest"].pc_of("start")))
        if host == "adversarial":
            threads["guest"].havoc_reads({
                "cmd": (val.INIT, val.ENCRYPT, val.DECRYPT, val.RESET, val.CMD_BAD),
                "gpa": (val.G0, val.G1, val.MAILBOX, val.OUTSIDE),
                "go": v.host_go_domain(4),
                # PLAIN(G1), FORGED, CIPHER(G0,m1), CIPHER(G1,m1), CIPHER(G0,m2): sessions start at 1
                "io": (2, val.FORGED, 6, 7, 8),
            }, ghost=0)
            # bound: the helper serves commands of at most MAX_SESSIONS migration sessions
            threads["guest"].patch("wait", guard=V("guest.epoch").lt(MAX_SESSIONS))

    # ---- variables: threads, memory, ghosts, monitor flags
    for t in threads.values():
        system.declare(t.pc_var)
        for name, init in t.locals.items():
            system.declare(t.var(name), init)
    mm.declare(system, list(threads.values()), {})
    for name, init in GHOSTS.items():
        system.declare(name, init)
    catalog = variant_catalog(vcls)
    for p in catalog:
        system.declare(f"v.{p.id}")

    # ---- the threads' steps under the memory model
    for t in threads.values():
        for st in t.steps:
            for act in mm.compile(t, st, t.name):
                system.add(act)
    for act in mm.background(list(threads.values())):
        system.add(act)
    # every variable an action writes must exist
    for act in system.actions:
        for name, _ in act.updates:
            if name not in system.variables:
                raise KeyError(f"{act.name} updates undeclared {name}")

    # ---- time
    if "host" in threads:
        H = threads["host"]
        allow = [v.waiting(H), V("host.t").lt(V("host.nc")), mm.quiescent(list(threads.values()))]
        if "guest" in threads:
            busy = v.guest_busy(threads["guest"], V(mem("go")))
            if guest == "honest":
                allow.append(Not(busy))
            elif guest == "slow":
                allow.append(Or(V("x.prompt").eq(0), Not(busy)))
        seen = B(Or(V("x.seen").eq(1), And(v.completion_visible(), V("x.el").lt(v.D))))
        system.add(Action("tick", "time", "one tick passes", And(*allow),
                          (("host.t", V("host.t") + 1), ("x.el", V("x.el") + 1), ("x.seen", seen)), kind="tick"))
    if guest == "slow" and "guest" in threads:
        system.add(Action("prompt", "guest", "the slow helper becomes prompt (answers within the deadline from now on)",
                          V("x.prompt").eq(0), (("x.prompt", lift(1)), ("x.prompt_at", V("host.id"))), kind="adversary"))

    # ---- monitors
    chosen = [p for p in (properties or catalog) if p.applies(guest, host) and p in catalog]
    for p in chosen:
        system.monitors.append(Monitor(p.id, bad_expr(p, v.D, v.Q)))
    return Model(variant=vcls.name, memory=memory, guest=guest, host=host, bounds=bounds, system=system,
                 threads=threads, properties=chosen, memory_model=mm)


def variant_class(name: str) -> type[Rfc]:
    """``rfc``, ``hardened``, a teaching mutant ``broken:<name>`` (model/broken.py), or a user
    variant: ``PATH.py:Class``, or the name it was registered under (model/user_variant.py)."""
    if name in VARIANTS:
        return VARIANTS[name]
    from .user_variant import resolve_variant

    return resolve_variant(name)


def variant_catalog(vcls: type[Rfc]) -> tuple[Property, ...]:
    """The properties judged for this variant: the catalog, then the variant's own ``PROPERTIES``."""
    return CATALOG + tuple(p for p in vcls.PROPERTIES if p not in CATALOG)


def cells(variants: Sequence[str], memories: Sequence[str], guests: Sequence[str] | None = None,
          properties: Sequence[Property] | None = None) -> list[tuple[str, str, str, str]]:
    """Every (variant, memory, guest, host) cell where some chosen property applies."""
    props = list(properties or CATALOG)
    out = []
    for var in variants:
        for m in memories:
            for gb in GUESTS:
                if guests and gb not in guests:
                    continue
                for hb in HOSTS:
                    if any(p.applies(gb, hb) for p in props):
                        out.append((var, m, gb, hb))
    return out
