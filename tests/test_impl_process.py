"""Real processes: helpers in their own processes, the host here, real (short) timeouts.

No timing asserts: only outcomes (which error, what reached RAM, what the stream holds).
Timeouts are generous (``T``) wherever a timeout is not the point, so a busy machine
cannot turn a slow helper into a failure; a dead helper is still seen at once, through
the host's liveness check between polling bursts.
"""
from __future__ import annotations

import json
import os

import pytest

from mhmailbox.impl.crypto import Provision, SessionCipher
from mhmailbox.impl.host import HelperDied, HostError, TimedOut
from mhmailbox.impl.migrate import VM, MigrationFailed, load_vm, migratable_pages, run_migration, save_vm
from mhmailbox.impl.stream import FILE_HEADER_SIZE, StreamError, decode
from mhmailbox.model.layout import PAGE_SIZE, SHARED_GPA, Cmd

SMALL = 64 * PAGE_SIZE
T = 10.0  # seconds
REC = 16 + 68 + 4 + PAGE_SIZE  # one hardened record


@pytest.mark.parametrize("mode", ["hardened", "rfc"])
def test_migration_across_the_shared_area_verifies(mode: str, tmp_path) -> None:
    ram = SHARED_GPA + 8 * PAGE_SIZE  # RAM covers the mailbox's pages, which are skipped
    path = str(tmp_path / "s.bin")
    rep = run_migration(ram, mode, stream_path=path, timeout=T)  # type: ignore[arg-type]
    assert rep.verified and rep.pages == ram // PAGE_SIZE - 2
    assert rep.plaintext_pages_in_stream == (rep.pages if mode == "rfc" else 0)
    with open(path, "rb") as f:
        hdr, recs = decode(f.read())
    assert hdr.mode == mode and [r.gpa for r in recs] == migratable_pages(ram)


@pytest.fixture
def pair_of_vms():
    prov = Provision.generate()
    vms: list[VM] = []

    def make(fill: bool, provision: Provision = prov) -> VM:
        vm = VM.launch(SMALL, "hardened", provision, fill=fill)
        vms.append(vm)
        return vm

    yield make
    for vm in vms:
        vm.close()


def test_killing_the_source_helper_fails_the_save_cleanly(pair_of_vms, tmp_path) -> None:
    src = pair_of_vms(True)
    host = src.host(timeout=T)
    got = []
    with pytest.raises(HostError) as e:
        for rec in host.save_pages(migratable_pages(SMALL)):
            got.append(rec)
            if len(got) == 5:
                src.helper.kill()
    assert isinstance(e.value, (HelperDied, TimedOut))
    assert len(got) in (5, 6)  # the page in flight when the helper died may have completed; no more
    assert not src.helper.alive()


def test_killed_helper_mid_save_leaves_no_stream(tmp_path) -> None:
    path = str(tmp_path / "s.bin")
    big = VM.launch(2048 * PAGE_SIZE, "hardened", Provision.generate(), fill=True)

    def kill_at_first_report(phase: str, done: int, total: int) -> None:  # after 1024 pages
        if done:
            big.helper.kill()

    try:
        with pytest.raises(MigrationFailed, match="SIGKILL"):
            save_vm(big, big.host(T), path, progress=kill_at_first_report)
    finally:
        big.close()
    assert not os.path.exists(path) and not os.path.exists(path + ".partial")


def test_stalled_helper_times_out_then_recovers(pair_of_vms) -> None:
    src = pair_of_vms(True)
    host = src.host(timeout=T)
    assert host.send(Cmd.INIT).ok
    src.helper.pause()
    try:
        host.timeout = 0.05
        with pytest.raises(TimedOut):
            host.save_page(PAGE_SIZE)
        assert host.pending is not None
    finally:
        src.helper.resume()
    host.timeout = T
    rec = host.save_page(2 * PAGE_SIZE)  # waits for the late ENCRYPT first, then runs
    assert rec.gpa == 2 * PAGE_SIZE and host.pending is None


def _saved(pair_of_vms, tmp_path) -> tuple[str, bytes]:
    src = pair_of_vms(True)
    path = str(tmp_path / "s.bin")
    save_vm(src, src.host(T), path)
    with open(path, "rb") as f:
        return path, f.read()


def _load_bytes(pair_of_vms, tmp_path, data: bytes) -> tuple[VM, Exception]:
    dst = pair_of_vms(False)
    p = str(tmp_path / "bad.bin")
    with open(p, "wb") as f:
        f.write(data)
    with pytest.raises(MigrationFailed) as e:
        load_vm(dst, dst.host(T), p)
    return dst, e.value


