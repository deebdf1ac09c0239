"""Hand-written strengthening invariants: the go/done handshake's phases.

Mined candidates (:mod:`.mining`) are conjunctions of one relation under one
position guard. The properties about an honest helper (``order.*``,
``liveness.*``) need the *phase* of the handshake, which is a disjunction: while
the host waits for command ``seq`` the helper has either not yet taken it
(``last == seq - 1``, ``done == seq - 1``), is working on it (``go == seq``), or
has finished it (``last == done == seq``). Each lemma below is one such fact,
written against the model's variables and named so a reader can check it
against docs/hardened.md. They are *candidates* like the mined ones: Houdini
keeps only those that are inductive together, so a wrong lemma costs time,
never soundness.

Notation: ``S`` is the host's ``seq`` (the go value of its current command),
``I`` its command ``id``; a value written for command ``I`` carries the ghost
``2*I`` (host) or ``2*I + 1`` (helper), see :mod:`mhmailbox.model.values`.
"""
from __future__ import annotations

from typing import Callable

from mhmailbox.model import values as val
from mhmailbox.model.expr import And, Expr, In, Ite, Not, Or, V, lift
from mhmailbox.model.protocol import variant_class
from mhmailbox.model.user_variant import variant_lemmas as check_variant_lemmas

from .invariant import Invariant


def at(model, thread: str) -> Callable[..., Expr]:
    """``at = at(model, "host")``; ``at("send.poll", "send.rmb")`` holds where the thread is at one of
    those steps (a ``KeyError`` names a step the thread does not have); ``at.index(label)`` is the
    step's pc value."""
    if thread not in model.threads:
        raise KeyError(f"the model has no thread {thread!r} (it has {', '.join(model.threads)})")
    idx = {st.label: i for i, st in enumerate(model.threads[thread].steps)}

    def at(*labels: str) -> Expr:  # noqa: D401 - also at.index(label)
        missing = [lb for lb in labels if lb not in idx]
        if missing:
            raise KeyError(f"{thread} has no step {', '.join(map(repr, missing))}")
        return In(V(f"{thread}.pc"), [idx[lb] for lb in labels])

    at.index = idx.__getitem__  # type: ignore[attr-defined]
    return at


#: the host's call sites of send: (return label, command, code)
_CALLS = (("save.inited", "INIT", 0), ("load.inited", "INIT", 0), ("save.encd", "ENCRYPT", 1),
          ("load.decd", "DECRYPT", 2), ("cleanup.done", "RESET", 3))


def implies(a: Expr, b: Expr) -> Expr:
    """``a`` implies ``b``: most lemmas are "at these steps, this holds"."""
    return Or(Not(a), b)


def latest(model, part: str) -> Callable[[str], Expr]:
    """The newest value (``part`` "v") or ghost ("g") of a field, whoever holds it: the
    shared memory under sc; under tso the youngest store-buffer entry for the field (the
    helper's, then the host's), else memory. In reachable states at most one thread has
    a store to a field in flight (the handshake orders them), so this is *the* value the
    protocol talks about; the lemmas below say it in the sc terms and the tso lemmas say
    where the stores still are."""
    mm = model.memory_model
    base = (lambda f: V(f"m.{f}")) if part == "v" else (lambda f: V(f"mg.{f}"))
    if model.memory == "sc":
        return base

    def latest(f: str) -> Expr:
        from mhmailbox.model.expr import Ite

        out: Expr = base(f)
        for t in ("host", "guest"):  # the helper's entries take precedence: checked last, outermost
            for i in range(mm.capacity):
                out = Ite(V(f"{t}.sb{i}.f").eq(mm.fid(f)), V(f"{t}.sb{i}.{part}"), out)
        return out

    return latest


