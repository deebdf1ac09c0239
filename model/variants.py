"""The protocol variants: ``rfc`` as published, ``hardened`` our fix.

Each variant is a class whose methods write one procedure of the protocol as
steps, line by line in the order of docs/protocol.md. The
``Hardened`` class overrides only what it changes, so reading it is reading
the fix (docs/hardened.md says why for each change).

Conventions: host locals ``cmd``/``cgpa`` are the command being sent, ``res``
its outcome (0 ok, 1 the guest reported failure, 2 timed out), ``t`` model
ticks since the command started, ``nc`` the tick of the host's next clock
check, ``id`` the ghost number of the current command. Monitor flags are
global ghosts ``v.<property>``: they record, they never steer.
"""
from __future__ import annotations

from typing import ClassVar, Sequence

from . import values as val
from .expr import And, B, Expr, Ite, Not, Or, P, V, lift
from .layout import HDR_MAX
from .program import Fence, Read, Thread, Write
from .properties import Property
from .values import DECRYPT, ENCRYPT, INIT, RESET

RES_OK, RES_FAILED, RES_TIMEOUT = 0, 1, 2
OP_SAVE, OP_LOAD, OP_CLEANUP = 1, 2, 3


def flag(name: str, cond: Expr) -> dict[str, Expr]:
    """Sticky monitor update: ``v.<name>`` becomes 1 when ``cond`` holds at this step."""
    var = f"v.{name}"
    return {var: B(Or(V(var).eq(1), cond))}


def ram_gpa(gpa: Expr) -> Expr:
    """The fixed meaning of "a private page of guest RAM" that monitors use (variants may not redefine it)."""
    return Or(gpa.eq(val.G0), gpa.eq(val.G1))


def merge(*ds: dict) -> dict:
    out: dict = {}
    for d in ds:
        for k, v in d.items():
            if k in out:
                raise ValueError(f"{k} updated twice in one step")
            out[k] = v
    return out


def _div4(code: Expr) -> Expr:
    """op of an op*4+gpa code (codes are small constants, so a lookup suffices)."""
    return Ite(code.ge(OP_CLEANUP * 4), OP_CLEANUP, Ite(code.ge(OP_LOAD * 4), OP_LOAD, Ite(code.ge(OP_SAVE * 4), OP_SAVE, 0)))


def _mod4(code: Expr) -> Expr:
    return code - _div4(code) - _div4(code) - _div4(code) - _div4(code)


h = lambda name: V(f"host.{name}")  # noqa: E731
g = lambda name: V(f"guest.{name}")  # noqa: E731


