"""Deliberately broken variants: the hardened protocol with exactly one fault each.

Each mutant undoes one fix of ``hardened`` (docs/hardened.md) or makes one
classic mistake, in a line or two, and names the property that must catch it
and a cell where it does. The test suite checks that every property fails for
at least one of these and holds for ``hardened`` in the same cell; teachers can
run them with ``mhmailbox verify --variant broken:<name>``.
"""
from __future__ import annotations

from typing import ClassVar

from . import values as val
from .expr import Expr, Or, V, lift
from .program import Fence, Thread
from .variants import Hardened, Rfc, h


class Mutant(Hardened):
    breaks: ClassVar[str] = ""
    cell: ClassVar[tuple[str, str, str, str]] = ("sc", "slow", "faithful", "")  # memory, guest, host
    why: ClassVar[str] = ""


class NoConsumeWait(Mutant):
    """After a timeout the host publishes the next command while the helper may still read the old one."""

    name = "broken:no-consume-wait"
    breaks, cell = "order.publish", ("sc", "slow", "faithful")

    def host(self, scripts):
        H = super().host(scripts)
        H.patch("send", next="send.cmd")
        return H


class AnyDone(Mutant):
    """The host accepts any nonzero done, as published: a stale completion is taken for the current one."""

    name = "broken:any-done"
    breaks, cell = "order.response", ("sc", "slow", "faithful")

    def complete(self, done: Expr) -> Expr:
        return done.ne(0)


class HostNoRmb(Mutant):
    """The host reads ret and the page after done with no read barrier (as published)."""

    name = "broken:host-no-rmb"
    breaks, cell = "order.response", ("relaxed", "honest", "faithful")

    def host(self, scripts):
        H = super().host(scripts)
        H.patch("send.rmb", text="(no read barrier)", mem=None)
        return H


class FreshDeadline(Mutant):
    """Waiting for the previous command restarts the clock: two deadlines in one command."""

    name = "broken:fresh-deadline"
    breaks, cell = "timeout.bounded-wait", ("sc", "slow", "faithful")

    def host(self, scripts):
        H = super().host(scripts)
        H.patch("send.prevok", set={"t": 0, "nc": self.Q})
        return H


class EarlyTimeout(Mutant):
    """The host gives up one polling burst before the deadline (an off-by-one in the clock check)."""

    name = "broken:early-timeout"
    breaks, cell = "timeout.no-false-timeout", ("sc", "slow", "faithful")

    def host(self, scripts):
        H = super().host(scripts)
        early = h("t").ge(self.D - self.Q)
        H.patch("send.poll.clock", next=[(early, "send.poll.last"), (None, "send.poll")])
        return H


class DoubleFetch(Mutant):
    """The host checks hdr.len, then reads it again to emit and to copy (as published)."""

    name = "broken:double-fetch"
    breaks, cell = "adversary.header-bound", ("sc", "adversarial", "faithful")
    save_header = Rfc.save_header


class DoubleFetchBounds(DoubleFetch):
    name = "broken:double-fetch-copy"
    breaks = "adversary.in-bounds"


class InitFailureIgnored(Mutant):
    """A failed INIT is ignored and the save goes on (as published)."""

    name = "broken:init-failure-ignored"
    breaks, cell = "adversary.error-no-data", ("sc", "adversarial", "faithful")
    INIT_MUST_SUCCEED = False


class InitKeptAfterReset(Mutant):
    """Cleanup sends RESET but keeps "initialized" (as published)."""

    name = "broken:init-kept-after-reset"
    breaks, cell = "state.init-before-use", ("sc", "honest", "faithful")
    cleanup = Rfc.cleanup


class GoClearedAtStart(Mutant):
    """The helper clears go when it starts (as published): a command sent before is lost."""

    name = "broken:go-cleared-at-start"
    breaks, cell = "liveness.honest-progress", ("sc", "honest", "faithful")
    guest_start = Rfc.guest_start


class PendingNeverCleared(Mutant):
    """The host never forgets a timed-out command: every later command waits for it in vain."""

    name = "broken:pending-never-cleared"
    breaks, cell = "liveness.recovery", ("sc", "slow", "faithful")

    def host(self, scripts):
        H = super().host(scripts)
        H.patch("send.prevok", drop=("pending",))
        H.patch("send.timeout", set={"pending": h("seq")})
        return H


class PlaintextSave(Mutant):
    """ENCRYPT copies the page in plaintext (as published)."""

    name = "broken:plaintext-save"
    breaks, cell = "guest.confidential", ("sc", "honest", "adversarial")

    def sealed(self, gpa: Expr) -> Expr:
        return val.plain(gpa)


class RefusalAsSuccess(Mutant):
    """A refused command still answers ret = 0."""

    name = "broken:refusal-as-success"
    breaks, cell = "guest.refusal-reported", ("sc", "honest", "adversarial")

    def guest(self):
        G = super().guest()
        G.patch("dispatch", set={"ret": lift(val.OK)})
        return G


class ReplayAccepted(Mutant):
    """DECRYPT binds the gpa but not the migration session: an old page replays."""

    name = "broken:replay-accepted"
    breaks, cell = "guest.integrity", ("sc", "honest", "adversarial")

    def accepts(self, io: Expr, gpa: Expr) -> Expr:
        return Or(*[io.eq(val.cipher(gpa, e)) for e in range(4)])


class MailboxOnlyCheck(Mutant):
    """The helper refuses gpas in the mailbox but not beyond the end of RAM (as published for RESTORE)."""

    name = "broken:mailbox-only-check"
    breaks, cell = "guest.gpa-checked", ("sc", "honest", "adversarial")

    def in_ram(self, gpa: Expr) -> Expr:
        return gpa.ne(val.MAILBOX)


MUTANTS: dict[str, type[Mutant]] = {
    m.name: m for m in (NoConsumeWait, AnyDone, HostNoRmb, FreshDeadline, EarlyTimeout, DoubleFetch,
                        DoubleFetchBounds, InitFailureIgnored, InitKeptAfterReset, GoClearedAtStart,
                        PendingNeverCleared, PlaintextSave, RefusalAsSuccess, ReplayAccepted, MailboxOnlyCheck)
}
