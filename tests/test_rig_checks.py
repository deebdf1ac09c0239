"""The rigs' own checks, one by one: conformance/rig.py driven directly (no Hypothesis, no case).

Each test runs a HostRig or GuestRig with a reference implementation, a one-fault
implementation (conformance/mutants.py or a small subclass here) or a hand-set access list,
and asserts the exact property, message, count or abstract value the rig produces: the
field codec, the value abstraction, provenance and wire tags, the bounded-wait and
false-timeout limits, barriers, integrity, confidentiality, gpa checks, session following
and acceptance bookkeeping. Every test runs in milliseconds (bench/mutation.py runs them
for every mutant of rig.py).
"""
from __future__ import annotations

import attrs
import pytest

from mhmailbox.conformance import mutants
from mhmailbox.conformance import rig as R
from mhmailbox.conformance.adapter import HARDENED, IMPLEMENTATIONS, OperationFailed
from mhmailbox.conformance.rig import GPA, QUANTUM, TIMEOUT, GuestRig, HostRig
from mhmailbox.impl.crypto import HDR_SIZE, PageHeader, Provision
from mhmailbox.impl.guest import GuestHelper
from mhmailbox.impl.host import Host, HostError
from mhmailbox.impl.memory import HOST_MEMORY_PATTERN, Access, MemoryFault
from mhmailbox.model import values as val
from mhmailbox.model.layout import (
    HDR_MAX,
    OFF_HDR_DATA,
    OFF_IO_PAGE,
    PAGE_SIZE,
    SHARED_GPA,
    SHARED_SIZE,
    Cmd,
    Ret,
)

RFC = IMPLEMENTATIONS["rfc"]
ENCRYPT, DECRYPT, INIT, RESET = int(Cmd.ENCRYPT), int(Cmd.DECRYPT), int(Cmd.INIT), int(Cmd.RESET)


def _impl(name: str, *, host: type = Host, guest: type = GuestHelper, base=HARDENED):
    return attrs.evolve(base, name=name, host_cls=host, guest_cls=guest)


def _page(ram: bytes | bytearray, g: int) -> bytes:
    return bytes(ram[GPA[g]:GPA[g] + PAGE_SIZE])


# ====================================================================== module level
def test_fields_wrap_to_their_width() -> None:
    mb = bytearray(SHARED_SIZE)
    R._write_field(mb, "ret", -1)
    assert R._read_field(mb, "ret") == -1
    R._write_field(mb, "ret", 1 << 31)  # i32: wraps to the sign bit
    assert R._read_field(mb, "ret") == -(1 << 31)
    R._write_field(mb, "done", (1 << 32) + 5)
    assert R._read_field(mb, "done") == 5
    R._write_field(mb, "hdr_len", -1)  # u32
    assert R._read_field(mb, "hdr_len") == 0xFFFFFFFF
    R._write_field(mb, "hdr_len", (1 << 32) + 7)
    assert R._read_field(mb, "hdr_len") == 7
    R._write_field(mb, "gpa", -1)  # u64
    assert R._read_field(mb, "gpa") == (1 << 64) - 1
    R._write_field(mb, "gpa", (1 << 64) + 3)
    assert R._read_field(mb, "gpa") == 3
    assert R._read_field(mb, "ret") == -(1 << 31)  # fields do not overlap


def test_gpa_classes() -> None:
    for g, a in GPA.items():
        assert R.gpa_class(a) == g
    assert R.gpa_class(SHARED_GPA + SHARED_SIZE - 1) == val.MAILBOX
    assert R.gpa_class(SHARED_GPA + SHARED_SIZE) == val.OUTSIDE
    assert R.gpa_class(GPA[val.G0] + PAGE_SIZE) == val.OUTSIDE  # a RAM page the rig does not name
    assert R.gpa_class(0) == val.G0  # INIT and RESET carry gpa 0: the model's G0
    assert R.gpa_class(1) == R.gpa_class(PAGE_SIZE) == val.OUTSIDE


