"""A hardened helper's sessions and seals, followed from outside (the suite's rig, check-log).

Both judge a page the helper sealed by opening it with the session the helper must be in:
the first session on the provisioning given last (migration 1), a later one on the same
provisioning with the next migration number (docs/hardened.md, "Sessions and replays").
"""
from __future__ import annotations

from mhmailbox.impl.crypto import AuthError, PageHeader, Provision, SessionCipher


def next_session(cipher: SessionCipher | None, provision: Provision | None,
                 pending: Provision | None) -> tuple[SessionCipher, Provision]:
    """The session an INIT that opens one starts, and the provisioning it is on: a pending
    (newly given) provisioning's first migration, else the current one's next."""
    if pending is not None or cipher is None:
        provision = pending or provision
        if provision is None:
            raise ValueError("a session opened with no provisioning given")
        return SessionCipher(provision, 1), provision
    return SessionCipher(cipher.provision, cipher.migration + 1), cipher.provision


def open_seal(cipher: SessionCipher | None, header: bytes, page: bytes) -> tuple[PageHeader, bytes] | None:
    """A sealed page's header and plaintext, or None when ``cipher``'s session did not seal it."""
    if cipher is None:
        return None
    try:
        h = PageHeader.parse(header)
        _, plain = cipher.open(h.gpa, header, page)
    except (AuthError, ValueError):
        return None
    return h, plain


__all__ = ["next_session", "open_seal"]
