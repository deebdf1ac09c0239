"""Single-fault mutants of the hardened implementation: does the suite notice each mistake?

Each mutant is a small subclass of the hardened :class:`~mhmailbox.impl.host.Host`
or :class:`~mhmailbox.impl.guest.GuestHelper` (or of the cipher it uses) that
undoes one fix of docs/hardened.md, the way a plausible bug would. The mutant
keeps the hardened model as its oracle: a mutant is *killed* when some case
fails on it (a property or a divergence), and the first case that does is
reported.
"""
from __future__ import annotations

import struct
import attrs

from mhmailbox.impl.crypto import HDR_SIZE, AuthError, SessionCipher
from mhmailbox.impl.guest import GuestHelper
from mhmailbox.impl.host import Host, Reply, Status, _i32
from mhmailbox.model.layout import HDR_MAX, OFF_HDR_DATA, OFF_IO_PAGE, PAGE_SIZE, Cmd, Ret

from .adapter import HARDENED, Implementation

_OK, _INVALID, _AUTH = int(Ret.OK), int(Ret.INVALID), int(Ret.AUTH)


# ---------------------------------------------------------------- host mutants
class HeaderFetchedTwice(Host):
    """Checks hdr.len, then reads it again for the copy (a double fetch)."""

    def _collect(self) -> tuple[int, bytes, bytes]:
        port = self.port
        if port.read("hdr_len") > HDR_MAX:
            return HDR_MAX + 1, b"", b""
        n = port.read("hdr_len")
        return n, port.read_bytes(OFF_HDR_DATA, n), port.read_bytes(OFF_IO_PAGE, PAGE_SIZE)


class SeqNotChecked(Host):
    """Accepts any nonzero done as the completion (the sequence number is not compared)."""

    def send(self, cmd: int, gpa: int = 0, *, start: float | None = None) -> Reply:
        start = self.clock.now() if start is None else start
        failed = self._begin(cmd, gpa, start)
        return failed if failed is not None else self._end(start)

    def _wait(self, start: float, want: int | None, polled: bool = False) -> Status:
        port, clock = self.port, self.clock
        while True:
            if port.poll_ne("done", 0, 0, self.burst) is not None:
                return "ok"
            clock.spent(self.quantum)
            if clock.now() - start >= self.timeout:
                return "timed_out"


class NoConsumeWait(Host):
    """After a timeout, publishes the next command at once (no wait for the old one)."""

    def send(self, cmd: int, gpa: int = 0, *, start: float | None = None) -> Reply:
        self.pending = None
        return super().send(cmd, gpa, start=start)

    def _quiesce(self, start: float, what: str) -> None:
        self.pending = None


class NoReadBarrier(Host):
    """Reads ret right after seeing done == seq, without the read barrier."""

    def send(self, cmd: int, gpa: int = 0, *, start: float | None = None) -> Reply:
        start = self.clock.now() if start is None else start
        failed = self._begin(cmd, gpa, start)
        if failed is not None:
            return failed
        status = self._wait(start, _i32(self.seq))
        if status != "ok":
            self.pending = self.seq
            return Reply(status, None, self.seq, self.clock.now() - start)
        return Reply("ok", self.port.read("ret"), self.seq, self.clock.now() - start)


class InitKeptAfterReset(Host):
    """Cleanup sends RESET but keeps "initialized" (the next migration skips INIT)."""

    def cleanup(self) -> Reply:
        return self.send(Cmd.RESET)


class InitFailureIgnored(Host):
    """A failed INIT is ignored and the save goes on (as published)."""

    def initialize(self) -> Reply:
        reply = self.send(Cmd.INIT)
        if reply.ok:
            self.initialized = True
        return reply