def test_docs_state_the_rigs_constants() -> None:
    """docs/conformance.md describes the rig by its RAM size, its two RAM gpas and the deadline."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "conformance.md").read_text()
    assert f"{R.RAM_PAGES} pages of guest RAM" in doc
    assert f"| gpa {GPA[val.G0]:#x}, {GPA[val.G1]:#x} (the two RAM pages the rig uses)" in doc
    assert f"a deadline of {R.D_TICKS} quanta" in doc


def test_rams_pages_are_distinct_and_none_is_blank() -> None:
    ram = R.patterned_ram()
    assert len(ram) == R.RAM_PAGES * PAGE_SIZE
    pages = [bytes(ram[p * PAGE_SIZE:(p + 1) * PAGE_SIZE]) for p in range(R.RAM_PAGES)]
    assert len(set(pages)) == R.RAM_PAGES
    assert all(len(set(p)) == 1 and p[0] != 0 for p in pages)  # uniform, never the zero page
    for g in (val.G0, val.G1):
        assert GPA[g] % PAGE_SIZE == 0 and GPA[g] + PAGE_SIZE <= len(ram)
    assert GPA[val.OUTSIDE] >= len(ram) and R.gpa_class(GPA[val.OUTSIDE]) == val.OUTSIDE


def test_timing_constants_agree() -> None:
    assert TIMEOUT == R.D_TICKS * QUANTUM
    v = HostRig.build(HARDENED).variant
    assert str(v.D) == str(R.D_TICKS) and type(v).__name__ == "Hardened"
    assert type(GuestRig.build(RFC).variant).__name__ == "Rfc"


# ====================================================================== shared parts
def test_violate_keeps_the_first_message() -> None:
    rig = GuestRig.build(HARDENED)
    rig.violate("robust", "first")
    rig.violate("robust", "second")
    assert rig.violations == {"robust": "first"}


def test_flag_message_names_the_access_and_step() -> None:
    rig = GuestRig.build(HARDENED)
    assert rig.flag_message("guest.integrity") == "model monitor v.guest.integrity set"
    rig.observer.flag_at["guest.integrity"] = (7, "dec.write", "ram[g] := io")
    assert rig.flag_message("guest.integrity") == ("model monitor v.guest.integrity set at access #7 by model step "
                                                   "dec.write (ram[g] := io)")


@pytest.mark.parametrize("impl", [HARDENED, RFC])
def test_header_length_abstraction(impl) -> None:
    rig = GuestRig.build(impl)
    assert rig.hlen_abstract(impl.valid_hdr_len) == val.HLEN_OK
    if impl.valid_hdr_len != val.HLEN_OK:
        assert rig.hlen_abstract(val.HLEN_OK) == val.HLEN_OK + 1
    assert rig.hlen_abstract(1025) == 1025
    assert rig.hlen_abstract(val.HLEN_OK + 1) == val.HLEN_OK + 1


def test_plain_tags() -> None:
    rig = GuestRig.build(HARDENED)
    p0, p1 = _page(rig.ram, val.G0), _page(rig.ram, val.G1)
    assert rig.plain_tag(p0, rig.ram) == val.G0 + 1
    assert rig.plain_tag(p1, rig.ram) == val.G1 + 1
    assert rig.plain_tag(p1, rig.ram, val.G1, only_hint=True) == val.G1 + 1
    assert rig.plain_tag(p1, rig.ram, val.G0, only_hint=True) is None  # not the page just copied
    assert rig.plain_tag(p1, rig.ram, val.G0) == val.G1 + 1
    assert rig.plain_tag(p0, rig.ram, val.MAILBOX) == val.G0 + 1  # no RAM hint: both pages tried
    assert rig.plain_tag(p0, rig.ram, val.MAILBOX, only_hint=True) is None
    assert rig.plain_tag(bytes(PAGE_SIZE), rig.ram) is None
    other = bytes(rig.ram[2 * PAGE_SIZE:3 * PAGE_SIZE]) if GPA[val.G0] != 2 * PAGE_SIZE else bytes(PAGE_SIZE)
    assert rig.plain_tag(other, rig.ram) is None


def test_note_keeps_a_readable_trace_and_the_record() -> None:
    rig = GuestRig.build(HARDENED)
    rig.record = []
    a, b, c = (Access("host", "read", "done", 4, 3), Access("host", "barrier", "rmb", 0, None),
               Access("host", "read", OFF_IO_PAGE, PAGE_SIZE, bytes(PAGE_SIZE)))
    for x in (a, b, c):
        rig.note(x)
    assert rig.trace[-3:] == ["host read done = 3", "host barrier rmb", f"host read {OFF_IO_PAGE} = <{PAGE_SIZE} bytes>"]
    assert rig.record == [a, b, c]


def test_the_trace_stops_at_its_cap() -> None:
    rig = GuestRig.build(HARDENED)
    rig.trace = ["x"] * 99999
    rig.note(Access("host", "read", "done", 4, 1))
    rig.note(Access("host", "read", "done", 4, 2))
    assert len(rig.trace) == 100000 and rig.trace[-1] == "host read done = 1"


# ====================================================================== helper under test
def _silent_helper(base=HARDENED):
    class Silent(GuestHelper):
        polls = 0

        def poll_once(self) -> bool:
            self.polls += 1
            return False

    return _impl("silent", guest=Silent, base=base)


def _sealed(g: int) -> tuple[GuestRig, bytes, bytes]:
    """A hardened helper's rig after INIT and an ENCRYPT of g: the rig, the page's header and the page."""
    rig = GuestRig.build(HARDENED)
    rig.new_migration()
    rig.encrypt(g)
    hdr, page, _ = rig.records[-1]
    return rig, hdr, page


def test_honest_helper_session_and_replay_bookkeeping() -> None:
    rig = GuestRig.build(HARDENED)
    assert rig.new_migration() == Ret.OK
    assert rig.ncmd == 1 and rig.session_epoch == 1 and rig.cipher.migration == 1
    assert rig.encrypt(val.G0) == Ret.OK
    hdr, page, g = rig.records[-1]
    assert g == val.G0 and len(hdr) == HDR_SIZE and len(page) == PAGE_SIZE
    seq = PageHeader.parse(hdr).seq
    assert rig.registry == {(hdr, page): (val.G0, 1, seq)}
    assert rig._page_tag(hdr, page, produced=False) == 4 + 2 * 1 + val.G0  # CIPHER(G0, 1)
    assert rig.decrypt(hdr, page, val.G0) == Ret.OK
    assert rig.accepted == {(1, val.G0): seq}
    assert rig._page_tag(hdr, page, produced=False) == val.FORGED  # now a replay
    assert rig.decrypt(hdr, page, val.G0) == Ret.AUTH
    assert rig.accepted == {(1, val.G0): seq}  # a refused copy is not accepted
    assert rig.divergence is None and rig.violations == {}
    assert rig.served == [("read", "go"), ("barrier", "rmb"), ("read", "cmd_type"), ("read", "gpa"),
                          ("read", "hdr_len"), ("read", OFF_HDR_DATA), ("read", OFF_IO_PAGE), ("write", "ret"),
                          ("barrier", "wmb"), ("write", "done")]


def test_the_request_page_belongs_to_the_command_that_carries_it() -> None:
    rig = GuestRig.build(HARDENED)
    assert rig.encrypt(val.G0) == Ret.INVALID and rig.records == []  # before INIT: refused, no record
    rig.new_migration()
    rig.encrypt(val.G0)
    hdr, page, _ = rig.records[-1]
    rig.decrypt(hdr, page, val.G0)
    assert rig.prov["io"] == 2 * rig.ncmd and rig.ncmd == 5  # ENCRYPT, RESET, INIT, ENCRYPT, DECRYPT


def test_an_older_copy_is_accepted_until_a_newer_one_was() -> None:
    rig = GuestRig.build(HARDENED)
    rig.new_migration()
    rig.encrypt(val.G1)
    rig.encrypt(val.G1)
    (h1, p1, _), (h2, p2, _) = rig.records
    s1, s2 = PageHeader.parse(h1).seq, PageHeader.parse(h2).seq
    assert rig.decrypt(h1, p1, val.G1) == Ret.OK and rig.accepted == {(1, val.G1): s1}
    assert rig.decrypt(h2, p2, val.G1) == Ret.OK and rig.accepted == {(1, val.G1): s2}
    assert rig.decrypt(h1, p1, val.G1) == Ret.AUTH
    assert rig.accepted == {(1, val.G1): s2} and rig.divergence is None and rig.violations == {}


def test_sessions_followed_across_resets_and_provisionings() -> None:
    rig = GuestRig.build(HARDENED)
    first = rig.provision
    rig.new_migration()
    p1 = rig.provision
    assert p1 is not first and rig.pending is None and rig.cipher.provision is p1
    rig.command(RESET, 0)
    assert rig.command(INIT, 0) == Ret.OK  # INIT after RESET: the next session, same provisioning
    assert rig.session_epoch == 2 and rig.cipher.migration == 2 and rig.cipher.provision is p1
    assert rig.command(INIT, 0) == Ret.OK  # INIT again: the same session
    assert rig.session_epoch == 2 and rig.cipher.migration == 2
    assert rig.encrypt(val.G0) == Ret.OK
    hdr, page, _ = rig.records[-1]
    assert rig.registry[(hdr, page)][1] == 2
    assert rig._page_tag(hdr, page, produced=False) == 4 + 2 * 2 + val.G0
    rig.new_migration()  # RESET, a new provisioning, INIT: its first session
    assert rig.session_epoch == 3 and rig.cipher.migration == 1 and rig.cipher.provision is not p1
    assert rig._page_tag(hdr, page, produced=False) == 4 + 2 * 2 + val.G0  # still known as session 2's page
    assert rig.decrypt(hdr, page, val.G0) == Ret.AUTH
    assert rig.divergence is None and rig.violations == {}


def test_a_page_not_sealed_by_the_session_is_forged() -> None:
    rig, hdr, page = _sealed(val.G0)
    assert rig._page_tag(hdr, page, produced=True) == 4 + 2 + val.G0
    bad = page[:-1] + bytes([page[-1] ^ 1])
    assert rig._page_tag(hdr, bad, produced=True) == val.FORGED  # does not authenticate
    assert rig._page_tag(hdr, bad, produced=False) == val.FORGED  # never sealed
    assert rig._page_tag(b"", page, produced=True) == val.FORGED  # no header
    assert rig._page_tag(hdr, _page(rig.ram, val.G1), produced=False) == val.G1 + 1
    rig.observer.env["guest.gpa"] = val.G1
    assert rig._page_tag(hdr, _page(rig.ram, val.G0), produced=True) == val.FORGED  # only the hinted page
    rig.ram[GPA[val.G0]] ^= 0xFF  # RAM no longer holds what the page seals
    assert rig._page_tag(hdr, page, produced=True) == val.FORGED


def test_a_sealed_page_of_another_gpa_is_forged() -> None:
    rig = GuestRig.build(HARDENED)
    rig.new_migration()
    other = 2 * PAGE_SIZE if 2 * PAGE_SIZE not in GPA.values() else 3 * PAGE_SIZE
    assert rig.command(ENCRYPT, other) == Ret.OK
    n = R._read_field(rig.mailbox, "hdr_len")
    hdr, page = bytes(rig.mailbox[OFF_HDR_DATA:OFF_HDR_DATA + n]), bytes(rig.mailbox[OFF_IO_PAGE:])
    assert rig._page_tag(hdr, page, produced=True) == val.FORGED
    assert rig.registry == {}


def test_before_any_session_a_sealed_page_is_forged() -> None:
    rig = GuestRig.build(HARDENED)
    src = GuestRig.build(HARDENED)
    src.new_migration()
    src.encrypt(val.G0)
    hdr, page, _ = src.records[-1]
    assert rig.cipher is None
    assert rig._page_tag(hdr, page, produced=True) == val.FORGED


def test_rfc_pages_are_plain_tags() -> None:
    rig = GuestRig.build(RFC)
    assert rig.new_migration() == Ret.OK
    assert rig.encrypt(val.G1) == Ret.OK
    hdr, page, g = rig.records[-1]
    assert (hdr, page, g) == (b"", _page(rig.ram, val.G1), val.G1)
    assert rig._page_tag(b"", page, produced=False) == val.G1 + 1
    assert rig._page_tag(b"", bytes(PAGE_SIZE), produced=False) == val.FORGED
    assert rig.decrypt(hdr, page, val.G1) == Ret.OK
    assert rig.divergence is None and rig.cipher is None and rig.session_epoch == 0


def test_acceptance_follows_the_model_not_the_command_sent() -> None:
    """A DECRYPT turned into an ENCRYPT after go: the model did not accept the copy."""
    rig, hdr, page = _sealed(val.G0)
    assert rig.decrypt(hdr, page, val.G0, [(0, ("param", "cmd_type", ENCRYPT))]) == Ret.OK
    assert rig.accepted == {} and rig.io_read is None
    assert rig.decrypt(hdr, page, val.G0) == Ret.OK
    assert rig.divergence is None and rig.violations == {}


def test_a_refused_copy_is_not_accepted() -> None:
    """A page offered at the other gpa is refused (the model carries out no DECRYPT): its fresh copy
    still loads at its own gpa afterwards."""
    rig, hdr, page = _sealed(val.G0)
    assert rig.decrypt(hdr, page, val.G1) == Ret.AUTH
    assert rig.accepted == {} and rig.io_read is None
    assert rig.decrypt(hdr, page, val.G0) == Ret.OK
    assert rig.accepted == {(1, val.G0): PageHeader.parse(hdr).seq}
    assert rig.divergence is None and rig.violations == {}


def test_reading_a_plaintext_page_is_no_leak() -> None:
    """guest.confidential judges the helper's writes: a RESTORE that reads a plaintext page leaks nothing."""
    rig = GuestRig.build(RFC)
    rig.new_migration()
    assert rig.decrypt(b"", _page(rig.ram, val.G0), val.G0) == Ret.OK
    assert "guest.confidential" not in rig.violations
    assert rig.trace[-3:] == ["guest write ret = 0", "guest write go = 0", "guest write done = 1"]


