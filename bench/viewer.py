"""Figures for the trace viewer: how big a page of many counterexamples gets, how long it takes
to write, and (with chromium installed) to load and step through in a browser.

    python bench/viewer.py                       # every rfc counterexample under sc and tso
    python bench/viewer.py --memory sc --memory tso --memory relaxed

Prints one line per figure; the counterexamples come from the explicit checker (their search
time is printed apart, it is not the viewer's).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from mhmailbox.model.check import check_cell
from mhmailbox.model.html import verify_page
from mhmailbox.model.itf import document
from mhmailbox.model.properties import CATALOG
from mhmailbox.model.protocol import cells

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from viewer_cdp import Browser, find_chromium  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memory", action="append", choices=("sc", "tso", "relaxed"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    results = []
    for cell in cells(["rfc"], args.memory or ["sc", "tso"], None, list(CATALOG)):
        results += [r.to_json() for r in check_cell(*cell) if r.verdict == "violated" and r.trace]
    print(f"search: {len(results)} counterexamples, {sum(len(r['trace']) - 1 for r in results)} steps, "
          f"in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    text = verify_page(results)
    print(f"html page: {len(text) / 1024:.0f} KiB written in {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    itf = document(results)
    print(f"itf: {len(itf) if isinstance(itf, list) else 1} traces written in {time.perf_counter() - t0:.2f} s")
    exe = find_chromium()
    if exe is None:
        print("browser: chromium not installed, not measured")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "all.html")
        path.write_text(text)
        b = Browser(exe)
        try:
            t0 = time.perf_counter()
            b.open(path.as_uri())
            print(f"browser: loaded in {time.perf_counter() - t0:.2f} s")
            t0 = time.perf_counter()
            for i in range(len(results)):
                b.eval(f"(() => {{ const p = document.getElementById('pick'); p.value = '{i}';"
                       " p.dispatchEvent(new Event('change')); })()")
                b.key("End", 35)
            per = (time.perf_counter() - t0) / max(1, len(results))
            print(f"browser: {per * 1000:.0f} ms to switch to a trace and jump to its violating step; "
                  f"{len(b.problems())} console problems")
        finally:
            b.close()


if __name__ == "__main__":
    main()
