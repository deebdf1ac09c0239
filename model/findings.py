"""The design review of the published protocol: each finding, how to see it, and its fix.

A finding names the property that catches it and the cell (memory model,
guest and host behaviour, bounds) where its shortest trace is the weakness
itself and not an earlier one. ``mhmailbox review`` checks each finding on
``rfc`` (must be violated) and on ``hardened`` (must hold) and writes the
report; docs/review-rfc.md is that report.
"""
from __future__ import annotations

from typing import Any

import attrs

from .check import Result, check_cell
from .properties import BY_ID
from .protocol import Bounds


@attrs.frozen
class Finding:
    id: str
    title: str
    property: str
    memory: str
    guest: str
    host: str
    cause: str
    fix: str
    helper_first: bool = False

    def bounds(self) -> Bounds:
        return Bounds(helper_first=self.helper_first)


FINDINGS: tuple[Finding, ...] = (
    Finding("F1", "A stale completion is accepted for the next command", "order.response", "sc", "slow", "faithful",
            "done is one boolean shared by every command, and a timeout resets nothing. A helper that finishes the "
            "timed-out command late writes ret, go=0 and done=1 over the next command: the host takes the old "
            "result (and, for ENCRYPT, the old page) as the new one, and the new command is never run.",
            "hardened 1-3: go carries a sequence number, the helper echoes it in done and never writes go, "
            "the host accepts only done == seq and waits for a timed-out command to be consumed."),
    Finding("F2", "Parameters change under the helper's feet after a timeout", "order.publish", "sc", "slow",
            "faithful",
            "After a timeout the host writes the next command's cmd_type and gpa while the slow helper is still "
            "reading the previous ones: it acts on a torn pair (old command, new gpa).",
            "hardened 3: before publishing, the host waits (within the same deadline) until the previous command "
            "is consumed."),
    Finding("F3", "A command sent before the helper starts is lost", "liveness.honest-progress", "sc", "honest",
            "faithful",
            "The helper writes go=0 when it starts. A go the host raised before that is wiped: the command times "
            "out although the helper is honest and prompt.",
            "hardened 2: the helper leaves go alone at start and serves any go that differs from the last sequence "
            "it served."),
    Finding("F4", "No barriers on a weakly ordered CPU: stale parameters", "order.publish", "relaxed", "honest",
            "faithful",
            "The helper has no fences: on Arm-like memory it may read cmd_type and gpa before the go that "
            "published them (message passing without rmb).",
            "hardened 4: rmb after the helper reads go."),
    Finding("F5", "No barriers on a weakly ordered CPU: early read of the response", "order.response", "relaxed",
            "honest", "faithful",
            "The helper's ret/page stores may become visible after done=1, and the host reads ret with no read "
            "barrier: it reads its own ret=-1 (or an old page) for a command that succeeded.",
            "hardened 4: wmb before the helper's done, rmb after the host sees done == seq.", helper_first=True),
    Finding("F6", "Header length fetched three times", "adversary.header-bound", "sc", "adversarial", "faithful",
            "The host checks hdr.len <= 1024, then reads hdr.len again for the emitted be32 and again for the copy. "
            "A guest that changes it in between makes the host emit a header longer than 1024 bytes, or a length "
            "that does not match the bytes that follow.",
            "hardened 5: one read of hdr.len into private memory; the check and every use take that copy."),
    Finding("F7", "The double fetch reads host memory beyond the shared area", "adversary.in-bounds", "sc",
            "adversarial", "faithful",
            "With the third read returning 0xFFFFFFFF the host copies hdr.data[len] from far past the two shared "
            "pages: host memory leaks into the migration stream (or the host crashes).",
            "hardened 5."),
    Finding("F8", "A failed INIT is ignored", "adversary.error-no-data", "sc", "adversarial", "faithful",
            "The save goes on after INIT fails or times out: a page record is emitted and success reported for an "
            "operation whose first command failed.",
            "hardened 6: INIT must succeed, else the operation fails and emits nothing."),
    Finding("F9", "INIT is not sent again after RESET", "state.init-before-use", "sc", "honest", "faithful",
            "Cleanup sends RESET but leaves the host's initialized flag set, so a second migration sends ENCRYPT "
            "to a helper that was reset and never re-initialized.",
            "hardened 6: cleanup clears initialized; the helper refuses ENCRYPT/DECRYPT before INIT.",
            helper_first=True),
    Finding("F10", "Pages cross the shared area in plaintext", "guest.confidential", "sc", "honest", "adversarial",
            "SAVE copies the private page into the io page as it is: the host (and the stream) read guest memory.",
            "hardened 8: ENCRYPT seals the page with the transfer key (AES-256-GCM), bound to gpa and session."),
    Finding("F11", "A skipped RESTORE is reported as success", "guest.refusal-reported", "sc", "honest",
            "adversarial",
            "RESTORE to a gpa inside the mailbox is silently skipped but answers ret=0: the host believes a page "
            "was restored.",
            "hardened 7: every refusal answers an error code."),
    Finding("F12", "Moved, forged or replayed pages are written to RAM", "guest.integrity", "sc", "honest",
            "adversarial",
            "RESTORE copies whatever the host put in the io page to the requested gpa: a page of another address, "
            "of another migration, or forged bytes.",
            "hardened 8: DECRYPT authenticates (gpa, session) and answers AUTH without writing RAM."),
    Finding("F13", "No address check on the host's gpa", "guest.gpa-checked", "sc", "honest", "adversarial",
            "SAVE reads any gpa (the mailbox itself, or beyond the end of RAM); RESTORE only avoids the mailbox.",
            "hardened 7: gpas outside RAM or inside the shared area are refused."),
    Finding("F14", "No recovery after a timeout", "liveness.recovery", "sc", "slow", "faithful",
            "Once a command has timed out, the next commands can take its late completion or lose their go, even "
            "after the helper is prompt again: the host accepts wrong pages until the two sides happen to resync.",
            "hardened 1-3."),
)


@attrs.define
class Review:
    finding: Finding
    rfc: Result
    hardened: Result

    @property
    def confirmed(self) -> bool:
        # a vacuous hardened verdict is no fix: the fix must be checked where the monitor is reached
        return self.rfc.verdict == "violated" and self.hardened.verdict in ("holds-to-depth", "proved")

    def to_json(self) -> dict[str, Any]:
        return {**attrs.asdict(self.finding), "confirmed": self.confirmed, "rfc": self.rfc.to_json(),
                "hardened": self.hardened.to_json()}


def review(findings: tuple[Finding, ...] = FINDINGS) -> list[Review]:
    out = []
    for f in findings:
        prop = [BY_ID[f.property]]
        [r] = check_cell("rfc", f.memory, f.guest, f.host, properties=prop, bounds=f.bounds())
        [h] = check_cell("hardened", f.memory, f.guest, f.host, properties=prop, bounds=f.bounds())
        out.append(Review(f, r, h))
    return out
