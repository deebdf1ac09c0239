"""The stream format byte for byte (a round trip alone cannot see a constant changed on
both sides), the writer's count, and each limit of the reader at its exact boundary."""
from __future__ import annotations

import io
import struct

import pytest

from mhmailbox.impl.stream import Record, StreamError, StreamReader, StreamWriter, decode, encode
from mhmailbox.model.layout import HDR_MAX, PAGE_SIZE, SHARED_GPA

PAGE = bytes([0x5A]) * PAGE_SIZE


def file_header(mode_code: int, count: int) -> bytes:
    return b"MHMIGv1\n" + b"\x00\x01" + bytes([mode_code, 0]) + b"\x00\x00\x10\x00" + count.to_bytes(8, "big") + bytes(8)


def record(gpa: int, header: bytes, page: bytes = PAGE) -> bytes:
    return ((gpa | 0x200).to_bytes(8, "big") + b"\x00\x00\x00\x04" + len(header).to_bytes(4, "big") + header
            + len(page).to_bytes(4, "big") + page)


@pytest.mark.parametrize("mode,code", [("rfc", 0), ("hardened", 1)])
def test_the_bytes_of_a_stream(mode: str, code: int) -> None:
    recs = [Record(0x3000, b"hd", PAGE), Record(0x5000, b"", PAGE)]
    want = file_header(code, 2) + record(0x3000, b"hd") + record(0x5000, b"")
    assert encode(mode, recs) == want
    assert b"".join(r.encode() for r in recs) == want[32:]
    hdr, got = decode(want, expect_mode=mode)
    assert (hdr.mode, hdr.page_count, hdr.version) == (mode, 2, 1)
    assert got == recs


def test_an_emitted_length_other_than_the_header_is_written_as_given() -> None:
    rec = Record(0x1000, b"abc", PAGE, hdr_len=8)
    assert rec.emitted_hdr_len == 8 and Record(0x1000, b"abc", PAGE).emitted_hdr_len == 3
    assert rec.encode()[12:16] == b"\x00\x00\x00\x08"
    buf = io.BytesIO()
    w = StreamWriter(buf, "rfc", 1)
    w.write(rec)
    assert buf.getvalue()[32:] == rec.encode()
    short = Record(0x1000, b"", b"xy")  # a page of the wrong length is written as it is
    assert short.encode()[16:20] == b"\x00\x00\x00\x02"
    buf = io.BytesIO()
    StreamWriter(buf, "rfc", 1).write(short)
    assert buf.getvalue()[32:] == short.encode()


def test_the_writer_keeps_its_count() -> None:
    buf = io.BytesIO()
    w = StreamWriter(buf, "hardened", 1)
    with pytest.raises(ValueError, match="^announced 1 records, wrote 0$"):
        w.finish()
    w.write(Record(0, b"", PAGE))
    with pytest.raises(ValueError, match="^more records than announced$"):
        w.write(Record(PAGE_SIZE, b"", PAGE))
    w.finish()
    assert w.written == 1 and len(buf.getvalue()) == 32 + 20 + PAGE_SIZE


def test_errors_say_where() -> None:
    e = StreamError(12, "bad")
    assert str(e) == "stream offset 12: bad" and (e.offset, e.reason) == (12, "bad")
    with pytest.raises(StreamError, match=r"^stream offset 0: bad magic"):
        decode(b"X" * 32)
    with pytest.raises(StreamError, match=r"offset 8: unsupported version 2"):
        decode(b"MHMIGv1\n\x00\x02" + bytes(22))


def test_reader_counts_offsets_as_it_goes() -> None:
    data = file_header(1, 2) + record(0, b"h") + record(PAGE_SIZE, b"")
    r = StreamReader(io.BytesIO(data))
    assert r.offset == 32
    it = iter(r)
    next(it)
    assert r.offset == 32 + 16 + 1 + 4 + PAGE_SIZE
    next(it)
    assert r.offset == len(data)


def test_the_page_count_may_fill_the_target_exactly() -> None:
    data = encode("rfc", [Record(0, b"", PAGE), Record(PAGE_SIZE, b"", PAGE)])
    assert len(decode(data, ram_size=2 * PAGE_SIZE)[1]) == 2  # both the count and the last gpa at the limit
    with pytest.raises(StreamError, match="^stream offset 16: page count 2 exceeds the target's 1 pages$"):
        decode(data, ram_size=2 * PAGE_SIZE - 1)
    far = encode("rfc", [Record(2 * PAGE_SIZE, b"", PAGE)])
    with pytest.raises(StreamError, match="beyond the target's RAM"):
        decode(far, ram_size=2 * PAGE_SIZE + PAGE_SIZE - 1)
    assert decode(far, ram_size=3 * PAGE_SIZE)[1][0].gpa == 2 * PAGE_SIZE


