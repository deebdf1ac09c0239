"""The hardened helpers' page protection: AES-256-GCM under a per-migration key.

Threat model (see docs/implementation.md): both hosts, the stream and the shared pages
are attacker-controlled; the source and target helpers share a 32-byte *transfer key*
and a 16-byte *session id* (one per migration), provisioned to the helpers only (in
the simulation: by the launcher, standing for the helpers' attested key exchange;
no ``Host`` object ever holds them).

* session key = HKDF-SHA256(transfer key, salt=session id, info=``INFO`` || be32
  migration number): a page of one migration does not decrypt under another's key (replay
  across migrations). The migration number counts the sessions opened on one provisioning
  (an INIT that finds the helper uninitialized opens the next; a repeated INIT does not), so
  the source and target helpers agree on it without trusting the host;
* nonce = 4 random bytes per helper instance || 64-bit counter: unique per page;
* associated data = the whole response header before the nonce: magic, version, cmd,
  source seq, flags, gpa, session id. A page moved to another gpa, or re-labelled,
  fails authentication; the target also checks gpa == its DECRYPT gpa and rejects a
  per-gpa seq that is not newer than the last page it accepted (replay within one
  migration).
"""
from __future__ import annotations

import os
import struct

import attrs
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mhmailbox.model.layout import PAGE_SIZE, Cmd

INFO = b"mhmailbox transfer key v1"
MAGIC = b"MHG1"
VERSION = 1
#: magic, version, cmd, seq, flags, gpa, session id | nonce | tag
HDR_STRUCT = struct.Struct("<4sHHIIQ16s12s16s")
HDR_SIZE = HDR_STRUCT.size  # 68
AAD_SIZE = HDR_SIZE - 12 - 16  # everything before the nonce
_AAD = struct.Struct("<4sHHIIQ16s")
_SEQ_GPA = struct.Struct("<IIQ")  # seq, flags, gpa at offset 8
_U64 = struct.Struct("<Q")
TAG_SIZE = 16


@attrs.frozen
class Provision:
    """What a hardened helper is given and a host never is."""

    transfer_key: bytes = attrs.field(repr=False)
    session_id: bytes

    @classmethod
    def generate(cls) -> "Provision":
        return cls(os.urandom(32), os.urandom(16))

    def new_session(self) -> "Provision":
        """Same transfer key, next migration."""
        return Provision(self.transfer_key, os.urandom(16))

    def __attrs_post_init__(self) -> None:
        if len(self.transfer_key) != 32 or len(self.session_id) != 16:
            raise ValueError("transfer key is 32 bytes, session id 16")


@attrs.frozen
class PageHeader:
    """The hardened response header at 0x804 (``HDR_SIZE`` bytes, little-endian)."""

    magic: bytes
    version: int
    cmd: int
    seq: int
    flags: int
    gpa: int
    session_id: bytes
    nonce: bytes
    tag: bytes

    @classmethod
    def parse(cls, data: bytes) -> "PageHeader":
        """Parse exactly ``HDR_SIZE`` bytes (ValueError otherwise)."""
        if len(data) != HDR_SIZE:
            raise ValueError(f"hardened header is {HDR_SIZE} bytes, got {len(data)}")
        return cls(*HDR_STRUCT.unpack(data))

    def well_formed(self) -> bool:
        return self.magic == MAGIC and self.version == VERSION and self.cmd == Cmd.ENCRYPT and self.flags == 0


class AuthError(Exception):
    """A page failed authentication (tampered, moved, replayed or malformed)."""


_HDR_HEAD = struct.Struct("<4sHHIIQ16s12s")  # everything but the tag