def handshake(model) -> list[Invariant]:
    """The phases of one command, for the hardened host and helper under sc.

    ``P`` is the ghost of the last ``go`` written (``2*I`` of the command that
    published it). With the ``slow`` helper a command may time out: the host then
    keeps it as ``pending`` (always the last one published) and, before it writes
    anything else to the shared area, waits (``send.prev``, ``load.prev``) until
    it is done; the helper may be in any phase of it meanwhile, and the host's
    ``id`` runs ahead of the published one. Once the helper is prompt, time
    passes only while it has nothing to do, which is what liveness.recovery needs.
    """
    if model.variant != "hardened" or not {"host", "guest"} <= set(model.threads):
        return []
    slow = model.guest == "slow"
    H, G = at(model, "host"), at(model, "guest")
    M, MG = latest(model, "v"), latest(model, "g")
    S, I, P = V("host.seq"), V("host.id"), MG("go")
    last, done, go = V("guest.last"), M("done"), M("go")
    two_i = I + I
    # where the host is, relative to its current command
    before_go = H("send.gpa", "send.ret", "send.wmb", "send.go")  # seq already bumped, go not yet written
    between = H("begin", "idle", "save.len1", "save.page", "load.len", "load.page")  # no command in flight
    prevwait = H("send.prev", "send.prev.last", "load.prev", "load.prev.last")  # waiting out a pending one
    waiting = H("send.poll", "send.poll.last")
    seen = H("send.rmb", "send.got")
    in_call = Or(H("send.cmd", "send.prev", "send.prev.last"), before_go, waiting, seen)  # inside send
    working = G("accept", "cmd", "gpa", "dispatch", "save", "save.hdr", "restore", "restore.copy", "ret", "wmb", "done")
    pending = V("host.pending")
    # the last published command (go == S, ghost P) is in flight: being waited for, or pending
    inflight = Or(waiting, seen, And(pending.ne(0), Or(between, prevwait)))
    # the helper's three phases for it
    not_taken = And(G("wait"), last.eq(S - 1), done.eq(S - 1), MG("done").lt(P))
    taking = And(working, V("guest.go").eq(S), V("guest.gog").eq(P), last.eq(S - 1), done.eq(S - 1),
                 MG("done").lt(P))
    finished = And(G("wait"), last.eq(S), done.eq(S), MG("done").eq(P + 1))
    params = And(MG("cmd").eq(P), MG("gpa").eq(P), go.eq(S), S.ge(1))
    any_phase = And(params, Or(not_taken, taking, finished))
    complete = And(finished, V("m.done").eq(S))  # finished, and the host can see it
    quiet = And(G("wait"), last.eq(S), done.eq(S), go.eq(S), Or(MG("done").eq(P + 1), And(S.eq(0), P.eq(0), MG("done").eq(0))))
    resting = {}
    for t in ("host", "guest"):  # a thread rests only where it accesses memory (local steps are fused)
        labels = {a.name.split(":", 1)[1].split("@", 1)[0] for a in model.system.actions
                  if a.name.startswith(f"{t}:") and not a.local}
        resting[t] = sorted(lb for lb in labels | {"begin" if t == "host" else "start"}
                            if lb in {st.label for st in model.threads[t].steps})
    out = [
        ("the host rests only at its memory accesses", H(*resting["host"])),
        ("the helper rests only at its memory accesses", G(*resting["guest"])),
        ("past the deadline only after the clock said so",
         implies(H("send.poll.last", "send.prev.last", "load.prev.last"), V("host.t").ge(V("k.D")))),
        ("deadline and quantum are positive", And(V("k.D").ge(1), V("k.Q").ge(1))),
        ("in a command the ghost clock is the host's, and the host's burst ends by D + Q",
         implies(Or(H("send.cmd", "send.gpa", "send.ret", "send.wmb", "send.go", "send.poll", "send.poll.last",
                       "send.rmb", "send.got", "send.prev", "send.prev.last", "load.prev", "load.prev.last",
                       "load.len", "load.page")),
                  And(V("x.el").eq(V("host.t")), V("host.t").le(V("host.nc")),
                      V("host.nc").le(V("k.D") + V("k.Q"))))),
        ("no command is ever left pending", pending.eq(0)) if not slow else
        ("a pending command is the last one published", Or(pending.eq(0), pending.eq(S))),
        ("waiting or answered: the command published is the host's current one", implies(Or(waiting, seen), P.eq(two_i))),
        ("the published command is not newer than the host's", P.le(two_i)),
        ("a command being started has not published yet",
         implies(Or(H("send.cmd", "send.prev", "send.prev.last", "load.prev", "load.prev.last", "load.len",
                       "load.page"), before_go), P.le(two_i - 2))),
        ("between commands: the helper has finished the last one",
         implies(Or(And(between, pending.eq(0)), H("send.cmd")), quiet)),
        ("publishing: the helper is idle on the previous command",
         implies(before_go, And(G("wait"), last.eq(S - 1), done.eq(S - 1), go.eq(S - 1),
                                 Or(MG("done").eq(P + 1), And(S.eq(1), P.eq(0), MG("done").eq(0)))))),
        ("publishing: the parameters written so far are this command's",
         implies(H("send.ret", "send.wmb", "send.go"), And(MG("cmd").eq(two_i), MG("gpa").eq(two_i)))),
        ("publishing: cmd_type written first", implies(H("send.gpa"), MG("cmd").eq(two_i))),
        ("in flight: not taken, being served, or finished", implies(inflight, any_phase)),
        ("no completion is seen for a command not yet published",
         implies(Or(prevwait, H("send.cmd", "load.len", "load.page"), before_go), V("x.seen").eq(0))),
        ("a completion seen while waiting is this command's, and stays",
         implies(And(V("x.seen").eq(1), waiting), And(finished, V("m.done").eq(S)))),
        ("done == seq seen: the helper has finished this command",
         implies(seen, And(finished, V("host.dg").eq(P + 1)))),
        ("a helper at work read this command's parameters",
         implies(And(G("gpa", "dispatch", "save", "save.hdr", "restore", "restore.copy", "ret", "wmb", "done"),
                      inflight), V("guest.cmdg").eq(P))),
        ("a helper past ret wrote this command's ret",
         implies(And(G("wmb", "done"), inflight), And(MG("ret").eq(P + 1), M("ret").eq(V("guest.ret"))))),
        ("finished: ret is this command's", implies(And(finished, inflight), MG("ret").eq(P + 1))),
        # what makes every honest result OK (liveness.*)
        ("the helper's command is the host's",
         implies(And(working, Not(G("accept", "cmd")), Or(waiting, seen)), V("guest.cmd").eq(V("host.cmd")))),
        ("the helper's gpa is the host's",
         implies(And(working, Not(G("accept", "cmd", "gpa")), Or(waiting, seen)), V("guest.gpa").eq(V("host.cgpa")))),
        ("the parameters in memory are the host's",
         implies(Or(waiting, seen), And(M("cmd").eq(V("host.cmd")), M("gpa").eq(V("host.cgpa"))))),
        ("the host only asks for pages in RAM", In(V("host.cgpa"), [0, 1])),
        ("done never runs ahead of the host's seq", And(V("m.done").le(S), M("done").le(S))),
        ("a call returns to one of its call sites",
         implies(in_call, In(V("host.ret_to"), [H.index(back) for back, _, _ in _CALLS]))),
        ("a save's copy and a load's request happen only initialized",
         implies(H("save.len1", "save.page", "load.len", "load.page"), V("host.init").eq(1))),
        ("ENCRYPT and DECRYPT are sent only by an initialized host",
         implies(And(In(V("host.cmd"), [1, 2]), in_call), V("host.init").eq(1))),
        ("INIT is sent only by an uninitialized host",
         implies(And(V("host.cmd").eq(0), in_call), V("host.init").eq(0))),
        ("writing a DECRYPT's page: nothing is pending (the load waited it out first)",
         implies(H("load.len", "load.page"), pending.eq(0))),
        ("a DECRYPT never waits for a pending command (the load waited before writing the page)",
         implies(H("send.prev", "send.prev.last"), V("host.cmd").ne(2))),
        *[(f"a command called from {back} is {name}",
           implies(And(V("host.ret_to").eq(H.index(back)), in_call), V("host.cmd").eq(code)))
          for back, name, code in _CALLS],
        ("ENCRYPT and DECRYPT only after INIT: the helper is initialized",
         implies(And(In(V("host.cmd"), [1, 2]), Or(waiting, seen)), V("guest.init").eq(1))),
        ("an initialized host's INIT succeeded since the last RESET (but inside cleanup's RESET)",
         implies(And(V("host.init").eq(1), Not(And(V("host.cmd").eq(3), Or(waiting, seen)))), V("x.ginit").eq(1))),
        ("initialized host, initialized helper (but inside cleanup's RESET)",
         implies(And(V("host.init").eq(1), Not(And(V("host.cmd").eq(3), Or(waiting, seen)))), V("guest.init").eq(1))),
        ("an ENCRYPT's io page is the helper's output for it",
         implies(And(V("host.cmd").eq(1), Or(waiting, seen),
                      Or(finished, G("save.hdr", "ret", "wmb", "done"))), MG("io").eq(P + 1))),
        ("an ENCRYPT's response header length is the helper's",
         implies(And(V("host.cmd").eq(1), Or(waiting, seen), Or(finished, G("ret", "wmb", "done"))),
                  M("hdr_len").eq(val.HLEN_OK))),
        ("saving: the header length the host reads and copies is the helper's", And(
            implies(H("save.len1"), M("hdr_len").eq(val.HLEN_OK)),
            implies(H("save.page"), And(V("host.l1").eq(val.HLEN_OK), V("host.l2").eq(val.HLEN_OK), V("host.l3").eq(val.HLEN_OK))))),
        ("saving: the io page the host copies is this command's output",
         implies(H("save.len1", "save.page"), And(MG("io").eq(P + 1), P.eq(two_i)))),
        ("a carried-out INIT left the helper initialized",
         implies(And(V("host.cmd").eq(0), Or(waiting, seen),
                      Or(finished, G("save", "save.hdr", "restore", "restore.copy", "ret", "wmb", "done"))),
                  V("guest.init").eq(1))),
        ("the helper's session is the model's", V("guest.epoch").eq(V("x.epoch"))),
        ("a DECRYPT's io page is this session's ciphertext of its gpa",
         implies(And(V("host.cmd").eq(2), Or(H("send.cmd"), before_go, waiting, seen), Not(G("save", "save.hdr"))),
                  M("io").eq(V("x.epoch") + V("x.epoch") + V("host.cgpa") + 4))),
        ("the helper's copy of a DECRYPT page is that ciphertext",
         implies(And(G("restore.copy"), Or(waiting, seen)),
                  V("guest.io").eq(V("x.epoch") + V("x.epoch") + V("host.cgpa") + 4))),
        ("an honest result is OK", implies(And(G("ret", "wmb", "done"), Or(waiting, seen)), V("guest.ret").eq(0))),
        ("a finished command's ret is OK", implies(And(finished, Or(waiting, seen)), M("ret").eq(0))),
    ]
    if model.memory in ("tso", "relaxed"):
        out += _buffers(model, H, G, M, MG, S, P, inflight, not_taken, taking, finished, seen, between, pending)
    if not slow:
        out += [
            ("with an honest helper nothing ever fails", V("x.failed").eq(0)),
            ("id and seq advance together (id first, when the command starts)",
             Or(And(H("send.cmd", "load.len", "load.page"), I.eq(S + 1)),
                And(Not(H("send.cmd", "load.len", "load.page")), I.eq(S)))),
            ("no time passes before a command is published",
             implies(Or(H("send.cmd", "load.len", "load.page"), before_go), V("host.t").eq(0))),
            ("no time passes until the current command's done is in memory",
             implies(And(waiting, Not(complete)), V("host.t").eq(0))),
        ]
    else:
        after_prompt = And(V("x.prompt").eq(1), I.gt(V("x.prompt_at")))
        out += [
            ("once prompt, waiting out a pending command takes at most one burst",
             implies(And(after_prompt, prevwait), And(V("host.t").le(V("k.Q")), V("host.nc").eq(V("k.Q"))))),
            ("a pending RESET: the host is no longer initialized",
             implies(And(pending.ne(0), M("cmd").eq(3)), V("host.init").eq(0))),
            ("a helper at work on a pending command read its cmd_type",
             implies(And(pending.ne(0), G("gpa", "dispatch", "save", "save.hdr", "restore", "restore.copy", "ret",
                                           "wmb", "done")), V("guest.cmd").eq(M("cmd")))),
            ("once prompt, no time passes in a new wait until the pending command's done is in memory",
             implies(And(after_prompt, prevwait, Not(complete)), And(V("host.t").eq(0), V("host.nc").eq(V("k.Q"))))),
            ("once prompt, a new command has used at most one burst before it is published",
             implies(And(after_prompt, Or(H("send.cmd", "load.len", "load.page"), before_go)), V("host.t").le(V("k.Q")))),
            ("once prompt, a new command unfinished has used at most one burst (noticing the pending one)",
             implies(And(after_prompt, waiting, Not(complete)), And(V("host.t").le(V("k.Q")), V("host.t").le(V("host.nc"))))),
            ("prompt at some command", implies(V("x.prompt").eq(1), V("x.prompt_at").le(I))),
            ("waiting out a pending command: it is the last one published",
             implies(prevwait, And(pending.eq(S), S.ge(1)))),
        ]
        out.append(("a command seen done (and a save copying its output) leaves nothing pending",
                    implies(Or(seen, H("save.len1", "save.page")), pending.eq(0))))
        out.append(("saving: an ENCRYPT that succeeded, after nothing failed",
                    implies(H("save.len1", "save.page"), And(V("x.failed").eq(0), V("host.cmd").eq(1)))))
        if "host.view.done" in model.system.variables:  # relaxed: time passes only with views synced
            # (with Q < D, recovery's assumption: a completion by the end of the first burst is before the deadline)
            out.append(("once prompt, a finished command's completion is seen before time leaves the first burst",
                        implies(And(after_prompt, waiting, complete, V("k.Q").lt(V("k.D"))),
                                 Or(V("x.seen").eq(1), V("host.t").le(V("k.Q"))))))
            out.append(("a completion seen in memory before the deadline stays in the host's view",
                        implies(And(V("x.seen").eq(1), H("send.poll", "send.poll.last")),
                                 And(V("host.view.done").eq(S), V("m.done").eq(S)))))
            out.append(("once prompt, a wait for the pending command that has spent time sees its done",
                        implies(And(after_prompt, prevwait, V("host.t").gt(0)), V("host.view.done").eq(pending))))
    return [Invariant(f"lemma: {name}", e) for name, e in out]


