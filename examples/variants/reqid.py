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
from mhmailbox.proofs.lemmas import In, Invariant, Not, Or, V, at, fifo_phases, implies, latest, lift
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

    # ---- proofs -----------------------------------------------------------------
    def lemmas(self, model) -> list[Invariant]:
        """The handshake's phases (docs/variants.md, "Your own lemmas"): see :func:`phase_lemmas`."""
        return phase_lemmas(model)  # (and slow_lemmas for a slow helper under sc)


def _host_facts(model, H, G, S, in_call) -> list:
    """What holds whatever the helper does: where the threads rest, the host's clock, call sites
    and commands, and its checked copy of the response header's length."""
    resting = {t: sorted({a.name.split(":", 1)[1].split("@", 1)[0] for a in model.system.actions
                          if a.name.startswith(f"{t}:") and not a.local} | {"begin" if t == "host" else "start"})
               for t in ("host", "guest")}
    calls = (("save.inited", 0), ("load.inited", 0), ("save.encd", 1), ("load.decd", 2), ("cleanup.done", 3))
    return [
        ("the host rests only at its memory accesses", H(*resting["host"])),
        ("the helper rests only at its memory accesses", G(*resting["guest"])),
        ("deadline and quantum are positive", And(V("k.D").ge(1), V("k.Q").ge(1))),
        ("past the deadline only after the clock said so", implies(H("send.poll.last"), V("host.t").ge(V("k.D")))),
        ("in a command the ghost clock is the host's, and its burst ends by D + Q",
         implies(in_call, And(V("x.el").eq(V("host.t")), V("host.t").le(V("host.nc")),
                               V("host.nc").le(V("k.D") + V("k.Q"))))),
        ("the host only asks for pages in RAM", And(In(V("host.gpa"), [0, 1]), In(V("host.cgpa"), [0, 1]))),
        ("a call returns to one of its call sites", implies(in_call, In(V("host.ret_to"), [H.index(b) for b, _ in calls]))),
        *[(f"a command called from {back} is command {code}",
           implies(And(V("host.ret_to").eq(H.index(back)), in_call), V("host.cmd").eq(code))) for back, code in calls],
        ("saving: the header length was read once and checked",
         implies(H("save.page"), And(V("host.l1").le(1024), V("host.l2").eq(V("host.l1")), V("host.l3").eq(V("host.l1"))))),
    ]


def _publishing(H, M, MG, I, ret: bool = True) -> tuple[str, Expr]:
    """Publishing a command: what the host has written so far is its current command's (``ret``:
    also ret = -1, which a slow helper answering an older request may overwrite)."""
    return ("publishing: the parameters written so far are this command's", And(
        implies(H("send.gpa", "send.ret", "send.wmb", "send.go"), And(MG("cmd").eq(I + I), M("cmd").eq(V("host.cmd")))),
        implies(H("send.ret", "send.wmb", "send.go"), And(MG("gpa").eq(I + I), M("gpa").eq(V("host.cgpa")))),
        *([implies(H("send.wmb", "send.go"), And(M("ret").eq(-1), MG("ret").eq(I + I)))] if ret else [])))


