"""Our own C hosts (examples/c/) through the C kit: models for implementers, and tests of the kit.

* examples/c/hardened-host/: the hardened host in C passes every host case;
* examples/c/hardened-host-alt/: a second hardened host in another style (its own order of
  parameter writes, one wait loop reading the clock every N polls, fences, the header copied in
  pieces) passes the MUST host cases;
* examples/c/mutants/host.json, helper.json: one-fault mutants of the hardened C host and helper,
  each killed by its case with its property;
* examples/c/hardened-helper/, examples/c/rfc-helper/: EDK2-style helpers, compiled against the
  kit's EDK2 stand-ins (conformance/ckit/include/); the hardened one's page protection is checked
  against impl/crypto.py through a harness (the guest cases on them: tests/test_ckit_guest.py).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from ckit_support import REPO, needs_cc, needs_crypto

pytestmark = needs_cc

HOST = os.path.join(REPO, "examples", "c", "hardened-host", "confidential-ram.c")
ALT_HOST = os.path.join(REPO, "examples", "c", "hardened-host-alt", "confidential-ram.c")
MUTANTS = os.path.join(REPO, "examples", "c", "mutants", "host.json")
HELPER_MUTANTS = os.path.join(REPO, "examples", "c", "mutants", "helper.json")
EDK2_STUBS = os.path.join(REPO, "conformance", "ckit", "include")  # the kit's EDK2 stand-ins
KIT_CRYPTO = os.path.join(REPO, "conformance", "ckit", "runtime", "mhkit_crypto.c")
KIT_EDK2 = os.path.join(REPO, "conformance", "ckit", "runtime", "mhkit_edk2.c")
#: Enough to draw every peer behaviour of a case; the full 200-example run is a figure in the
#: report (docs/ckit.md), not a test: it takes minutes.
EXAMPLES = 30
ALT_EXAMPLES = 20
SHRINK = 1.0


def _host_cases(level: str | None = None) -> list[str]:
    from mhmailbox.conformance.runner import select

    return [c.id for c in select("host") if level is None or c.level == level]


@pytest.fixture(scope="module")
def hardened_host():
    from mhmailbox.conformance.ckit import c_host

    impl = c_host(HOST, "hardened")
    yield impl
    impl.stop()


@pytest.mark.parametrize("case", _host_cases())
def test_hardened_c_host_passes_every_host_case(hardened_host, case):
    from mhmailbox.conformance.ckit import run_c_case

    r = run_c_case(case, hardened_host, examples=EXAMPLES, shrink_seconds=SHRINK)
    assert r.verdict == "pass", f"{r.prop}: {r.message}\n{r.reproducer}"
    assert r.examples >= EXAMPLES


def test_hardened_c_host_through_the_cli(capsys):
    """The command an implementer runs: the file has a load, so no case is skipped."""
    from mhmailbox.cli import main

    code = main(["conform", "--c-host", HOST, "--protocol", "hardened", "--case", "host/init-after-reset",
                 "--case", "host/header-toctou", "--examples", "5", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [(c["id"], c["verdict"]) for c in doc["cases"]] == [("host/init-after-reset", "pass"),
                                                                   ("host/header-toctou", "pass")]
    assert doc["build"]["entries"] == ["cleanup", "init", "load", "save"] and doc["summary"]["skipped"] == 0


# ---------------------------------------------------------------- the second, independent host
@pytest.fixture(scope="module")
def alt_host():
    from mhmailbox.conformance.ckit import c_host

    impl = c_host(ALT_HOST, "hardened")
    yield impl
    impl.stop()


@pytest.mark.parametrize("case", _host_cases("MUST"))
def test_alternative_c_host_passes_the_must_host_cases(alt_host, case):
    """Its style is judged as the protocol allows (model/observe.py's rules): parameters written
    gpa, ret, cmd_type before the fence (a write block, in any order: no helper reads them before
    go); prefetch never written and the header copied in 32-byte pieces (neither reaches the
    oracle); a load writing the io page before the header length (a write block); release and
    acquire fences for smp_wmb/smp_rmb; the clock read every 4096 polls inside one loop. The old
    oracle refused the first of these: at access #2, `write ret=-1` where the model expected
    `write cmd`, and order.publish took the gpa written before cmd_type for the previous command's."""
    from mhmailbox.conformance.ckit import run_c_case

    r = run_c_case(case, alt_host, examples=ALT_EXAMPLES, shrink_seconds=SHRINK)
    assert r.verdict == "pass", f"{r.prop}: {r.message}\n{r.reproducer}"


# ---------------------------------------------------------------- mutants
def _mutants(path: str = MUTANTS) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)["mutants"]


def _patched(tmp_path, src: str, old: str, new: str) -> str:
    """A copy of src's directory (its header comes along) with ``old`` replaced once by ``new``."""
    work = tmp_path / "src"
    shutil.copytree(os.path.dirname(src), work)
    path = work / os.path.basename(src)
    text = path.read_text()
    assert text.count(old) == 1, f"the mutant's text is not found exactly once in {src}: {old!r}"
    path.write_text(text.replace(old, new))
    return str(path)