class FreshDeadline(Host):
    """The wait for a pending command gets its own deadline, then the command another one."""

    def _begin(self, cmd: int, gpa: int, start: float) -> Reply | None:
        if self.pending is not None:
            status = self._wait(self.clock.now(), _i32(self.pending))
            if status != "ok":
                return Reply(status, None, self.pending, 0.0)
            self.pending = None
        self.seq = self.seq % 0xFFFFFFFF + 1
        self.port.publish(int(cmd), gpa, _i32(self.seq), clear_done=False)
        return None

    def send(self, cmd: int, gpa: int = 0, *, start: float | None = None) -> Reply:
        failed = self._begin(cmd, gpa, self.clock.now())
        return failed if failed is not None else self._end(self.clock.now())


class EarlyTimeout(Host):
    """Gives up at half the deadline."""

    def _wait(self, start: float, want: int | None, polled: bool = False) -> Status:
        full = self.timeout
        self.timeout = full / 2
        try:
            return super()._wait(start, want, polled)
        finally:
            self.timeout = full


# ---------------------------------------------------------------- guest mutants
class _Serve(GuestHelper):
    """The hardened serve loop with its fixes as switches (for one-fault mutants)."""

    echo: bool = True
    rmb: bool = True
    wmb: bool = True
    reset_clears: bool = True
    force_ok: bool = False

    def _serve_hardened(self, g: int) -> None:
        port = self.port
        if self.rmb:
            port.barrier("rmb")
        cmd, gpa = port.read_params()
        if cmd == int(Cmd.INIT):
            self._init()
            ret = _OK
        elif cmd == int(Cmd.RESET):
            self.initialized = self.initialized and not self.reset_clears
            ret = _OK
        elif cmd in (int(Cmd.ENCRYPT), int(Cmd.DECRYPT)):
            if not self.initialized or not self._gpa_ok(gpa):
                ret = _INVALID
            elif cmd == int(Cmd.ENCRYPT):
                ret = self._encrypt(gpa, g & 0xFFFFFFFF)
            else:
                ret = self._decrypt(gpa)
        else:
            ret = _INVALID
        port.complete(_OK if self.force_ok else ret, g if self.echo else 1, clear_go=False, fence=self.wmb)
        self.last_seq = g


class DoneNotEchoed(_Serve):
    """Writes done = 1 instead of echoing the sequence number."""

    echo = False


class GoClearedAtStart(GuestHelper):
    """Clears go when it boots (a go written earlier is lost), as published."""

    def start(self) -> None:
        self.port.write("go", 0)


class NoGuestBarriers(_Serve):
    """No read barrier after go, no write barrier before done."""

    rmb = wmb = False


class GuestInitKeptAfterReset(_Serve):
    """RESET does not clear the helper's "initialized" (ENCRYPT/DECRYPT accepted after RESET)."""

    reset_clears = False


class PlaintextPage(GuestHelper):
    """ENCRYPT copies the page out in plaintext (the header is still produced)."""

    def _encrypt(self, gpa: int, seq: int) -> int:
        assert self._cipher is not None
        hdr = self._cipher.seal_into(gpa, seq, self.ram[gpa:gpa + PAGE_SIZE], self._ct)
        self.port.write_response(hdr, bytes(self.ram[gpa:gpa + PAGE_SIZE]))
        return _OK


class RefusalAsSuccess(_Serve):
    """A refused command (bad gpa, before INIT, failed authentication) reports success."""

    force_ok = True


class MailboxOnlyCheck(GuestHelper):
    """Checks only that the gpa is outside the shared area (a gpa past RAM is accepted)."""

    def _gpa_ok(self, gpa: int) -> bool:
        from mhmailbox.model.layout import in_shared_area

        return not in_shared_area(gpa)

    def _encrypt(self, gpa: int, seq: int) -> int:
        if gpa + PAGE_SIZE > len(self.ram):
            assert self._cipher is not None
            hdr = self._cipher.seal_into(gpa, seq, bytes(PAGE_SIZE), self._ct)
            self.port.write_response(hdr, self._ct_page)
            return _OK
        return super()._encrypt(gpa, seq)

    def _decrypt(self, gpa: int) -> int:
        if gpa + PAGE_SIZE > len(self.ram):
            return _OK  # "written" to nowhere
        return super()._decrypt(gpa)


