"""The oracle (model/observe.py) rule by rule, each rule next to the one-line faults it must catch.

Driven directly with short access sequences (no implementation, no rig): the reports a
divergence carries, the counters the suite reads (windows, returns, timeouts, elided,
omitted, steps, flags), each elidable read and deadline claim (a label left out of
ELIDABLE or CLAIMS fails one test here), held writes, and that a failed elision leaves no
trace (one counter not rolled back fails it). bench/mutation.py runs these first for
model/observe.py; its mutants that no test can tell apart are in bench/mutation_equivalent.txt.
"""
from __future__ import annotations

import pytest

from mhmailbox.model import values as val
from mhmailbox.model.expr import V, lift
from mhmailbox.model.observe import Divergence, Observer, normalize
from mhmailbox.model.program import Thread, Write
from mhmailbox.model.variants import Hardened, Rfc

SAVE, LOAD, CLEANUP = 1, 2, 3  # the host's operations (variants.OP_*)


def _hardened() -> Hardened:
    return Hardened(deadline=4, quantum=1)


def _rfc() -> Rfc:
    return Rfc(deadline=4, quantum=1)


def _host(variant=None, mem: dict | None = None) -> Observer:
    """A host observer at idle; ``mem`` (field -> (value, ghost)) is what elided reads see."""
    peek = None if mem is None else (lambda f: mem[f])
    obs = Observer(variant or _hardened(), "host", peek=peek)
    obs.choose(role=0)
    return obs


def _has(obs: Observer, label: str) -> bool:
    return any(st.label == label for st in obs.thread.steps)


def _publish(obs: Observer, cmd: int, gpa: int, seq: int, *, ret: bool = True) -> None:
    """The host's publication of one command (hardened: go = seq; rfc: done = 0 and go = 1)."""
    rfc = _has(obs, "send.done")
    obs.observe("write", "cmd", cmd)
    obs.observe("write", "gpa", gpa)
    if ret:
        obs.observe("write", "ret", val.INVALID)
    if rfc:
        obs.observe("write", "done", 0)
    obs.observe("barrier", "wmb")
    obs.observe("write", "go", 1 if rfc else seq)


def _complete(obs: Observer, seq: int, ret: int = val.OK) -> None:
    """The host sees its command ``seq`` (command id ``seq``) completed with ``ret``."""
    ghost = 2 * obs.env["host.id"] + 1  # the helper's writes while serving this command
    obs.observe("read", "done", seq, ghost)
    if _has(obs, "send.rmb"):
        obs.observe("barrier", "rmb")
    obs.observe("read", "ret", ret, ghost)


# ---------------------------------------------------------------- the divergence report
def test_a_divergence_reports_the_access_number_the_access_and_the_models_step() -> None:
    obs = _host()
    obs.choose(op=CLEANUP, g=0)
    obs.observe("write", "cmd", val.RESET)
    with pytest.raises(Divergence) as e:
        obs.observe("read", "hdr_len", 16)
    d = e.value
    why = "the implementation's read of hdr_len matches no step of the model"
    assert str(d) == f"divergence at access #2: {why}"
    want = {"access": 2, "observed": "read hdr_len=16", "model_at": "send.gpa",
            "model_expects": ["send.gpa: write gpa := host.cgpa  (gpa = gpa)"], "why": why, "model_state": d.state}
    assert {k: d.as_dict()[k] for k in want} == want
    assert d.state == obs.state() and d.state["host.cmd"] == val.RESET and d.state["host.pc"] == obs.thread.pc_of(
        "send.gpa")


def test_a_fence_is_reported_without_a_value() -> None:
    obs = _host()
    obs.choose(op=CLEANUP, g=0)
    with pytest.raises(Divergence) as e:
        obs.observe("barrier", "rmb")
    assert e.value.observed == "barrier rmb" and e.value.index == 1


def test_the_expectation_describes_each_kind_of_step() -> None:
    obs = _host()
    assert obs.expected()[0].startswith("idle: choose op, g  (next operation")
    obs.choose(op=CLEANUP, g=0)
    for f, v in (("cmd", val.RESET), ("gpa", 0), ("ret", -1)):
        obs.observe("write", f, v)
    assert obs.expected() == ["send.wmb: wmb  (smp_wmb())"]
    obs.observe("barrier", "wmb")
    obs.observe("write", "go", 1)
    assert obs.expected() == ["send.poll: read done  (poll done)"]