def phase_lemmas(model) -> list[Invariant]:
    """What kind needs, beyond the mined facts, to prove the order, timeout and liveness properties
    with a faithful host and an honest helper under sc and tso: the phase of the command in flight.

    ``S`` is the host's ``seq`` (the id of its current request), ``I`` its command count ``id``; the
    host writes command ``I`` with the ghost ``2*I`` and the helper answers with ``2*I + 1``, so the
    ghost ``P`` of the last go written is ``2*S`` once published. While the host waits for ``S`` the
    helper has either not taken it (``last == done == S - 1``), is serving it (``go == S``), or has
    finished it (``last == done == S``); between commands it has finished the last one. The same
    ideas as ``hardened``'s built-in lemmas, on the published host (no pending command to wait out).
    """
    if model.host != "faithful" or model.guest not in ("honest", "slow"):
        return []
    if model.memory == "relaxed":  # the host's own facts only: the order and liveness properties fail there
        H, G = at(model, "host"), at(model, "guest")
        in_call = H("send.cmd", "send.gpa", "send.ret", "send.wmb", "send.go", "send.poll", "send.poll.last", "send.got")
        return [Invariant(name, e) for name, e in _host_facts(model, H, G, V("host.seq"), in_call)]
    if model.guest == "slow":
        return slow_lemmas(model)
    H, G = at(model, "host"), at(model, "guest")
    M, MG = latest(model, "v"), latest(model, "g")  # the newest value of a field (under tso: buffered or not)
    S, I, P = V("host.seq"), V("host.id"), MG("go")
    last, done, go = V("guest.last"), M("done"), M("go")
    before_go = H("send.gpa", "send.ret", "send.wmb", "send.go")  # seq bumped, go not yet written
    waiting = H("send.poll", "send.poll.last")
    seen = H("send.got")
    inflight = Or(waiting, seen)
    between = H("begin", "idle", "save.len1", "save.page", "load.len", "load.page")
    in_call = Or(H("send.cmd"), before_go, waiting, seen)
    working = G("accept", "cmd", "gpa", "dispatch", "save", "restore", "restore.copy", "ret", "done")
    not_taken = And(G("wait"), last.eq(S - 1), done.eq(S - 1), MG("done").lt(P))
    taking = And(working, V("guest.go").eq(S), V("guest.gog").eq(P), last.eq(S - 1), done.eq(S - 1),
                 MG("done").lt(P))
    finished = And(G("wait"), last.eq(S), done.eq(S), MG("done").eq(P + 1))
    quiet = And(G("wait"), last.eq(S), done.eq(S), go.eq(S),
                Or(MG("done").eq(P + 1), And(S.eq(0), P.eq(0), MG("done").eq(0))))
    facts = _host_facts(model, H, G, S, Or(H("send.cmd"), before_go, inflight)) + [
        ("seq counts the commands published; a command being published is one of them",
         And(S.ge(0), implies(Or(before_go, inflight), S.ge(1)))),
        ("id and seq advance together (id first, when the command starts)",
         Or(And(H("send.cmd"), I.eq(S + 1)), And(Not(H("send.cmd")), I.eq(S)))),
        ("go's ghost is twice the last seq published", Or(And(before_go, P.eq(S + S - 2)), And(Not(before_go), P.eq(S + S)))),
        ("between commands: the helper has finished the last one", implies(Or(between, H("send.cmd")), quiet)),
        ("publishing: the helper is idle on the previous command",
         implies(before_go, And(G("wait"), last.eq(S - 1), done.eq(S - 1), go.eq(S - 1),
                                 Or(MG("done").eq(P + 1), And(S.eq(1), P.eq(0), MG("done").eq(0)))))),
        _publishing(H, M, MG, I),
        ("in flight: not taken, being served, or finished",
         implies(inflight, And(MG("cmd").eq(P), MG("gpa").eq(P), go.eq(S), S.ge(1),
                                Or(not_taken, taking, finished)))),
        ("the parameters in memory are the host's",
         implies(inflight, And(M("cmd").eq(V("host.cmd")), M("gpa").eq(V("host.cgpa"))))),
        ("no completion is seen before the command is published",
         implies(Or(H("send.cmd"), before_go), V("x.seen").eq(0))),
        ("a completion seen while waiting is this command's, and stays",
         implies(And(V("x.seen").eq(1), waiting), And(finished, V("m.done").eq(S)))),
        ("done == seq seen: the helper has finished this command", implies(seen, And(finished, V("host.dg").eq(P + 1)))),
        ("a helper at work read this command's cmd_type",
         implies(And(G("gpa", "dispatch", "save", "restore", "restore.copy", "ret", "done"), inflight),
                  And(V("guest.cmdg").eq(P), V("guest.cmd").eq(V("host.cmd"))))),
        ("a helper at work read this command's gpa",
         implies(And(G("dispatch", "save", "restore", "restore.copy", "ret", "done"), inflight),
                  V("guest.gpa").eq(V("host.cgpa")))),
        ("a helper past ret wrote this command's ret",
         implies(And(G("done"), inflight), And(MG("ret").eq(P + 1), M("ret").eq(V("guest.ret"))))),
        ("finished: ret is this command's", implies(And(finished, inflight), MG("ret").eq(P + 1))),
        ("done never runs ahead of the host's seq", done.le(S)),
        ("a helper past dispatch knows the command", implies(And(G("save", "restore", "restore.copy", "ret", "done"),
                                                                 inflight), V("guest.ret").eq(0))),
        ("an honest result is OK: the helper's status",
         implies(And(G("ret", "done"), inflight), And(V("guest.ret").eq(0), V("guest.did").eq(1)))),
        ("an honest result is OK: ret in memory", implies(And(Or(finished, G("done")), inflight), M("ret").eq(0))),
        ("the helper's branch is its command's", And(implies(G("save"), V("guest.cmd").eq(1)),
                                                     implies(G("restore", "restore.copy"), V("guest.cmd").eq(2)))),
        ("an ENCRYPT's io page is the helper's output for it",
         implies(And(V("host.cmd").eq(1), inflight, Or(finished, G("ret", "done"))), MG("io").eq(P + 1))),
        ("saving: the io page the host copies is this ENCRYPT's output",
         implies(H("save.len1", "save.page"), And(MG("io").eq(P + 1), V("host.cmd").eq(1)))),
        ("with an honest helper nothing ever fails", V("x.failed").eq(0)),
        ("no time passes before a command is published", implies(Or(H("send.cmd"), before_go), V("host.t").eq(0))),
        ("no time passes until the current command's done is in memory",
         implies(And(waiting, Not(And(finished, V("m.done").eq(S)))), V("host.t").eq(0))),
    ]
    if model.memory == "tso":
        facts += _store_buffers(model, H, G, S, P, I, waiting, seen, not_taken, finished, between, before_go)
    return [Invariant(name, e) for name, e in facts]


