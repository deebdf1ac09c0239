"""Lesson 6 of docs/tutorial/: the published protocol with the barriers of lesson 4 put in.

The host reads ``ret`` only after a read barrier that follows ``done``; the helper reads the
parameters only after a read barrier that follows ``go``, and writes ``done`` only after a write
barrier that follows ``ret``. Everything else is ``Rfc``, as published (a command can still be
lost at boot, a late answer still taken for the next command: lessons 2 and 3).
"""
from mhmailbox.model import values as val
from mhmailbox.model.expr import And, lift
from mhmailbox.model.program import Fence, Thread, Write
from mhmailbox.model.variants import Rfc, flag, g


class Barriers(Rfc):
    name = "rfc+barriers"

    def wait(self, H: Thread, label, deadline, ok, timeout, **kw) -> None:
        if ok != "send.got":  # only the wait for this command's done is followed by a read of ret
            return super().wait(H, label, deadline, ok, timeout, **kw)
        super().wait(H, label, deadline, "send.rmb", timeout, **kw)
        H.step("send.rmb", "smp_rmb(): read ret only after done", Fence("rmb"), next="send.got")

    def guest_params(self, G: Thread) -> None:
        G.step("rmb", "smp_rmb(): read the parameters only after go", Fence("rmb"))
        super().guest_params(G)

    def guest_finish(self, G: Thread) -> None:
        # Rfc.guest_finish, with a write barrier before done
        G.step("ret", "ret = 0 (success, also for a skipped RESTORE)", Write("ret", g("ret"), self.gghost()),
               ghost=flag("guest.refusal-reported", And(g("ret").eq(val.OK), g("did").eq(0))))
        G.step("go0", "go = 0", Write("go", lift(0), self.gghost()))
        G.step("wmb", "smp_wmb(): the response before done", Fence("wmb"))
        G.step("done", "done = 1", Write("done", lift(1), self.gghost()),
               set={k: 0 for k in self.GUEST_SCRATCH + ("go",)}, next="wait")