def test_choose_where_the_model_has_no_choice_diverges() -> None:
    obs = _host()
    obs.choose(op=CLEANUP, g=0)
    with pytest.raises(Divergence) as e:
        obs.choose(op=SAVE)
    assert e.value.observed == "choose {'op': 1}"
    assert e.value.why == "the model is not at a choice (at send.cmd)"


def test_an_unknown_side_is_refused() -> None:
    with pytest.raises(ValueError, match="^side is 'host' or 'guest'$"):
        Observer(_hardened(), "peer")


# ---------------------------------------------------------------- state and counters
def test_a_new_observer_is_at_its_first_step_with_nothing_taken() -> None:
    host = Observer(_hardened(), "host")
    assert host.state() == {"host.pc": 0} and host.steps == 0 and host.history == []
    host.choose(role=0)
    assert host.at == "idle" and host.steps == 1 and host.history == ["begin"]
    guest = Observer(_hardened(), "guest")  # "start" is a local step, taken at once
    assert guest.at == "wait" and guest.steps == 1 and guest.visited == {"start"}


def test_the_threads_initial_locals_are_the_starting_state() -> None:
    class SeqFrom7(Hardened):
        HOST_LOCALS = {**Hardened.HOST_LOCALS, "seq": 7}

    obs = _host(SeqFrom7(deadline=4, quantum=1))
    obs.choose(op=CLEANUP, g=0)
    _publish(obs, val.RESET, 0, 8)  # go carries seq + 1 = 8
    assert obs.at == "send.poll"


def test_writes_return_their_provenance_and_reads_store_theirs() -> None:
    """A host write carries 2*id; the helper's writes carry the go ghost it read plus one;
    a read without a ghost counts as the initial contents (ghost 0)."""
    obs = _host()
    obs.choose(op=CLEANUP, g=0)
    assert obs.observe("write", "cmd", val.RESET) == 2
    guest = Observer(_hardened(), "guest")
    guest.observe("read", "go", 1, 6)
    guest.observe("barrier", "rmb")
    guest.observe("read", "cmd", val.INIT, 6)
    guest.observe("read", "gpa", 0)
    assert guest.env["guest.gog"] == 6 and guest.env["guest.cmdg"] == 6 and guest.env["guest.gpag"] == 0
    assert guest.observe("write", "ret", val.OK) == 7


def test_a_stale_parameter_sets_order_publish_where_it_was_read_first() -> None:
    def command(obs: Observer, go: int, gpa_ghost: int) -> None:
        obs.observe("read", "go", go, 2 * go)
        obs.observe("barrier", "rmb")
        obs.observe("read", "cmd", val.INIT, 2 * go)
        obs.observe("read", "gpa", 0, gpa_ghost)
        obs.observe("write", "ret", val.OK)
        obs.observe("barrier", "wmb")
        obs.observe("write", "done", go)

    fresh = Observer(_hardened(), "guest")
    command(fresh, 1, 2)
    assert fresh.flags() == set() and fresh.flag_at == {}
    stale = Observer(_hardened(), "guest")
    command(stale, 1, 0)  # gpa read carries the initial contents' ghost, not this go's
    command(stale, 2, 0)
    assert stale.flags() == {"order.publish"}
    assert stale.flag_at == {"order.publish": (4, "gpa", "read gpa")}  # the first time, not the second


def test_set_time_is_the_clock_the_poll_compares() -> None:
    obs = _host()
    obs.choose(op=CLEANUP, g=0)
    _publish(obs, val.RESET, 0, 1)
    obs.set_time(4)
    obs.observe("read", "done", 0)
    assert obs.at == "send.poll.last"  # past the deadline: one more read of done, then time out


def test_history_keeps_the_first_4000_labels() -> None:
    obs = _host()
    obs.choose(op=CLEANUP, g=0)
    _publish(obs, val.RESET, 0, 1)
    for _ in range(4100):
        obs.observe("read", "done", 0)
    assert len(obs.history) == 4000 and obs.steps > 4100