def _host_buffers(model, H, S, I, waiting, seen, between, before_go, timeouts: bool = False) -> list:
    """tso: the store buffers' shape, and (unless a command may time out, leaving its stores
    buffered into the next) the host's stores in its buffer at each step of a command."""
    mm = model.memory_model
    cap = mm.capacity
    writes = {"host": ("cmd", "gpa", "ret", "go", "hdr_len", "io"), "guest": ("io", "ret", "done")}

    n = _n
    def newest(order: tuple) -> Expr:
        """The host's buffer ends with (a suffix of) these stores of its current command, as written."""
        value = {"cmd": V("host.cmd"), "gpa": V("host.cgpa"), "ret": lift(-1), "go": S}
        cases = [n("host").eq(0)]
        for k in range(1, min(cap, len(order)) + 1):
            cases.append(And(n("host").eq(k), *[And(V(f"host.sb{i}.f").eq(mm.fid(f)), V(f"host.sb{i}.g").eq(I + I),
                                                    V(f"host.sb{i}.v").eq(value[f]))
                                                for i, f in enumerate(order[-k:])]))
        if len(order) < cap:  # an older entry may be a load's request, written before the command
            cases.append(And(n("host").eq(len(order) + 1), In(V("host.sb0.f"), [mm.fid("hdr_len"), mm.fid("io")]),
                             *[And(V(f"host.sb{i + 1}.f").eq(mm.fid(f)), V(f"host.sb{i + 1}.g").eq(I + I),
                                   V(f"host.sb{i + 1}.v").eq(value[f])) for i, f in enumerate(order)]))
        return Or(*cases)

    inflight = Or(waiting, seen)
    host_empty = n("host").eq(0)
    out = []
    for t in ("host", "guest"):
        out.append((f"the {t}'s store buffer holds 0..{cap} entries", And(n(t).ge(0), n(t).le(cap))))
        for i in range(cap):
            out.append((f"the {t}'s buffer slot {i} is empty beyond the count",
                        implies(n(t).le(i), And(*[V(f"{t}.sb{i}.{x}").eq(0) for x in ("f", "v", "g")]))))
            out.append((f"the {t}'s buffer slot {i} holds a field it writes",
                        implies(n(t).gt(i), In(V(f"{t}.sb{i}.f"), [mm.fid(f) for f in writes[t]]))))
    if timeouts:
        return out
    lreq = Or(*[And(n("host").eq(len(sh)), *[V(f"host.sb{i}.f").eq(mm.fid(f)) for i, f in enumerate(sh)])
                for sh in ((), ("hdr_len",), ("io",), ("hdr_len", "io"))])
    out += [
        ("a load's request is the host's only store before a command", implies(Or(between, H("send.cmd")), lreq)),
        ("writing a load's page: only its length may still be buffered",
         implies(H("load.page"), Or(host_empty, And(n("host").eq(1), V("host.sb0.f").eq(mm.fid("hdr_len")))))),
        ("before a load, nothing is buffered", implies(H("begin", "idle", "save.len1", "save.page", "load.len"), host_empty)),
        ("publishing: cmd_type is the newest store", implies(H("send.gpa"), newest(("cmd",)))),
        ("publishing: then gpa", implies(H("send.ret"), newest(("cmd", "gpa")))),
        ("publishing: then ret = -1", implies(H("send.wmb", "send.go"), newest(("cmd", "gpa", "ret")))),
        ("published: go is the newest store", implies(inflight, newest(("cmd", "gpa", "ret", "go")))),
    ]
    return out


