"""Counterexamples as self-contained HTML pages: a step-through trace viewer.

A page holds everything it needs (its CSS and JavaScript are inlined from
``html_viewer.css`` and ``html_viewer.js`` beside this module; no network, no
CDN), so it can be mailed, archived or opened from a course's USB stick. It
shows the message sequence chart of a run and, for the step selected, the
shared fields with who wrote them, each store buffer, the clock and each
side's position in its procedure; arrow keys and clicks on the chart step
through the run, and the violating step is marked.

The data goes into the page as JSON inside a ``<script type="application/json">``
element, with ``<``, ``>`` and ``&`` escaped, and the script writes it into the
document only as text: a variant, property or implementation name holding
``</script>`` or ``<img onerror=...>`` shows as those characters.
"""
from __future__ import annotations

import html
import json
import os
from importlib import resources
from typing import Any, Iterable

from mhmailbox.errors import UsageError

from .chart import kinds_of, lane, step_kind
from .properties import BY_ID

#: The lanes of the chart, left to right (as in the Mermaid diagrams).
LANES = ("Host", "Memory", "Guest")


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element (no ``</script>``, no ``<!--``, no U+2028)."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def chart_step(step: dict[str, Any], kinds: dict[str, str] | None = None) -> dict[str, Any]:
    """Where a step object goes on the chart: its lane, arrow kind and one-line label."""
    if step.get("step") == 0 or step.get("action") == "init":
        return {"lane": "Memory", "kind": "init", "label": "initial state"}
    text = str(step.get("text", ""))
    if step.get("params"):
        text += " [" + ", ".join(f"{k}={v}" for k, v in step["params"].items()) + "]"
    kind = step_kind(step, kinds)
    return {"lane": lane(step, kind), "kind": kind, "label": text}


def property_text(prop: str, variant: str) -> str:
    """The property in words: the catalog's, or the variant's own (a user variant loaded in this run)."""
    if prop in BY_ID:
        return BY_ID[prop].text
    from .user_variant import REGISTERED

    own = {p.id: p for p in getattr(REGISTERED.get(variant), "PROPERTIES", ())}
    return own[prop].text if prop in own else ""


def model_trace(result: dict[str, Any], info: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    """A counterexample (a ``verify --json`` result) as one trace of a page."""
    steps = list(result.get("trace") or [])
    prop = str(result.get("property", "?"))
    cell = " / ".join(str(result.get(k, "?")) for k in ("variant", "memory", "guest", "host"))
    violated = result.get("verdict") == "violated"
    kinds = kinds_of(result)
    return {
        "title": f"{prop} {result.get('verdict', '')}: {cell}",
        "subtitle": f"{result.get('engine', '?')}, {max(len(steps) - 1, 0)} steps; bounds {result.get('bound', '')}",
        "property": prop,
        "property_text": property_text(prop, str(result.get("variant", ""))),
        "violating": len(steps) - 1 if violated and steps else None,
        "violating_text": f"{prop} is violated here" if violated else "",
        "info": [list(x) for x in info],
        "steps": [{**chart_step(s, kinds), "state": s} for s in steps],
    }


def page(title: str, traces: list[dict[str, Any]], index: str | None = None) -> str:
    """A self-contained HTML page showing ``traces`` (a picker chooses among several); ``index``:
    the link back to the pages' index, for a page among others."""
    back = f"<a id=\"index\" href=\"{html.escape(index, quote=True)}\">&larr; all pages</a> " if index else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{html.escape(title)}</title>\n<style>\n{_asset('html_viewer.css')}</style>\n</head>\n<body>\n"
        "<header><h1 id=\"title\"></h1><div id=\"subtitle\"></div>"
        "<label id=\"picker\" hidden>trace <select id=\"pick\"></select></label></header>\n"
        f"<nav>{back}<button id=\"prev\" type=\"button\">&larr; back</button> <span id=\"position\"></span> "
        "<button id=\"next\" type=\"button\">forward &rarr;</button> "
        "<span class=\"hint\">arrow keys step; Home and End jump; click a row of the chart</span></nav>\n"
        "<main><section id=\"chart-box\"><div id=\"lanes\"></div>"
        "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\"></svg></section>\n"
        "<aside id=\"state\"></aside></main>\n<section id=\"info\"></section>\n"
        f"<script type=\"application/json\" id=\"mh-data\">{_script_json({'lanes': LANES, 'traces': traces})}</script>\n"
        f"<script>\n{_asset('html_viewer.js')}</script>\n</body>\n</html>\n"
    )


