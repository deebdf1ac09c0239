"""The request-id and status-code design, as a variant of the published protocol (rfc).

Later designs (Intel TDX's MigTD among them) answer the published mailbox's
confusion between commands with two ideas, which this file adds to ``rfc`` and
nothing else:

* **Request ids.** Every request the host posts carries a fresh id in ``go``
  (a counter, never 0). The helper serves a request only when its id is newer
  than the last one it served, so a duplicate or an older id is ignored; it
  never writes ``go`` and does not clear it at start. It echoes the id in
  ``done``, and the host accepts a completion only when ``done`` equals the id
  it is waiting on.
* **Status codes.** ``ret`` says what the helper did: 0 only for a request it
  carried out, an error code otherwise (an unknown command, a page it did not
  copy).
* **Checked lengths.** The host reads the response header's length once into
  its own memory, checks it, and uses that copy.

Everything else stays as published: no barriers in the helper, pages in
plaintext, no address check, a failed INIT ignored, INIT kept after RESET, and
no wait for a timed-out request to be consumed. docs/review-reqid.md is the
tool's review of this design.

Run it with ``mhmailbox verify --variant examples/variants/reqid.py:RequestId``.
"""
from __future__ import annotations

from typing import ClassVar

from mhmailbox.model import values as val
from mhmailbox.model.expr import And, Expr, Ite
from mhmailbox.model.program import Read, Thread, Write
from mhmailbox.model.properties import Property
from mhmailbox.model.variants import Hardened, Rfc, flag, g

AT_MOST_ONCE = Property(
    "reqid.at-most-once", "guest", (),
    "The helper carries out each request id at most once, whatever the host writes: a request whose id "
    "is not newer than every id the helper has served (a duplicate, or a replayed older id) is ignored.")


class RequestId(Rfc):
    """rfc with request ids in go/done, status codes in ret, and a header length read once."""

    name = "reqid"
    PROPERTIES = (AT_MOST_ONCE,)
    #: ``served``: the highest request id the helper has served (read by the monitor only)
    GUEST_LOCALS: ClassVar[dict[str, int]] = {**Rfc.GUEST_LOCALS, "served": 0}

    # ---- host: the pieces that are hardened's, taken as they are ------------------
    #: go = a fresh id (hardened calls it seq), done must echo it, hdr.len read once
    publish = Hardened.publish
    go_value = Hardened.go_value
    complete = Hardened.complete
    save_header = Hardened.save_header
    #: the adversary may write any id (not only rfc's 0/1/2)
    host_go_domain = Hardened.host_go_domain
    guest_done_domain = Hardened.guest_done_domain

    # ---- helper -----------------------------------------------------------------
    guest_start = Hardened.guest_start  # go is left alone at start

    def go_pending(self, go: Expr) -> Expr:
        return go.gt(g("last"))

    def guest_wait(self, G: Thread) -> None:
        G.step("wait", "spin until go carries an id newer than the last served (others are ignored)",
               Read("go", "go", "gog"), next=[(self.go_pending(g("go")), "accept"), (None, "wait")])
        G.step("accept", "a new request: serve it",
               set={"served": Ite(g("go").gt(g("served")), g("go"), g("served"))},
               ghost=flag(AT_MOST_ONCE.id, g("go").le(g("served"))))

    def guest_finish(self, G: Thread) -> None:
        status = Ite(g("did").eq(1), g("ret"), val.INVALID)
        G.step("ret", "ret = status: 0 only for a request carried out, else an error code",
               Write("ret", status, self.gghost()),
               ghost=flag("guest.refusal-reported", And(status.eq(val.OK), g("did").eq(0))))
        G.step("done", "done = the request id (echo)", Write("done", g("go"), self.gghost()),
               set={"last": g("go"), **{k: 0 for k in self.GUEST_SCRATCH + ("go",)}}, next="wait")