def test_publish_writes_the_protocols_fields() -> None:
    rig = GuestRig.build(HARDENED)
    _silent = GuestRig.build(_silent_helper())
    for r, go in ((rig, 1), (_silent, 1)):
        r.publish(ENCRYPT, GPA[val.G1])
        assert [R._read_field(r.mailbox, f) for f in ("cmd_type", "gpa", "ret", "go")] == [ENCRYPT, GPA[val.G1], -1, go]
        assert r.seq == 1 and r.ncmd == 1
        assert {f: r.prov[f] for f in ("cmd", "gpa", "ret", "go")} == {"cmd": 2, "gpa": 2, "ret": 2, "go": 2}
    rig.publish(DECRYPT, 0)
    assert R._read_field(rig.mailbox, "go") == 2 and rig.prov["go"] == 4
    rfc = GuestRig.build(_silent_helper(RFC))
    R._write_field(rfc.mailbox, "done", 9)
    rfc.publish(INIT, 0)
    rfc.publish(INIT, 0)
    assert R._read_field(rfc.mailbox, "go") == 1 and R._read_field(rfc.mailbox, "done") == 0
    assert rfc.seq == 0 and rfc.prov["done"] == 4


def test_a_command_never_answered_returns_none() -> None:
    rig = GuestRig.build(_silent_helper())
    assert rig.command(INIT, 0) is None and rig.guest.helper.polls == 3
    assert not rig.complete()
    R._write_field(rig.mailbox, "done", rig.seq)
    assert rig.complete()
    rfc = GuestRig.build(_silent_helper(RFC))
    assert rfc.command(INIT, 0) is None
    R._write_field(rfc.mailbox, "done", 2)
    assert rfc.complete()


def test_polls_until_done() -> None:
    class Lazy(GuestHelper):
        """Serves on every third poll."""

        polls = 0

        def poll_once(self) -> bool:
            self.polls += 1
            return super().poll_once() if self.polls % 3 == 0 else False

    rig = GuestRig.build(_impl("lazy", guest=Lazy))
    assert rig.command(INIT, 0) == Ret.OK and rig.guest.helper.polls == 3
    assert rig.command(INIT, 0, polls=2) is None and rig.guest.helper.polls == 5
    assert rig.divergence is None


def test_a_crashing_helper_is_robust_violation() -> None:
    class Crashes(GuestHelper):
        def poll_once(self) -> bool:
            raise RuntimeError("boom")

    rig = GuestRig.build(_impl("crashes", guest=Crashes))
    assert rig.command(INIT, 0) is None
    assert rig.violations == {"robust": "the helper crashed: RuntimeError: boom"}
    assert rig._guard(lambda: 5) == 5


def test_confidentiality_of_the_named_pages() -> None:
    rig = GuestRig.build(mutants.BY_ID["guest-plaintext-page"].impl)
    rig.new_migration()
    assert "guest.confidential" not in rig.violations
    rig.encrypt(val.G0)
    assert rig.violations["guest.confidential"] == "the helper wrote a private page's plaintext to the io page"


def test_confidentiality_of_every_ram_page() -> None:
    rig = GuestRig.build(mutants.BY_ID["guest-plaintext-page"].impl)
    rig.new_migration()
    middle = 3 * PAGE_SIZE  # neither G0 nor G1, nor the last page (a slice past it would be cut short)
    assert middle not in GPA.values() and 4 * PAGE_SIZE < len(rig.ram)
    rig.command(ENCRYPT, middle)
    assert "guest.confidential" in rig.violations


def test_an_encrypted_page_is_not_a_leak() -> None:
    rig = GuestRig.build(HARDENED)
    rig.new_migration()
    rig.command(ENCRYPT, (R.RAM_PAGES - 1) * PAGE_SIZE)
    rig.encrypt(val.G0)
    assert "guest.confidential" not in rig.violations


def test_integrity_compares_ram_with_its_pages() -> None:
    rig = GuestRig.build(HARDENED)
    rig.new_migration()
    assert "guest.integrity" not in rig.violations
    rig.ram[GPA[val.G1] + 100] ^= 1
    rig.command(RESET, 0)
    assert rig.violations["guest.integrity"] == ("guest RAM no longer holds its own pages (a page not authentic for "
                                                 "its gpa was written)")


@pytest.mark.parametrize("g,cmd,prop,msg", [
    (val.OUTSIDE, ENCRYPT, "guest.gpa-checked", "ENCRYPT at OUTSIDE answered success"),
    (val.MAILBOX, ENCRYPT, "guest.gpa-checked", "ENCRYPT at MAILBOX answered success"),
    (val.OUTSIDE, DECRYPT, "guest.gpa-checked", "DECRYPT at OUTSIDE answered success"),
    (val.MAILBOX, DECRYPT, "guest.refusal-reported", "DECRYPT at MAILBOX was not carried out, yet answered success"),
])
def test_success_at_a_gpa_outside_ram(g: int, cmd: int, prop: str, msg: str) -> None:
    rig = GuestRig.build(mutants.BY_ID["guest-refusal-as-success"].impl)  # diverges: no model flag first
    rig.new_migration()
    rig.encrypt(val.G0)
    hdr, page, _ = rig.records[-1]
    ret = rig.command(cmd, g, put=(hdr, page) if cmd == DECRYPT else None)
    assert ret == Ret.OK and rig.violations == {prop: msg}


def test_gpa_checks_skip_scheduled_commands_and_ram_pages() -> None:
    rig = GuestRig.build(mutants.BY_ID["guest-refusal-as-success"].impl)
    rig.new_migration()
    assert rig.encrypt(val.G0) == Ret.OK and rig.encrypt(val.G1) == Ret.OK
    assert rig.command(INIT, val.OUTSIDE) == Ret.OK
    assert rig.command(RESET, val.MAILBOX) == Ret.OK
    assert rig.command(ENCRYPT, val.OUTSIDE, [(99, ("go",))]) == Ret.OK  # a host action scheduled: no claim
    assert "guest.gpa-checked" not in rig.violations and "guest.refusal-reported" not in rig.violations


def test_refusal_as_success_mutant_is_caught() -> None:
    rig = GuestRig.build(mutants.BY_ID["guest-refusal-as-success"].impl)
    rig.new_migration()
    assert rig.encrypt(val.OUTSIDE) == Ret.OK
    assert rig.violations["guest.gpa-checked"] in ("ENCRYPT at OUTSIDE answered success",
                                                   rig.flag_message("guest.gpa-checked"))


def test_model_flags_are_reported_with_their_step() -> None:
    rig = GuestRig.build(RFC)  # the published helper: its own model flags the save outside RAM first
    rig.new_migration()
    rig.encrypt(val.OUTSIDE)
    assert "guest.gpa-checked" in rig.observer.flags()
    assert rig.violations["guest.gpa-checked"] == rig.flag_message("guest.gpa-checked")
    assert rig.flag_message("guest.gpa-checked").startswith("model monitor v.guest.gpa-checked set at access #")


# --- barriers of the helper: hand-set access lists
_GO, _RMB, _CMD, _RET, _WMB, _DONE = (("read", "go"), ("barrier", "rmb"), ("read", "cmd_type"), ("write", "ret"),
                                      ("barrier", "wmb"), ("write", "done"))


