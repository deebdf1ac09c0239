"""The C kit's guest side: an EDK2-style C helper, unedited, through the guest cases (docs/ckit.md).

Fast checks only (a few cases, few examples); the 200-example runs: bench/ckit_guest.py.
"""
from __future__ import annotations

import json

import pytest

from ckit_support import HARDENED_HELPER, RFC_HELPER, needs_cc, needs_crypto
from mhmailbox.conformance.rig import GPA, GuestRig
from mhmailbox.model import values as val
from mhmailbox.model.layout import Cmd

pytestmark = needs_cc


@pytest.fixture(scope="module")
def rfc_helper():
    from mhmailbox.conformance.ckit import c_guest

    impl = c_guest([RFC_HELPER], "rfc")
    yield impl
    impl.stop()


@pytest.fixture(scope="module")
def hardened_helper():
    from mhmailbox.conformance.ckit import c_guest

    impl = c_guest([HARDENED_HELPER], "hardened")
    yield impl
    impl.stop()


#: One fault each, put first in the published helper's RESTORE_PAGE (a one-place change of
#: examples/c/rfc-helper, as a mutant is): a wild pointer, a failed ASSERT, a wait for a ret value
#: nobody writes (polls of one mailbox field), a loop touching nothing shared, the entry returning.
FAULTS = {
    "wild-pointer": "CopyMem ((VOID *)(UINTN)Gpa, (VOID *)(UINTN)0xdead0000, EFI_PAGE_SIZE);",
    "assert": "ASSERT (Gpa == 0);",
    "endless-poll": "while (Params->Ret != 12345) { CpuPause (); }",
    "endless-loop": "for ( ; ;) { CpuPause (); }",
    "entry-returns": "return EFI_UNSUPPORTED;",
    "debug-then-low-gpa": 'DEBUG ((DEBUG_ERROR, "status %r at %g by %a\\n", (EFI_STATUS)5, NULL, "Restore")); '
                          "*(VOLATILE INT32 *)(UINTN)0x10 = 0;",
}


def faulty(tmp_path, fault: str) -> str:
    """A copy of the published helper with ``FAULTS[fault]`` at the start of RESTORE_PAGE."""
    with open(RFC_HELPER, encoding="utf-8") as fh:
        text = fh.read()
    anchor = "      case RESTORE_PAGE:\n"
    assert text.count(anchor) == 1
    path = tmp_path / f"{fault}.c"
    path.write_text(text.replace(anchor, f"{anchor}        {FAULTS[fault]}\n"))
    return str(path)


# ---------------------------------------------------------------- stepping, RAM, provisioning
def test_boot_runs_to_the_first_read_of_go_and_a_pass_is_one_read_of_go(rfc_helper):
    rig = GuestRig.build(rfc_helper)
    assert rig.trace == ["guest write go = 0"]  # the published helper clears go at boot, then waits
    assert rig.guest.poll_once() is False  # go is 0: one read, nothing served
    assert rig.trace[1:] == ["guest read go = 0"]
    assert rig.guest.poll_once() is False and rig.trace[2:] == ["guest read go = 0"]
    rig.publish(int(Cmd.INIT), GPA[val.G0])
    assert rig.guest.poll_once() is True  # one pass: the command served, stopped at the next read of go
    assert rig.trace[3:] == ["guest read go = 1", "guest write done = 0", "guest read cmd_type = 0",
                             f"guest read gpa = {GPA[val.G0]}", "guest write ret = 0", "guest write go = 0",
                             "guest write done = 1"]


def test_guest_ram_written_by_the_child_is_the_rigs(rfc_helper):
    rig = GuestRig.build(rfc_helper)
    assert rig.new_migration() == 0
    page = bytes(range(256)) * 16
    assert rig.decrypt(b"", page, val.G1) == 0  # the published helper copies the io page to gpa, unchecked
    assert bytes(rig.ram[GPA[val.G1]:GPA[val.G1] + 4096]) == page
    assert "guest.integrity" in rig.violations  # seen by the rig's own RAM check too


@needs_crypto
def test_each_session_is_opened_on_the_newest_provisioning(hardened_helper):
    rig = GuestRig.build(hardened_helper)
    for g in (val.G0, val.G1):  # a second migration: RESET, new provisioning, INIT
        assert rig.new_migration() == 0
        assert rig.encrypt(g) == 0
        hdr, page, _ = rig.records[-1]
        assert rig.decrypt(hdr, page, g) == 0
    assert rig.session_epoch == 2
    assert rig.divergence is None and rig.violations == {}


@needs_crypto
def test_memory_fence_is_a_full_barrier_where_the_helper_has_it(hardened_helper):
    rig = GuestRig.build(hardened_helper)
    assert rig.new_migration() == 0
    assert rig.trace[:4] == ["guest read go = 1", "guest barrier mb", "guest read cmd_type = 0",
                             f"guest read gpa = {GPA[val.G0]}"]
    assert rig.trace[4:7] == ["guest write ret = 0", "guest barrier mb", "guest write done = 1"]
    assert rig.violations == {} and rig.divergence is None  # a full barrier is the read and the write one


# ---------------------------------------------------------------- verdicts
@needs_crypto
@pytest.mark.parametrize("case", ["guest/honest", "guest/tamper", "guest/barriers"])
def test_the_hardened_c_helper_passes(hardened_helper, case):
    from mhmailbox.conformance.ckit import run_c_case

    r = run_c_case(case, hardened_helper, examples=15)
    assert r.verdict == "pass", (r.prop, r.message)