def index_page(title: str, intro: str, rows: list[tuple[str | None, list[str]]], head: list[str]) -> str:
    """A plain index: one row per page (its link first; None: no page), every cell escaped."""
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = []
    for href, cols in rows:
        first, *rest = cols
        tds = [f"<td><a href=\"{html.escape(href, quote=True)}\">{html.escape(first)}</a></td>" if href
               else f"<td>{html.escape(first)}</td>"]
        tds += [f"<td>{html.escape(c)}</td>" for c in rest]
        body.append("<tr>" + "".join(tds) + "</tr>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>\n{_asset('html_viewer.css')}</style>\n</head>\n<body>\n"
        f"<header><h1>{html.escape(title)}</h1><div>{html.escape(intro)}</div></header>\n"
        f"<table class=\"index\"><thead><tr>{cells}</tr></thead><tbody>\n" + "\n".join(body)
        + "\n</tbody></table>\n</body>\n</html>\n"
    )


def verify_page(results: list[dict[str, Any]]) -> str:
    """What ``verify --trace-format html`` prints: every counterexample of the run, one page."""
    traces = [model_trace(r) for r in results if r.get("verdict") == "violated" and r.get("trace")]
    title = traces[0]["title"] if len(traces) == 1 else f"{len(traces)} counterexamples (mhmailbox verify)"
    return page(title, traces)


def file_name(text: str) -> str:
    """A file name from an id (letters, digits, ``.``, ``-``; anything else a ``_``)."""
    return "".join(c if c.isalnum() or c in ".-" else "_" for c in text).strip(".") or "trace"


# ----------------------------------------------------------------------------- a directory of pages
def check_page_dir(path: str, names: Iterable[str], *, force: bool, what: str) -> None:
    """UsageError unless ``path`` can take these pages: a directory (made if missing, its parent
    must exist) in which none of them exists yet, unless ``force``. Checked before the run."""
    from mhmailbox.outfiles import check_output

    if not path:
        raise UsageError(f"{what}: an empty directory name")
    if os.path.lexists(path) and not os.path.isdir(path):
        raise UsageError(f"{what}: {path} exists and is not a directory")
    if not os.path.isdir(path):
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise UsageError(f"{what}: directory {parent} does not exist")
        return
    for name in names:
        check_output(os.path.join(path, name), force=force, what=what, pipe_ok=False)


def write_pages(path: str, pages: dict[str, str]) -> None:
    """Write each page (file name -> HTML) into ``path``, each whole or not at all; the index last."""
    from mhmailbox.outfiles import write_atomically

    os.makedirs(path, exist_ok=True)
    for name in sorted(pages, key=lambda n: n == "index.html"):
        write_atomically(os.path.join(path, name), pages[name])


def review_page_names(finding_ids: Iterable[str]) -> list[str]:
    return [f"{file_name(i)}.html" for i in finding_ids] + ["index.html"]


def review_pages(reviews: list[Any]) -> dict[str, str]:
    """``review --html``: a viewer page per finding (its rfc trace, cause and fix) and an index."""
    pages: dict[str, str] = {}
    rows = []
    for r in reviews:
        f, rfc, hard = r.finding, r.rfc.to_json(), r.hardened
        cell = f"{f.memory}, {f.guest} guest, {f.host} host" + (", helper first" if f.helper_first else "")
        hv = hard.verdict + (" (exhaustive)" if hard.exhaustive else f" (depth {hard.depth})")
        info = [("Finding", f"{f.id}. {f.title}"), ("Cause", f.cause), ("Fix", f.fix),
                ("hardened, same cell", f"{f.property}: {hv}")]
        trace = model_trace(rfc, info)
        trace["title"] = f"{f.id}. {f.title}"
        trace["subtitle"] = f"{f.property} on rfc: {cell}; " + trace["subtitle"]
        name = f"{file_name(f.id)}.html"
        pages[name] = page(f"{f.id}. {f.title}", [trace], index="index.html")
        rows.append((name, [f.id, f.title, f.property, cell,
                            f"{rfc['verdict']}, {rfc['depth']} steps", hv]))
    pages["index.html"] = index_page(
        "Design review of the published mailbox (rfc)",
        "Each finding's shortest counterexample on rfc, to step through; its fix checked on hardened in the same cell.",
        rows, ["finding", "title", "property", "cell", "rfc", "hardened"])
    return pages