@pytest.mark.parametrize("served,msgs", [
    ([_GO, _RMB, _CMD, _RET, _WMB, _DONE], []),
    ([_GO, _CMD, _RET, _WMB, _DONE], ["read"]),
    ([_RMB, _GO, _CMD, _RET, _WMB, _DONE], ["read"]),
    ([_GO, _RMB, _CMD, _RET, _DONE], ["write"]),
    ([_GO, _RMB, _CMD, _WMB, _RET, _DONE], ["write"]),
    ([_GO, _RMB, _CMD, _RET, _WMB, _DONE, _RET, _DONE], ["write"]),  # the last ret and done count
    ([_GO, _RMB, _CMD, _RET, _DONE, _RET, _WMB, _DONE], []),
    ([_GO, _RMB, _CMD, _WMB, _DONE], []),  # no ret written: nothing to order
    ([_GO, _RMB, _CMD, _DONE], []),
    ([_RET, _GO, _RMB, _CMD, _DONE], ["write"]),
    ([_GO, _CMD, _RET], []),  # no done written: not served
    ([_CMD, _RET, _DONE], []),  # go never read
    ([_GO, ("barrier", "mb"), _CMD, _RET, ("barrier", "mb"), _DONE], []),  # a full barrier does for either
    ([_GO, _WMB, _CMD, _RET, _RMB, _DONE], ["read"]),  # the other kind does not
    ([_GO, _RET, _DONE], []),  # parameters never read
])
def test_helper_barriers(served: list, msgs: list[str]) -> None:
    rig = GuestRig.build(HARDENED)
    rig.served = list(served)
    rig._check_barriers()
    want = {"read": "the helper read the parameters with no read barrier after go",
            "write": "the helper wrote done with no write barrier after ret"}
    assert rig.violations == ({"barriers": want[msgs[0]]} if msgs else {})


def test_helper_without_barriers_is_caught() -> None:
    rig = GuestRig.build(mutants.BY_ID["guest-no-barriers"].impl)
    rig.command(INIT, 0)
    assert rig.violations["barriers"] == "the helper read the parameters with no read barrier after go"


# --- the scripted host's actions
def test_host_actions_change_the_mailbox() -> None:
    rig = GuestRig.build(_silent_helper())
    rig.publish(INIT, 0)
    rig.publish(ENCRYPT, GPA[val.G0])
    rig._run_action(("param", "gpa", val.G1))
    assert R._read_field(rig.mailbox, "gpa") == GPA[val.G1] and rig.prov["gpa"] == 4
    rig._run_action(("param", "cmd_type", DECRYPT))
    assert R._read_field(rig.mailbox, "cmd_type") == DECRYPT and rig.prov["cmd"] == 4
    R._write_field(rig.mailbox, "go", 0)
    rig._run_action(("go",))
    assert R._read_field(rig.mailbox, "go") == rig.seq == 2
    rig.mailbox[OFF_IO_PAGE:] = b"\xa5" * PAGE_SIZE  # a flip is an xor, not a store
    before = bytes(rig.mailbox)
    rig._run_action(("flip", PAGE_SIZE + 5, 0x30))
    assert rig.mailbox[OFF_IO_PAGE + 5] == before[OFF_IO_PAGE + 5] ^ 0x30
    rig._run_action(("flip", 7, 0))  # a zero byte flips bit 0
    assert rig.mailbox[OFF_IO_PAGE + 7] == before[OFF_IO_PAGE + 7] ^ 1
    assert rig.prov["io"] == 4
    assert rig.events == ["host:param", "host:param", "host:go", "host:flip", "host:flip"]
    rfc = GuestRig.build(_silent_helper(RFC))
    rfc.publish(INIT, 0)
    R._write_field(rfc.mailbox, "go", 0)
    rfc._run_action(("go",))
    assert R._read_field(rfc.mailbox, "go") == 1


def test_host_actions_run_before_the_kth_access() -> None:
    rig = GuestRig.build(HARDENED)
    rig.new_migration()
    # the helper's accesses: go, rmb, cmd_type, ...: the gpa rewritten before its read (k=3)
    ret = rig.command(ENCRYPT, val.G0, [(3, ("param", "gpa", val.OUTSIDE))])
    assert ret == Ret.INVALID and rig.op_access == 7 and rig.events == ["host:param"]
    assert rig.divergence is None
    assert rig.command(ENCRYPT, val.G0, [(4, ("param", "gpa", val.OUTSIDE))]) == Ret.OK  # too late
    assert rig.divergence is None and rig.violations == {}


def test_a_flip_while_the_helper_reads_the_page_is_refused() -> None:
    rig, hdr, page = _sealed(val.G0)
    assert rig.decrypt(hdr, page, val.G0, [(6, ("flip", 9, 4))]) == Ret.AUTH
    assert rig.divergence is None and rig.violations == {} and rig.accepted == {}


def test_peek_reads_the_snapshot() -> None:
    rig = GuestRig.build(_silent_helper())
    rig.new_migration()
    rig.publish(ENCRYPT, GPA[val.G1])
    rig.snap, rig.snap_prov = bytes(rig.mailbox), dict(rig.prov)
    assert rig._peek("cmd") == (ENCRYPT, rig.prov["cmd"])
    assert rig._peek("gpa") == (val.G1, rig.prov["gpa"])
    assert rig._peek("ret") == (-1, rig.prov["ret"])
    assert rig._peek("io") == (val.FORGED, rig.prov["io"])
    mb = bytearray(rig.mailbox)
    mb[OFF_IO_PAGE:] = _page(rig.ram, val.G0)
    R._write_field(mb, "hdr_len", HDR_SIZE + 1)
    rig.snap = bytes(mb)
    rig.observer.env["guest.gpa"] = val.G0
    assert rig._peek("io")[0] == val.G0 + 1


def test_peek_uses_the_header_in_the_snapshot() -> None:
    rig, hdr, page = _sealed(val.G0)
    mb = bytearray(rig.mailbox)
    rig.snap = bytes(mb)
    assert rig._peek("io")[0] == 4 + 2 + val.G0
    R._write_field(mb, "hdr_len", HDR_SIZE + 1)
    rig.snap = bytes(mb)
    assert rig._peek("io")[0] == val.FORGED
    R._write_field(mb, "hdr_len", HDR_SIZE)
    assert rig.decrypt(hdr, page, val.G0) == Ret.OK
    rig.snap = bytes(mb)
    assert rig._peek("io")[0] == val.FORGED  # the copy was accepted: an elided read of it is a replay
    mb[OFF_HDR_DATA] ^= 1
    rig.snap = bytes(mb)
    assert rig._peek("io")[0] == val.FORGED


def test_accesses_are_fed_to_the_model() -> None:
    rig = GuestRig.build(HARDENED)
    n0 = rig.accesses
    rig.new_migration()
    assert rig.accesses - n0 == len(rig.served) == 7  # go, rmb, cmd_type, gpa, ret, wmb, done
    assert rig.observer.accesses == 7
    assert rig.prov["done"] != 0 and rig.prov["ret"] == rig.prov["done"]


def test_only_the_whole_io_page_is_an_io_access_of_the_helper() -> None:
    """Header bytes (any length, a page's too) are folded into the io page's tag: the model never sees them."""
    rig = GuestRig.build(HARDENED)
    n = rig.observer.accesses
    rig._access(Access("guest", "read", OFF_HDR_DATA, PAGE_SIZE, bytes(PAGE_SIZE)))
    rig._access(Access("guest", "read", OFF_IO_PAGE, HDR_SIZE, bytes(HDR_SIZE)))
    assert rig.observer.accesses == n and rig.divergence is None
    assert rig.last_hdr_read == bytes(PAGE_SIZE)


def test_a_divergence_is_kept_and_stops_the_model() -> None:
    rig = GuestRig.build(mutants.BY_ID["guest-done-not-echoed"].impl)
    rig.new_migration()
    rig.command(INIT, 0)
    d = rig.divergence
    assert d is not None
    n = rig.observer.accesses
    rig.command(RESET, 0)
    assert rig.divergence is d and rig.observer.accesses == n


