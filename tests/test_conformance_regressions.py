"""Reproducers that once failed our own hardened implementation, kept as regression tests,
and the session and replay rules of docs/hardened.md ("Sessions and replays") checked on the
implementation, the model's observer and the oracle together.

Each reproducer is a shrunk run a random conformance run found; ``replay`` returns None when the
implementation and its model agree on every access and every property holds.
"""
from __future__ import annotations

import pytest

from mhmailbox.conformance.cases import replay
from mhmailbox.impl.crypto import Provision
from mhmailbox.impl.guest import GuestHelper
from mhmailbox.impl.memory import DirectPort
from mhmailbox.model.layout import PAGE_SIZE, Cmd, Ret

REPRODUCERS = {
    # a hostile host turns a DECRYPT into an ENCRYPT after go: the suite once counted the page as
    # accepted (ret was 0) and then refused it as a replay where the helper rightly took it
    "decrypt-rewritten-to-encrypt": ("guest/hostile-host", [
        ("init", {}), ("encrypt", {"g": 0, "sched": []}),
        ("decrypt_at", {"i": 0, "sched": [(0, ("param", "cmd_type", 1))], "to": 0}),
        ("decrypt_fresh", {"g": 0, "sched": []})]),
    "decrypt-rewritten-then-same-copy": ("guest/hostile-host", [
        ("init", {}), ("encrypt", {"g": 0, "sched": []}), ("encrypt", {"g": 0, "sched": []}),
        ("decrypt_at", {"i": 0, "sched": [(0, ("param", "cmd_type", 1))], "to": 0}),
        ("decrypt_at", {"i": 0, "sched": [], "to": 0})]),
    # the former "known divergence": a command turned into INIT while a session is open
    "encrypt-rewritten-to-init": ("guest/hostile-host", [
        ("init", {}), ("encrypt", {"g": 0, "sched": []}),
        ("encrypt", {"g": 0, "sched": [(0, ("param", "cmd_type", 0))]}),
        ("decrypt_fresh", {"g": 0, "sched": []})]),
    # INIT after a RESET opens the next session: the page of the first is refused by both
    "init-after-reset-rewritten": ("guest/hostile-host", [
        ("init", {}), ("encrypt", {"g": 0, "sched": []}), ("reset", {}),
        ("encrypt", {"g": 1, "sched": [(0, ("param", "cmd_type", 0))]}),
        ("decrypt_at", {"i": 0, "sched": [], "to": 0})]),
    # two migrations in a row: the rig must follow the session the helper opened on each provisioning
    "second-migration-encrypt": ("guest/replay", [("init", {}), ("init", {}), ("encrypt", {"g": 0, "sched": []})]),
    # a save, the end of its migration, then a load: the load is that migration's target side,
    # whose helper (the same reference peer, provisioned for that migration) opens its session
    # anew; the suite once gave it a new session on the old provisioning, where the record is a
    # page of an earlier session
    "load-after-cleanup": ("host/recovery", [
        ("boot", {"at": 0}), ("cleanup", {"sched": [(0, ("serve",))]}), ("cleanup", {"sched": []}),
        ("save", {"g": 0, "sched": []}), ("cleanup", {"sched": []}), ("load", {"g": 0, "sched": []})]),
}


@pytest.mark.parametrize("name", sorted(REPRODUCERS))
def test_hardened_reproducer_passes(name: str) -> None:
    case, steps = REPRODUCERS[name]
    assert replay(case, "hardened", steps) is None


# ---------------------------------------------------------------- the implementation's rules
def _helper() -> tuple[GuestHelper, bytearray, Provision]:
    mailbox, ram = bytearray(2 * PAGE_SIZE), bytearray(16 * PAGE_SIZE)
    ram[PAGE_SIZE:2 * PAGE_SIZE] = b"\x5a" * PAGE_SIZE
    prov = Provision.generate()
    return GuestHelper(DirectPort(memoryview(mailbox), "guest"), memoryview(ram), "hardened", prov), mailbox, prov