def fifo_phases(model, S: Expr, P: Expr, inflight: Expr, not_taken: Expr, taken: Expr, finished: Expr,
                seen: Expr) -> list[tuple[str, Expr]]:
    """Where the stores of the command in flight are, in each phase, with store buffers: the helper
    takes a command only once its go (the host's last store) is in memory, and its done leaves
    after everything it wrote before. ``S``: the command's go value, ``P``: its ghost; ``inflight``:
    the host waits for it or has seen it done (``seen``); the helper has not taken it
    (``not_taken``), has taken it (``taken``), has finished it (``finished``)."""
    cap = model.memory_model.capacity
    fid = model.memory_model.fid

    def n(t: str) -> Expr:
        return V(f"{t}.sb.n")

    host_go = Or(*[And(n("host").gt(i), V(f"host.sb{i}.f").eq(fid("go"))) for i in range(cap)])
    host_empty, guest_empty = n("host").eq(0), n("guest").eq(0)
    return [
        ("the helper has seen go only once it was in memory (and all before it: FIFO)",
         implies(And(inflight, taken), And(V("m.go").eq(S), host_empty))),
        ("go still buffered: the helper has not taken the command",
         implies(And(inflight, host_go), not_taken)),
        ("go still buffered: memory holds the previous go",
         implies(And(inflight, host_go), And(V("m.go").eq(S - 1), V("mg.go").le(P - 2)))),
        ("a helper yet to take the command has nothing buffered", implies(And(inflight, not_taken), guest_empty)),
        ("the helper's buffered stores are this command's",
         implies(inflight, And(*[implies(n("guest").gt(i), V(f"guest.sb{i}.g").eq(P + 1)) for i in range(cap)]))),
        ("done in memory: everything the helper wrote before it is too",
         implies(And(inflight, finished, V("m.done").eq(S)), guest_empty)),
        ("done == seq seen: the helper's stores are all in memory", implies(seen, guest_empty)),
    ]