# ====================================================================== host under test
def test_honest_host_operations() -> None:
    rig = HostRig.build(HARDENED)
    assert rig.original == bytes(rig.ram) and rig.provision is not None and rig.booted
    rec = rig.save(val.G0)
    assert rec is not None and rec.gpa == GPA[val.G0] and len(rec.header) == HDR_SIZE
    assert rig.trace[:12] == ["host write cmd_type = 0", "host write gpa = 0", "host write prefetch = 0",
                              "host write ret = -1", "host barrier wmb", "host write go = 1", "host read done = 1",
                              "host barrier rmb", "host read ret = 0", "host write cmd_type = 1",
                              f"host write gpa = {GPA[val.G0]}", "host write prefetch = 0"]
    assert rig.trace[-3:] == ["host read hdr_len = 68", f"host read {OFF_HDR_DATA} = <68 bytes>",
                              f"host read {OFF_IO_PAGE} = <{PAGE_SIZE} bytes>"]
    assert rig.accesses == len(rig.trace) == rig.host_accesses == 21
    assert rig.load(rec) is True
    assert rig.cleanup() is True
    assert rig.violations == {} and rig.divergence is None
    assert rig.completed == {1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0}
    assert rig.window_starts == {1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0} and rig.last_window == 4
    assert rig.observer.history == [] and rig.observer.timeouts == [] and rig.observer.returns == []


def test_a_host_built_unbooted_waits_for_its_peer() -> None:
    rig = HostRig.build(HARDENED, booted=False)
    assert not rig.booted and rig.peer.last_seq == 0
    assert rig.cleanup() is False  # the helper never boots: the command times out
    assert "liveness.recovery" not in rig.violations  # the helper was not prompt
    assert RFC.protocol == "rfc" and HostRig.build(RFC).provision is None


def test_wire_tags_of_an_honest_command() -> None:
    rig = HostRig.build(HARDENED)
    rig.cleanup()
    assert rig.wire == {"cmd": ("h", 1), "gpa": ("h", 1), "ret": ("g", 1), "go": ("h", 1), "done": ("g", 1),
                        "hdr_len": ("i", 0), "io": ("i", 0)}
    assert (rig.wire_go, rig.wire_go_in_op, rig.done_seen, rig.ret_read, rig.op_failed) == (1, 1, ("g", 1), True, False)
    assert rig.prov == {"cmd": 2, "gpa": 2, "ret": 3, "go": 2, "done": 3, "hdr_len": 0, "io": 0}
    assert rig.serving_ghost == 3 and rig.peer_params == [2, 2] and rig.serving_wire == 1
    rig.cleanup()
    assert rig.wire["go"] == ("h", 2) and rig.wire["done"] == ("g", 2) and rig.wire_go_in_op == 1
    assert rig.prov["go"] == 4 and rig.serving_ghost == 5 and rig.completed == {1: 0.0, 2: 0.0}


def test_the_rfc_helpers_go_clear_is_a_guest_write() -> None:
    rig = HostRig.build(RFC)
    rig.cleanup()
    assert rig.prov["go"] == 1  # go = 0 written by the helper: "guest", whatever it serves
    assert rig.prov["done"] == 3 and rig.violations == {"barriers": "the host read ret with no read barrier after done"}


@pytest.mark.parametrize("impl", [HARDENED, RFC])
def test_the_helpers_page_is_tagged_with_the_go_it_serves(impl) -> None:
    rig = HostRig.build(impl)
    rig.save(val.G0)  # INIT is go #1, ENCRYPT go #2 (rfc: no header, the page alone)
    assert rig.wire["io"] == ("g", 2) and rig.prov["io"] == rig.prov["done"] == 5


def test_completion_time_of_a_slow_helper() -> None:
    rig = HostRig.build(HARDENED)
    assert rig.cleanup([(0, ("sleep", 2))]) is True
    assert rig.completed == {1: 2 * QUANTUM} and rig.clock.now() == 2 * QUANTUM
    assert rig.violations == {} and rig.events == ["peer:sleep"]


def test_order_publish_by_the_models_provenance() -> None:
    rig = HostRig.build(HARDENED)
    rig.cleanup([(6, ("write", "go", 5))])  # the helper serves an adversary's go: ghost "guest" (1)
    assert rig.serving_ghost == 2 and rig.peer_params == []
    assert rig.violations["order.publish"] == ("the helper read cmd written for another command than the go it serves "
                                               "(provenance 2 vs go 1)")
    assert rig.wire["go"] == ("a", 0) and rig.serving_wire is None


def test_order_publish_and_response_on_the_wire() -> None:
    rig = HostRig.build(RFC)
    rig.cleanup([(0, ("sleep", 5))])
    assert "order.publish" not in rig.violations
    rig.cleanup([(5, ("serve",))])
    assert rig.violations["order.publish"] == "the helper serving go #1 read cmd written for go #2 (on the wire)"
    assert rig.violations["order.response"] == ("the host took a completion the helper produced for go #1 as the "
                                                "answer to go #2 (on the wire)")


def test_a_late_completion_read_before_the_parameters_is_no_order_fault() -> None:
    rig = HostRig.build(RFC)
    rig.cleanup([(0, ("sleep", 5))])
    rig.cleanup([(0, ("serve",))])  # the helper finishes the old command before the new one is written
    assert "order.publish" not in rig.violations and "order.response" not in rig.violations


def test_a_hostile_ret_fails_the_operation_on_the_wire() -> None:
    rig = HostRig.build(HARDENED)
    assert rig.save(val.G0, [(8, ("write", "ret", -2))]) is None
    assert rig.op_failed and rig.wire["ret"] == ("a", 0)
    assert "adversary.error-no-data" not in rig.violations  # it failed, as it must


def test_success_after_a_failed_command_is_error_no_data() -> None:
    rig = HostRig.build(RFC)  # the published host takes INIT's error for success (F8)
    assert rig.save(val.G0, [(8, ("write", "ret", -2))]) is not None
    assert rig.violations["adversary.error-no-data"] == ("a command of this operation failed or timed out, and the "
                                                         "operation still reported success and emitted a record")


class _SwallowsLoad(Host):
    """Reports every load done, whatever its DECRYPT answered (or whether it answered)."""

    def load_page(self, record) -> None:
        try:
            super().load_page(record)
        except HostError:
            pass


@pytest.mark.parametrize("sched", [[(10, ("write", "ret", -2))], [(0, ("silent",))]])
def test_a_load_reported_done_after_a_failed_command_is_error_no_data(sched: list) -> None:
    """A refusal (ret rewritten after done) or a timeout (ret never read): the load failed."""
    rig = HostRig.build(_impl("swallows", host=_SwallowsLoad))
    rec = rig.save(val.G0)
    assert rig.load(rec, sched) is True
    assert rig.wire_go_in_op == 1 and rig.ret_read is (sched[0][0] == 10)
    assert rig.violations["adversary.error-no-data"] == ("a command of this operation failed or timed out, and the "
                                                         "operation still reported success")


def test_a_cleanup_may_report_success_after_a_failed_command() -> None:
    rig = HostRig.build(RFC)  # the published host ignores ret: cleanup is not judged by error-no-data
    rig.cleanup([(7, ("write", "ret", -2))])
    assert "adversary.error-no-data" not in rig.violations


def test_a_command_published_over_an_unfinished_one_fails_the_operation() -> None:
    rig = HostRig.build(HARDENED)
    rig._op(3, 0, [], lambda: None)
    assert not rig.op_failed
    rig.wire_go_in_op = 1
    rig._host_wire(Access("host", "write", "go", 4, 2), "go")
    assert rig.op_failed and rig.wire_go == 1 and rig.wire_go_in_op == 2 and rig.wire["go"] == ("h", 1)
    rig.op_failed = False
    rig._host_wire(Access("host", "read", "ret", 4, 0), "ret")
    rig._host_wire(Access("host", "write", "go", 4, 3), "go")
    assert not rig.op_failed and not rig.ret_read
    rig._host_wire(Access("host", "write", "cmd_type", 8, 1), "cmd")
    assert rig.wire["cmd"] == ("h", 3)
    rig._host_wire(Access("host", "barrier", "wmb", 0, None), "wmb")
    rig._host_wire(Access("host", "read", "done", 4, 0), None)
    assert rig.wire_go == 2 and rig.done_seen == ("i", 0)


@pytest.mark.parametrize("what", ["ret", "io"])
def test_order_response_names_completion_or_page(what: str) -> None:
    rig = HostRig.build(HARDENED)
    rig.wire_go = 3
    rig.wire["io"] = ("g", 2)
    rig.done_seen = ("g", 2) if what == "ret" else ("g", 3)
    rig.wire["ret"] = ("g", 3)
    rig._host_wire(Access("host", "read", what, 4, 0), what)
    noun = "completion" if what == "ret" else "page"
    assert rig.violations == {"order.response": f"the host took a {noun} the helper produced for go #2 as the answer "
                                                f"to go #3 (on the wire)"}