def _page(vm: VM, i: int) -> bytes:
    gpa = migratable_pages(SMALL)[i]
    return bytes(vm.ram.buf[gpa:gpa + PAGE_SIZE])


def test_target_refuses_truncated_stream(pair_of_vms, tmp_path) -> None:
    _, data = _saved(pair_of_vms, tmp_path)
    dst, err = _load_bytes(pair_of_vms, tmp_path, data[:-100])
    assert isinstance(err.__cause__, StreamError)
    assert _page(dst, 63) == bytes(PAGE_SIZE)  # the truncated page never reached RAM
    assert _page(dst, 62) != bytes(PAGE_SIZE)  # the ones before it were complete


def test_target_refuses_reordered_stream(pair_of_vms, tmp_path) -> None:
    _, data = _saved(pair_of_vms, tmp_path)
    a = FILE_HEADER_SIZE + 10 * REC
    swapped = data[:a] + data[a + REC:a + 2 * REC] + data[a:a + REC] + data[a + 2 * REC:]
    dst, err = _load_bytes(pair_of_vms, tmp_path, swapped)
    assert isinstance(err.__cause__, StreamError) and "reordered" in str(err)
    assert _page(dst, 10) == bytes(PAGE_SIZE)
    assert all(_page(dst, i) == bytes(PAGE_SIZE) for i in range(12, 64))


@pytest.mark.parametrize("where", ["page", "header"])
def test_target_refuses_tampered_stream(pair_of_vms, tmp_path, where: str) -> None:
    _, data = _saved(pair_of_vms, tmp_path)
    bad = bytearray(data)
    rec = FILE_HEADER_SIZE + 20 * REC
    bad[rec + (16 + 68 + 4 + 100 if where == "page" else 16 + 30)] ^= 0x01
    dst, err = _load_bytes(pair_of_vms, tmp_path, bytes(bad))
    assert "authentication failed" in str(err)
    assert _page(dst, 20) == bytes(PAGE_SIZE) and _page(dst, 19) != bytes(PAGE_SIZE)


def test_target_refuses_a_replay_from_another_migration(pair_of_vms, tmp_path) -> None:
    path, data = _saved(pair_of_vms, tmp_path)
    other = pair_of_vms(False, Provision.generate())  # a different migration (session, key)
    with pytest.raises(MigrationFailed, match="authentication failed"):
        load_vm(other, other.host(T), path)
    assert bytes(other.ram.buf) == bytes(SMALL)


def test_cli_migrate_json(capsys) -> None:
    from mhmailbox.cli import main

    assert main(["migrate", "--ram", "256KiB", "--timeout-ms", "10000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"mode", "pages", "seconds", "pages_per_s", "mib_per_s", "verified", "plaintext_pages_in_stream"}
    assert out["verified"] is True and out["pages"] == 64 and out["plaintext_pages_in_stream"] == 0


@pytest.mark.parametrize("argv", [["--ram", "12 apples"], ["--ram", "1000"], ["--timeout-ms", "0"],
                                  ["--stream", "/nonexistent-dir/x"], ["--mode", "weird"]])
def test_cli_usage_errors_exit_2(argv: list[str], capsys) -> None:
    from mhmailbox.cli import main

    assert main(["migrate", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error:")


def test_foreground_helper_on_files_serves_a_foreign_host(tmp_path) -> None:
    """The file-based entry point other-language hosts use: a save through it, then decrypt here."""
    import subprocess
    import sys

    from mhmailbox.impl.memory import DirectPort, MappedFile
    from mhmailbox.impl.host import Host

    prov = Provision.generate()
    secret = tmp_path / "secret"
    secret.write_bytes(prov.transfer_key + prov.session_id)
    mbox = MappedFile.create(8192, str(tmp_path / "mbox"))
    ram = MappedFile.create(SMALL, str(tmp_path / "ram"))
    ram.buf[PAGE_SIZE:2 * PAGE_SIZE] = b"\x5a" * PAGE_SIZE
    proc = subprocess.Popen([sys.executable, "-m", "mhmailbox.impl.procs", "--mailbox", mbox.path,
                             "--ram", ram.path, "--secret-file", str(secret)])
    try:
        host = Host(DirectPort(mbox.buf), "hardened", timeout=10.0, peer_alive=lambda: proc.poll() is None)
        rec = host.save_page(PAGE_SIZE)
    finally:
        proc.kill()
        proc.wait()
        mbox.close()
        ram.close()
    seq, page = SessionCipher(prov, 1).open(PAGE_SIZE, rec.header, rec.page)  # the helper's first session
    assert page == b"\x5a" * PAGE_SIZE and seq == 2  # INIT was seq 1 (a hardened helper keeps a go sent before it booted)