@pytest.mark.parametrize("path", [MUTANTS, HELPER_MUTANTS], ids=["host", "helper"])
def test_mutant_descriptions_are_one_fault_each(path):
    """At least 4 mutants the kit kills, distinct ids, each an actual change of one place of a file we have."""
    ms = _mutants(path)
    assert len([m for m in ms if "kit_gap" not in m]) >= 4 and len({m["id"] for m in ms}) == len(ms)
    for m in ms:
        with open(os.path.join(REPO, m["file"]), encoding="utf-8") as fh:
            assert fh.read().count(m["old"]) == 1, m["id"]
        assert m["old"] != m["new"]


def _mutant_params(path: str = MUTANTS) -> list:
    """Each mutant; one the kit cannot see yet (``kit_gap`` says why) is a strict xfail."""
    return [pytest.param(m, id=m["id"], marks=[pytest.mark.xfail(strict=True, reason=m["kit_gap"])] if "kit_gap" in m else [])
            for m in _mutants(path)]


@pytest.mark.parametrize("mutant", _mutant_params())
def test_c_host_mutant_is_killed_by_its_case(tmp_path, mutant):
    from mhmailbox.conformance.ckit import c_host

    _killed_by_its_case(c_host(_patched(tmp_path, os.path.join(REPO, mutant["file"]), mutant["old"], mutant["new"]),
                               "hardened"), mutant)


@needs_crypto
@pytest.mark.parametrize("mutant", _mutant_params(HELPER_MUTANTS))
def test_c_helper_mutant_is_killed_by_its_case(tmp_path, mutant):
    from mhmailbox.conformance.ckit import c_guest

    _killed_by_its_case(c_guest(_patched(tmp_path, os.path.join(REPO, mutant["file"]), mutant["old"], mutant["new"]),
                                "hardened"), mutant)


def _killed_by_its_case(impl, mutant: dict) -> None:
    """Killed by its case, with the oracle on (``property``; ``divergence``: the oracle refused an
    access and no property failed, the verdict ``deviates``) and, where one does, by the case's property alone with the oracle off (``property_alone``).

    ``property`` may list several: a mutant whose examples fail in more than one way reports the
    failure its shrinking ends on, and shrinking is limited in time, so which one depends on the
    machine's speed (``c-host-init-failure-ignored``: a wrong command the oracle refuses, or a
    record emitted after a failed INIT)."""
    from mhmailbox.conformance.cases import ORACLE
    from mhmailbox.conformance.ckit import run_c_case

    allowed = mutant["property"] if isinstance(mutant["property"], list) else [mutant["property"]]
    try:
        r = run_c_case(mutant["case"], impl, examples=EXAMPLES, shrink_seconds=SHRINK)
        detected = "deviates" if allowed == ["divergence"] else "fail"
        assert r.verdict == detected, f"{mutant['id']} survived {mutant['case']} ({r.examples} examples)"
        assert r.prop in allowed, (r.prop, r.message)
        if mutant["property_alone"] is not None:
            ORACLE["on"] = False
            try:
                r = run_c_case(mutant["case"], impl, examples=EXAMPLES, shrink_seconds=SHRINK)
            finally:
                ORACLE["on"] = True
            assert (r.verdict, r.prop) == ("fail", mutant["property_alone"]), r.message
    finally:
        impl.stop()


# ---------------------------------------------------------------- EDK2-style helpers (compile only)
#: The helpers and what each must call: compiled (warnings as errors) against the kit's EDK2
#: stand-ins (conformance/ckit/include/), their undefined symbols show the EDK2 API they use
#: (the guest cases run them: tests/test_ckit_guest.py).
HELPERS = {
    "hardened-helper/ConfidentialMigrationHardened.c": {
        "AeadAesGcmEncrypt", "AeadAesGcmDecrypt", "HkdfSha256ExtractAndExpand", "MemoryFence", "CopyMem",
        "_gPcd_PcdConfidentialMigrationMailboxBase"},
    "rfc-helper/ConfidentialMigrationRfc.c": {"CopyMem", "CpuPause", "_gPcd_PcdConfidentialMigrationMailboxBase"},
}