def test_order_response_checks_ret_as_well_as_done() -> None:
    rig = HostRig.build(HARDENED)
    rig.wire_go = 3
    rig.done_seen, rig.wire["ret"] = ("g", 3), ("g", 1)
    rig._host_wire(Access("host", "read", "ret", 4, 0), "ret")
    assert "go #1 as the answer to go #3" in rig.violations["order.response"]
    ok = HostRig.build(HARDENED)
    ok.wire_go = 3
    ok.done_seen, ok.wire["ret"], ok.wire["io"] = ("a", 0), ("h", 1), ("g", 3)
    ok._host_wire(Access("host", "read", "ret", 4, 0), "ret")
    ok._host_wire(Access("host", "read", "io", PAGE_SIZE, b""), "io")
    assert ok.violations == {}


def test_ret_read_before_any_done_is_no_order_fault() -> None:
    rig = HostRig.build(HARDENED)
    rig._host_wire(Access("host", "read", "ret", 4, 0), "ret")
    assert rig.ret_read and rig.violations == {} and rig.done_seen == ("i", 0)


def test_the_helper_reading_its_own_commands_parameters_is_in_order() -> None:
    rig = HostRig.build(HARDENED)
    rig.wire["go"] = ("h", 2)
    rig._peer_wire(Access("guest", "read", "go", 4, 2), "go")
    assert rig.serving_wire == 2
    rig.wire["cmd"], rig.wire["gpa"] = ("h", 2), ("a", 0)
    rig._peer_wire(Access("guest", "read", "cmd_type", 8, 0), "cmd")
    rig._peer_wire(Access("guest", "read", "gpa", 8, 0), "gpa")
    assert rig.violations == {}
    rig._peer_wire(Access("guest", "write", "ret", 4, 0), "ret")
    assert rig.wire["ret"] == ("g", 2)
    rig._peer_wire(Access("guest", "write", "go", 4, 0), "go")
    assert rig.wire["go"] == ("h", 2)  # the helper's go = 0 keeps the host's tag
    rig.wire["go"] = ("a", 0)
    rig._peer_wire(Access("guest", "read", "go", 4, 2), "go")
    assert rig.serving_wire is None
    rig._peer_wire(Access("guest", "write", "done", 4, 2), "done")
    assert rig.wire["done"] == ("g", 0)


# --- the scripted peer's actions
def test_peer_actions() -> None:
    rig = HostRig.build(HARDENED, booted=False)
    rig.clock.spent(3 * QUANTUM)
    rig._run_action(("sleep", 2))
    assert rig.wake == 5 * QUANTUM
    rig._run_action(("silent",))
    assert rig.wake == float(R.FOREVER)
    rig._run_action(("wake",))
    assert rig.wake == 0.0
    rig._run_action(("serve",))  # not booted: nothing runs
    assert rig.peer.served == 0
    rig._run_action(("boot",))
    assert rig.booted and rig.booted_at == 3 * QUANTUM
    rig.clock.spent(QUANTUM)
    rig._run_action(("boot",))  # already booted: nothing changes
    assert rig.booted_at == 3 * QUANTUM
    assert rig.events == ["peer:sleep", "peer:silent", "peer:wake", "peer:serve", "peer:boot", "peer:boot"]


def test_silent_outlasts_any_run() -> None:
    rig = HostRig.build(HARDENED)
    R._write_field(rig.mailbox, "cmd_type", INIT)
    R._write_field(rig.mailbox, "go", 1)
    rig._run_action(("silent",))
    rig.clock.spent(10 ** 4 * QUANTUM)  # each operation lasts a few quanta
    rig._peer_serve()
    assert rig.peer.served == 0
    rig._run_action(("wake",))
    rig._peer_serve()
    assert rig.peer.served == 1


def test_peer_serve_runs_the_helper_now() -> None:
    rig = HostRig.build(HARDENED)
    R._write_field(rig.mailbox, "cmd_type", INIT)
    R._write_field(rig.mailbox, "go", 1)
    rig._run_action(("serve",))
    assert rig.peer.served == 1 and R._read_field(rig.mailbox, "done") == 1


def test_adversary_writes() -> None:
    rig = HostRig.build(HARDENED)
    R._write_field(rig.mailbox, "go", 7)
    rig._run_action(("write", "done", "+1"))
    assert R._read_field(rig.mailbox, "done") == 8
    rig._run_action(("write", "done", "-1"))
    assert R._read_field(rig.mailbox, "done") == 6
    rig._run_action(("write", "done", 3))
    assert R._read_field(rig.mailbox, "done") == 3
    rig._run_action(("write", "cmd_type", 2))
    assert R._read_field(rig.mailbox, "cmd_type") == 2
    assert rig.prov["done"] == 1 and rig.prov["cmd"] == 1 and rig.prov["gpa"] == 0
    assert rig.wire["done"] == ("a", 0) and rig.wire["cmd"] == ("a", 0) and rig.wire["gpa"] == ("i", 0)
    rig._run_action(("hdr_len", 0x80000000))
    assert R._read_field(rig.mailbox, "hdr_len") == 0x80000000
    assert rig.prov["hdr_len"] == 1 and rig.wire["hdr_len"] == ("a", 0)


def test_torn_bytes() -> None:
    rig = HostRig.build(HARDENED)
    rig.mailbox[OFF_HDR_DATA:] = b"\x5a" * (SHARED_SIZE - OFF_HDR_DATA)  # a flip is an xor, not a store
    before = bytes(rig.mailbox)
    rig._run_action(("flip", "io", PAGE_SIZE + 2003, 0x11))  # io offsets wrap at a page, not at the header's limit
    assert rig.mailbox[OFF_IO_PAGE + 2003] == before[OFF_IO_PAGE + 2003] ^ 0x11
    assert rig.prov["io"] == 1 and rig.wire["io"] == ("a", 0) and rig.prov["hdr_len"] == 0
    rig._run_action(("flip", "hdr", HDR_MAX + 2, 0))
    assert rig.mailbox[OFF_HDR_DATA + 2] == before[OFF_HDR_DATA + 2] ^ 1
    assert rig.prov["hdr_len"] == 1 and rig.wire["hdr_len"] == ("a", 0)
    changed = [i for i in range(SHARED_SIZE) if rig.mailbox[i] != before[i]]
    assert changed == [OFF_HDR_DATA + 2, OFF_IO_PAGE + 2003]


def test_boot_at_counts_host_accesses_across_operations() -> None:
    rig = HostRig.build(HARDENED, booted=False)
    assert rig.cleanup() is False  # nobody serves: 11 accesses, then the host gives up
    assert rig.host_accesses == 11 and not rig.booted
    rig.boot_at = 13  # the second operation's access #2: the boot comes before that access's actions
    rig.cleanup([(2, ("wake",))])
    assert rig.booted and rig.events[-2:] == ["peer:boot", "peer:wake"]


def test_boot_before_an_access() -> None:
    rig = HostRig.build(HARDENED, booted=False)
    rig.boot_at = 9
    assert rig.cleanup() is True
    assert rig.booted_at == 3 * QUANTUM
    assert rig.trace[6:10] == ["host read done = 0"] * 3 + ["host read done = 1"]
    assert rig.op_access == rig.host_accesses == 12


def test_a_sleeping_helper_serves_from_its_wake_time() -> None:
    rig = HostRig.build(HARDENED)
    rig.cleanup([(6, ("sleep", 3))])
    assert rig.completed == {1: 3 * QUANTUM}
    rig2 = HostRig.build(HARDENED)
    rig2.cleanup([(6, ("silent",)), (8, ("wake",))])
    assert rig2.completed == {1: 2 * QUANTUM}  # woken before the third poll of done


def test_host_io_tags_and_peek() -> None:
    rig = HostRig.build(HARDENED)
    assert rig._io_tag(Access("host", "read", OFF_IO_PAGE, PAGE_SIZE, _page(rig.ram, val.G1))) == val.G1 + 1
    rig.ram[GPA[val.G1]] ^= 1  # the host's tags are of the pages as they were
    assert rig._io_tag(Access("host", "read", OFF_IO_PAGE, PAGE_SIZE, _page(rig.original, val.G1))) == val.G1 + 1
    assert rig._io_tag(Access("host", "read", OFF_IO_PAGE, PAGE_SIZE, bytes(PAGE_SIZE))) == val.FORGED
    mb = bytearray(SHARED_SIZE)
    for f, v in (("cmd_type", DECRYPT), ("gpa", GPA[val.G1]), ("ret", -2), ("hdr_len", HARDENED.valid_hdr_len)):
        R._write_field(mb, f, v)
    rig.snap, rig.snap_prov = bytes(mb), {f: i for i, f in enumerate(("cmd", "gpa", "ret", "go", "done", "hdr_len", "io"))}
    assert rig._peek("cmd") == (DECRYPT, 0)
    assert rig._peek("gpa") == (val.G1, 1)
    assert rig._peek("ret") == (-2, 2)
    assert rig._peek("hdr_len") == (val.HLEN_OK, 5)
    assert rig._peek("io") == (val.FORGED, 6)


