"""The published protocol's weaknesses are found, with minimal traces; hardened violates nothing."""
import pytest

from mhmailbox.model.check import check, check_cell
from mhmailbox.model.explore import explore
from mhmailbox.model.findings import FINDINGS, review
from mhmailbox.model.properties import BY_ID, CATALOG
from mhmailbox.model.protocol import Bounds, build


def _violation(memory, guest, host, pid, **bounds):
    [r] = check_cell("rfc", memory, guest, host, properties=[BY_ID[pid]], bounds=Bounds(**bounds))
    assert r.verdict == "violated", (pid, memory, guest, host)
    return r


def _texts(trace):
    return [t for s in trace for t in [s["text"], *s["then"]]]


@pytest.mark.parametrize("finding", FINDINGS, ids=lambda f: f.id)
def test_each_finding_is_confirmed(finding):
    [r] = review((finding,))
    assert r.rfc.verdict == "violated" and r.rfc.trace
    assert r.hardened.verdict == "holds-to-depth" and r.hardened.exhaustive


def test_findings_cover_every_property_rfc_breaks():
    assert {f.property for f in FINDINGS} >= {p.id for p in CATALOG} - {"timeout.bounded-wait",
                                                                       "timeout.no-false-timeout"}


def test_stale_completion_after_timeout_is_accepted():
    r = _violation("sc", "slow", "faithful", "order.response")
    assert any("timed-out" in t for t in _texts(r.trace)), "the trace starts with a timeout"
    last = r.trace[-1]
    # the completion the host accepts was written by the guest for an earlier command
    assert last["written_by"]["done"].startswith("guest#")
    assert last["written_by"]["done"] != f"guest#{last['host_command']}"


def test_header_length_double_fetch():
    r = _violation("sc", "adversarial", "faithful", "adversary.header-bound")
    reads = [s["params"]["any_hdr_len"] for s in r.trace if "any_hdr_len" in s["params"]]
    assert len(reads) == 3 and len(set(reads)) > 1, "three reads of hdr.len, not all equal"
    oob = _violation("sc", "adversarial", "faithful", "adversary.in-bounds")
    assert max(s["params"].get("any_hdr_len", 0) for s in oob.trace) > 6140


def test_init_not_resent_after_reset():
    r = _violation("sc", "honest", "faithful", "state.init-before-use", helper_first=True)
    texts = _texts(r.trace)
    reset = max(i for i, t in enumerate(texts) if t == "send RESET")
    assert "send INIT" in texts[:reset] and "send INIT" not in texts[reset:]
    assert r.trace[-1]["memory"]["cmd"] in ("ENCRYPT", "DECRYPT")


def test_plaintext_in_shared_area():
    r = _violation("sc", "honest", "adversarial", "guest.confidential")
    assert r.trace[-1]["memory"]["io"].startswith("PLAIN(")


def test_traces_are_minimal():
    """No violation exists one step earlier than the reported depth (BFS)."""
    r = _violation("sc", "slow", "faithful", "order.response")
    model = build("rfc", "sc", "slow", "faithful", properties=[BY_ID["order.response"]])
    ex = explore(model.system.reduced().compile(), depth=r.depth - 1)
    assert not ex.found


def test_hardened_violates_nothing_anywhere():
    results = check(["hardened"], ["sc", "tso", "relaxed"])
    # vacuous: no violation, and no run reaches the steps that could set the monitor (a
    # silent guest never lets a save reach its header, model/coverage.py)
    assert results and all(r.verdict in ("holds-to-depth", "vacuous") for r in results)
    assert all(r.exhaustive for r in results), [r for r in results if not r.exhaustive][:1]
    cells = {(r.memory, r.guest, r.host) for r in results}
    assert len(cells) == 15  # 3 memory models x (4 guest behaviours + the adversarial host)