def _buffers(model, H, G, M, MG, S, P, inflight, not_taken, taking, finished, seen, between,
             pending) -> list[tuple[str, Expr]]:
    """Where the stores of the handshake still are: tso (FIFO store buffers) and relaxed (a store
    may leave before an older one to another field, unless a wmb separates them; each thread
    reads through per-field views that an rmb brings up to date)."""
    fifo = model.memory == "tso"
    mm = model.memory_model
    cap = mm.capacity
    writes = {"host": ("cmd", "gpa", "ret", "go", "hdr_len", "io"), "guest": ("ret", "done", "hdr_len", "io")}
    out: list[tuple[str, Expr]] = []
    if cap != 2:
        return out  # the buffer-shape lemmas below are written for two entries

    def n(t: str) -> Expr:
        return V(f"{t}.sb.n")

    def has(t: str, f: str) -> Expr:
        return Or(*[And(n(t).gt(i), V(f"{t}.sb{i}.f").eq(mm.fid(f))) for i in range(cap)])

    for t in ("host", "guest"):
        out.append((f"the {t}'s store buffer holds 0..{cap} entries", And(n(t).ge(0), n(t).le(cap))))
        for i in range(cap):
            parts = ("f", "v", "g") if fifo else ("f", "v", "g", "o")
            out.append((f"the {t}'s buffer slot {i} is empty beyond the count",
                        implies(n(t).le(i), And(*[V(f"{t}.sb{i}.{part}").eq(0) for part in parts
                                                   if f"{t}.sb{i}.{part}" in model.system.variables]))))
            out.append((f"the {t}'s buffer slot {i} holds a field it writes",
                        implies(n(t).gt(i), In(V(f"{t}.sb{i}.f"), [mm.fid(f) for f in writes[t]]))))
    host_empty, guest_empty = n("host").eq(0), n("guest").eq(0)
    I = V("host.id")
    def newest(order: tuple[str, ...], I_of: Expr | None = None) -> Expr:
        """The host's buffer holds (a suffix of) these stores of this command, newest last, as written
        (``I_of``: the ghost of the command, when it is not the host's current one; then only
        the ghosts, ret and go are known)."""
        g = I + I if I_of is None else I_of
        entry = {"cmd": (V("host.cmd") if I_of is None else None, g),
                 "gpa": (V("host.cgpa") if I_of is None else None, g), "ret": (lift(-1), g), "go": (S, g)}

        def slot(i: int, f: str) -> Expr:
            v, gh = entry[f]
            parts = [V(f"host.sb{i}.f").eq(mm.fid(f)), V(f"host.sb{i}.g").eq(gh)]
            if v is not None:
                parts.append(V(f"host.sb{i}.v").eq(v))
            return And(*parts)

        cases = [n("host").eq(0)]
        for k in range(1, min(cap, len(order)) + 1):
            cases.append(And(n("host").eq(k), *[slot(i, f) for i, f in enumerate(order[-k:])]))
        if len(order) + 1 <= cap:  # an older entry may be a load's request, written before the command
            cases.append(And(n("host").eq(len(order) + 1), In(V("host.sb0.f"), [mm.fid("hdr_len"), mm.fid("io")]),
                             *[slot(i + 1, f) for i, f in enumerate(order)]))
        return Or(*cases)

    def fid(f: str) -> Expr:
        return lift(mm.fid(f))

    def gbuf(*shapes: tuple[str, ...]) -> Expr:
        """The helper's buffer holds one of these sequences of stores (oldest first)."""
        return Or(*[And(n("guest").eq(len(sh)), *[V(f"guest.sb{i}.f").eq(fid(f)) for i, f in enumerate(sh)])
                    for sh in shapes])

    req = ((), ("hdr_len",), ("io",), ("hdr_len", "io"))
    if not fifo:
        from itertools import combinations

        def host_shapes(written: tuple[str, ...], ghost: Expr | None = None) -> Expr:
            """The host's buffer holds a subsequence of ``written`` (program order; at most ``cap``);
            go, written after the wmb, never leaves before an older store, and is marked so.
            ``ghost``: the command's ghost when it is not the host's current one (a pending
            command); then only ret's and go's values are known."""
            g = I + I if ghost is None else ghost
            val_of = {"cmd": V("host.cmd"), "gpa": V("host.cgpa"), "ret": lift(-1), "go": S,
                      "hdr_len": lift(val.HLEN_OK), "io": None}
            if ghost is not None:
                val_of.update(cmd=None, gpa=None, hdr_len=None)
            cases = []
            for k in range(0, cap + 1):
                for sub in combinations(range(len(written)), k):
                    fields = [written[j] for j in sub]
                    if "go" in written and "go" not in fields and fields:
                        continue  # go gone means everything older is gone
                    parts = [n("host").eq(k)]
                    for i, f in enumerate(fields):
                        parts += [V(f"host.sb{i}.f").eq(mm.fid(f)), V(f"host.sb{i}.g").eq(g)]
                        if val_of[f] is not None:
                            parts.append(V(f"host.sb{i}.v").eq(val_of[f]))
                        if f == "go" and i > 0:
                            parts.append(V(f"host.sb{i}.o").eq(1))
                    cases.append(And(*parts))
            return Or(*cases)

        lreq = ("hdr_len", "io")
        out += [
            ("relaxed: the host's buffer at send.cmd: a load's request", implies(H("send.cmd"), host_shapes(lreq))),
            ("relaxed: a load writes its request into an empty buffer",
             And(implies(H("load.len"), n("host").eq(0)), implies(H("load.page"), host_shapes(("hdr_len",))))),
            ("relaxed: a write barrier with stores before it orders what follows", And(
                implies(And(H("send.go"), n("host").ge(1)), V("host.wmb").eq(1)),
                implies(And(G("done"), n("guest").ge(1)), V("guest.wmb").eq(1)))),
            ("relaxed: publishing, cmd_type written", implies(H("send.gpa"), host_shapes(lreq + ("cmd",)))),
            ("relaxed: publishing, gpa written", implies(H("send.ret"), host_shapes(lreq + ("cmd", "gpa")))),
            ("relaxed: publishing, ret = -1 written",
             implies(H("send.wmb", "send.go"), host_shapes(lreq + ("cmd", "gpa", "ret")))),
            ("relaxed: published, go last", implies(Or(H("send.poll", "send.poll.last"), seen),
                                                     host_shapes(lreq + ("cmd", "gpa", "ret", "go")))),
            ("relaxed: after a timeout the host's buffer holds at most the pending command's stores",
             implies(And(pending.ne(0), Or(between, H("send.prev", "send.prev.last", "load.prev", "load.prev.last"))),
                      host_shapes(lreq + ("cmd", "gpa", "ret", "go"), ghost=P))),
        ]
        x3 = ("io", "hdr_len", "ret")
        out += [
            ("the helper's stores leave in order around its wmb: done after everything before it",
             implies(G("wait"), gbuf((), ("done",), *[(x, "done") for x in x3]))),
            ("the helper's stores so far (any order before the wmb)", And(
                implies(G("accept", "cmd", "gpa", "restore", "save"), gbuf(())),
                implies(G("save.hdr"), gbuf((), ("io",))),
                implies(G("ret"), gbuf((), ("hdr_len",), ("io",), ("io", "hdr_len"))),
                implies(G("wmb", "done"), gbuf((), ("ret",), ("io",), ("hdr_len",), ("io", "ret"), ("hdr_len", "ret"),
                                                 ("io", "hdr_len"))))),
        ]
    out += [
        ("a load's request is the host's only store before a command",
         implies(H("send.cmd"), Or(*[And(n("host").eq(len(sh)), *[V(f"host.sb{i}.f").eq(fid(f)) for i, f in enumerate(sh)])
                                      for sh in req]))),
        ("writing a load's page: only its length may still be buffered",
         implies(H("load.page"), Or(n("host").eq(0), And(n("host").eq(1), V("host.sb0.f").eq(fid("hdr_len")))))),
    ]
    if fifo:
        out += [
            ("the helper's stores leave in program order: done last",
             implies(G("wait"), gbuf((), ("done",), ("ret", "done")))),
            ("the helper's stores so far, in program order", And(
                implies(G("accept", "cmd", "gpa", "restore", "save"), gbuf(())),
                implies(G("save.hdr"), gbuf((), ("io",))),
                implies(G("ret"), gbuf((), ("hdr_len",), ("io", "hdr_len"))),
                implies(G("wmb", "done"), gbuf((), ("ret",), ("hdr_len", "ret"))))),
            ("publishing: cmd_type is the newest store", implies(H("send.gpa"), newest(("cmd",)))),
            ("publishing: then gpa", implies(H("send.ret"), newest(("cmd", "gpa")))),
            ("publishing: then ret = -1", implies(H("send.wmb", "send.go"), newest(("cmd", "gpa", "ret")))),
            ("published: go is the newest store", implies(Or(H("send.poll", "send.poll.last"), seen),
                                                            newest(("cmd", "gpa", "ret", "go")))),
        ]
    out += [
        ("publishing: what is written so far is the host's", And(
            implies(H("send.gpa", "send.ret", "send.wmb", "send.go"), M("cmd").eq(V("host.cmd"))),
            implies(H("send.ret", "send.wmb", "send.go"), M("gpa").eq(V("host.cgpa"))),
            implies(H("send.wmb", "send.go"), And(M("ret").eq(-1), MG("ret").eq(I + I))))),
    ]
    out += [
        *fifo_phases(model, S, P, inflight, not_taken, Or(taking, finished), finished, seen),
        ("before publishing, no go is buffered (the last one was seen by the helper)",
         implies(And(Or(between, H("send.cmd", "send.gpa", "send.ret", "send.wmb", "send.go")), pending.eq(0)),
                  And(Not(has("host", "go")), guest_empty))),
        ("between commands, the host's own stores are only a load's request",
         implies(And(between, Not(H("load.page")), pending.eq(0)), host_empty)),
        ("between commands, the helper's stores are all in memory", implies(And(between, pending.eq(0)), guest_empty)),
    ]
    if fifo:
        out.append(("after a timeout the host's buffer holds at most the pending command's last stores",
                    implies(And(pending.ne(0), Or(between, H("send.prev", "send.prev.last", "load.prev",
                                                              "load.prev.last"))),
                             newest(("cmd", "gpa", "ret", "go"), I_of=P))))
    else:
        views = sorted(n_[len("guest.view."):] for n_ in model.system.variables if n_.startswith("guest.view."))
        out += [
            ("a helper at work sees memory as it was at its read barrier: the host's stores of this command",
             implies(And(inflight, G("cmd", "gpa", "save", "save.hdr", "restore", "restore.copy", "ret", "wmb", "done")),
                      And(*[And(V(f"guest.view.{f}").eq(V(f"m.{f}")), V(f"guest.viewg.{f}").eq(V(f"mg.{f}")))
                            for f in views if f in ("cmd", "gpa", "go")]))),
            ("after its read barrier the host sees memory",
             implies(H("send.got"), And(*[And(V(f"host.view.{f}").eq(V(f"m.{f}")), V(f"host.viewg.{f}").eq(V(f"mg.{f}")))
                                          for f in ("hdr_len", "io", "ret", "done")
                                          if f"host.view.{f}" in model.system.variables]))),
            ("a helper at work on a DECRYPT sees the host's page",
             implies(And(inflight, V("host.cmd").eq(2), G("cmd", "gpa", "restore", "restore.copy")),
                      And(V("guest.view.io").eq(V("m.io")), V("guest.viewg.io").eq(V("mg.io"))))),
            ("the helper's done leaves after its wmb", implies(And(G("wait"), n("guest").eq(2)), V("guest.sb1.o").eq(1))),
            ("the helper's view of go: at least the last go it served, at most memory's", And(
                V("guest.view.go").le(V("m.go")), V("guest.view.go").ge(V("guest.last")))),
            ("done == seq seen and the read barrier passed: the host sees the helper's ret",
             implies(H("send.got"), And(V("host.view.ret").eq(V("m.ret")), V("host.viewg.ret").eq(V("mg.ret"))))),
            ("saving: since its read barrier the host sees the helper's header and page", And(
                implies(H("save.len1", "save.page"), And(V("host.view.hdr_len").eq(V("m.hdr_len")),
                                                          V("host.viewg.hdr_len").eq(V("mg.hdr_len")),
                                                          V("host.view.io").eq(V("m.io")),
                                                          V("host.viewg.io").eq(V("mg.io")))))),
            # done only grows (the helper writes the go it served), and a view is an older version
            ("the host's view of done is at most memory's", V("host.view.done").le(V("m.done"))),
            # (only where one thread writes: a late store of the other may put an older one back)
            ("a view of a field one thread writes is never newer than memory", And(*[
                V(v).le(V("mg." + v.split(".")[-1])) for v in sorted(model.system.variables)
                if ".viewg." in v and v.split(".")[-1] in ("cmd", "gpa", "go", "done")])),
            ("go and done only grow, one write per value: a view has memory's value iff its version", And(*[
                And(implies(V(f"{t}.view.{f}").eq(V(f"m.{f}")), V(f"{t}.viewg.{f}").eq(V(f"mg.{f}"))),
                    implies(V(f"{t}.viewg.{f}").eq(V(f"mg.{f}")), V(f"{t}.view.{f}").eq(V(f"m.{f}"))))
                for t, f in (("guest", "go"), ("host", "done")) if f"{t}.viewg.{f}" in model.system.variables])),
            ("go and done: the initial zero has the initial version, and only it", And(*[
                And(implies(V(v).eq(0), V(gv).eq(0)), implies(V(gv).eq(0), V(v).eq(0)))
                for v, gv in ((v, v.replace("view.", "viewg.") if "view." in v else "mg." + v[2:]) for v in ("m.go", "m.done", "guest.view.go", "host.view.done")) if v in model.system.variables])),
            ("the host's stores carry its current ghost at most", And(
                *[V(f"mg.{f}").le(I + I) for f in ("cmd", "gpa", "go")],
                *[implies(n("host").gt(i), V(f"host.sb{i}.g").le(I + I)) for i in range(cap)])),
            # (go and done are written once per command, so a buffered one is a newer write)
            ("a buffered store to a field one thread writes is not older than memory's (go, done: newer)", And(*[
                implies(And(n(t).gt(i), V(f"{t}.sb{i}.f").eq(mm.fid(f))),
                         V(f"{t}.sb{i}.g").gt(V(f"mg.{f}")) if f in ("go", "done") else V(f"{t}.sb{i}.g").ge(V(f"mg.{f}")))
                for t, fs in (("host", ("cmd", "gpa", "go")), ("guest", ("done",))) for f in fs
                for i in range(cap)])),
            # a new go is written only once the last one was seen done, so out of memory
            ("a buffered go is the host's last seq, and there is at most one",
             And(*[implies(And(n("host").gt(i), V(f"host.sb{i}.f").eq(mm.fid("go"))), V(f"host.sb{i}.v").eq(S))
                   for i in range(cap)],
                 Not(And(n("host").eq(2), V("host.sb0.f").eq(mm.fid("go")), V("host.sb1.f").eq(mm.fid("go")))))),
        ]
        if model.guest == "honest":  # ids and seqs advance together only without timeouts
            out += [
                ("time passes only once the host's view shows the command done",
                 implies(And(H("send.poll", "send.poll.last"), V("host.t").gt(0)), V("host.view.done").eq(S))),
                # (at most memory's: the lemma for every guest above)
                ("the host's view of done: at least the done it last accepted", And(
                    implies(H("send.poll", "send.poll.last", "send.cmd", "begin", "idle", "save.len1", "save.page",
                               "load.len", "load.page", "send.gpa", "send.ret", "send.wmb", "send.go"),
                             V("host.view.done").ge(S - 1)),
                    implies(Or(seen, H("begin", "idle", "save.len1", "save.page", "load.len", "load.page", "send.cmd")),
                             V("host.view.done").eq(S)))),
                ("a viewed go is the one its ghost says",
                 Or(V("guest.viewg.go").eq(V("guest.view.go") + V("guest.view.go")),
                    And(V("guest.view.go").eq(0), V("guest.viewg.go").eq(0)))),
                ("a viewed done is the one its ghost says",
                 Or(V("host.viewg.done").eq(V("host.view.done") + V("host.view.done") + 1),
                    And(V("host.view.done").eq(0), V("host.viewg.done").eq(0)))),
                ("go in memory is the one its ghost says",
                 Or(V("mg.go").eq(V("m.go") + V("m.go")), And(V("m.go").eq(0), V("mg.go").eq(0)))),
                ("done in memory is the one its ghost says",
                 Or(V("mg.done").eq(V("m.done") + V("m.done") + 1), And(V("m.done").eq(0), V("mg.done").eq(0)))),
            ]
    if model.guest == "honest":
        out.append(("an honest helper never leaves a command pending: no pending waits",
                    Not(H("send.prev", "send.prev.last", "load.prev", "load.prev.last"))))
    return out


def variant_lemmas(model) -> list[Invariant]:
    """The lemmas the cell's variant writes itself (its ``lemmas(model)`` method), checked
    (:func:`mhmailbox.model.user_variant.variant_lemmas`) and named ``lemma: <variant>: <name>``,
    so that a store refreshes them to their current form as it does the built-in ones."""
    vcls = variant_class(model.variant)
    prefix = f"lemma: {vcls.name}: "
    return [Invariant(name if name.startswith(prefix) else prefix + name, e)
            for name, e in check_variant_lemmas(vcls, model)]


def lemmas(model) -> list[Invariant]:
    """Every hand-written candidate for this cell: the built-in ones and the variant's own."""
    return handshake(model) + variant_lemmas(model)


#: what a variant's ``lemmas(model)`` needs (docs/variants.md, "Your own lemmas")
__all__ = ["Invariant", "V", "And", "Or", "Not", "In", "Ite", "lift", "at", "latest", "fifo_phases", "lemmas", "variant_lemmas", "handshake"]