def _n(t: str) -> Expr:
    return V(f"{t}.sb.n")


def _has(model, t: str, f: str) -> Expr:
    """Thread ``t``'s store buffer holds a store to field ``f``."""
    mm = model.memory_model
    return Or(*[And(_n(t).gt(i), V(f"{t}.sb{i}.f").eq(mm.fid(f))) for i in range(mm.capacity)])


def _store_buffers(model, H, G, S, P, I, waiting, seen, not_taken, finished, between, before_go) -> list:
    """tso, honest helper: where the stores of the command in flight are, in each phase (FIFO buffers)."""
    mm = model.memory_model
    n = _n
    inflight = Or(waiting, seen)
    guest_empty = n("guest").eq(0)
    out = _host_buffers(model, H, S, I, waiting, seen, between, before_go)
    out += [
        *fifo_phases(model, S, P, inflight, not_taken, Not(not_taken), finished, seen),
        ("before publishing, no go is buffered and the helper's stores are in memory",
         implies(Or(between, H("send.cmd"), before_go), And(Not(_has(model, "host", "go")), guest_empty))),
        ("the helper's stores leave in program order: done last", implies(
            G("wait"), Or(guest_empty, And(n("guest").eq(1), V("guest.sb0.f").eq(mm.fid("done"))),
                          And(n("guest").eq(2), V("guest.sb0.f").eq(mm.fid("ret")), V("guest.sb1.f").eq(mm.fid("done")))))),
        ("the helper's stores so far, in program order", And(
            implies(G("cmd", "gpa", "save", "restore"), guest_empty),
            implies(G("ret"), Or(guest_empty, And(n("guest").eq(1), V("guest.sb0.f").eq(mm.fid("io"))))),
            implies(G("done"), Or(guest_empty, And(n("guest").eq(1), V("guest.sb0.f").eq(mm.fid("ret"))),
                                   And(n("guest").eq(2), V("guest.sb0.f").eq(mm.fid("io")),
                                       V("guest.sb1.f").eq(mm.fid("ret"))))))),
    ]
    return out