def test_commands_count_windows_returns_and_timeouts() -> None:
    """rfc save of G0: INIT returns (command 1, window 1); ENCRYPT times out (command 2, window 2)."""
    mem = {"done": (0, 0)}
    obs = _host(_rfc(), mem)
    obs.choose(op=SAVE, g=val.G0)
    _publish(obs, val.INIT, 0, 1)
    assert obs.windows == 1
    _complete(obs, 1)  # ... and the model goes on to the ENCRYPT's send, opening window 2
    assert (obs.windows, obs.returns, obs.timeouts) == (2, [(1, 1)], [])
    _publish(obs, val.ENCRYPT, val.G0, 2)
    obs.observe("read", "done", 0)
    obs.finish(["idle"])
    assert (obs.windows, obs.returns, obs.timeouts) == (2, [(1, 1), (2, 2)], [(2, 2)])
    assert obs.elided == 2 and obs.at == "idle"


# ---------------------------------------------------------------- elided reads and the deadline claim
def _hardened_timeout(mem: dict) -> Observer:
    """A hardened cleanup whose RESET is never answered: the host gives up (pending = 1)."""
    obs = _host(_hardened(), mem)
    obs.choose(op=CLEANUP, g=0)
    _publish(obs, val.RESET, 0, 1)
    obs.observe("read", "done", 0)
    obs.finish(["idle"])
    assert obs.timeouts == [(1, 1)] and obs.elided == 2 and obs.env["host.pending"] == 1
    return obs


def test_giving_up_on_a_pending_command_elides_its_wait() -> None:
    """The next command waits for the old one (send.prev); the host gives up on it too."""
    mem = {"done": (0, 0)}
    obs = _hardened_timeout(mem)
    obs.choose(op=CLEANUP, g=0)
    assert obs.at == "send.prev"
    obs.observe("read", "done", 0)
    obs.finish(["idle"])  # send.prev (deadline claimed), send.prev.last, timed out
    assert "send.prev.last" in obs.history and obs.elided == 4
    assert obs.timeouts == [(1, 1), (2, 2)] and obs.windows == 2


def _load_after_a_timed_out_encrypt() -> Observer:
    """hardened: a save's INIT succeeds, its ENCRYPT (seq 2) times out; then a load starts."""
    mem = {"done": (0, 0)}
    obs = _host(_hardened(), mem)
    obs.choose(op=SAVE, g=val.G0)
    _publish(obs, val.INIT, 0, 1)
    _complete(obs, 1)
    _publish(obs, val.ENCRYPT, val.G0, 2)
    obs.finish(["idle"])
    obs.choose(op=LOAD, g=val.G0)
    return obs


def test_a_load_gives_up_on_a_pending_command() -> None:
    """hardened: a save's ENCRYPT times out; the load then waits it out (load.prev) and gives up."""
    obs = _load_after_a_timed_out_encrypt()
    assert obs.at == "load.prev" and obs.windows == 3
    obs.finish(["idle"])  # load.prev (deadline claimed), load.prev.last, load.timeout
    assert "load.prev.last" in obs.history and "load.timeout" in obs.history
    assert obs.timeouts == [(2, 2), (3, 3)] and obs.returns == [(1, 1), (2, 2), (3, 3)]


def test_a_load_waits_out_a_pending_command_that_then_completes() -> None:
    """hardened: a save's ENCRYPT times out; the load polls for it across a clock read
    (load.prev.clock), sees it consumed (load.prevok) and goes on to its own command."""
    obs = _load_after_a_timed_out_encrypt()
    assert obs.at == "load.prev" and obs.env["host.pending"] == 2
    obs.set_time(1)
    obs.observe("read", "done", 0)  # a burst over: the clock read, still within the deadline
    assert obs.at == "load.prev" and "load.prev.clock" in obs.history
    obs.observe("read", "done", 2, 2 * 2 + 1)  # the late helper consumed the timed-out ENCRYPT
    assert "load.prevok" in obs.history and obs.at == "load.len" and obs.env["host.pending"] == 0


def test_skipping_the_poll_claims_the_deadline_and_never_moves_the_clock_back() -> None:
    """The host goes on to its read barrier without polling; memory shows the completion."""
    for now, after in ((0, 4), (6, 6)):
        obs = _host(_hardened(), {"done": (1, 3)})
        obs.choose(op=CLEANUP, g=0)
        _publish(obs, val.RESET, 0, 1)
        obs.set_time(now)
        obs.observe("barrier", "rmb")
        assert obs.at == "send.got" and obs.elided == 1 and obs.env["host.t"] == after


