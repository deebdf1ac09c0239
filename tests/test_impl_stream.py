"""The migration stream codec: round trip, every documented rejection, a small fuzz."""
from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mhmailbox.impl.stream import (
    FILE_HEADER_SIZE,
    Record,
    StreamError,
    decode,
    encode,
)
from mhmailbox.model.layout import PAGE_SIZE, SHARED_GPA

REC_SIZE = 16 + 3 + 4 + PAGE_SIZE  # with a 3-byte header


def records(n: int = 3) -> list[Record]:
    return [Record(i * PAGE_SIZE, b"h%d!" % i if i < 10 else b"hdr", bytes([i]) * PAGE_SIZE) for i in range(n)]


def test_round_trip() -> None:
    recs = records()
    hdr, got = decode(encode("hardened", recs), expect_mode="hardened")
    assert hdr.mode == "hardened" and hdr.page_count == 3
    assert [tuple(r[:3]) for r in got] == [tuple(r[:3]) for r in recs]


def test_empty_stream_and_record_encode_agree() -> None:
    assert decode(encode("rfc", []))[1] == []
    data = encode("rfc", records(1))
    assert data[FILE_HEADER_SIZE:] == records(1)[0].encode()


def _err(data: bytes, **kw: object) -> StreamError:
    with pytest.raises(StreamError) as e:
        decode(data, **kw)  # type: ignore[arg-type]
    return e.value


def test_bad_magic_version_mode_flags_reserved_pagesize() -> None:
    good = bytearray(encode("hardened", records()))
    for off, val, where in ((0, b"X", 0), (9, b"\x07", 8), (10, b"\x09", 10), (11, b"\x01", 11), (31, b"\x01", 24),
                            (14, b"\x20", 12)):
        bad = bytearray(good)
        bad[off:off + len(val)] = val
        assert _err(bytes(bad)).offset == where
    assert "expected rfc" in str(_err(bytes(good), expect_mode="rfc"))


def test_truncation_anywhere_reports_the_end_offset() -> None:
    good = encode("hardened", records())
    for cut in (0, 5, FILE_HEADER_SIZE, FILE_HEADER_SIZE + 7, FILE_HEADER_SIZE + 17, len(good) - 1):
        e = _err(good[:cut])
        assert e.offset == cut and "truncated" in e.reason


def test_header_length_over_1024_and_page_size() -> None:
    good = encode("hardened", records(1))
    at = FILE_HEADER_SIZE + 12
    bad = good[:at] + struct.pack(">I", 1025) + good[at + 4:]
    assert _err(bad).offset == at
    at2 = FILE_HEADER_SIZE + 16 + 3
    bad2 = good[:at2] + struct.pack(">I", 4095) + good[at2 + 4:]
    assert _err(bad2).offset == at2


def test_reordered_and_duplicate_gpas() -> None:
    r = records(3)
    e = _err(encode("hardened", [r[0], r[2], r[1]]))
    assert e.offset == FILE_HEADER_SIZE + 2 * REC_SIZE and "reordered or duplicate" in e.reason
    e = _err(encode("hardened", [r[0], r[1], r[1]]))
    assert e.offset == FILE_HEADER_SIZE + 2 * REC_SIZE


def test_gpa_in_shared_area_or_beyond_ram_and_flags() -> None:
    shared = Record(SHARED_GPA, b"", bytes(PAGE_SIZE))
    assert "shared area" in _err(encode("rfc", [shared])).reason
    assert "exceeds" in _err(encode("rfc", records(3)), ram_size=2 * PAGE_SIZE).reason
    far = [records(1)[0], Record(5 * PAGE_SIZE, b"", bytes(PAGE_SIZE))]
    assert "beyond" in _err(encode("rfc", far), ram_size=3 * PAGE_SIZE).reason
    good = bytearray(encode("rfc", records(1)))
    good[FILE_HEADER_SIZE + 6] = 0x04  # flags 0x400 instead of 0x200
    assert _err(bytes(good)).offset == FILE_HEADER_SIZE
    good = bytearray(encode("rfc", records(1)))
    good[FILE_HEADER_SIZE + 11] = 5  # subtype
    assert _err(bytes(good)).offset == FILE_HEADER_SIZE + 8


def test_trailing_garbage_and_count_mismatch() -> None:
    good = encode("hardened", records())
    e = _err(good + b"\0")
    assert e.offset == len(good) and "trailing" in e.reason
    more = bytearray(good)
    more[23] = 4  # announce 4 records, carry 3
    assert _err(bytes(more)).offset == len(good)


def test_inconsistent_emitted_length_is_refused() -> None:
    # what the published host's double fetch can produce: be32 says 8, 3 bytes follow
    bad = Record(0, b"abc", bytes(PAGE_SIZE), hdr_len=8)
    with pytest.raises(StreamError):
        decode(encode("rfc", [bad]))


_VALID = encode("hardened", records(2))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(_VALID)
    for _ in range(draw(st.integers(0, 4))):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.booleans()):
        data += draw(st.binary(max_size=8))
    return bytes(data)


@settings(derandomize=True, max_examples=300, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(st.one_of(mutated(), st.binary(max_size=200)))
def test_fuzz_decoder_fails_only_with_stream_error(data: bytes) -> None:
    try:
        hdr, recs = decode(data)
    except StreamError as e:
        assert 0 <= e.offset <= len(data)
    else:
        assert len(recs) == hdr.page_count