def test_header_read_past_the_shared_area() -> None:
    room = SHARED_SIZE - OFF_HDR_DATA
    for n, bad in ((room, False), (room + 1, True), (8000, True)):
        rig = HostRig.build(RFC)
        rig.save(val.G0, [(19, ("hdr_len", n))])
        assert (rig.violations.get("adversary.in-bounds") ==
                f"the host read {n} header bytes at 0x804: past the shared area") is bad, (n, rig.violations)


def test_a_header_of_a_pages_length_is_not_the_io_page() -> None:
    rig = HostRig.build(RFC)
    rig.save(val.G0, [(19, ("hdr_len", PAGE_SIZE))])  # the published host copies 4096 header bytes
    assert f"host read {OFF_HDR_DATA} = <{PAGE_SIZE} bytes>" in rig.trace
    assert rig.divergence is None and "adversary.in-bounds" not in rig.violations


def test_host_memory_in_a_header_read_within_bounds() -> None:
    rig = HostRig.build(HARDENED)
    rig._access(Access("host", "read", OFF_HDR_DATA, 68, b"x" * 30 + HOST_MEMORY_PATTERN + b"y" * 30))
    assert rig.violations == {"adversary.in-bounds": "the host read 68 header bytes at 0x804: past the shared area"}
    ok = HostRig.build(HARDENED)
    ok._access(Access("host", "read", OFF_HDR_DATA, 68, b"x" * 68))
    ok._access(Access("host", "read", OFF_IO_PAGE, PAGE_SIZE, HOST_MEMORY_PATTERN * 512))
    assert "adversary.in-bounds" not in ok.violations


def test_a_faulting_host_is_dead() -> None:
    rig = HostRig.build(RFC)
    assert rig.save(val.G0, [(19, ("hdr_len", 0x7FFFFFFF))]) is None
    msg = "the host faulted: read of 2147483647 bytes at mailbox offset 0x804 runs 2147477507 bytes past the shared area"
    assert rig.violations["adversary.in-bounds"] == msg and rig.violations["robust"] == msg
    assert rig.dead
    n = len(rig.trace)
    assert rig.cleanup() is False and len(rig.trace) == n


def test_a_crashing_host_is_dead() -> None:
    class Crashes(Host):
        def cleanup(self):
            raise KeyError("boom")

    rig = HostRig.build(_impl("crashes", host=Crashes))
    assert rig.cleanup() is False
    assert rig.violations["robust"] == "the host crashed: KeyError: 'boom'" and rig.dead
    assert rig.divergence is None  # the crash is the failure: the model is not asked to finish the operation
    assert "adversary.in-bounds" not in rig.violations
    assert rig.save(val.G0) is None and rig.trace == []


def test_a_clean_failure_is_not_a_crash() -> None:
    rig = HostRig.build(_impl("fails", host=_Fails))
    assert rig.cleanup() is False
    assert not rig.dead and "robust" not in rig.violations
    n = len(rig.trace)
    assert rig.cleanup() is False and len(rig.trace) > n  # a failed operation does not stop the run


def test_emitted_header_checks() -> None:
    class Emits(Host):
        header = b""
        hdr_len: int | None = None

        def save_page(self, gpa):
            rec = super().save_page(gpa)
            return rec._replace(header=self.header or rec.header, hdr_len=self.hdr_len)

    for header, n, msgs in ((b"", None, {}),
                            (b"h" * HDR_MAX, None, {}),
                            (b"h" * (HDR_MAX + 1), None, {"adversary.header-bound": f"emitted header length {HDR_MAX + 1} "
                                                                                    f"with {HDR_MAX + 1} header bytes"}),
                            (b"h" * 10, 11, {"adversary.header-bound": "emitted header length 11 with 10 header bytes"}),
                            (b"h" * 10 + HOST_MEMORY_PATTERN, None,
                             {"adversary.in-bounds": "the emitted header carries host memory from past the shared area"})):
        cls = type("E", (Emits,), {"header": header, "hdr_len": n})
        rig = HostRig.build(_impl("emits", host=cls))
        rec = rig.save(val.G0)
        assert rec is not None and rig.violations == msgs, (header[:12], n, rig.violations)


def test_each_operation_is_the_models_choice() -> None:
    rig = HostRig.build(HARDENED)
    chosen = []
    orig = rig.observer.choose
    rig.observer.choose = lambda **kw: (chosen.append(kw), orig(**kw))[1]  # type: ignore[method-assign]
    rec = rig.save(val.G1)
    rig.observer.history.append("marker")
    assert rig.load(rec) is True and rig.cleanup() is True
    assert chosen == [{"op": 1, "g": val.G1}, {"op": 2, "g": val.G1}, {"op": 3, "g": 0}]
    assert rig.observer.history == [] and rig.divergence is None and rig.violations == {}
    rig.divergence = object()  # type: ignore[assignment]
    rig.cleanup()
    assert len(chosen) == 3  # a model stopped at a divergence is not asked again


def test_cleanup_gives_the_peer_the_migrations_session_again() -> None:
    rig = HostRig.build(HARDENED)
    rec = rig.save(val.G0)
    assert rig.cleanup() is True
    assert rig.load(rec) is True  # the target side: the first session of the same migration
    assert rig.violations == {} and rig.divergence is None


def test_progress_check() -> None:
    rig = HostRig.build(HARDENED)
    rig.progress_check(True, "save G0")
    assert rig.violations == {}
    rig.progress_check(False, "save G0")
    assert rig.violations == {"liveness.honest-progress": "save G0 failed although the helper was honest and prompt"}


# --- timing: the bookkeeping after each model step
def _timed_rig() -> HostRig:
    """A rig whose command window #1 opened 2 quanta into the run (not at 0: starts count)."""
    rig = HostRig.build(HARDENED)
    rig.clock.spent(2 * QUANTUM)
    rig.window_starts = {1: 2 * QUANTUM}
    rig.last_window = rig.observer.windows = 1
    return rig


def _after(quanta: int, *, timeouts: tuple | list = (), returns: tuple | list = (), completed: dict | None = None) -> HostRig:
    """The timed rig ``quanta`` after window #1 opened, once the model reported these timeouts and returns."""
    rig = _timed_rig()
    rig.completed.update(completed or {})
    rig.clock.spent(quanta * QUANTUM)
    rig.observer.timeouts.extend(timeouts)
    rig.observer.returns.extend(returns)
    rig._after_model_step()
    return rig


@pytest.mark.parametrize("done_q,bad", [(R.D_TICKS - 1, True), (R.D_TICKS, False), (None, False)])
def test_timed_out_although_completed_in_time(done_q, bad: bool) -> None:
    rig = _after(R.D_TICKS, timeouts=[(1, 1)], completed={} if done_q is None else {1: (2 + done_q) * QUANTUM})
    msg = f"command #1 timed out although the helper completed it {done_q} quanta after it started (deadline 4)"
    assert rig.violations == ({"timeout.no-false-timeout": msg} if bad else {})
    assert rig.observer.timeouts == []


@pytest.mark.parametrize("at_q,bad", [(R.D_TICKS - 1, True), (R.D_TICKS, False)])
def test_timed_out_before_the_deadline(at_q: int, bad: bool) -> None:
    rig = _after(at_q, timeouts=[(1, 1)])
    msg = f"command #1 timed out after {at_q} quanta, before its deadline (4)"
    assert rig.violations == ({"timeout.no-false-timeout": msg} if bad else {})


def test_a_timeout_of_an_unknown_window_counts_from_now() -> None:
    rig = _after(1, timeouts=[(1, 7)])
    assert rig.violations == {"timeout.no-false-timeout": "command #1 timed out after 0 quanta, before its deadline (4)"}


@pytest.mark.parametrize("took_q,bad", [(R.D_TICKS + 1, False), (R.D_TICKS + 2, True)])
def test_returned_after_the_bound(took_q: int, bad: bool) -> None:
    rig = _after(took_q, returns=[(2, 1)])
    msg = f"command #2 returned after {took_q} quanta (bound: deadline 4 + 1 quantum)"
    assert rig.violations == ({"timeout.bounded-wait": msg} if bad else {})
    assert rig.observer.returns == []
    rig.observer.returns.append((3, 9))  # a window never opened: counted from now
    rig._after_model_step()
    assert len(rig.violations) == int(bad)