def _command(h: GuestHelper, mailbox: bytearray, cmd: Cmd, gpa: int = 0) -> int:
    host = DirectPort(memoryview(mailbox), "host")
    host.write("cmd_type", int(cmd))
    host.write("gpa", gpa)
    host.write("ret", -1)
    host.write("go", host.read("go") + 1)
    assert h.poll_once()
    return host.read("ret")


def _saved(h: GuestHelper, mailbox: bytearray, gpa: int) -> bytes:
    assert _command(h, mailbox, Cmd.ENCRYPT, gpa) == Ret.OK
    return bytes(mailbox)


def _offer(h: GuestHelper, mailbox: bytearray, saved: bytes, gpa: int) -> int:
    mailbox[0x800:] = saved[0x800:]  # header length, header and page as the source left them
    return _command(h, mailbox, Cmd.DECRYPT, gpa)


def test_repeated_init_keeps_the_session() -> None:
    h, mb, _ = _helper()
    _command(h, mb, Cmd.INIT)
    page = _saved(h, mb, PAGE_SIZE)
    assert _command(h, mb, Cmd.INIT) == Ret.OK and h.migration == 1
    assert _offer(h, mb, page, PAGE_SIZE) == Ret.OK


def test_init_after_reset_opens_the_next_session() -> None:
    h, mb, _ = _helper()
    _command(h, mb, Cmd.INIT)
    page = _saved(h, mb, PAGE_SIZE)
    _command(h, mb, Cmd.RESET)
    _command(h, mb, Cmd.INIT)
    assert h.migration == 2
    assert _offer(h, mb, page, PAGE_SIZE) == Ret.AUTH


def test_new_provisioning_waits_for_the_next_session() -> None:
    h, mb, _ = _helper()
    _command(h, mb, Cmd.INIT)
    page = _saved(h, mb, PAGE_SIZE)
    h.new_session(Provision.generate())
    _command(h, mb, Cmd.INIT)  # a session is open: the new provisioning is not used yet
    assert _offer(h, mb, page, PAGE_SIZE) == Ret.OK
    _command(h, mb, Cmd.RESET)
    _command(h, mb, Cmd.INIT)
    assert h.migration == 1  # first session on the new provisioning


def test_replay_is_judged_against_the_newest_accepted_copy() -> None:
    """An older copy is accepted until a newer one was accepted, then refused (and the copy
    accepted last is refused again)."""
    src, smb, prov = _helper()
    _command(src, smb, Cmd.INIT)
    old, new = _saved(src, smb, PAGE_SIZE), _saved(src, smb, PAGE_SIZE)
    dst, dmb, _ = _helper()
    dst.new_session(prov)
    _command(dst, dmb, Cmd.INIT)
    assert _offer(dst, dmb, old, PAGE_SIZE) == Ret.OK  # a newer copy exists, but was never delivered
    assert _offer(dst, dmb, new, PAGE_SIZE) == Ret.OK
    assert _offer(dst, dmb, old, PAGE_SIZE) == Ret.AUTH
    assert _offer(dst, dmb, new, PAGE_SIZE) == Ret.AUTH


def test_docs_quote_a_real_divergence() -> None:
    """docs/conformance.md's divergence example is what the suite prints for that mutant's run."""
    from pathlib import Path

    from mhmailbox.conformance.cases import divergence_line
    from mhmailbox.conformance.mutants import MUTANTS

    mutant = {m.id: m for m in MUTANTS}["guest-plaintext-page"]
    failure = replay("guest/honest", mutant.impl, [("init", {}), ("encrypt", {"g": 0, "sched": []})])
    from mhmailbox.conformance.cases import ANSWER

    # the plaintext written where the model seals is a wrong answer (the peer reads it), not a style
    assert failure is not None and failure.prop == ANSWER
    assert failure.divergence["answer"] == "wrote io=1 where the protocol's step save writes io=6"
    doc = (Path(__file__).resolve().parents[1] / "docs" / "conformance.md").read_text()
    assert "\n" + divergence_line(failure.divergence) + "\n" in doc
