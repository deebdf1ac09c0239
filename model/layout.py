"""The published byte layout of the migration-helper mailbox.

This module is the *only* thing the model and the concrete implementation share
(see docs/implementation.md): offsets, widths, command and result codes, the
header cap and the page size, exactly as in the 2021 QEMU/OVMF RFC. Everything
else is written twice, independently, so that testing one against the other
means something.
"""
from __future__ import annotations

import enum
import struct

#: Guest physical address of the shared area (hard-coded in the RFC).
SHARED_GPA = 0x820000
#: Size of one page, and of the io page.
PAGE_SIZE = 4096
#: The shared area: two 4 KiB pages (OVMF reserves three).
SHARED_SIZE = 2 * PAGE_SIZE

# --- command parameters, page 0 (packed, little-endian) ---------------------
OFF_CMD_TYPE = 0x000  #: u64
OFF_GPA = 0x008  #: u64
OFF_PREFETCH = 0x010  #: i32, host writes 0, guest never reads it
OFF_RET = 0x014  #: i32, guest result
OFF_GO = 0x018  #: i32, host sets to start a command
OFF_DONE = 0x01C  #: i32, guest sets when finished
PARAMS_STRUCT = struct.Struct("<QQiiii")  #: cmd_type, gpa, prefetch, ret, go, done
PARAMS_SIZE = PARAMS_STRUCT.size  # 32

# --- response header, page 0 upper half ---------------------------------------
OFF_HDR_LEN = 0x800  #: u32
OFF_HDR_DATA = 0x804  #: u8[len]
#: The host accepts a response header of at most this many bytes.
HDR_MAX = 1024

# --- io page, page 1 ------------------------------------------------------------
OFF_IO_PAGE = 0x1000  #: u8[4096]

#: Field name -> (offset, struct format). The model's abstract field names.
FIELDS: dict[str, tuple[int, str]] = {
    "cmd_type": (OFF_CMD_TYPE, "<Q"),
    "gpa": (OFF_GPA, "<Q"),
    "prefetch": (OFF_PREFETCH, "<i"),
    "ret": (OFF_RET, "<i"),
    "go": (OFF_GO, "<i"),
    "done": (OFF_DONE, "<i"),
    "hdr_len": (OFF_HDR_LEN, "<I"),
}


class Cmd(enum.IntEnum):
    """Command codes (cmd_type). OVMF calls ENCRYPT SAVE_PAGE and DECRYPT RESTORE_PAGE."""

    INIT = 0
    ENCRYPT = 1
    DECRYPT = 2
    RESET = 3


class Ret(enum.IntEnum):
    """Result codes (ret). The RFC defines OK and INVALID; AUTH is defined but never used."""

    OK = 0
    INVALID = -1  # also what the host writes before go, and the guest's 'invalid function'
    AUTH = -2


def in_shared_area(gpa: int, length: int = PAGE_SIZE) -> bool:
    """True when [gpa, gpa+length) overlaps the shared area (RAM migration skips it)."""
    return gpa < SHARED_GPA + SHARED_SIZE and SHARED_GPA < gpa + length


def hdr_read_end(hdr_len: int) -> int:
    """Offset one past the last byte a host reads when it copies hdr.data[hdr_len]."""
    return OFF_HDR_DATA + hdr_len
