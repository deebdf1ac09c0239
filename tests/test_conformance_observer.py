"""The model-side oracle (model/observe.py) on its own: the implementation's honest runs are
behaviours of its model, and each documented matching rule does what it says and no more."""
from __future__ import annotations

import pytest

from mhmailbox.conformance.adapter import HARDENED, RFC
from mhmailbox.conformance.rig import GuestRig, HostRig
from mhmailbox.model import values as val
from mhmailbox.model.observe import Divergence, Observer
from mhmailbox.model.variants import Hardened, Rfc


@pytest.mark.parametrize("impl", [RFC, HARDENED], ids=["rfc", "hardened"])
def test_honest_host_run_is_a_model_behaviour(impl) -> None:
    rig = HostRig.build(impl)
    rec = rig.save(val.G0)
    assert rec is not None and rig.load(rec) and rig.cleanup()
    assert rig.save(val.G1) is not None
    assert rig.divergence is None
    assert rig.observer.at == "idle" and rig.observer.steps > 50


@pytest.mark.parametrize("impl", [RFC, HARDENED], ids=["rfc", "hardened"])
def test_honest_helper_run_is_a_model_behaviour(impl) -> None:
    rig = GuestRig.build(impl)
    assert rig.new_migration() == 0
    assert rig.encrypt(val.G0) == 0
    hdr, page, _ = rig.records[-1]
    assert rig.decrypt(hdr, page, val.G0) == 0
    assert rig.divergence is None and rig.observer.at == "wait"


def test_an_extra_read_is_a_divergence_with_the_models_expectation() -> None:
    obs = Observer(Hardened(deadline=4, quantum=1), "host")
    obs.choose(role=0)
    obs.choose(op=3, g=0)  # cleanup: send RESET
    obs.observe("write", "cmd", val.RESET)
    with pytest.raises(Divergence) as e:
        obs.observe("read", "hdr_len", 16)
    d = e.value.as_dict()
    assert d["model_at"] == "send.gpa" and "write gpa" in d["model_expects"][0]
    assert d["model_state"]["host.cmd"] == val.RESET


def test_write_values_are_checked() -> None:
    obs = Observer(Rfc(deadline=4, quantum=1), "host")
    obs.choose(role=0)
    obs.choose(op=3, g=0)
    with pytest.raises(Divergence):
        obs.observe("write", "cmd", val.INIT)  # cleanup must send RESET



def _reset_published(obs):
    """A hardened host's cleanup up to go = 1: RESET published, nothing answered yet."""
    obs.choose(role=0)
    obs.choose(op=3, g=0)
    for f, v in (("cmd", val.RESET), ("gpa", val.G0), ("ret", -1)):
        obs.observe("write", f, v)
    obs.observe("barrier", "wmb")
    obs.observe("write", "go", 1)
    return obs


def test_timeout_elision_needs_the_deadline_claim_and_memory() -> None:
    """The host gives up polling: the model's final re-read of done is taken from memory."""
    mem = {"done": (0, 0)}
    obs = _reset_published(Observer(Hardened(deadline=4, quantum=1), "host", peek=lambda f: mem[f]))
    obs.observe("read", "done", 0)
    obs.finish(["idle"])  # timed out: cleanup ends; the model timed out too
    assert "send.timeout" in obs.history and obs.elided >= 1
    # but a completion visible in memory cannot be ignored: the model would have taken it
    obs2 = _reset_published(Observer(Hardened(deadline=4, quantum=1), "host", peek=lambda f: (1, 3)))
    with pytest.raises(Divergence):
        obs2.finish(["idle"])


def _helper_at_encrypt() -> Observer:
    obs = Observer(Hardened(deadline=4, quantum=1), "guest")
    for a in [("read", "go", 1, 2), ("barrier", "rmb"), ("read", "cmd", val.INIT, 2), ("read", "gpa", val.G0, 2),
              ("write", "ret", 0), ("barrier", "wmb"), ("write", "done", 1),
              ("read", "go", 2, 4), ("barrier", "rmb"), ("read", "cmd", val.ENCRYPT, 4), ("read", "gpa", val.G0, 4)]:
        obs.observe(*a)
    return obs


def test_a_block_of_writes_may_come_in_any_order() -> None:
    obs = _helper_at_encrypt()
    obs.observe("write", "hdr_len", val.HLEN_OK)  # held: the model writes io first
    assert list(obs.held) == ["save.hdr"]
    obs.observe("write", "io", 4 + 2 * 1 + val.G0)  # CIPHER(G0, m1)
    assert obs.held == {} and obs.at == "ret"


def test_a_write_from_past_the_block_diverges() -> None:
    obs = _helper_at_encrypt()
    with pytest.raises(Divergence):
        obs.observe("write", "ret", 0)  # ret comes after the response, not within its block


def test_a_held_write_is_checked_at_its_step() -> None:
    obs = _helper_at_encrypt()
    obs.observe("write", "hdr_len", val.HLEN_OK)
    with pytest.raises(Divergence):
        obs.observe("write", "io", 1)  # PLAIN(G0): the step wants the sealed page
    obs2 = _helper_at_encrypt()
    obs2.observe("write", "hdr_len", val.HLEN_OK)
    with pytest.raises(Divergence, match="never reached"):
        obs2.finish(["wait"])


def _host_publishing() -> Observer:
    obs = Observer(Hardened(deadline=4, quantum=1), "host")
    obs.choose(role=0)
    obs.choose(op=1, g=val.G0)  # a save of G0: INIT first
    return obs


def test_host_parameters_in_any_order_and_ret_left_out() -> None:
    """Hardened: gpa before cmd_type, no ret = -1 (nobody reads it), then the barrier and go."""
    obs = _host_publishing()
    obs.observe("write", "gpa", val.G0)
    obs.observe("write", "cmd", val.INIT)
    obs.observe("barrier", "wmb")
    assert obs.omitted == 1 and obs.at == "send.go"
    obs.observe("write", "go", 1)


def test_rfc_host_may_not_leave_out_done() -> None:
    obs = Observer(Rfc(deadline=4, quantum=1), "host")
    obs.choose(role=0)
    obs.choose(op=1, g=val.G0)
    for a in [("write", "cmd", val.INIT), ("write", "gpa", val.G0), ("write", "ret", -1)]:
        obs.observe(*a)
    with pytest.raises(Divergence):
        obs.observe("barrier", "wmb")  # done = 0 is what the published wait relies on


def test_go_before_the_barrier_diverges() -> None:
    obs = _host_publishing()
    obs.observe("write", "cmd", val.INIT)
    obs.observe("write", "gpa", val.G0)
    with pytest.raises(Divergence):
        obs.observe("write", "go", 1)


def test_wire_log_round_trips() -> None:
    """The JSON-lines wire form carries every access, values included (bytes as hex)."""
    from mhmailbox.conformance.adapter import dump_jsonl, load_jsonl

    rig = HostRig.build(HARDENED)
    rig.record = []
    rec = rig.save(val.G0)
    assert rec is not None and rig.load(rec)
    text = dump_jsonl(rig.record)
    assert text.count("\n") == len(rig.record) > 20
    assert load_jsonl(text) == rig.record
    assert '"where": "go"' in text and '"kind": "barrier"' in text