def test_a_header_of_exactly_the_limit_is_read() -> None:
    data = encode("hardened", [Record(0, bytes(HDR_MAX), PAGE)])
    assert len(decode(data)[1][0].header) == HDR_MAX
    over = encode("hardened", [Record(0, bytes(HDR_MAX + 1), PAGE)])
    with pytest.raises(StreamError, match=f"^stream offset 44: header length {HDR_MAX + 1} > {HDR_MAX}$"):
        decode(over)


# --- check_stream: the whole file, the first problem located ----------------------------------
def _check(data: bytes):
    from mhmailbox.impl.stream import check_stream

    return check_stream(io.BytesIO(data), len(data))


def test_check_stream_of_a_good_file() -> None:
    data = encode("hardened", [Record(0, b"h", PAGE), Record(PAGE_SIZE, b"", PAGE)])
    c = _check(data)
    assert c.valid and c.as_json() == {"valid": True, "bytes": len(data), "mode": "hardened", "announced": 2,
                                       "records": 2, "error": None}


def test_check_stream_locates_the_first_problem() -> None:
    good = encode("rfc", [Record(0, b"h", PAGE), Record(PAGE_SIZE, b"", PAGE), Record(2 * PAGE_SIZE, b"", PAGE)])
    rec = 16 + 1 + 4 + PAGE_SIZE
    bad = bytearray(good)
    struct.pack_into(">I", bad, 32 + rec + 8, 5)  # the second record's subtype
    c = _check(bytes(bad))
    assert (c.valid, c.records, c.record, c.offset) == (False, 1, 2, 32 + rec + 8)
    assert c.as_json()["error"] == {"offset": 32 + rec + 8, "record": 2, "problem": "record subtype 5, expected 4"}
    c = _check(good + b"xyz")
    assert (c.records, c.record, c.offset) == (3, None, len(good))
    assert c.problem == "3 trailing bytes after the 3 records the header announces"
    short = good[:32 + rec]  # ends cleanly after the first record
    c = _check(short)
    assert (c.records, c.record, c.problem) == (1, 2, "the file ends after 1 records; the header announces 3")
    c = _check(good[:10])
    assert (c.header, c.records, c.record, c.offset) == (None, 0, None, 10)
    assert c.as_json()["mode"] is None and c.as_json()["announced"] is None


def test_gpa_zero_is_a_page_and_the_mailbox_is_not() -> None:
    assert decode(encode("rfc", [Record(0, b"", PAGE)]))[1][0].gpa == 0
    with pytest.raises(StreamError, match=f"gpa {SHARED_GPA + PAGE_SIZE:#x} lies in the shared area"):
        decode(encode("rfc", [Record(SHARED_GPA + PAGE_SIZE, b"", PAGE)]))


@pytest.mark.parametrize("cut,what", [(16 + 1, "response header"), (16 + 3, "page length"), (16 + 3 + 2, "page length")])
def test_truncation_names_the_part(cut: int, what: str) -> None:
    data = encode("rfc", [Record(0, b"hdr", PAGE)])[:32 + cut]
    with pytest.raises(StreamError, match=rf"^stream offset {32 + cut}: truncated in {what} \({cut - 16} of 7 bytes\)$"):
        decode(data)


def test_page_flags_and_subtype_are_named() -> None:
    data = bytearray(encode("rfc", [Record(0, b"", PAGE)]))
    data[32 + 6] = 0x03  # addr low bits 0x300
    with pytest.raises(StreamError, match="page flags 0x300, expected 0x200"):
        decode(bytes(data))
    data = bytearray(encode("rfc", [Record(0, b"", PAGE)]))
    struct.pack_into(">I", data, 32 + 8, 5)
    with pytest.raises(StreamError, match="record subtype 5, expected 4"):
        decode(bytes(data))


def test_file_header_fields_are_named() -> None:
    good = file_header(1, 0)
    for off, val, msg in ((10, 7, "10: unknown mode code 7"), (11, 1, "11: unknown flags 0x1"),
                          (14, 0x20, "12: page size 8192 != 4096"), (31, 1, "24: reserved field is not zero")):
        bad = bytearray(good)
        bad[off] = val
        with pytest.raises(StreamError, match=f"^stream offset {msg}$"):
            decode(bytes(bad))
    with pytest.raises(StreamError, match="stream mode hardened, expected rfc"):
        decode(good, expect_mode="rfc")
    assert decode(good, expect_mode="hardened")[1] == []