def slow_lemmas(model) -> list[Invariant]:
    """A slow helper under sc and tso: the host may time out and publish newer requests while the helper
    still serves an older one, so there are no phases, only order: the helper serves ids in
    increasing order, none newer than the last go, and ``done`` is the last id it finished; once
    it has finished the host's current id, the ``ret`` and ``done`` in memory are that request's."""
    H, G = at(model, "host"), at(model, "guest")
    S, I = V("host.seq"), V("host.id")
    M, MG = latest(model, "v"), latest(model, "g")
    last, done, go = V("guest.last"), M("done"), M("go")
    before_go = H("send.gpa", "send.ret", "send.wmb", "send.go")
    waiting = H("send.poll", "send.poll.last")
    working = G("accept", "cmd", "gpa", "dispatch", "save", "restore", "restore.copy", "ret", "done")
    facts = _host_facts(model, H, G, S, Or(H("send.cmd"), before_go, waiting, H("send.got"))) + [
        ("id and seq advance together (id first, when the command starts)",
         Or(And(H("send.cmd"), I.eq(S + 1)), And(Not(H("send.cmd")), I.eq(S)))),
        ("go in memory is the last seq published",
         And(S.ge(0), Or(And(before_go, go.eq(S - 1), S.ge(1)), And(Not(before_go), go.eq(S))),
             implies(Or(waiting, H("send.got")), S.ge(1)))),
        ("go is the one its ghost says", And(MG("go").eq(go + go), V("mg.go").eq(V("m.go") + V("m.go")))),
        ("done in memory is the last id the helper finished", done.eq(last)),
        ("done's ghost is the helper's answer to it", And(
            Or(MG("done").eq(done + done + 1), And(done.eq(0), MG("done").eq(0))),
            Or(V("mg.done").eq(V("m.done") + V("m.done") + 1), And(V("m.done").eq(0), V("mg.done").eq(0))))),
        ("the helper has served no id newer than the last go it read", And(last.ge(0), last.le(V("m.go")), V("m.go").le(go),
                                                                          V("m.done").le(done))),
        ("the helper serves an id newer than the last it finished, not newer than the last go",
         implies(working, And(V("guest.go").gt(last), V("guest.go").le(V("m.go")), V("guest.gog").eq(V("guest.go") + V("guest.go"))))),
        ("about to write done: the ret in memory is the helper's, unless the host published since",
         implies(And(G("done"), V("guest.go").eq(S)), MG("ret").eq(V("guest.gog") + 1))),
        ("the host's current request finished: ret and done in memory are its answer",
         implies(And(last.eq(S), S.ge(1)), And(MG("ret").eq(S + S + 1), MG("done").eq(S + S + 1)))),
        ("done == seq seen: the answer read is this request's",
         implies(H("send.got"), And(V("host.dg").eq(I + I + 1), last.eq(S), V("m.done").eq(S), S.ge(1)))),
        ("no completion is seen before the command is published", implies(Or(H("send.cmd"), before_go), V("x.seen").eq(0))),
        _publishing(H, M, MG, I, ret=False),
        ("waiting: the parameters in memory are the host's",
         implies(Or(waiting, H("send.got")), And(M("cmd").eq(V("host.cmd")), M("gpa").eq(V("host.cgpa"))))),
        ("serving the request the host waits for: the command it read is the host's",
         implies(And(G("gpa", "dispatch", "save", "restore", "restore.copy", "ret", "done"), V("guest.go").eq(S),
                      Or(waiting, H("send.got"))), V("guest.cmd").eq(V("host.cmd")))),
        ("an ENCRYPT served for the request the host waits for wrote its io page",
         implies(And(G("ret", "done"), V("guest.cmd").eq(1), V("guest.go").eq(S), Or(waiting, H("send.got"))),
                  MG("io").eq(V("guest.gog") + 1))),
        ("the request the host waits for finished as an ENCRYPT: the io page is its output",
         implies(And(last.eq(S), V("host.cmd").eq(1), Or(waiting, H("send.got"))), MG("io").eq(S + S + 1))),
        ("saving: the ENCRYPT finished, and its io page is in memory",
         implies(H("save.len1", "save.page"), And(last.eq(S), S.ge(1), V("host.cmd").eq(1), MG("io").eq(I + I + 1)))),
        ("the helper's branch is its command's", And(implies(G("save"), V("guest.cmd").eq(1)),
                                                     implies(G("restore", "restore.copy"), V("guest.cmd").eq(2)))),
        ("serving the request the host waits for: the page it read is the host's, and its status OK", And(
            implies(And(G("dispatch", "save", "restore", "restore.copy", "ret", "done"), V("guest.go").eq(S),
                         Or(waiting, H("send.got"))), V("guest.gpa").eq(V("host.cgpa"))),
            implies(And(G("save", "restore", "restore.copy", "ret", "done"), V("guest.go").eq(S),
                         Or(waiting, H("send.got"))), V("guest.ret").eq(0)),
            implies(And(G("ret", "done"), V("guest.go").eq(S), Or(waiting, H("send.got"))), V("guest.did").eq(1)),
            implies(And(G("done"), V("guest.go").eq(S), Or(waiting, H("send.got"))), M("ret").eq(0)))),
        ("the request the host waits for finished: its ret is OK",
         implies(And(last.eq(S), S.ge(1), Or(waiting, H("send.got"))), M("ret").eq(0))),
        ("prompt at some command", implies(V("x.prompt").eq(1), V("x.prompt_at").le(I))),
        ("no time passes before a command is published", implies(Or(H("send.cmd"), before_go), V("host.t").eq(0))),
        ("once prompt, time passes in a later command only when the helper has finished it",
         implies(And(V("x.prompt").eq(1), I.gt(V("x.prompt_at")), waiting, V("host.t").gt(0)),
                  And(last.eq(S), V("m.done").eq(S)))),
        ("a completion seen while waiting stays in memory", implies(And(V("x.seen").eq(1), waiting), V("m.done").eq(S))),
    ]
    if model.memory == "tso":
        facts += _slow_buffers(model, H, G, S, I, waiting, before_go)
    return [Invariant(name, e) for name, e in facts]