class _NoGpaCipher(SessionCipher):
    """The gpa is neither checked nor in the associated data: a page opens at any gpa."""

    def open_into(self, gpa: int, header: bytes, ct: bytearray, out: bytearray) -> int:
        hgpa = struct.unpack_from("<Q", header, 16)[0] if len(header) == HDR_SIZE else gpa
        return super().open_into(hgpa, header, ct, out)


class GpaNotBound(GuestHelper):
    """DECRYPT authenticates the page against the gpa in its header, not the gpa requested."""

    cipher_class = _NoGpaCipher


class _NoSessionCipher(SessionCipher):
    """Key and checks without the session: pages of an earlier migration still open."""

    def __attrs_post_init__(self) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        super().__attrs_post_init__()
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"no session").derive(self.provision.transfer_key)
        self._aead = AESGCM(key)

    def open_into(self, gpa: int, header: bytes, ct: bytearray, out: bytearray) -> int:
        from mhmailbox.impl.crypto import AAD_SIZE, MAGIC, TAG_SIZE, VERSION, _HDR_HEAD

        if len(header) != HDR_SIZE:
            raise AuthError("short header")
        magic, version, cmd, seq, flags, hgpa, _sid, nonce = _HDR_HEAD.unpack_from(header)
        if magic != MAGIC or version != VERSION or cmd != 1 or flags != 0 or hgpa != gpa:
            raise AuthError("malformed header or wrong gpa")
        ct[PAGE_SIZE:] = header[HDR_SIZE - TAG_SIZE:]
        try:
            self._aead.decrypt_into(nonce, ct, header[:AAD_SIZE], out)
        except Exception:
            raise AuthError("authentication tag mismatch") from None
        return seq


class SessionNotBound(GuestHelper):
    """The migration session is bound neither into the key nor checked: a page saved in an
    earlier migration is accepted in the next one."""

    cipher_class = _NoSessionCipher


class NoReplayWindow(GuestHelper):
    """DECRYPT does not reject an older copy of a page it already accepted."""

    def _decrypt(self, gpa: int) -> int:
        self._accepted.clear()
        return super()._decrypt(gpa)


@attrs.frozen
class Mutant:
    id: str
    text: str
    impl: Implementation


def _m(id: str, *, host: type = Host, guest: type = GuestHelper) -> Mutant:
    cls = host if host is not Host else guest
    return Mutant(id, (cls.__doc__ or "").strip(), attrs.evolve(HARDENED, name=f"mutant:{id}", host_cls=host, guest_cls=guest))


MUTANTS: tuple[Mutant, ...] = (
    _m("host-header-fetched-twice", host=HeaderFetchedTwice),
    _m("host-seq-not-checked", host=SeqNotChecked),
    _m("host-no-consume-wait", host=NoConsumeWait),
    _m("host-no-rmb", host=NoReadBarrier),
    _m("host-init-kept-after-reset", host=InitKeptAfterReset),
    _m("host-init-failure-ignored", host=InitFailureIgnored),
    _m("host-fresh-deadline", host=FreshDeadline),
    _m("host-early-timeout", host=EarlyTimeout),
    _m("guest-done-not-echoed", guest=DoneNotEchoed),
    _m("guest-go-cleared-at-start", guest=GoClearedAtStart),
    _m("guest-no-barriers", guest=NoGuestBarriers),
    _m("guest-init-kept-after-reset", guest=GuestInitKeptAfterReset),
    _m("guest-plaintext-page", guest=PlaintextPage),
    _m("guest-refusal-as-success", guest=RefusalAsSuccess),
    _m("guest-mailbox-only-check", guest=MailboxOnlyCheck),
    _m("guest-gpa-not-in-ad", guest=GpaNotBound),
    _m("guest-session-not-in-ad", guest=SessionNotBound),
    _m("guest-no-replay-window", guest=NoReplayWindow),
)
BY_ID = {m.id: m for m in MUTANTS}