def test_without_memory_to_peek_at_nothing_is_elided() -> None:
    obs = _host()
    obs.choose(op=CLEANUP, g=0)
    _publish(obs, val.RESET, 0, 1)
    with pytest.raises(Divergence) as e:
        obs.finish(["idle"])
    assert e.value.observed == "end of operation"
    assert e.value.why == "the implementation finished its operation; the model is at send.poll"


def test_a_read_the_model_may_not_skip_is_not_elided() -> None:
    """hardened save: after ENCRYPT the host must read hdr.len before the io page."""
    mem = {"hdr_len": (val.HLEN_OK, 5), "io": (6, 5)}
    obs = _host(_hardened(), mem)
    obs.choose(op=SAVE, g=val.G0)
    _publish(obs, val.INIT, 0, 1)
    _complete(obs, 1)
    _publish(obs, val.ENCRYPT, val.G0, 2)
    _complete(obs, 2)
    assert obs.at == "save.len1"
    with pytest.raises(Divergence):
        obs.observe("read", "io", 6, 5)


def _helper_given(cmd: int, variant=None, mem: dict | None = None) -> Observer:
    """A hardened helper that served INIT (go 1) and has read the parameters of ``cmd`` of G0 (go 2)."""
    obs = Observer(variant or _hardened(), "guest", peek=None if mem is None else (lambda f: mem[f]))
    for a in [("read", "go", 1, 2), ("barrier", "rmb"), ("read", "cmd", val.INIT, 2), ("read", "gpa", 0, 2),
              ("write", "ret", val.OK), ("barrier", "wmb"), ("write", "done", 1),
              ("read", "go", 2, 4), ("barrier", "rmb"), ("read", "cmd", cmd, 4), ("read", "gpa", val.G0, 4)]:
        obs.observe(*a)
    return obs


def _guest_decrypt(mem: dict) -> Observer:
    """At a DECRYPT of G0 whose io page the helper has not read."""
    obs = _helper_given(val.DECRYPT, mem=mem)
    assert obs.at == "restore"
    return obs


def test_a_helper_may_refuse_a_page_without_reading_it() -> None:
    obs = _guest_decrypt({"io": (val.FORGED, 0)})
    assert obs.observe("write", "ret", val.AUTH) == 5  # the ghost of this command's response
    assert obs.elided == 1 and obs.at == "wmb"
    # but not a page that memory shows would authenticate: the model would accept it
    with pytest.raises(Divergence):
        _guest_decrypt({"io": (4 + 2 * 1 + val.G0, 0)}).observe("write", "ret", val.AUTH)


def test_a_failed_elision_leaves_no_trace() -> None:
    """rfc: the host gives up on INIT and reads hdr.len: the model would have gone on to
    ENCRYPT, so this diverges, with every counter as it was before the attempt."""
    obs = _host(_rfc(), {"done": (0, 0)})
    obs.choose(op=CLEANUP, g=0)
    _publish(obs, val.RESET, 0, 1)
    _complete(obs, 1)
    obs.choose(op=SAVE, g=val.G0)
    _publish(obs, val.INIT, 0, 2)
    obs.history.clear()  # as the rig does after each operation
    obs.observe("read", "done", 0)

    def snapshot():
        return (dict(obs.env), obs.steps, list(obs.history), list(obs.timeouts), list(obs.returns),
                set(obs.visited), dict(obs.flag_at), obs.windows, obs.elided)

    before = snapshot()
    assert before[4] == [(1, 1)] and before[7] == 2 and obs.steps != len(obs.history) > 0
    with pytest.raises(Divergence):
        obs.observe("read", "hdr_len", 16)
    assert snapshot() == before


# ---------------------------------------------------------------- write blocks, optional and wildcard writes
def _helper_at_encrypt() -> Observer:
    return _helper_given(val.ENCRYPT)


def test_a_divergence_names_the_writes_still_held() -> None:
    obs = _helper_at_encrypt()
    obs.observe("write", "hdr_len", val.HLEN_OK)
    with pytest.raises(Divergence) as e:
        obs.observe("write", "ret", val.OK)
    assert e.value.why == ("the implementation's write of ret matches no step of the model "
                           "(writes made early and still waiting for their step: ['save.hdr'])")


def test_a_held_write_never_reached_is_reported_at_the_end() -> None:
    obs = _helper_at_encrypt()
    obs.observe("write", "hdr_len", val.HLEN_OK)
    with pytest.raises(Divergence) as e:
        obs.finish(["wait"])
    assert e.value.observed == "end of operation"
    assert e.value.why == "writes made early never reached their steps: ['save.hdr']"


