"""Hand-written strengthening invariants: the go/done handshake's phases.

Mined candidates (:mod:`.invariants`) are conjunctions of one relation under one
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

from mhmailbox.model.expr import And, Expr, In, Not, Or, V

from .invariants import Invariant


def _at(model, thread: str) -> Callable[..., Expr]:
    idx = {st.label: i for i, st in enumerate(model.threads[thread].steps)}

    def at(*labels: str) -> Expr:
        missing = [lb for lb in labels if lb not in idx]
        if missing:
            raise KeyError(f"{thread} has no step {missing}")
        return In(V(f"{thread}.pc"), [idx[lb] for lb in labels])

    return at


def _implies(a: Expr, b: Expr) -> Expr:
    return Or(Not(a), b)


def handshake(model) -> list[Invariant]:
    """The phases of one command, for the hardened host and helper under sc."""
    if model.variant != "hardened" or model.memory != "sc" or not {"host", "guest"} <= set(model.threads):
        return []
    H, G = _at(model, "host"), _at(model, "guest")
    S, I = V("host.seq"), V("host.id")
    last, done, go = V("guest.last"), V("m.done"), V("m.go")
    two_i = I + I
    # where the host is, relative to its current command
    before_go = H("send.gpa", "send.ret", "send.wmb", "send.go")  # seq already bumped, go not yet written
    between = H("begin", "idle", "save.len1", "save.page", "load.len", "load.page")  # no command in flight
    waiting = H("send.poll", "send.poll.last")
    seen = H("send.rmb", "send.got")
    working = G("accept", "cmd", "gpa", "dispatch", "save", "save.hdr", "restore", "restore.copy", "ret", "wmb", "done")
    # the helper's three phases for command S (published: go == S)
    not_taken = And(G("wait"), last.eq(S - 1), done.eq(S - 1))
    taking = And(working, V("guest.go").eq(S), V("guest.gog").eq(two_i), last.eq(S - 1), done.eq(S - 1))
    finished = And(G("wait"), last.eq(S), done.eq(S), V("mg.done").eq(two_i + 1))
    prev_done = Or(V("mg.done").eq(two_i - 1), And(S.eq(1), V("mg.done").eq(0)))
    params = And(V("mg.cmd").eq(two_i), V("mg.gpa").eq(two_i), V("mg.go").eq(two_i), go.eq(S))
    out = [
        ("no command is ever left pending", V("host.pending").eq(0)),
        ("id and seq advance together (id first, at send)",
         Or(And(H("send.cmd"), I.eq(S + 1)), And(Not(H("send.cmd")), I.eq(S)))),
        ("between commands: the helper has finished the last one",
         _implies(Or(between, H("send.cmd")), And(G("wait"), last.eq(S), done.eq(S), go.eq(S)))),
        ("between commands: done carries the last command's ghost",
         _implies(between, Or(V("mg.done").eq(two_i + 1), And(S.eq(0), V("mg.done").eq(0))))),
        ("at send.cmd: done carries the previous command's ghost",
         _implies(H("send.cmd"), Or(V("mg.done").eq(two_i - 1), And(S.eq(0), V("mg.done").eq(0))))),
        ("publishing: the helper is idle on the previous command",
         _implies(before_go, And(G("wait"), last.eq(S - 1), done.eq(S - 1), go.eq(S - 1), prev_done))),
        ("publishing: the parameters written so far are this command's",
         _implies(H("send.ret", "send.wmb", "send.go"), And(V("mg.cmd").eq(two_i), V("mg.gpa").eq(two_i)))),
        ("waiting: not taken, being served, or finished",
         _implies(waiting, And(params, Or(And(Or(not_taken, taking), prev_done), finished)))),
        ("done == seq seen: the helper has finished this command",
         _implies(seen, And(params, finished, V("host.dg").eq(two_i + 1)))),
        ("a helper at work read this command's parameters",
         _implies(And(G("gpa", "dispatch", "save", "save.hdr", "restore", "restore.copy", "ret", "wmb", "done"),
                      Or(waiting, seen)), V("guest.cmdg").eq(two_i))),
        ("a helper past ret wrote this command's ret",
         _implies(And(G("wmb", "done"), Or(waiting, seen)), And(V("mg.ret").eq(two_i + 1), V("m.ret").eq(V("guest.ret"))))),
        ("finished: ret is this command's",
         _implies(And(finished, Or(waiting, seen)), V("mg.ret").eq(two_i + 1))),
        # what makes every honest result OK (liveness.honest-progress)
        ("the helper's command is the host's",
         _implies(And(working, Not(G("accept", "cmd")), Or(waiting, seen)), V("guest.cmd").eq(V("host.cmd")))),
        ("the helper's gpa is the host's",
         _implies(And(working, Not(G("accept", "cmd", "gpa")), Or(waiting, seen)), V("guest.gpa").eq(V("host.cgpa")))),
        ("the parameters in memory are the host's",
         _implies(Or(waiting, seen), And(V("m.cmd").eq(V("host.cmd")), V("m.gpa").eq(V("host.cgpa"))))),
        ("the host only asks for pages in RAM", In(V("host.cgpa"), [0, 1])),
        ("ENCRYPT and DECRYPT only after INIT: the helper is initialized",
         _implies(And(In(V("host.cmd"), [1, 2]), Or(waiting, seen)), V("guest.init").eq(1))),
        ("initialized host, initialized helper (but inside cleanup's RESET)",
         _implies(And(V("host.init").eq(1), Not(And(V("host.cmd").eq(3), Or(waiting, seen)))), V("guest.init").eq(1))),
        ("an ENCRYPT's io page is the helper's output for it",
         _implies(And(V("host.cmd").eq(1), Or(waiting, seen),
                      Or(finished, G("save.hdr", "ret", "wmb", "done"))), V("mg.io").eq(two_i + 1))),
        ("saving: the io page the host copies is this command's output",
         _implies(H("save.len1", "save.page"), V("mg.io").eq(two_i + 1))),
        ("a carried-out INIT left the helper initialized",
         _implies(And(V("host.cmd").eq(0), Or(waiting, seen),
                      Or(finished, G("save", "save.hdr", "restore", "restore.copy", "ret", "wmb", "done"))),
                  V("guest.init").eq(1))),
        ("the helper's session is the model's", V("guest.epoch").eq(V("x.epoch"))),
        ("a DECRYPT's io page is this session's ciphertext of its gpa",
         _implies(And(V("host.cmd").eq(2), Or(H("send.cmd", "send.gpa", "send.ret", "send.wmb", "send.go"), waiting, seen),
                      Not(G("save", "save.hdr"))),
                  V("m.io").eq(V("x.epoch") + V("x.epoch") + V("host.cgpa") + 4))),
        ("the helper's copy of a DECRYPT page is that ciphertext",
         _implies(And(G("restore.copy"), Or(waiting, seen)),
                  V("guest.io").eq(V("x.epoch") + V("x.epoch") + V("host.cgpa") + 4))),
        ("an honest result is OK",
         _implies(And(G("ret", "wmb", "done"), Or(waiting, seen)), V("guest.ret").eq(0))),
        ("a finished command's ret is OK", _implies(And(finished, Or(waiting, seen)), V("m.ret").eq(0))),
        ("no time passes while the current command is unfinished",
         _implies(And(waiting, Not(finished)), V("host.t").eq(0))),
    ]
    return [Invariant(f"lemma: {name}", e) for name, e in out]


def lemmas(model) -> list[Invariant]:
    """Every hand-written candidate for this cell (empty where none are written)."""
    return handshake(model)