def test_windows_open_at_the_model_step_that_opens_them() -> None:
    rig = _timed_rig()
    rig.clock.spent(2 * QUANTUM)
    rig.observer.windows = 3
    rig._after_model_step()
    assert rig.window_starts == {1: 2 * QUANTUM, 2: 4 * QUANTUM, 3: 4 * QUANTUM}
    assert rig.last_window == 3 and rig.cmd_start == 4 * QUANTUM
    rig.clock.spent(QUANTUM)
    rig._after_model_step()
    assert rig.window_starts[3] == 4 * QUANTUM and rig.cmd_start == 4 * QUANTUM


def test_the_model_clock_counts_quanta_since_the_command_started() -> None:
    rig = HostRig.build(HARDENED)
    times = []
    orig = rig.observer.set_time
    rig.observer.set_time = lambda t: (times.append(t), orig(t))[1]  # type: ignore[method-assign]
    rig.cleanup([(0, ("sleep", 3))])
    assert times == [0, 1, 2, 3]
    rig.cleanup([(0, ("sleep", 2))])
    assert times[4:] == [0, 1, 2]


# --- per operation
def _dawdles(op: str, quanta: int):
    """The hardened host, idle for ``quanta`` at the start of each ``op`` (outside every command's window)."""

    def dawdle(self, *args):
        self.clock.spent(quanta * QUANTUM)
        return getattr(Host, op)(self, *args)

    return _impl(f"dawdles-{op}-{quanta}", host=type("Dawdles", (Host,), {op: dawdle}))


@pytest.mark.parametrize("dawdle,diverged,bad", [(5, False, False), (6, False, True), (10, True, False),
                                                 (11, True, True)])
def test_operation_bound(dawdle: int, diverged: bool, bad: bool) -> None:
    """One command: deadline + 1 quantum (5 quanta); once the model stopped at a divergence, at
    least two commands (an INIT and its command) are allowed."""

    rig = HostRig.build(_dawdles("cleanup", dawdle))
    if diverged:
        rig.divergence = object()  # type: ignore[assignment]
    rig.cleanup()
    n = 2 if diverged else 1
    msg = f"an operation of {n} command(s) took {dawdle} quanta (bound {n} x (deadline 4 + 1 quantum))"
    assert (rig.violations.get("timeout.bounded-wait") == msg) is bad, rig.violations


def test_operation_bound_counts_the_models_commands() -> None:
    rig = HostRig.build(_dawdles("save_page", 10))
    rig.save(val.G0)  # INIT and ENCRYPT: two commands, 10 quanta allowed
    assert "timeout.bounded-wait" not in rig.violations
    rig.save(val.G0)  # ENCRYPT alone
    assert rig.violations["timeout.bounded-wait"] == ("an operation of 1 command(s) took 10 quanta "
                                                      "(bound 1 x (deadline 4 + 1 quantum))")


def test_operation_bound_after_a_divergence_counts_the_gos() -> None:
    rig = HostRig.build(_dawdles("save_page", 14))
    rig.divergence = object()  # type: ignore[assignment]
    rig.save(val.G0)
    rig.save(val.G1)
    rig.save(val.G0)
    assert rig.wire_go_in_op == 1
    assert rig.violations["timeout.bounded-wait"].startswith("an operation of 2 command(s) took 14 quanta")


def test_system_flags_are_left_to_the_direct_checks() -> None:
    rig = HostRig.build(RFC, booted=False)
    rig.boot_at = 30  # never reached: the helper does not boot
    assert rig.cleanup() is False
    assert "timeout.no-false-timeout" in rig.observer.flags()
    assert rig.violations == {"liveness.honest-progress": rig.flag_message("liveness.honest-progress")}
    assert R.SYSTEM_FLAGS == {"timeout.no-false-timeout", "liveness.recovery"}


def test_early_timeout_is_a_false_timeout() -> None:
    rig = HostRig.build(mutants.BY_ID["host-early-timeout"].impl)
    assert rig.cleanup([(0, ("silent",))]) is False
    assert rig.violations["timeout.no-false-timeout"] == "command #1 timed out after 2 quanta, before its deadline (4)"


# --- liveness.recovery
_RECOVERY = "an operation failed although the helper had been prompt since before it started"


class _Fails(Host):
    """Carries out cleanup, then reports it failed."""

    def cleanup(self):
        super().cleanup()
        raise HostError("refused anyway")


@pytest.mark.parametrize("sched,claim", [
    ([], True),
    ([(6, ("wake",))], True),
    ([(7, ("write", "ret", -2))], True),
    ([(9, ("sleep", 1))], False),
    ([(9, ("silent",))], False),
    ([(9, ("serve",))], False),
])
def test_recovery_claimed_only_when_left_alone(sched: list, claim: bool) -> None:
    rig = HostRig.build(_impl("fails", host=_Fails))
    assert rig.cleanup(sched) is False
    assert (rig.violations.get("liveness.recovery") == _RECOVERY) is claim, rig.violations


@pytest.mark.parametrize("wake_q,claim", [(2, False), (1, True)])
def test_recovery_not_claimed_while_the_helper_sleeps(wake_q: int, claim: bool) -> None:
    rig = HostRig.build(_impl("fails", host=_Fails))
    rig.clock.spent(QUANTUM)
    rig.wake = wake_q * QUANTUM  # asleep when the operation starts, or awake again exactly then
    assert rig.cleanup() is False
    assert (rig.violations.get("liveness.recovery") == _RECOVERY) is claim, rig.violations


@pytest.mark.parametrize("boot_at,claim", [(7, True), (10, True), (11, False), (None, False)])
def test_recovery_after_a_late_boot_is_judged_in_time(boot_at, claim: bool) -> None:
    """The rfc host's cleanup polls done once per quantum from its 8th access on: a helper
    booting before access 10 boots 3 quanta in, before the deadline (4); before access 11, at it."""
    rig = HostRig.build(RFC, booted=False)
    rig.boot_at = boot_at
    rig.cleanup()
    if boot_at is not None and boot_at < 11:
        assert rig.booted
    assert (rig.violations.get("liveness.recovery") == _RECOVERY) is claim, (rig.booted_at, rig.violations)


# --- barriers of the host: hand-set traces
_W = ["host write cmd_type = 3", "host write gpa = 0", "host write prefetch = 0", "host write ret = -1"]


@pytest.mark.parametrize("trace,msg", [
    (_W + ["host barrier wmb", "host write go = 1", "host read done = 1", "host barrier rmb", "host read ret = 0"], None),
    (_W + ["host write go = 1", "host read done = 1", "host barrier rmb", "host read ret = 0"], "wmb"),
    (["host barrier wmb"] + _W + ["host write done = 0", "host write hdr_len = 0", "host write go = 1"], "wmb"),
    (["host barrier wmb"] + _W + ["host write done = 0", "host write go = 1"], None),
    (_W + ["host barrier wmb", "host write go = 1", "host read done = 1", "host read ret = 0"], "rmb"),
    (_W + ["host barrier wmb", "host write go = 1", "host barrier rmb", "host read done = 1", "host read ret = 0"], "rmb"),
    (["host read ret = 0"], None),  # the first access of an operation: nothing before it to judge
    (["host barrier wmb", "host read ret = 0"], "rmb"),
    (["host barrier mb", "host read ret = 0"], None),  # a full barrier orders reads too
    (_W + ["host barrier mb", "host write go = 1"], None),  # ... and writes
])
def test_host_barriers(trace: list[str], msg) -> None:
    rig = HostRig.build(HARDENED)
    rig.trace = ["host barrier wmb", "host barrier rmb"] + list(trace)
    rig._check_barriers(2)
    want = {"wmb": "the host wrote go with no write barrier after the parameters",
            "rmb": "the host read ret with no read barrier after done"}
    assert rig.violations == ({"barriers": want[msg]} if msg else {})


def test_host_without_read_barrier_is_caught() -> None:
    rig = HostRig.build(mutants.BY_ID["host-no-rmb"].impl)
    rig.cleanup()
    assert rig.violations["barriers"] == "the host read ret with no read barrier after done"


def test_barriers_judged_per_operation() -> None:
    rig = HostRig.build(HARDENED)
    rig.trace = ["host write go = 1"]  # an earlier operation's trace is not judged again
    rig.cleanup()
    assert rig.violations == {}
