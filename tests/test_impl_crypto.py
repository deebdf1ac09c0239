"""The hardened page protection on its own: the key schedule and header layout against an
independent computation (a round trip cannot see a constant changed on both sides), and
every refusal of ``open`` for its own reason."""
from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mhmailbox.impl.crypto import (
    AAD_SIZE,
    HDR_SIZE,
    TAG_SIZE,
    AuthError,
    PageHeader,
    Provision,
    SessionCipher,
)
from mhmailbox.model.layout import PAGE_SIZE

KEY, SID = bytes(range(32)), bytes(range(100, 116))
PROV = Provision(KEY, SID)
PAGE = bytes(range(256)) * (PAGE_SIZE // 256)


def session_key(migration: int = 1) -> bytes:
    info = b"mhmailbox transfer key v1" + migration.to_bytes(4, "big")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=SID, info=info).derive(KEY)


def test_provision_sizes_and_sessions() -> None:
    for key, sid in ((bytes(31), SID), (bytes(33), SID), (KEY, bytes(15)), (KEY, bytes(17))):
        with pytest.raises(ValueError, match="32 bytes, session id 16"):
            Provision(key, sid)
    g = Provision.generate()
    assert len(g.transfer_key) == 32 and len(g.session_id) == 16 and g != Provision.generate()
    n = g.new_session()
    assert n.transfer_key == g.transfer_key and n.session_id != g.session_id and len(n.session_id) == 16
    assert "transfer_key" not in repr(g)


def test_the_header_layout_and_the_ciphertext_match_an_independent_computation() -> None:
    c = SessionCipher(PROV)
    hdr, ct = c.seal(0x7000, 0xDEADBEEF, PAGE)
    assert len(hdr) == HDR_SIZE == 68 and AAD_SIZE == 40 and len(ct) == PAGE_SIZE
    magic, version, cmd, seq, flags, gpa, sid = struct.unpack_from("<4sHHIIQ16s", hdr)
    assert (magic, version, cmd, seq, flags, gpa, sid) == (b"MHG1", 1, 1, 0xDEADBEEF, 0, 0x7000, SID)
    nonce, tag = hdr[40:52], hdr[52:68]
    assert nonce[4:] == (1).to_bytes(8, "little")  # the first page of this cipher
    plain = AESGCM(session_key(1)).decrypt(nonce, ct + tag, hdr[:40])
    assert plain == PAGE
    h = PageHeader.parse(hdr)
    assert (h.magic, h.seq, h.gpa, h.session_id, h.nonce, h.tag) == (b"MHG1", 0xDEADBEEF, 0x7000, SID, nonce, tag)
    assert h.well_formed()


def test_nonces_count_up_under_one_prefix() -> None:
    c = SessionCipher(PROV)
    n1, n2 = (c.seal(0, 1, PAGE)[0][40:52] for _ in range(2))
    assert n1[:4] == n2[:4] and struct.unpack("<Q", n2[4:])[0] == struct.unpack("<Q", n1[4:])[0] + 1


@pytest.mark.parametrize("migration", [1, 2, 0xFFFFFFFF])
def test_each_migration_has_its_own_key(migration: int) -> None:
    hdr, ct = SessionCipher(PROV, migration).seal(0x1000, 3, PAGE)
    assert AESGCM(session_key(migration)).decrypt(hdr[40:52], ct + hdr[52:], hdr[:40]) == PAGE
    assert SessionCipher(PROV, migration).open(0x1000, hdr, ct) == (3, PAGE)
    other = 2 if migration == 1 else 1
    with pytest.raises(AuthError, match="tag mismatch"):
        SessionCipher(PROV, other).open(0x1000, hdr, ct)


@pytest.mark.parametrize("migration", [0, -1, 0x100000000])
def test_migration_numbers_are_32_bit_from_one(migration: int) -> None:
    with pytest.raises(ValueError, match="start at 1"):
        SessionCipher(PROV, migration)