@pytest.mark.parametrize("helper", sorted(HELPERS))
def test_edk2_style_helper_compiles_against_the_stand_ins(tmp_path, helper):
    from mhmailbox.conformance.ckit.build import find_compiler

    obj = tmp_path / "helper.o"
    p = subprocess.run([find_compiler(), "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
                        "-I", EDK2_STUBS, "-c", os.path.join(REPO, "examples", "c", helper), "-o", str(obj)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("no nm (binutils) to list the object's symbols")
    symbols = subprocess.run([nm, str(obj)], capture_output=True, text=True, check=True).stdout.split("\n")
    defined = {s.split()[-1] for s in symbols if " T " in s}
    undefined = {s.split()[-1] for s in symbols if " U " in s}
    assert defined == {"MigrationHandlerMain"}  # the entry, and nothing else exported
    assert HELPERS[helper] <= undefined, HELPERS[helper] - undefined
    if "rfc" in helper:
        assert "MemoryFence" not in undefined  # as published: no fences


# ---------------------------------------------------------------- the C helper's page protection
HARNESS = os.path.join(REPO, "tests", "c", "hardened_helper_harness.c")
RAM_GPA = 0x10000000  # where the harness maps guest RAM (at its own gpas, as firmware sees it)


@pytest.fixture(scope="module")
def c_helper(tmp_path_factory):
    """The hardened C helper's command code in a harness whose BaseCryptLib is OpenSSL's libcrypto."""
    from mhmailbox.conformance.ckit.build import find_compiler

    exe = str(tmp_path_factory.mktemp("harness") / "harness")
    p = subprocess.run([find_compiler(), "-std=gnu11", "-O1", "-Wall", "-Werror", "-Wno-unused-parameter",
                        "-Wno-unused-function", "-Wno-deprecated-declarations", "-I", EDK2_STUBS,
                        "-I", os.path.join(REPO, "examples", "c", "hardened-helper"), HARNESS, KIT_EDK2, KIT_CRYPTO, "-lcrypto",
                        "-o", exe],
                       capture_output=True, text=True)
    if p.returncode != 0 and ("openssl/" in p.stderr or "-lcrypto" in p.stderr):
        pytest.skip(f"no OpenSSL development files to build the helper's harness: {p.stderr.strip().splitlines()[0]}")
    assert p.returncode == 0, p.stderr
    return exe


def _talk(exe: str, provision, lines: list[str]) -> list[tuple]:
    p = subprocess.run([exe, provision.transfer_key.hex(), provision.session_id.hex()], input="".join(
        line + "\n" for line in lines), capture_output=True, text=True, timeout=30, check=True)
    return [_parse(line) for line in p.stdout.splitlines()]


def _parse(line: str) -> tuple:
    """"RET HEADER PAGE" for a command; "ok" for fill; "ram PAGE" for ram (hex)."""
    parts = line.split(" ")
    if parts[0] == "ok":
        return ("ok", b"", b"")
    if parts[0] == "ram":
        return ("ram", bytes.fromhex(parts[1]), b"")
    return (int(parts[0]), bytes.fromhex(parts[1]), bytes.fromhex(parts[2]))


def test_a_page_sealed_by_the_c_helper_opens_in_python(c_helper):
    """Same key schedule, header layout, nonce and associated data as impl/crypto.py: the Python
    cipher of the same session opens the C helper's page, bound to its gpa and seq."""
    from mhmailbox.impl.crypto import AuthError, Provision, SessionCipher

    prov = Provision.generate()
    _, (ret_init, _, _), (ret, hdr, page) = _talk(c_helper, prov, ["fill 7", "init 1", f"encrypt 9 {RAM_GPA:x}"])
    assert (ret_init, ret) == (0, 0) and len(hdr) == 68
    seq, plain = SessionCipher(prov, 1).open(RAM_GPA, hdr, page)
    assert (seq, plain) == (9, bytes([7]) * 4096)
    assert page != plain
    with pytest.raises(AuthError):
        SessionCipher(prov, 2).open(RAM_GPA, hdr, page)  # another session's key
    with pytest.raises(AuthError):
        SessionCipher(prov, 1).open(RAM_GPA + 0x1000, hdr, page)  # another gpa


def test_the_c_helper_opens_a_python_page_once_and_refuses_what_it_must(c_helper):
    from mhmailbox.impl.crypto import Provision, SessionCipher

    prov = Provision.generate()
    cipher = SessionCipher(prov, 1)
    h1, p1 = cipher.seal(RAM_GPA, 1, bytes(range(256)) * 16)
    h2, p2 = cipher.seal(RAM_GPA, 2, bytes([5]) * 4096)
    tampered = p2[:100] + bytes([p2[100] ^ 1]) + p2[101:]
    mailbox = 0x820000  # the harness's mailbox, at the stand-in PCD's gpa
    script = ["fill 0", f"decrypt 1 {RAM_GPA:x} {h1.hex()} {p1.hex()}",  # before INIT: refused
              "init 2", f"decrypt 3 {RAM_GPA + 0x1000:x} {h1.hex()} {p1.hex()}",  # moved
              f"decrypt 4 {RAM_GPA:x} {h2.hex()} {tampered.hex()}",  # tampered
              f"decrypt 5 {RAM_GPA:x} {h1.hex()} {p1.hex()}", "ram",  # authentic: reaches RAM
              f"decrypt 6 {RAM_GPA:x} {h1.hex()} {p1.hex()}",  # the same copy again: a replay
              f"decrypt 7 {mailbox:x} {h1.hex()} {p1.hex()}",  # into the mailbox
              f"decrypt 8 {RAM_GPA:x} {h2.hex()} {p2.hex()}", "ram"]  # a newer copy
    got = _talk(c_helper, prov, script)
    rets = [r[0] for r in got]
    assert rets == ["ok", -1, 0, -2, -2, 0, "ram", -2, -1, 0, "ram"], rets
    assert got[6][1] == bytes(range(256)) * 16 and got[10][1] == bytes([5]) * 4096
