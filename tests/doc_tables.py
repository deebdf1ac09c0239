"""Reading the tables of the docs, for tests that hold a doc's figures to what a run measures."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def doc_row(doc: str, first: str) -> list[str]:
    """The cells of the Markdown table row of ``doc`` whose first cell names ``first`` (alone or
    in a comma-separated list)."""
    for line in (ROOT / doc).read_text().splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if first in [x.strip() for x in cells[0].split(",")]:
            return cells
    raise AssertionError(f"{doc} has no table row for {first}")
