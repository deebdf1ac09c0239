"""The migration stream: a small versioned file header, then the published records.

File header (32 bytes, big-endian like QEMU's stream)::

    0   magic       8   b"MHMIGv1\\n"
    8   version     be16  1
    10  mode        u8    0 = rfc, 1 = hardened
    11  flags       u8    0
    12  page_size   be32  4096
    16  page_count  be64  number of records that follow
    24  reserved    be64  0

Each record (the published v2 format, with the RAM page header that carries the gpa)::

    0   addr        be64  gpa | 0x200 (RAM_SAVE_FLAG_ENCRYPTED_DATA); gpa page-aligned
    8   subtype     be32  4 ("guest-helper encrypted page")
    12  hdr_len     be32  <= 1024
    16  header      hdr_len bytes
    ..  page_len    be32  4096
    ..  page        4096 bytes

The decoder is strict and fails with :class:`StreamError` (carrying the byte offset)
on anything else: truncation, bad magic/version/mode/flags/reserved, a length over
1024, a page size other than 4096, a gpa not strictly increasing (reordered or
duplicate), a gpa in the shared area or beyond the target's RAM, a record count other
than the header's, trailing bytes. A record is yielded only once it is complete and
valid, so a consumer never sees a half record.
"""
from __future__ import annotations

import io
import struct
from typing import BinaryIO, Iterator, NamedTuple

import attrs

from mhmailbox.model.layout import HDR_MAX, PAGE_SIZE, in_shared_area

MAGIC = b"MHMIGv1\n"
VERSION = 1
MODE_CODES = {"rfc": 0, "hardened": 1}
MODE_NAMES = {v: k for k, v in MODE_CODES.items()}
FILE_HEADER = struct.Struct(">8sHBBIQQ")
FILE_HEADER_SIZE = FILE_HEADER.size  # 32
FLAG_ENCRYPTED_DATA = 0x200
SUBTYPE_GUEST_HELPER = 4
_REC_HEAD = struct.Struct(">QII")  # addr|flags, subtype, hdr_len
_BE32 = struct.Struct(">I")
_PAGE_LEN = _BE32.pack(PAGE_SIZE)