class Rfc:
    """The protocol as published in 2021 (QEMU RFC v2 host, OVMF RFC v2 guest)."""

    name: ClassVar[str] = "rfc"
    #: shared fields the model tracks; prefetch is left out (the guest never reads it)
    FIELDS: ClassVar[tuple[str, ...]] = ("cmd", "gpa", "ret", "go", "done", "hdr_len", "io")
    #: (side, step) writes an implementation may leave out, for the conformance oracle (none
    #: as published: the host's ret = -1 and done = 0 are what its wait relies on)
    OPTIONAL_WRITES: ClassVar[frozenset[tuple[str, str]]] = frozenset()
    #: a variant's own properties, judged beside the catalog's wherever the variant runs
    #: (a user variant declares them here; docs/variants.md)
    PROPERTIES: ClassVar[tuple[Property, ...]] = ()

    HOST_LOCALS: ClassVar[dict[str, int]] = {
        "op": 0, "gpa": 0, "cmd": 0, "cgpa": 0, "ret_to": 0, "res": 0,
        "d": 0, "dg": 0, "r": 0, "rg": 0, "l1": 0, "l2": 0, "l3": 0, "page": 0, "pageg": 0,
        "init": 0, "t": 0, "nc": 0, "ops": 0, "id": 0, "seq": 0, "pending": 0, "role": 0,
    }
    GUEST_LOCALS: ClassVar[dict[str, int]] = {
        "go": 0, "gog": 0, "cmd": 0, "cmdg": 0, "gpa": 0, "gpag": 0, "io": 0,
        "ret": 0, "did": 0, "init": 0, "last": 0, "epoch": 0,
    }

    def __init__(self, deadline: int | Expr = 2, quantum: int | Expr = 1):
        self.D = lift(deadline)
        self.Q = lift(quantum)

    # ================================================================ host: operations
    def host(self, scripts: Sequence[Sequence[tuple[int, int]]]) -> Thread:
        """The host runs one of ``scripts`` (chosen at start): a migration's operations in order.

        A real source host only saves and cleans up, a target only loads and cleans
        up; a script such as save G0, cleanup, save G1 covers a second migration
        after cleanup with two gpas.
        """
        H = Thread("host", self.HOST_LOCALS)
        H.step("begin", "role: which migration script this host runs",
               params={"role": tuple(range(max(1, len(scripts))))}, set={"role": P("role")}, next="idle")

        def pick(i: int) -> Expr:  # (op, gpa) of step ops in the chosen script, as one number op*4+gpa
            out: Expr = lift(0)
            for r, script in enumerate(scripts):
                if i < len(script):
                    out = Ite(h("role").eq(r), script[i][0] * 4 + script[i][1], out)
            return out

        if not scripts:  # unbounded: any operation, any number of times (for unbounded proofs)
            H.step(
                "idle", "next operation: save g, load g, or cleanup (RESET), any number of times",
                params={"op": (OP_SAVE, OP_LOAD, OP_CLEANUP), "g": val.PRIVATE_GPAS},
                set={"op": P("op"), "gpa": Ite(P("op").eq(OP_CLEANUP), 0, P("g"))},
                ghost={"x.failed": 0},
                next=[(P("op").eq(OP_SAVE), "save"), (P("op").eq(OP_LOAD), "load"), (None, "cleanup")],
            )
        else:
            longest = max(len(sc) for sc in scripts)
            code: Expr = lift(0)
            for i in reversed(range(longest)):
                code = Ite(h("ops").eq(i), pick(i), code)
            H.step(
                "idle", "next operation of the script: save g, load g, or cleanup (RESET)",
                guard=Or(*[And(h("role").eq(r), h("ops").lt(len(sc))) for r, sc in enumerate(scripts)]),
                set={"op": _div4(code), "gpa": _mod4(code), "ops": h("ops") + 1},
                ghost={"x.failed": 0},
                next=[(_div4(code).eq(OP_SAVE), "save"), (_div4(code).eq(OP_LOAD), "load"), (None, "cleanup")],
            )
        self.save(H)
        self.load(H)
        self.cleanup(H)
        self.send(H)
        self.host_extra(H)
        return H

    def host_extra(self, H: Thread) -> None:
        """Steps a variant adds after all others (so the published steps keep their numbers)."""

    def call(self, H: Thread, label: str, text: str, cmd: int, gpa: Expr | int, back: str) -> None:
        """A step that calls send(cmd, gpa) and continues at ``back``."""
        H.step(label, text, set={"cmd": cmd, "cgpa": gpa, "ret_to": H.ref(back)}, next="send")

    #: host temporaries, cleared when an operation ends (dead values would only split states)
    HOST_SCRATCH: ClassVar[tuple[str, ...]] = ("op", "gpa", "cmd", "cgpa", "ret_to", "res", "d", "dg", "r", "rg",
                                               "l1", "l2", "l3", "page", "pageg", "t", "nc")
    GUEST_SCRATCH: ClassVar[tuple[str, ...]] = ("gog", "cmd", "cmdg", "gpa", "gpag", "io", "ret", "did")

    def end_op(self, H: Thread, label: str, text: str, ok: Expr, extra_ghost: dict | None = None) -> None:
        """Finish the operation; success must not be reported after a failure."""
        H.step(label, text, set={k: 0 for k in self.HOST_SCRATCH},
               ghost=merge(flag("adversary.error-no-data", And(ok, V("x.failed").eq(1))), {"x.seen": 0},
                           extra_ghost or {}), next="idle")

    #: published: a failed INIT is ignored and the operation goes on
    INIT_MUST_SUCCEED: ClassVar[bool] = False

    def init_if_needed(self, H: Thread, p: str, then: str) -> None:
        """Send INIT unless initialized; mark initialized only on success; what a failure does is the variant's."""
        H.step(f"{p}.init?", "if not initialized: send INIT", next=[(h("init").eq(0), f"{p}.init"), (None, then)])
        self.call(H, f"{p}.init", "send INIT", INIT, 0, f"{p}.inited")
        if self.INIT_MUST_SUCCEED:
            H.step(f"{p}.inited", "if INIT failed: the operation fails", set={"init": B(h("res").eq(RES_OK))},
                   next=[(h("res").eq(RES_OK), then), (None, f"{p}.fail")])
        else:
            H.step(f"{p}.inited", "initialized = (ret == 0); a failed INIT is ignored",
                   set={"init": B(h("res").eq(RES_OK))}, next=then)

    def save(self, H: Thread) -> None:
        """Source side: save one page."""
        H.step("save", "save page: begin", next="save.init?")
        self.init_if_needed(H, "save", "save.enc")
        self.call(H, "save.enc", "send ENCRYPT gpa", ENCRYPT, h("gpa"), "save.encd")
        H.step("save.encd", "if the result is nonzero (or timed out): report, return -1",
               next=[(h("res").ne(RES_OK), "save.fail"), (None, "save.len1")])
        self.save_header(H)
        self.emit_page(H)
        self.end_op(H, "save.fail", "save failed", lift(False))

    def save_header(self, H: Thread) -> None:
        """Published: check hdr.len, then read it again to emit it and again to copy the header."""
        H.step("save.len1", "read hdr.len (first read); if > 1024: report, return -EINVAL", Read("hdr_len", "l1"),
               next=[(V("host.l1").gt(HDR_MAX), "save.fail"), (None, "save.len2")])
        H.step("save.len2", "emit be32(hdr.len) (second read)", Read("hdr_len", "l2"))
        self.copy_header(H, "save.len3", "l3")

    def copy_header(self, H: Thread, label: str, into: str) -> None:
        H.step(label, "emit hdr.data[hdr.len] (third read of hdr.len)", Read("hdr_len", into))

    def emit_page(self, H: Thread) -> None:
        cur = val.guest_ghost(val.host_ghost(h("id")))
        H.step(
            "save.page", "emit be32(4096), then the io page: record complete", Read("io", "page", "pageg"),
            ghost=merge(
                flag("adversary.in-bounds", h("l3").gt(val.HLEN_IN_AREA)),
                flag("adversary.header-bound",
                     Or(h("l2").gt(HDR_MAX), h("l2").ne(h("l1")), h("l3").ne(h("l2")))),
                flag("adversary.error-no-data", V("x.failed").eq(1)),
                flag("order.response", h("pageg").ne(cur)),
            ),
            next="save.ok",
        )
        self.end_op(H, "save.ok", "save done: return 0", lift(True))

    #: where a load goes once initialized (hardened first waits out a pending command)
    LOAD_AFTER_INIT: ClassVar[str] = "load.len"

    def load(self, H: Thread) -> None:
        """Target side: load one page from the (honest) stream."""
        H.step("load", "load page: begin", next="load.init?")
        self.init_if_needed(H, "load", self.LOAD_AFTER_INIT)
        H.step("load.len", "write len (<= 1024, from the stream) to hdr.len",
               Write("hdr_len", lift(val.HLEN_OK), val.host_ghost(h("id"))))
        H.step("load.page", "read the page from the stream into the io page",
               Write("io", self.stream_page(), val.host_ghost(h("id"))))
        self.load_send(H)
        self.end_op(H, "load.decd", "return ret", h("res").eq(RES_OK))
        if self.load_can_fail():
            self.end_op(H, "load.fail", "load failed", lift(False))

    def load_can_fail(self) -> bool:
        """A load can fail before its DECRYPT (a failed INIT that counts)."""
        return self.INIT_MUST_SUCCEED

    def load_send(self, H: Thread) -> None:
        self.call(H, "load.dec", "send DECRYPT gpa", DECRYPT, h("gpa"), "load.decd")

    def stream_page(self) -> Expr:
        """What the stream carries for this page: plaintext, as published."""
        return val.plain(h("gpa"))

    def cleanup(self, H: Thread) -> None:
        """Cleanup sends RESET; published: the initialized flag is not cleared."""
        self.call(H, "cleanup", "send RESET", RESET, 0, "cleanup.done")
        self.end_op(H, "cleanup.done", "migration ends (initialized stays set)", h("res").eq(RES_OK))

    # ================================================================ host: send a command
    def complete(self, done: Expr) -> Expr:
        """When the host treats the command as finished: published, any nonzero done."""
        return done.ne(0)

    def send(self, H: Thread) -> None:
        """Published send: params, smp_wmb, go=1, poll done in bursts with a clock check, read ret."""
        H.step("send", "start command", set={"id": h("id") + 1, "t": 0, "nc": self.Q},
               ghost={"x.seen": 0, "x.el": 0}, next="send.cmd")
        self.publish(H)
        self.wait(H, "send.poll", h("d"), "send.got", "send.timeout")
        self.read_result(H)
        H.step("send.timeout", "done still 0: report timed-out, return -EIO (nothing is reset)",
               set={"res": RES_TIMEOUT}, ghost=merge({"x.failed": 1}, self.timeout_ghost()), next=h("ret_to"))

    def publish(self, H: Thread) -> None:
        idg = val.host_ghost(h("id"))
        H.step("send.cmd", "cmd_type = cmd", Write("cmd", h("cmd"), idg))
        H.step("send.gpa", "gpa = gpa", Write("gpa", h("cgpa"), idg))
        H.step("send.ret", "ret = -1", Write("ret", lift(val.INVALID), idg))
        H.step("send.done", "done = 0", Write("done", lift(0), idg))
        H.step("send.wmb", "smp_wmb()", Fence("wmb"))
        H.step("send.go", "go = 1", Write("go", self.go_value(), idg), ghost=self.go_ghost(), next="send.poll")

    def go_value(self) -> Expr:
        return lift(1)

    def go_ghost(self) -> dict[str, Expr]:
        """Monitors at go: state.init-before-use; RESET ends the initialized period."""
        cmd = h("cmd")
        return merge(
            flag("state.init-before-use", And(Or(cmd.eq(ENCRYPT), cmd.eq(DECRYPT)), V("x.ginit").eq(0))),
            {"x.ginit": Ite(cmd.eq(RESET), 0, V("x.ginit"))},
        )

    def wait(self, H: Thread, label: str, into: Expr, ok: str, timeout: str, target: Expr | None = None) -> None:
        """Spin on done; after each burst (quantum) check the clock; past the deadline re-read done once.

        ``target`` None means "the command's own completion" (:meth:`complete`).
        """
        done_ok = self.complete(h("d")) if target is None else h("d").eq(target)
        H.step(label, "poll done", Read("done", "d", "dg"),
               next=[(done_ok, ok), (h("t").ge(h("nc")), f"{label}.clock"), (None, label)])
        H.step(f"{label}.clock", "burst over: read the clock",
               set={"nc": Ite(h("t").ge(self.D), h("nc"), h("nc") + self.Q)},
               next=[(h("t").ge(self.D), f"{label}.last"), (None, label)])
        H.step(f"{label}.last", "deadline passed: read done once more", Read("done", "d", "dg"),
               next=[(done_ok, ok), (None, timeout)])

    #: what send.got says: the published host reads ret with no read barrier before it
    got_text = "return ret (read with no read barrier)"

    def read_result(self, H: Thread) -> None:
        cur = val.guest_ghost(val.host_ghost(h("id")))
        H.step("send.got", self.got_text, Read("ret", "r", "rg"),
               set={"res": Ite(V("host.r").eq(val.OK), RES_OK, RES_FAILED)},
               ghost=merge(
                   flag("order.response", Or(h("dg").ne(cur), V("host.rg").ne(cur))),
                   self.result_ghost(),
               ),
               next=h("ret_to"))

    def result_ghost(self) -> dict[str, Expr]:
        """Ghost bookkeeping when a command returns a guest result."""
        r_ok = V("host.r").eq(val.OK)
        return merge(
            {"x.ginit": Ite(And(h("cmd").eq(INIT), r_ok), 1, V("x.ginit"))},
            {"x.failed": B(Or(V("x.failed").eq(1), Not(r_ok)))},
            flag("liveness.honest-progress", Not(r_ok)),
            flag("liveness.recovery", And(Not(r_ok), self.recovered())),
        )

    def timeout_ghost(self) -> dict[str, Expr]:
        # false timeout: the completion was visible before the deadline, or the
        # deadline (measured by the ghost clock x.el, not the host's) has not passed
        return merge(
            flag("timeout.no-false-timeout", Or(V("x.seen").eq(1), V("x.el").lt(self.D))),
            flag("liveness.honest-progress", lift(True)),
            flag("liveness.recovery", self.recovered()),
        )

    @staticmethod
    def recovered() -> Expr:
        """The guest has been prompt since before this command started."""
        return And(V("x.prompt").eq(1), h("id").gt(V("x.prompt_at")))

    def waiting(self, H: Thread) -> Expr:
        """The host is busy-waiting (time may pass)."""
        return H.at("send.poll")

    def completion_visible(self) -> Expr:
        """The current command's completion is in memory (for no-false-timeout)."""
        cur = val.guest_ghost(val.host_ghost(h("id")))
        return And(self.complete(V("m.done")), V("mg.done").eq(cur))

    # ================================================================ guest helper
    def guest(self) -> Thread:
        G = Thread("guest", self.GUEST_LOCALS)
        self.guest_start(G)
        self.guest_wait(G)
        self.guest_params(G)
        self.guest_dispatch(G)
        self.guest_finish(G)
        return G

    def gghost(self) -> Expr:
        return val.guest_ghost(g("gog"))

    def guest_start(self, G: Thread) -> None:
        G.step("start", "at start: go = 0 (a go written before this is lost)", Write("go", lift(0), lift(1)))

    def go_pending(self, go: Expr) -> Expr:
        """When the helper sees a command: published, go != 0."""
        return go.ne(0)

    def guest_wait(self, G: Thread) -> None:
        G.step("wait", "spin until go != 0", Read("go", "go", "gog"),
               next=[(self.go_pending(g("go")), "accept"), (None, "wait")])
        G.step("accept", "done = 0", Write("done", lift(0), self.gghost()))

    def guest_params(self, G: Thread) -> None:
        G.step("cmd", "read cmd_type", Read("cmd", "cmd", "cmdg"))
        G.step("gpa", "read gpa", Read("gpa", "gpa", "gpag"),
               ghost=flag("order.publish", Or(g("cmdg").ne(g("gog")), V("guest.gpag").ne(g("gog")))),
               next="dispatch")

    def authentic(self, gpa: Expr) -> Expr:
        """The only io page a RESTORE of ``gpa`` may write to RAM: published, its plaintext."""
        return val.plain(gpa)

    def in_ram(self, gpa: Expr) -> Expr:
        return Or(gpa.eq(val.G0), gpa.eq(val.G1))

    def guest_dispatch(self, G: Thread) -> None:
        """Published: SAVE copies gpa -> io page (no address check); RESTORE copies io -> gpa
        unless gpa is in the mailbox (then silently skips); INIT/RESET do nothing."""
        cmd, gpa = g("cmd"), g("gpa")
        G.step("dispatch", "by cmd_type",
               set={"ret": Ite(Or(*[cmd.eq(c) for c in (INIT, ENCRYPT, DECRYPT, RESET)]), val.OK, val.INVALID),
                    "did": B(Or(cmd.eq(INIT), cmd.eq(RESET)))},
               next=[(cmd.eq(ENCRYPT), "save"), (cmd.eq(DECRYPT), "restore"), (None, "ret")])
        page = Ite(self.in_ram(gpa), val.plain(gpa), Ite(gpa.eq(val.MAILBOX), val.EMPTY, val.FORGED))
        G.step("save", "SAVE: copy the page at gpa into the io page (plaintext)",
               Write("io", page, self.gghost()),
               set={"did": B(self.in_ram(gpa))},
               ghost=merge(flag("guest.gpa-checked", Not(ram_gpa(gpa))),
                           flag("guest.confidential", val.is_plain(page))),
               next="ret")
        G.step("restore", "RESTORE: read the io page", Read("io", "io"))
        G.step("restore.copy", "copy it to gpa, unless gpa is in the mailbox (silently skipped)",
               set={"did": B(self.in_ram(gpa))},
               ghost=merge(
                   flag("guest.gpa-checked", gpa.eq(val.OUTSIDE)),
                   flag("guest.integrity", And(ram_gpa(gpa), g("io").ne(self.authentic(gpa)))),
               ),
               next="ret")

    def guest_finish(self, G: Thread) -> None:
        G.step("ret", "ret = 0 (success, also for a skipped RESTORE)", Write("ret", g("ret"), self.gghost()),
               ghost=flag("guest.refusal-reported", And(g("ret").eq(val.OK), g("did").eq(0))))
        G.step("go0", "go = 0", Write("go", lift(0), self.gghost()))
        G.step("done", "done = 1", Write("done", lift(1), self.gghost()),
               set={k: 0 for k in self.GUEST_SCRATCH + ("go",)}, next="wait")

    def guest_busy(self, G: Thread, go_visible: Expr) -> Expr:
        """The helper has work it has not finished (time may not pass for an honest helper)."""
        return Or(Not(G.at("wait")), self.go_pending(go_visible))

    def host_go_domain(self, n: int) -> tuple[int, ...]:
        """Values an adversarial host writes to go."""
        return (0, 1, 2)

    def guest_done_domain(self, n: int) -> tuple[int, ...]:
        """Values an adversarial guest writes to done."""
        return (0, 1, 2)

    def lemmas(self, model) -> list:
        """Strengthening lemmas for this cell's proofs (``mhmailbox.proofs.lemmas.Invariant``s).

        Candidates like the mined ones: Houdini keeps those inductive together, so a wrong one
        costs time, never soundness. None by default (``hardened``'s are built into the proofs)."""
        return []