def _slow_buffers(model, H, G, S, I, waiting, before_go) -> list:
    """tso, slow helper: the host's go in memory means all its stores are; the helper's buffered
    stores are of requests newer than the done in memory, in the order it served them."""
    mm = model.memory_model
    cap = mm.capacity
    n = _n
    seen = H("send.got")
    inflight = Or(waiting, seen)
    between = H("begin", "idle", "save.len1", "save.page", "load.len", "load.page")
    out = _host_buffers(model, H, S, I, waiting, seen, between, before_go, timeouts=True)
    slots = range(cap)

    def is_go(i: int) -> Expr:
        return And(n("host").gt(i), V(f"host.sb{i}.f").eq(mm.fid("go")))

    out += [
        ("waiting: go is the host's newest store, if still buffered",
         implies(inflight, Or(n("host").eq(0), *[And(n("host").eq(i + 1), is_go(i), V(f"host.sb{i}.v").eq(S))
                                                  for i in slots]))),
        ("a buffered go is newer than memory's, and carries its ghost",
         And(*[implies(is_go(i), And(V(f"host.sb{i}.v").gt(V("m.go")), V(f"host.sb{i}.g").eq(V(f"host.sb{i}.v") + V(f"host.sb{i}.v"))))
               for i in slots])),
        ("go in memory is the host's current one: its stores of commands are all in memory",
         implies(V("m.go").eq(S), Not(Or(*[_has(model, "host", f) for f in ("cmd", "gpa", "ret", "go")])))),
        ("the host's stores carry its current ghost at most",
         And(*[implies(n("host").gt(i), V(f"host.sb{i}.g").le(I + I)) for i in slots])),
        ("the host's buffered command stores are of published commands, ret's is -1",
         And(*[implies(And(n("host").gt(i), In(V(f"host.sb{i}.f"), [mm.fid(f) for f in ("cmd", "gpa", "ret", "go")])),
                        V(f"host.sb{i}.g").le(S + S)) for i in slots],
             *[implies(And(n("host").gt(i), V(f"host.sb{i}.f").eq(mm.fid("ret"))), V(f"host.sb{i}.v").eq(-1)) for i in slots])),
        ("the host's buffer in program order: a command store after a go is a later command's",
         implies(n("host").eq(2), And(V("host.sb1.g").ge(V("host.sb0.g")),
                                       implies(And(is_go(0), In(V("host.sb1.f"), [mm.fid(f) for f in ("cmd", "gpa", "ret", "go")])),
                                                V("host.sb1.g").gt(V("host.sb0.g")))))),
        ("buffered gos leave oldest first", implies(And(is_go(0), is_go(1)), V("host.sb1.v").gt(V("host.sb0.v")))),
        ("waiting, go in memory: the host's stores are all in memory (go was its last)",
         implies(And(inflight, V("m.go").eq(S)), n("host").eq(0))),
        ("the helper's buffered stores are of requests newer than the done in memory",
         And(*[implies(n("guest").gt(i), V(f"guest.sb{i}.g").gt(V("mg.done"))) for i in slots])),
        ("the helper's buffered stores are of requests it has served or serves",
         And(*[implies(And(n("guest").gt(i), G("start", "wait")), V(f"guest.sb{i}.g").le(V("guest.last") + V("guest.last") + 1))
               for i in slots],
             *[implies(And(n("guest").gt(i), G("accept", "cmd", "gpa", "dispatch", "save", "restore", "restore.copy",
                                                "ret", "done")),
                        V(f"guest.sb{i}.g").le(V("guest.gog") + 1)) for i in slots])),
        ("a buffered done carries its own ghost",
         And(*[implies(And(n("guest").gt(i), V(f"guest.sb{i}.f").eq(mm.fid("done"))),
                        V(f"guest.sb{i}.g").eq(V(f"guest.sb{i}.v") + V(f"guest.sb{i}.v") + 1)) for i in slots])),
        ("the helper's buffer in the order it served: a store after a done is of a newer request",
         implies(n("guest").eq(2), And(V("guest.sb1.g").ge(V("guest.sb0.g")),
                                        implies(V("guest.sb0.f").eq(mm.fid("done")), V("guest.sb1.g").gt(V("guest.sb0.g")))))),
        ("done == seq seen: the helper's answer is in memory", implies(seen, And(n("guest").eq(0), n("host").eq(0)))),
        ("saving: the answer is in memory", implies(H("save.len1", "save.page"), n("guest").eq(0))),
    ]
    return out