@attrs.define(eq=False)
class SessionCipher:
    """Encrypts pages on the source helper, verifies and decrypts on the target.

    The ``*_into`` methods work on caller-owned buffers so the per-page path allocates
    little; a failed ``open_into`` leaves ``out`` undefined (never copy it to RAM then).
    """

    provision: Provision
    #: which migration of this provisioning (1 for the first): an INIT that finds the helper
    #: uninitialized opens the next one (docs/hardened.md, "Sessions and replays")
    migration: int = 1
    _aead: AESGCM = attrs.field(init=False, repr=False)
    _prefix: bytes = attrs.field(init=False, repr=False)
    _counter: int = attrs.field(init=False, default=0, repr=False)
    _hdr: bytearray = attrs.field(init=False, repr=False)
    _hdr_view: memoryview = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.migration <= 0xFFFFFFFF:
            raise ValueError("migration numbers start at 1 (32 bits)")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=self.provision.session_id,
                   info=INFO + struct.pack(">I", self.migration)).derive(self.provision.transfer_key)
        self._aead = AESGCM(key)
        self._prefix = os.urandom(4)
        self._hdr = bytearray(HDR_STRUCT.pack(MAGIC, VERSION, 1, 0, 0, 0, self.provision.session_id,
                                              self._prefix + bytes(8), bytes(TAG_SIZE)))
        self._hdr_view = memoryview(self._hdr)

    def seal_into(self, gpa: int, seq: int, page: bytes | memoryview, out: bytearray) -> bytearray:
        """Encrypt ``page`` into ``out`` (PAGE_SIZE + 16 bytes: ciphertext, tag); returns the
        header, in a buffer this cipher reuses (copy it before the next call)."""
        self._counter += 1
        h, hv = self._hdr, self._hdr_view
        _SEQ_GPA.pack_into(h, 8, seq, 0, gpa)
        _U64.pack_into(h, AAD_SIZE + 4, self._counter)
        self._aead.encrypt_into(hv[AAD_SIZE:AAD_SIZE + 12], page, hv[:AAD_SIZE], out)
        h[HDR_SIZE - TAG_SIZE:] = memoryview(out)[PAGE_SIZE:]
        return h

    def seal(self, gpa: int, seq: int, page: bytes | memoryview) -> tuple[bytes, bytes]:
        """(header, ciphertext page) for the plaintext ``page``."""
        out = bytearray(PAGE_SIZE + TAG_SIZE)
        hdr = bytes(self.seal_into(gpa, seq, page, out))
        return hdr, bytes(out[:PAGE_SIZE])

    def open_into(self, gpa: int, header: bytes, ct: bytearray, out: bytearray) -> int:
        """Verify and decrypt; ``ct`` holds the ciphertext page in its first PAGE_SIZE bytes
        (the last 16 are overwritten with the header's tag). Returns the source seq or
        raises AuthError; checks format, gpa and session before the tag."""
        if len(header) != HDR_SIZE:
            raise AuthError(f"hardened header is {HDR_SIZE} bytes, got {len(header)}")
        magic, version, cmd, seq, flags, hgpa, sid, nonce = _HDR_HEAD.unpack_from(header)
        if magic != MAGIC or version != VERSION or cmd != 1 or flags != 0:
            raise AuthError("malformed header")
        if hgpa != gpa:
            raise AuthError(f"page sealed for gpa {hgpa:#x}, offered at {gpa:#x}")
        if sid != self.provision.session_id:
            raise AuthError("page from another migration session")
        ct[PAGE_SIZE:] = header[HDR_SIZE - TAG_SIZE:]
        try:
            self._aead.decrypt_into(nonce, ct, header[:AAD_SIZE], out)
        except Exception:  # cryptography.exceptions.InvalidTag
            raise AuthError("authentication tag mismatch") from None
        return seq

    def open(self, gpa: int, header: bytes, page: bytes) -> tuple[int, bytes]:
        """(source seq, plaintext) or AuthError."""
        if len(page) != PAGE_SIZE:
            raise AuthError("short page")
        ct = bytearray(page) + bytearray(TAG_SIZE)
        out = bytearray(PAGE_SIZE)
        seq = self.open_into(gpa, header, ct, out)
        return seq, bytes(out)