@pytest.mark.parametrize("case, prop", [("guest/confidential", "guest.confidential"),
                                        ("guest/refusal-reported", "guest.refusal-reported"),
                                        ("guest/barriers", "barriers")])
def test_the_rfc_c_helper_fails_as_the_python_one(rfc_helper, case, prop):
    from mhmailbox.conformance.ckit import run_c_case
    from mhmailbox.conformance.runner import run_case

    python = run_case(case, "rfc", examples=15)
    r = run_c_case(case, rfc_helper, examples=15)
    assert (python.verdict, python.prop) == ("fail", prop)
    assert (r.verdict, r.prop) == ("fail", prop), r.message
    assert r.steps == python.steps  # the same shrunk reproducer


def test_the_rfc_c_helper_passes_hostile_host_as_the_python_one(rfc_helper):
    """A gpa outside RAM reads as zeros in the child, as in the Python helper's memory, so the
    rfc helper copying it is judged by guest.gpa-checked, not crashed."""
    from mhmailbox.conformance.ckit import run_c_case

    assert run_c_case("guest/hostile-host", rfc_helper, examples=20).verdict == "pass"


# ---------------------------------------------------------------- isolation
@pytest.mark.parametrize("fault, words", [
    ("wild-pointer", ("killed by SIGSEGV after access #",)),
    ("assert", ("killed by SIGABRT", "it printed: ASSERT", "assert.c(", "Gpa == 0")),
    ("endless-poll", ("read ret 100000 times in a row", "a wait that never ends")),
    ("endless-loop", ("sent nothing for 2 s of real time", "a wait that never ends")),
    ("entry-returns", ("entry returned",)),
    ("debug-then-low-gpa", ("killed by SIGSEGV", "it printed: status 5 at (nil) by Restore")),  # EDK2's %r %g %a
])
def test_a_crash_abort_or_endless_loop_is_a_failed_case_with_a_reproducer(tmp_path, fault, words):
    from mhmailbox.conformance.cases import replay
    from mhmailbox.conformance.ckit import c_guest, run_c_case

    impl = c_guest(faulty(tmp_path, fault), "rfc", poll_limit=100_000, answer_timeout=2.0)
    try:
        r = run_c_case("guest/honest", impl, examples=60, shrink_seconds=1.0)  # 20 examples draw no restore
        assert (r.verdict, r.prop) == ("fail", "robust")
        for w in words:
            assert w in r.message, r.message
        assert f"c_guest(['{tmp_path}/{fault}.c'], 'rfc'" in r.reproducer
        assert replay("guest/honest", impl, r.steps) is not None  # the reproducer fails again
    finally:
        impl.stop()


def test_the_run_goes_on_after_a_crash(capsys, tmp_path):
    from mhmailbox.cli import main

    code = main(["conform", "--c-guest", faulty(tmp_path, "wild-pointer"), "--protocol", "rfc", "--examples", "60",
                 "--case", "guest/honest", "--case", "guest/confidential", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    got = {c["id"]: (c["verdict"], c["property"]) for c in doc["cases"]}
    assert got == {"guest/honest": ("fail", "robust"), "guest/confidential": ("fail", "guest.confidential")}
    assert doc["build"]["side"] == "guest" and doc["build"]["entries"] == ["MigrationHandlerMain"]
    assert doc["build"]["overrides"] == []  # the file as written


# ---------------------------------------------------------------- usage errors
def _usage(capsys, *argv: str) -> str:
    from mhmailbox.cli import main

    code = main(["conform", *argv])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_usage_errors(capsys):
    assert "--protocol" in _usage(capsys, "--c-guest", RFC_HELPER)
    assert "no function HelperMain" in _usage(capsys, "--c-guest", RFC_HELPER, "--protocol", "rfc", "--entry", "HelperMain")
    assert "--c-host FILE.c" in _usage(capsys, "--c-guest", RFC_HELPER, "--protocol", "rfc", "--side", "host")
    assert "--c-host FILE.c" in _usage(capsys, "--c-guest", RFC_HELPER, "--protocol", "rfc", "--case", "host/honest")


def test_a_helper_needing_libcrypto_where_it_is_missing(monkeypatch):
    from mhmailbox.conformance.ckit import build as kit_build
    from mhmailbox.errors import UsageError

    real = kit_build._helper_objects
    monkeypatch.setattr(kit_build, "_helper_objects",
                        lambda cc: (real(cc)[0][:1], "fatal error: openssl/evp.h: No such file or directory"))
    with pytest.raises(UsageError, match=r"calls (AeadAesGcm|Hkdf).* \(BaseCryptLib\).*libssl-dev"):
        kit_build.build([HARDENED_HELPER], helper_entry="MigrationHandlerMain")
    kit_build.build([RFC_HELPER], helper_entry="MigrationHandlerMain")  # no cryptography: builds without it


@needs_crypto
def test_host_and_helper_in_one_run(capsys):
    from ckit_support import REPO
    from mhmailbox.cli import main

    host = f"{REPO}/examples/c/hardened-host/confidential-ram.c"
    code = main(["conform", "--c-host", host, "--c-guest", HARDENED_HELPER, "--protocol", "hardened",
                 "--examples", "3", "--case", "host/honest", "--case", "guest/honest", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [(c["id"], c["verdict"]) for c in doc["cases"]] == [("host/honest", "pass"), ("guest/honest", "pass")]
    assert [b["side"] for b in doc["builds"]] == ["host", "guest"]
