"""The property catalog: stable ids, one paragraph each, and where each applies.

A property is checked in *cells* (variant x memory x guest behaviour x host
behaviour). Host-side properties run the variant's own host against each guest
behaviour it speaks about; guest-side properties (``guest.*``) run the
variant's helper against the adversarial host. Cells that do not apply (say,
``order.response`` against an adversarial guest, who can forge any response)
are not reported. docs/properties.md is generated from this table.
"""
from __future__ import annotations

import attrs

from .expr import Expr, V, evaluate, lift

GUESTS = ("honest", "slow", "silent", "adversarial")
HOSTS = ("faithful", "adversarial")


@attrs.frozen
class Property:
    id: str
    side: str  # "host" or "guest"
    guests: tuple[str, ...]  # guest behaviours it is checked against (host side)
    text: str

    #: the condition on the deadline D and the polling quantum Q under which the property is
    #: claimed ("" if none); the unbounded proofs prove it under this condition, and a
    #: counterexample at bounds outside it is a fact about the model, not a refutation
    assumes: str = ""

    def assumption(self, deadline: Expr, quantum: Expr) -> Expr | None:
        """The assumption as an expression over ``deadline`` and ``quantum`` (None if there is none)."""
        if not self.assumes:
            return None
        if self.assumes == "Q < D":
            return lift(quantum).lt(lift(deadline))
        raise ValueError(f"unknown assumption {self.assumes!r}")

    def holds_for(self, deadline: int, quantum: int) -> bool:
        """Whether concrete bounds satisfy the assumption."""
        e = self.assumption(lift(deadline), lift(quantum))
        return True if e is None else bool(evaluate(e, {}))

    def applies(self, guest: str, host: str) -> bool:
        if self.side == "guest":
            return host == "adversarial" and guest == "honest"
        return host == "faithful" and guest in self.guests

    def bad(self, deadline: Expr, quantum: Expr) -> Expr:
        if self.id == "timeout.bounded-wait":
            return V("x.el").gt(deadline + quantum)  # the ghost clock, not the host's own
        return V(f"v.{self.id}").eq(1)


CATALOG: tuple[Property, ...] = (
    Property("order.publish", "host", ("honest", "slow"),
             "The guest acts on exactly the parameters the host published with the go it consumed: "
             "the cmd_type and gpa the helper reads were written by the host for the same command as "
             "the go value it saw (no torn or stale parameters)."),
    Property("order.response", "host", ("honest", "slow"),
             "A response the host accepts was produced for the command the host is waiting on, and was "
             "read after the guest wrote it: the done, ret and (for ENCRYPT) io page the host reads all "
             "come from the helper's work on the current command (no stale completion, no early read)."),
    Property("timeout.bounded-wait", "host", GUESTS,
             "Every host command returns within deadline + one polling quantum, whatever the guest does "
             "(model time since the command started never exceeds deadline + quantum)."),
    Property("timeout.no-false-timeout", "host", ("honest", "slow"),
             "A guest that completes within the deadline is never reported as timed out: if the "
             "current command's completion was visible in memory before the deadline, the host does "
             "not report a timeout."),
    Property("adversary.header-bound", "host", GUESTS,
             "The host never emits a header longer than 1024 bytes, and the length it emits equals the "
             "length it checked and the number of header bytes that follow."),
    Property("adversary.in-bounds", "host", GUESTS,
             "The host never reads or writes outside the shared area: every header copy ends within "
             "the two shared pages."),
    Property("adversary.error-no-data", "host", GUESTS,
             "When the guest reports failure or a command times out, the operation emits no page record "
             "and does not report success."),
    Property("state.init-before-use", "host", GUESTS,
             "ENCRYPT and DECRYPT are only sent after an INIT that succeeded since the last RESET."),
    Property("liveness.honest-progress", "host", ("honest",),
             "With an honest guest (one that answers every command it sees within the deadline), every "
             "command succeeds; with bounded-wait this is a bounded response."),
    Property("liveness.recovery", "host", ("slow",),
             "After a timeout, once the guest answers within the deadline again, every command the host "
             "starts afterwards succeeds (the bound is one command: the first command started after the "
             "guest became prompt), and no wrong page is accepted at any point. Claimed for a polling "
             "quantum shorter than the deadline: with quantum >= deadline the host may spend the whole "
             "deadline of a command noticing that the previous, timed-out one has completed.",
             assumes="Q < D"),
    Property("guest.confidential", "guest", (),
             "No plaintext of a private guest page is ever written to the shared area by the helper."),
    Property("guest.refusal-reported", "guest", (),
             "The guest never reports success for a command it did not carry out."),
    Property("guest.integrity", "guest", (),
             "Found by review: the target helper never writes into guest RAM a page that is not the "
             "authentic page for that gpa in this migration (no tampered, moved or replayed page)."),
    Property("guest.gpa-checked", "guest", (),
             "Found by review: the helper never touches a gpa outside guest RAM or inside the shared "
             "area on the host's request; such a request gets an error."),
)

BY_ID = {p.id: p for p in CATALOG}


def recovery_bad(deadline: Expr, quantum: Expr) -> Expr:
    """liveness.recovery also fails when a wrong page is accepted."""
    from .expr import Or

    return Or(V("v.liveness.recovery").eq(1), V("v.order.response").eq(1))


def bad_expr(prop: Property, deadline: Expr, quantum: Expr) -> Expr:
    if prop.id == "liveness.recovery":
        return recovery_bad(deadline, quantum)
    return prop.bad(deadline, quantum)


def lookup(pid: str) -> Property:
    try:
        return BY_ID[pid]
    except KeyError:
        raise KeyError(f"unknown property {pid!r}; known: {', '.join(BY_ID)}") from None


__all__ = ["CATALOG", "BY_ID", "Property", "GUESTS", "HOSTS", "lookup", "bad_expr", "lift"]