class StreamError(Exception):
    """The stream is malformed; ``offset`` is the byte where the problem was found."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"stream offset {offset}: {message}")
        self.offset = offset
        self.reason = message


class Record(NamedTuple):
    """One saved page as a host emits it.

    ``hdr_len`` is the be32 written before the header; a correct host has
    ``hdr_len == len(header)`` (None means that); the published host can emit them
    different (its double fetch). A NamedTuple because the per-page path builds many.
    """

    gpa: int
    header: bytes
    page: bytes
    hdr_len: int | None = None

    @property
    def emitted_hdr_len(self) -> int:
        return len(self.header) if self.hdr_len is None else self.hdr_len

    def encode(self) -> bytes:
        return b"".join(
            (
                _REC_HEAD.pack(self.gpa | FLAG_ENCRYPTED_DATA, SUBTYPE_GUEST_HELPER, self.emitted_hdr_len & 0xFFFFFFFF),
                self.header,
                _BE32.pack(len(self.page) & 0xFFFFFFFF),
                self.page,
            )
        )


@attrs.frozen
class StreamHeader:
    mode: str
    page_count: int
    version: int = VERSION

    def encode(self) -> bytes:
        return FILE_HEADER.pack(MAGIC, self.version, MODE_CODES[self.mode], 0, PAGE_SIZE, self.page_count, 0)


@attrs.define(eq=False)
class StreamWriter:
    """Writes a stream of exactly ``page_count`` records to ``f``."""

    f: BinaryIO
    mode: str
    page_count: int
    written: int = 0

    def __attrs_post_init__(self) -> None:
        self.f.write(StreamHeader(self.mode, self.page_count).encode())

    def write(self, rec: Record) -> None:
        if self.written >= self.page_count:
            raise ValueError("more records than announced")
        gpa, h, page, hlen = rec
        self.f.write(b"".join((
            _REC_HEAD.pack(gpa | FLAG_ENCRYPTED_DATA, SUBTYPE_GUEST_HELPER, (len(h) if hlen is None else hlen) & 0xFFFFFFFF),
            h,
            _PAGE_LEN if len(page) == PAGE_SIZE else _BE32.pack(len(page) & 0xFFFFFFFF),
            page,
        )))
        self.written += 1

    def finish(self) -> None:
        if self.written != self.page_count:
            raise ValueError(f"announced {self.page_count} records, wrote {self.written}")
        self.f.flush()


@attrs.define(eq=False)
class StreamReader:
    """Strict, incremental decoder over a binary file; iterate for :class:`Record`."""

    f: BinaryIO
    expect_mode: str | None = None
    ram_size: int | None = None
    offset: int = 0
    header: StreamHeader = attrs.field(init=False)
    _last_gpa: int = attrs.field(default=-1, init=False)

    def __attrs_post_init__(self) -> None:
        raw = self._take(FILE_HEADER_SIZE, "file header")
        magic, version, mode, flags, page_size, count, reserved = FILE_HEADER.unpack(raw)
        if magic != MAGIC:
            raise StreamError(0, "bad magic (not an mhmailbox migration stream)")
        if version != VERSION:
            raise StreamError(8, f"unsupported version {version}")
        if mode not in MODE_NAMES:
            raise StreamError(10, f"unknown mode code {mode}")
        if flags != 0:
            raise StreamError(11, f"unknown flags {flags:#x}")
        if page_size != PAGE_SIZE:
            raise StreamError(12, f"page size {page_size} != {PAGE_SIZE}")
        if reserved != 0:
            raise StreamError(24, "reserved field is not zero")
        if self.expect_mode is not None and MODE_NAMES[mode] != self.expect_mode:
            raise StreamError(10, f"stream mode {MODE_NAMES[mode]}, expected {self.expect_mode}")
        if self.ram_size is not None and count > self.ram_size // PAGE_SIZE:
            raise StreamError(16, f"page count {count} exceeds the target's {self.ram_size // PAGE_SIZE} pages")
        self.header = StreamHeader(MODE_NAMES[mode], count, version)

    def _take(self, n: int, what: str) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise StreamError(self.offset + len(data), f"truncated in {what} ({len(data)} of {n} bytes)")
        self.offset += n
        return data

    def __iter__(self) -> Iterator[Record]:
        for _ in range(self.header.page_count):
            yield self._record()
        extra = self.f.read(1)
        if extra:
            raise StreamError(self.offset, "trailing bytes after the last record")

    def _record(self) -> Record:
        start = self.offset
        addr, subtype, hlen = _REC_HEAD.unpack(self._take(_REC_HEAD.size, "record header"))
        gpa, flags = addr & ~(PAGE_SIZE - 1), addr & (PAGE_SIZE - 1)
        if flags != FLAG_ENCRYPTED_DATA:
            raise StreamError(start, f"page flags {flags:#x}, expected {FLAG_ENCRYPTED_DATA:#x}")
        if subtype != SUBTYPE_GUEST_HELPER:
            raise StreamError(start + 8, f"record subtype {subtype}, expected {SUBTYPE_GUEST_HELPER}")
        if gpa <= self._last_gpa:
            raise StreamError(start, f"gpa {gpa:#x} not after {self._last_gpa:#x} (reordered or duplicate page)")
        if in_shared_area(gpa):
            raise StreamError(start, f"gpa {gpa:#x} lies in the shared area")
        if self.ram_size is not None and gpa + PAGE_SIZE > self.ram_size:
            raise StreamError(start, f"gpa {gpa:#x} beyond the target's RAM")
        if hlen > HDR_MAX:
            raise StreamError(start + 12, f"header length {hlen} > {HDR_MAX}")
        plen_at = self.offset + hlen
        data = self.f.read(hlen + 4)
        if len(data) != hlen + 4:
            what = "response header" if len(data) < hlen else "page length"
            raise StreamError(self.offset + len(data), f"truncated in {what} ({len(data)} of {hlen + 4} bytes)")
        self.offset += hlen + 4
        header = data[:hlen]
        (plen,) = _BE32.unpack_from(data, hlen)
        if plen != PAGE_SIZE:
            raise StreamError(plen_at, f"page length {plen} != {PAGE_SIZE}")
        page = self._take(PAGE_SIZE, "page")
        self._last_gpa = gpa
        return Record(gpa, header, page)


def encode(mode: str, records: list[Record]) -> bytes:
    """A whole stream in memory."""
    buf = io.BytesIO()
    w = StreamWriter(buf, mode, len(records))
    for r in records:
        w.write(r)
    w.finish()
    return buf.getvalue()


def decode(data: bytes, *, expect_mode: str | None = None, ram_size: int | None = None) -> tuple[StreamHeader, list[Record]]:
    """Decode a whole stream (StreamError on any malformation)."""
    r = StreamReader(io.BytesIO(data), expect_mode=expect_mode, ram_size=ram_size)
    return r.header, list(r)


@attrs.frozen
class StreamCheck:
    """What ``mhmailbox check-stream`` found: the header, the records read, the first problem.

    ``record`` is the 1-based number of the record where the problem lies (None: in the
    file header, or trailing bytes after the last record); ``offset`` the byte where
    the reader found it. The format is checked, not the pages' authenticity: that
    needs the transfer key, and is the target helper's job.
    """

    size: int
    header: StreamHeader | None
    records: int
    offset: int | None = None
    record: int | None = None
    problem: str | None = None

    @property
    def valid(self) -> bool:
        return self.problem is None

    def as_json(self) -> dict[str, object]:
        return {"valid": self.valid, "bytes": self.size,
                "mode": self.header.mode if self.header else None,
                "announced": self.header.page_count if self.header else None,
                "records": self.records,
                "error": None if self.valid else {"offset": self.offset, "record": self.record,
                                                   "problem": self.problem}}


def check_stream(f: BinaryIO, size: int) -> StreamCheck:
    """Read a whole stream file with :class:`StreamReader`; the first problem, if any, located."""
    try:
        reader = StreamReader(f)
    except StreamError as exc:
        return StreamCheck(size, None, 0, exc.offset, None, exc.reason)
    n = 0
    try:
        for _ in reader:
            n += 1
    except StreamError as exc:
        announced = reader.header.page_count
        if n == announced:
            return StreamCheck(size, reader.header, n, exc.offset, None,
                               f"{size - exc.offset} trailing bytes after the {announced} records the header announces")
        if exc.offset == reader.offset == size:  # the file ends cleanly between two records
            return StreamCheck(size, reader.header, n, exc.offset, n + 1,
                               f"the file ends after {n} records; the header announces {announced}")
        return StreamCheck(size, reader.header, n, exc.offset, n + 1, exc.reason)
    return StreamCheck(size, reader.header, n)