def test_a_held_write_waits_while_the_writes_before_it_come() -> None:
    obs = _host()
    obs.choose(op=CLEANUP, g=0)
    obs.observe("write", "ret", val.INVALID)  # held for send.ret
    obs.observe("write", "cmd", val.RESET)
    assert list(obs.held) == ["send.ret"] and obs.at == "send.gpa"
    obs.observe("write", "gpa", 0)
    assert obs.held == {} and obs.at == "send.wmb" and obs.omitted == 0


def test_a_held_write_is_checked_again_with_the_state_at_its_step() -> None:
    """A (made-up) helper whose header length depends on a local its io-page step sets."""

    class LenAfterPage(Hardened):
        def guest_dispatch(self, G: Thread) -> None:
            super().guest_dispatch(G)
            G.patch("save", set={"ret": 5})
            G.patch("save.hdr", mem=Write("hdr_len", V("guest.ret") + 11, lift(0)))

    obs = _helper_given(val.ENCRYPT, LenAfterPage(deadline=4, quantum=1))
    obs.observe("write", "hdr_len", val.INVALID + 11)  # what save.hdr would write now: held
    with pytest.raises(Divergence) as e:
        obs.observe("write", "io", 4 + 2 + val.G0)  # save.hdr now wants 5 + 11
    assert e.value.observed == "write hdr_len=10"
    assert e.value.why == "a write made early does not match save.hdr once the model gets there"


def test_each_left_out_optional_write_is_counted() -> None:
    obs = _host()
    obs.choose(op=SAVE, g=val.G0)
    _publish(obs, val.INIT, 0, 1, ret=False)
    _complete(obs, 1)
    _publish(obs, val.ENCRYPT, val.G0, 2, ret=False)
    assert obs.omitted == 2 and obs.at == "send.poll"


def test_a_load_writes_whatever_the_stream_carried() -> None:
    """hardened load: INIT, the deadline window of the DECRYPT opens, then hdr.len and the io page."""
    obs = _host()
    obs.choose(op=LOAD, g=val.G0)
    _publish(obs, val.INIT, 0, 1)
    _complete(obs, 1)
    assert obs.at == "load.len" and obs.windows == 2  # load.quiesce opened the DECRYPT's window
    obs.observe("write", "io", 99)  # the block: page before length
    obs.observe("write", "hdr_len", 40)
    assert obs.at == "send.cmd"
    obs.observe("write", "cmd", val.DECRYPT)
    with pytest.raises(Divergence):
        obs.observe("write", "gpa", 40)  # a parameter's value is still checked


def test_a_read_does_not_match_a_write_step_nor_a_write_a_read_step() -> None:
    obs = _host()
    obs.choose(op=CLEANUP, g=0)
    with pytest.raises(Divergence):
        obs.observe("read", "cmd", val.RESET)
    guest = Observer(_hardened(), "guest")
    with pytest.raises(Divergence):
        guest.observe("write", "go", 1)


def _rfc_helper_given(cmd: int, gpa: int) -> Observer:
    """A published helper that has read the parameters of its first command."""
    obs = Observer(_rfc(), "guest")
    for a in [("write", "go", 0), ("read", "go", 1, 2), ("write", "done", 0), ("read", "cmd", cmd, 2),
              ("read", "gpa", gpa, 2)]:
        obs.observe(*a)
    return obs


def test_the_helpers_done_is_never_written_early() -> None:
    """rfc helper: ret, go = 0 may come in either order, done = 1 only after both."""
    obs = _rfc_helper_given(val.INIT, 0)
    obs.observe("write", "go", 0)
    obs.observe("write", "ret", val.OK)
    obs.observe("write", "done", 1)
    assert obs.at == "wait"
    with pytest.raises(Divergence):
        _rfc_helper_given(val.INIT, 0).observe("write", "done", 1)


def test_the_hosts_go_is_never_written_early_even_without_a_barrier() -> None:
    """A (made-up) host with no write barrier: its parameters form a block, go stays last."""

    class NoBarrier(Rfc):
        def publish(self, H: Thread) -> None:
            idg = val.host_ghost(V("host.id"))
            H.step("send.cmd", "cmd_type = cmd", Write("cmd", V("host.cmd"), idg))
            H.step("send.gpa", "gpa = gpa", Write("gpa", V("host.cgpa"), idg))
            H.step("send.go", "go = 1", Write("go", lift(1), idg), next="send.poll")

    obs = _host(NoBarrier(deadline=4, quantum=1))
    obs.choose(op=CLEANUP, g=0)
    obs.observe("write", "gpa", 0)  # held: the parameters may come in any order
    with pytest.raises(Divergence):
        obs.observe("write", "go", 1)


