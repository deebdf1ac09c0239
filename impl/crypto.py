"""The hardened helpers' page protection: AES-256-GCM under a per-migration key.

Threat model (see docs/implementation.md): both hosts, the stream and the shared pages
are attacker-controlled; the source and target helpers share a 32-byte *transfer key*
and a 16-byte *session id* (one per migration), provisioned to the helpers only (in
the simulation: by the launcher, standing for the helpers' attested key exchange;
no ``Host`` object ever holds them).

* session key = HKDF-SHA256(transfer key, salt=session id, info=``INFO``): a page of
  one migration does not decrypt under another's key (replay across migrations);
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


@attrs.define(eq=False)
class SessionCipher:
    """Encrypts pages on the source helper, verifies and decrypts on the target."""

    provision: Provision
    _aead: AESGCM = attrs.field(init=False, repr=False)
    _prefix: bytes = attrs.field(init=False, repr=False)
    _counter: int = attrs.field(init=False, default=0, repr=False)

    def __attrs_post_init__(self) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=self.provision.session_id, info=INFO).derive(
            self.provision.transfer_key
        )
        self._aead = AESGCM(key)
        self._prefix = os.urandom(4)

    def seal(self, gpa: int, seq: int, page: bytes) -> tuple[bytes, bytes]:
        """(header, ciphertext page of PAGE_SIZE bytes) for the plaintext ``page``."""
        self._counter += 1
        nonce = self._prefix + self._counter.to_bytes(8, "little")
        sid = self.provision.session_id
        aad = _AAD.pack(MAGIC, VERSION, Cmd.ENCRYPT, seq, 0, gpa, sid)
        ct = self._aead.encrypt(nonce, page, aad)
        return aad + nonce + ct[PAGE_SIZE:], ct[:PAGE_SIZE]

    def open(self, gpa: int, header: bytes, page: bytes) -> tuple[int, bytes]:
        """(source seq, plaintext) or AuthError; checks gpa and session before the tag."""
        try:
            h = PageHeader.parse(header)
        except ValueError as exc:
            raise AuthError(str(exc)) from None
        if not h.well_formed():
            raise AuthError("malformed header")
        if h.gpa != gpa:
            raise AuthError(f"page sealed for gpa {h.gpa:#x}, offered at {gpa:#x}")
        if h.session_id != self.provision.session_id:
            raise AuthError("page from another migration session")
        if len(page) != PAGE_SIZE:
            raise AuthError("short page")
        try:
            pt = self._aead.decrypt(h.nonce, bytes(page) + h.tag, header[:AAD_SIZE])
        except Exception:  # cryptography.exceptions.InvalidTag
            raise AuthError("authentication tag mismatch") from None
        return h.seq, pt
