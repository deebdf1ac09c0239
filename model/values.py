"""Abstract values the model uses in place of bytes.

Pages are *tags*, so that "which page" and "plaintext or ciphertext" are
observable; guest physical addresses are a handful of classes that matter to
the protocol. The mapping to real bytes is in docs/model.md.
"""
from __future__ import annotations

from .expr import Expr, Value, lift
from .layout import HDR_MAX, OFF_HDR_DATA, SHARED_SIZE, Cmd, Ret

# --- guest physical addresses ------------------------------------------------------
G0, G1 = 0, 1  #: two private guest pages
MAILBOX = 2  #: a gpa inside the shared area (or the helper's own structures)
OUTSIDE = 3  #: a gpa beyond the end of guest RAM
PRIVATE_GPAS = (G0, G1)
GPA_NAMES = {G0: "G0", G1: "G1", MAILBOX: "MAILBOX", OUTSIDE: "OUTSIDE"}

# --- page tags (the io page and RAM pages) ---------------------------------------------
EMPTY = 0  #: zero page (the shared area's initial contents)
FORGED = 3  #: bytes nobody holding the transfer key produced


def plain(g: Value) -> Expr:
    """The plaintext of private page ``g``: PLAIN(G0)=1, PLAIN(G1)=2."""
    return lift(g) + 1


def is_plain(tag: Value) -> Expr:
    """The tag is the plaintext of a private page."""
    from .expr import Or

    return Or(lift(tag).eq(1), lift(tag).eq(2))


def cipher(g: Value, epoch: Value) -> Expr:
    """Page ``g`` encrypted with the transfer key, bound to gpa and migration ``epoch``."""
    return lift(4) + lift(epoch) + lift(epoch) + lift(g)


def page_name(tag: int) -> str:
    if tag == EMPTY:
        return "EMPTY"
    if tag in (1, 2):
        return f"PLAIN({GPA_NAMES[tag - 1]})"
    if tag == FORGED:
        return "FORGED"
    if tag >= 4:
        e, g = divmod(tag - 4, 2)
        return f"CIPHER({GPA_NAMES[g]},m{e})"
    return f"?{tag}"


# --- header lengths ------------------------------------------------------------------------
HLEN_OK = 16  #: what the hardened helper writes (nonce + tag + metadata)
#: Largest hdr.len whose copy stays inside the shared area.
HLEN_IN_AREA = SHARED_SIZE - OFF_HDR_DATA
#: Lengths an adversarial guest picks from: valid, the cap, just over, huge.
HLEN_ADVERSARY = (HLEN_OK, HDR_MAX, HDR_MAX + 1, 0xFFFFFFFF)

# --- results and commands ----------------------------------------------------------------------
OK, INVALID, AUTH = int(Ret.OK), int(Ret.INVALID), int(Ret.AUTH)
RET_UNKNOWN = 7  #: a result code nobody defined
INIT, ENCRYPT, DECRYPT, RESET = (int(c) for c in Cmd)
CMD_BAD = 4  #: an unknown command
CMD_NAMES = {INIT: "INIT", ENCRYPT: "ENCRYPT", DECRYPT: "DECRYPT", RESET: "RESET", CMD_BAD: "BAD(4)"}

# --- provenance ghosts -----------------------------------------------------------------------
# Every shared value carries a ghost: 2*id for the host's writes for command id,
# 2*id+1 for the guest's writes while serving command id (0 = initial contents).


def host_ghost(cmd_id: Value) -> Expr:
    return lift(cmd_id) + lift(cmd_id)


def guest_ghost(go_ghost: Value) -> Expr:
    """A guest write made while serving the command whose go carried ``go_ghost``."""
    return lift(go_ghost) + 1