def test_seal_into_reuses_its_header_buffer_and_writes_the_tag_after_the_page() -> None:
    c = SessionCipher(PROV)
    out = bytearray(PAGE_SIZE + TAG_SIZE)
    h = c.seal_into(0x2000, 9, PAGE, out)
    first = bytes(h)
    assert first[52:] == out[PAGE_SIZE:]
    h2 = c.seal_into(0x3000, 10, PAGE, out)
    assert h2 is h and bytes(h2) != first  # the same buffer, rewritten: callers copy it


# --- open: each refusal for its own reason --------------------------------------------------
def sealed() -> tuple[bytes, bytes]:
    return SessionCipher(PROV).seal(0x4000, 5, PAGE)


def test_open_round_trip_and_into() -> None:
    hdr, ct = sealed()
    c = SessionCipher(PROV)
    assert c.open(0x4000, hdr, ct) == (5, PAGE)
    buf, out = bytearray(ct) + bytearray(TAG_SIZE), bytearray(PAGE_SIZE)
    assert c.open_into(0x4000, hdr, buf, out) == 5 and out == PAGE and buf[PAGE_SIZE:] == hdr[52:]


@pytest.mark.parametrize("n", [HDR_SIZE - 1, HDR_SIZE + 1, 0])
def test_open_refuses_a_header_of_another_size(n: int) -> None:
    hdr, ct = sealed()
    with pytest.raises(AuthError, match=f"^hardened header is {HDR_SIZE} bytes, got {n}$"):
        SessionCipher(PROV).open(0x4000, (hdr + bytes(1))[:n], ct)
    with pytest.raises(ValueError, match=f"^hardened header is {HDR_SIZE} bytes, got {n}$"):
        PageHeader.parse((hdr + bytes(1))[:n])


@pytest.mark.parametrize("field,off,fmt,value", [("magic", 0, "<4s", b"MHG2"), ("version", 4, "<H", 2),
                                                  ("cmd", 6, "<H", 2), ("flags", 12, "<I", 1)])
def test_open_refuses_a_malformed_header(field: str, off: int, fmt: str, value: object) -> None:
    hdr, ct = sealed()
    bad = bytearray(hdr)
    struct.pack_into(fmt, bad, off, value)
    with pytest.raises(AuthError, match="^malformed header$"):
        SessionCipher(PROV).open(0x4000, bytes(bad), ct)
    assert not PageHeader.parse(bytes(bad)).well_formed()


def test_open_refuses_a_page_moved_or_from_another_session_before_the_tag() -> None:
    hdr, ct = sealed()
    with pytest.raises(AuthError, match="sealed for gpa 0x4000, offered at 0x5000"):
        SessionCipher(PROV).open(0x5000, hdr, ct)
    with pytest.raises(AuthError, match="another migration session"):
        SessionCipher(PROV.new_session()).open(0x4000, hdr, ct)


@pytest.mark.parametrize("where", ["seq", "ciphertext", "tag", "nonce"])
def test_open_refuses_anything_changed_under_the_tag(where: str) -> None:
    hdr_, ct_ = sealed()
    hdr, ct = bytearray(hdr_), bytearray(ct_)
    if where == "seq":
        hdr[8] ^= 1
    elif where == "ciphertext":
        ct[100] ^= 1
    elif where == "tag":
        hdr[-1] ^= 1
    else:
        hdr[50] ^= 1
    with pytest.raises(AuthError, match="tag mismatch"):
        SessionCipher(PROV).open(0x4000, bytes(hdr), bytes(ct))


def test_open_refuses_a_short_page() -> None:
    hdr, ct = sealed()
    with pytest.raises(AuthError, match="short page"):
        SessionCipher(PROV).open(0x4000, hdr, ct[:-1])


def test_a_cipher_shows_no_key_material() -> None:
    c = SessionCipher(PROV, 3)
    c.seal(0, 1, PAGE)
    assert repr(c) == f"SessionCipher(provision=Provision(session_id={SID!r}), migration=3)"