class Hardened(Rfc):
    """The fix: sequence numbers, one fetch, wait for consumption, barriers, checked gpas, AEAD pages.

    Changes, each closing a finding of docs/review-rfc.md:

    1. ``go`` carries a fresh sequence number; the helper echoes it in ``done``;
       the host accepts only ``done == seq`` (no stale or unsolicited completion).
    2. The helper never writes ``go`` (host-owned) and does not clear it at start
       (no lost command); it serves a command when ``go`` differs from the last
       sequence it served.
    3. After a timeout the host waits, within the next command's own deadline,
       until the old command is consumed before it touches the parameters.
    4. Barriers: helper rmb after reading go and wmb before done; host rmb after done.
    5. The host reads ``hdr.len`` once into private memory and uses that copy.
    6. INIT must succeed before ENCRYPT/DECRYPT; a failed INIT fails the save.
       Cleanup clears "initialized", so a second migration sends INIT again.
    7. The helper refuses ENCRYPT/DECRYPT before INIT, and any gpa outside RAM or
       inside the shared area, with an error code.
    8. Pages cross encrypted with the transfer key, bound to gpa and migration
       session (opened by an INIT that finds the helper uninitialized);
       DECRYPT authenticates and refuses tampered, moved or replayed pages (AUTH).
    """

    #: (side, step) writes an implementation may leave out (the conformance oracle's rule;
    #: docs/hardened.md): the helper writes ret before done = seq and the host reads ret only
    #: after seeing done = seq, so the host's ret = -1 before go is never read by anyone
    OPTIONAL_WRITES: ClassVar[frozenset[tuple[str, str]]] = frozenset({("host", "send.ret")})

    name: ClassVar[str] = "hardened"
    got_text = "return ret (after send.rmb)"

    # ---- host -------------------------------------------------------------------
    INIT_MUST_SUCCEED: ClassVar[bool] = True

    def save_header(self, H: Thread) -> None:
        H.step("save.len1", "len = hdr.len, once, into private memory; if len > 1024: fail", Read("hdr_len", "l1"),
               set={"l2": V("host.l1"), "l3": V("host.l1")},
               next=[(V("host.l1").gt(HDR_MAX), "save.fail"), (None, "save.page")])

    def stream_page(self) -> Expr:
        return val.cipher(h("gpa"), V("x.epoch"))

    def cleanup(self, H: Thread) -> None:
        self.call(H, "cleanup", "send RESET", RESET, 0, "cleanup.done")
        H.step("cleanup.done", "clear initialized: the next migration starts with INIT",
               set={"init": 0}, next="cleanup.end")
        self.end_op(H, "cleanup.end", "migration ends", h("res").eq(RES_OK))

    def complete(self, done: Expr) -> Expr:
        return done.eq(h("seq"))

    def send(self, H: Thread) -> None:
        H.step("send", "start command: deadline from now; previous command still pending?",
               set={"id": h("id") + 1, "t": 0, "nc": self.Q}, ghost={"x.seen": 0, "x.el": 0},
               next=[(h("pending").ne(0), "send.prev"), (None, "send.cmd")])
        self.wait(H, "send.prev", h("d"), "send.prevok", "send.timeout", target=h("pending"))
        H.step("send.prevok", "previous command consumed", set={"pending": 0}, next="send.cmd")
        self.publish(H)
        self.wait(H, "send.poll", h("d"), "send.rmb", "send.timeout")
        H.step("send.rmb", "done == seq: read barrier before reading the response", Fence("rmb"), next="send.got")
        self.read_result(H)
        H.step("send.timeout", "timed out: remember the pending command; parameters untouched",
               set={"res": RES_TIMEOUT, "pending": Ite(h("pending").ne(0), h("pending"), h("seq"))},
               ghost=merge({"x.failed": 1}, self.timeout_ghost()), next=h("ret_to"))

    def publish(self, H: Thread) -> None:
        idg = val.host_ghost(h("id"))
        H.step("send.cmd", "cmd_type = cmd; seq = seq + 1", Write("cmd", h("cmd"), idg), set={"seq": h("seq") + 1})
        H.step("send.gpa", "gpa = gpa", Write("gpa", h("cgpa"), idg))
        H.step("send.ret", "ret = -1", Write("ret", lift(val.INVALID), idg))
        H.step("send.wmb", "smp_wmb()", Fence("wmb"))
        H.step("send.go", "go = seq", Write("go", self.go_value(), idg), ghost=self.go_ghost(), next="send.poll")

    def go_value(self) -> Expr:
        return h("seq")

    def waiting(self, H: Thread) -> Expr:
        return H.at("send.poll", "send.prev", "load.prev")

    #: a command still pending is waited out *before* the host writes the response area
    #: (hdr.len, the io page), not only before the parameters: a late helper finishing an
    #: old ENCRYPT would otherwise overwrite the page a DECRYPT is about to read (found by
    #: the unbounded proof of liveness.recovery). The waiting steps are in host_extra.
    LOAD_AFTER_INIT: ClassVar[str] = "load.quiesce"

    def load_can_fail(self) -> bool:
        return True  # also when the wait for a pending command times out

    def load_send(self, H: Thread) -> None:
        H.step("load.dec", "send DECRYPT gpa, within the load's deadline",
               set={"cmd": DECRYPT, "cgpa": h("gpa"), "ret_to": H.ref("load.decd")}, next="load.send")

    def host_extra(self, H: Thread) -> None:
        H.step("load.send", "send DECRYPT: the command started with the load's wait (nothing pending now)",
               next="send.cmd")
        H.step("load.quiesce", "start the DECRYPT command, deadline from now: first wait out a command still "
               "pending, before writing hdr.len and the io page",
               set={"id": h("id") + 1, "t": 0, "nc": self.Q}, ghost={"x.seen": 0, "x.el": 0},
               next=[(h("pending").ne(0), "load.prev"), (None, "load.len")])
        self.wait(H, "load.prev", h("d"), "load.prevok", "load.timeout", target=h("pending"))
        H.step("load.prevok", "previous command consumed", set={"pending": 0}, next="load.len")
        H.step("load.timeout", "still pending: the load fails, the response area untouched",
               set={"res": RES_TIMEOUT}, ghost=merge({"x.failed": 1}, self.timeout_ghost()), next="load.fail")

    # ---- guest ------------------------------------------------------------------
    def guest_start(self, G: Thread) -> None:
        G.step("start", "at start: leave go alone (a pending command is served)", None)

    def go_pending(self, go: Expr) -> Expr:
        return And(go.ne(0), go.ne(g("last")))

    def guest_wait(self, G: Thread) -> None:
        G.step("wait", "spin until go is a new sequence number", Read("go", "go", "gog"),
               next=[(self.go_pending(g("go")), "accept"), (None, "wait")])
        G.step("accept", "read barrier: parameters after go", Fence("rmb"))

    def guest_dispatch(self, G: Thread) -> None:
        cmd, gpa = g("cmd"), g("gpa")
        usable = And(g("init").eq(1), self.in_ram(gpa))
        opens = And(cmd.eq(INIT), g("init").eq(0))
        G.step("dispatch", "check: known command; ENCRYPT/DECRYPT need INIT and a gpa in RAM outside the mailbox",
               set={"ret": Ite(Or(cmd.eq(INIT), cmd.eq(RESET)), val.OK, val.INVALID),
                    "did": B(Or(cmd.eq(INIT), cmd.eq(RESET))),
                    "init": Ite(cmd.eq(INIT), 1, Ite(cmd.eq(RESET), 0, g("init"))),
                    "epoch": Ite(opens, g("epoch") + 1, g("epoch"))},
               # an INIT that finds the helper uninitialized (at boot, after RESET)
               # opens the next migration session with the peer helper; a repeated
               # INIT (a host retrying after a timeout) keeps it. The ghost x.epoch
               # is the session both helpers agreed on, which is what an honest
               # stream's pages are bound to (docs/hardened.md, "Sessions and replays")
               ghost={"x.epoch": Ite(opens, g("epoch") + 1, V("x.epoch"))},
               next=[(And(cmd.eq(ENCRYPT), usable), "save"), (And(cmd.eq(DECRYPT), usable), "restore"),
                     (None, "ret")])
        sealed = self.sealed(gpa)
        G.step("save", "ENCRYPT: AES-GCM(page at gpa; gpa, migration) into the io page",
               Write("io", sealed, self.gghost()),
               ghost=merge(flag("guest.confidential", val.is_plain(sealed)),
                           flag("guest.gpa-checked", Not(ram_gpa(gpa)))))
        G.step("save.hdr", "write the response header length", Write("hdr_len", lift(val.HLEN_OK), self.gghost()),
               set={"ret": val.OK, "did": 1}, next="ret")
        G.step("restore", "DECRYPT: read the io page", Read("io", "io"))
        ok = self.accepts(g("io"), gpa)
        G.step("restore.copy", "authenticate (gpa, migration); only then write RAM, else AUTH",
               set={"ret": Ite(ok, val.OK, val.AUTH), "did": B(ok)},
               ghost=merge(flag("guest.integrity", And(ok, g("io").ne(self.authentic(gpa)))),
                           flag("guest.gpa-checked", And(ok, Not(ram_gpa(gpa))))),
               next="ret")

    def guest_finish(self, G: Thread) -> None:
        G.step("ret", "ret = result", Write("ret", g("ret"), self.gghost()),
               ghost=flag("guest.refusal-reported", And(g("ret").eq(val.OK), g("did").eq(0))))
        G.step("wmb", "write barrier: response before done", Fence("wmb"))
        G.step("done", "done = go (echo the sequence number)", Write("done", g("go"), self.gghost()),
               set={"last": g("go"), **{k: 0 for k in self.GUEST_SCRATCH + ("go",)}}, next="wait")

    def sealed(self, gpa: Expr) -> Expr:
        """What ENCRYPT puts in the io page: the page sealed with the transfer key."""
        return val.cipher(gpa, g("epoch"))

    def accepts(self, io: Expr, gpa: Expr) -> Expr:
        """The AEAD check: the tag verifies only for this gpa and this migration."""
        return io.eq(val.cipher(gpa, g("epoch")))

    def authentic(self, gpa: Expr) -> Expr:
        """The page encrypted by a helper holding the transfer key, for this gpa, this migration."""
        return val.cipher(gpa, g("epoch"))

    def host_go_domain(self, n: int) -> tuple[int, ...]:
        return tuple(range(0, n + 2))

    def guest_done_domain(self, n: int) -> tuple[int, ...]:
        return tuple(range(0, n + 2))


VARIANTS: dict[str, type[Rfc]] = {"rfc": Rfc, "hardened": Hardened}
