"""The hardened variant's changes, as numbered in findings and docs (from the class docstring)."""
from .variants import Hardened


def _changes() -> list[str]:
    doc = Hardened.__doc__ or ""
    items: list[str] = []
    for line in doc.splitlines():
        s = line.strip()
        if s[:2].rstrip(".").isdigit() and ". " in s[:4]:
            items.append(s.split(". ", 1)[1])
        elif items and s:
            items[-1] += " " + s
        elif items and not s:
            break
    return items


HARDENED_CHANGES = _changes()