def test_the_io_page_compares_empty_and_forged_as_one() -> None:
    assert [normalize("io", v) for v in (0, 1, 3, 6)] == [3, 1, 3, 6]
    assert normalize("gpa", 0) == 0 and normalize("ret", 0) == 0
    # rfc helper, ENCRYPT of a gpa outside RAM: the model copies FORGED, the helper zeros
    obs = _rfc_helper_given(val.ENCRYPT, val.OUTSIDE)
    obs.observe("write", "io", val.EMPTY)
    assert obs.at == "ret"


# ---------------------------------------------------------------- broken models are refused, not followed
def test_a_step_whose_guard_is_false_is_refused() -> None:
    class NoReset(Hardened):
        def host_extra(self, H: Thread) -> None:
            super().host_extra(H)
            H.patch("send.cmd", guard=V("host.cmd").ne(val.RESET))

    obs = _host(NoReset(deadline=4, quantum=1))
    obs.choose(op=CLEANUP, g=0)
    with pytest.raises(ValueError, match="^send.cmd: guard false$"):
        obs.observe("write", "cmd", val.RESET)


def test_a_loop_of_local_steps_is_refused() -> None:
    class Spins(Hardened):
        def guest_start(self, G: Thread) -> None:
            G.step("start", "spin without touching memory", None, next="start")

    with pytest.raises(RuntimeError, match="^local steps loop forever$"):
        Observer(Spins(deadline=4, quantum=1), "guest")


# ---------------------------------------------------------------- wrong answers and full barriers
def _write_diverges(obs: Observer, field: str, value: int) -> str | None:
    with pytest.raises(Divergence) as e:
        obs.observe("write", field, value)
    return e.value.answer


def _host_at_reset() -> Observer:
    obs = _host()
    obs.choose(op=CLEANUP, g=0)
    return obs


def test_a_wrong_value_where_the_model_writes_that_field_is_a_wrong_answer() -> None:
    assert _write_diverges(_host_at_reset(), "cmd", val.INIT) == (
        "wrote cmd=0 where the protocol's step send.cmd writes cmd=3")
    # a later step of the block: RESET's gpa is 0
    assert _write_diverges(_host_at_reset(), "gpa", 1) == "wrote gpa=1 where the protocol's step send.gpa writes gpa=0"
    assert _write_diverges(_helper_at_encrypt(), "io", 1) == "wrote io=1 where the protocol's step save writes io=6"


def test_a_field_only_the_peer_writes_is_a_wrong_answer() -> None:
    assert _write_diverges(_host_at_reset(), "done", 1) == "wrote done, which only the guest writes"
    assert _write_diverges(Observer(_hardened(), "guest"), "go", 0) == "wrote go, which only the host writes"


def test_a_write_out_of_order_is_no_wrong_answer() -> None:
    assert _write_diverges(_host_at_reset(), "go", 1) is None  # the host writes go, after its barrier
    assert _write_diverges(_helper_at_encrypt(), "ret", val.OK) is None  # after the response
    obs = _host()
    obs.choose(op=LOAD, g=val.G0)
    _publish(obs, val.INIT, 0, 1)
    _complete(obs, 1)
    obs.observe("write", "io", 99)  # held for load.page, whatever the stream carried
    assert _write_diverges(obs, "io", 98) is None
    with pytest.raises(Divergence) as e:
        _host_at_reset().observe("read", "go", 0)
    assert e.value.answer is None and e.value.as_dict()["answer"] is None


def test_a_full_barrier_stands_for_a_write_or_a_read_barrier() -> None:
    obs = _host_at_reset()
    for f, v in (("cmd", val.RESET), ("gpa", 0), ("ret", -1)):
        obs.observe("write", f, v)
    obs.observe("barrier", "mb")
    assert obs.at == "send.go"
    guest = Observer(_hardened(), "guest")
    guest.observe("read", "go", 1, 2)
    guest.observe("barrier", "mb")
    assert guest.at == "cmd"
