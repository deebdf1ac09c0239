"""A failed conformance case in the trace viewer: the implementation's accesses next to the model's steps.

The shrunk reproducer of a ``fail`` or ``deviates`` result is run again (as
``cases.replay`` does, without Hypothesis) with each access of the side under
test recorded as a row: the access, the model steps it made the model take, the
model's position after it, the shared fields of the mailbox and who wrote them.
The peer's accesses (the reference helper's, or the scripted host's writes) are
rows too, marked as such, so the chart shows both sides of the handshake.
The row where the failed property's monitor fired, or where the implementation
left its model, is the one marked. A C file is built again and a wire command
started again for it (as ``conform --record`` does); where that fails, the page
shows the accesses the result kept (its last 40) without the model's state.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

from mhmailbox.model.html import file_name, page
from mhmailbox.model.trace import _origin

#: Rows kept at most (a page of a hostile, endless run stays small enough to open).
MAX_ROWS = 3000
#: The mailbox's fields as the rig names them -> the model's names.
FIELDS = (("cmd_type", "cmd"), ("gpa", "gpa"), ("ret", "ret"), ("go", "go"), ("done", "done"), ("hdr_len", "hdr_len"))


def _kind(access_kind: str) -> str:
    return {"read": "read", "write": "write", "barrier": "fence"}.get(access_kind, "step")


def _value(v: Any) -> str:
    return f"<{len(v)} bytes>" if isinstance(v, (bytes, bytearray, memoryview)) else str(v)


def _row(rig: Any, rows: list[dict[str, Any]], actor: str, kind: str, text: str, taken: list[str],
         peer: bool = False) -> None:
    """One row: an access (``peer``: of the side not under test), the model steps it made the
    model take, and the state after it."""
    from . import rig as rig_mod

    obs = rig.observer
    if obs is None or len(rows) >= MAX_ROWS:
        return
    rows.append({
        "step": len(rows) + 1, "actor": actor, "action": kind, "text": text, "model_steps": taken,
        "memory": {name: str(rig_mod._read_field(rig.mailbox, raw)) for raw, name in FIELDS},
        "written_by": {name: _origin(rig.prov.get(name, 0)) for _, name in FIELDS},
        f"model_{obs.side}_at": obs.at if rig.divergence is None else f"stopped ({obs.at})",
        "_matched": obs.accesses,
    })
    if peer:
        rows[-1]["peer"] = True


@contextlib.contextmanager
def _recording(rows: list[dict[str, Any]]) -> Iterator[None]:
    """While active, the rigs add a row for each access of the side under test (with the model
    steps it made the model take) and of its peer: the reference helper, or the scripted host."""
    from . import rig as rig_mod

    seen: dict[int, int] = {}

    def under_test(orig: Any) -> Any:
        def _access(self: Any, a: Any) -> None:
            orig(self, a)
            obs = self.observer
            start = seen.get(id(obs), 0)
            if start > len(obs.history):  # the rig cleared it between operations
                start = 0
            texts = {st.label: st.text for st in obs.thread.steps}
            taken = [f"{lab}: {texts.get(lab, '')}" for lab in obs.history[start:]]
            seen[id(obs)] = len(obs.history)
            line = self.trace[-1] if self.trace else f"{a.side} {a.kind} {a.where}"
            _row(self, rows, a.side, a.kind, line, taken)
        return _access

    def reference_helper(orig: Any) -> Any:
        def _peer_access(self: Any, a: Any) -> None:
            orig(self, a)
            value = "" if a.value is None else f" = {_value(a.value)}"
            _row(self, rows, "guest", a.kind, f"guest {a.kind} {a.where}{value} (reference helper)", [], peer=True)
        return _peer_access

    def scripted_host(orig: Any) -> Any:
        def _host_write(self: Any, name: str, value: int) -> None:
            orig(self, name, value)
            _row(self, rows, "host", "write", f"host write {name} = {value} (scripted host)", [], peer=True)
        return _host_write

    patches = [(rig_mod.HostRig, "_access", under_test), (rig_mod.GuestRig, "_access", under_test),
               (rig_mod.HostRig, "_peer_access", reference_helper), (rig_mod.GuestRig, "_host_write", scripted_host)]
    saved = [(cls, name, cls.__dict__[name]) for cls, name, _ in patches]
    for cls, name, wrap in patches:
        setattr(cls, name, wrap(cls.__dict__[name]))
    try:
        yield
    finally:
        for cls, name, orig in saved:
            setattr(cls, name, orig)


def accesses_of(result: Any, impl: Any = None) -> tuple[list[dict[str, Any]], bool]:
    """The rows of a result's reproducer run on ``impl`` (the implementation the result ran,
    ready to run again), and whether they carry the model's state."""
    from .cases import replay

    rows: list[dict[str, Any]] = []
    if result.steps and impl is not None:
        try:
            with _recording(rows):
                replay(result.case.id, impl, result.steps)
            if rows:
                return rows, True
        except Exception:  # noqa: BLE001 - a run that fails again differently: the accesses the result kept
            rows = []
    for i, line in enumerate(result.trace or [], 1):
        side, kind = (str(line).split(" ") + ["", ""])[:2]
        rows.append({"step": i, "actor": side, "action": kind, "text": str(line)})
    return rows, False


def _marked(rows: list[dict[str, Any]], result: Any) -> tuple[int | None, bool]:
    """The row where the model saw the failure: the divergence, or the access after which the
    failed property's monitor was set (model-matched access numbers), and True; else the last
    row and False (a failure the suite's direct checks judged by the end of the run)."""
    if not rows:
        return None, False
    if "_matched" in rows[0]:
        at = None
        if result.divergence:
            at = int(result.divergence.get("access", 0))
        elif result.message and " set at access #" in result.message:
            try:
                at = int(result.message.split(" set at access #")[1].split()[0])
            except ValueError:
                at = None
        if at:
            for i, r in enumerate(rows):
                if r["_matched"] >= at:
                    return i, True
    return len(rows) - 1, False


def conformance_trace(result: Any, impl: Any = None) -> dict[str, Any]:
    """One viewer trace for a ``fail``/``deviates`` result of ``conform`` (``impl``: what it ran,
    to run its reproducer again; by name for the Python implementations)."""
    from .adapter import IMPLEMENTATIONS

    rows, with_model = accesses_of(result, impl if impl is not None else IMPLEMENTATIONS.get(result.impl))
    mark, exact = _marked(rows, result)
    lane = {"host": "Host", "guest": "Guest"}
    steps = [{"step": 0, "lane": "Memory", "kind": "init", "label": "start of the reproducer",
              "state": {"step": 0, "actor": "init"}}]
    for r in rows:
        r.pop("_matched", None)
        steps.append({"lane": lane.get(r["actor"], "Memory"), "kind": _kind(r["action"]), "label": r["text"], "state": r})
    info = [("Verdict", f"{result.verdict}: {result.prop}: {result.message}")]
    if result.divergence:
        from .cases import divergence_line

        info.append(("Divergence", divergence_line(result.divergence)))
    info.append(("Reproducer", result.reproducer or ""))
    if not with_model:
        info.append(("Note", "the last accesses the run kept: the implementation could not be run again "
                             "here, so the model's state per access is not shown"))
    return {
        "title": f"{result.case.id} [{result.case.level}] {result.verdict}: {result.impl}",
        "subtitle": f"{sum(not r.get('peer') for r in rows)} accesses of the {result.case.side} under test"
                    + (", its peer's beside them, with the model's steps" if with_model else "")
                    + f"; {result.case.text}",
        "property": result.prop or "",
        "property_text": "",
        "violating": None if mark is None else mark + 1,
        "violating_text": (f"{result.prop}: the model sees it here" if exact and result.verdict == "fail"
                           else "the implementation leaves its model here" if exact
                           else f"{result.prop} failed by the end of this run (the last access kept)" if not with_model
                           else f"{result.prop} failed by the end of this run: {result.message}"),
        "info": [list(x) for x in info],
        "steps": steps,
    }


def conform_page_names(cases: list[Any]) -> list[str]:
    """The page each case would get (checked for clashes before a run)."""
    return [f"{file_name(c.id)}.html" for c in cases]


def conform_pages(impl: str, results: list[Any], implementation: Callable[[str], Any] | None = None) -> dict[str, str]:
    """``conform --html``: a page per failed (or deviating) case, and an index of every case.
    ``implementation(side)`` gives what ran that side's cases, to run reproducers again (a C
    file is built, a wire command started, once per side; each stopped after)."""
    from mhmailbox.model.html import index_page

    pages: dict[str, str] = {}
    rows = []
    impls: dict[str, Any] = {}
    try:
        for r in results:
            name = f"{file_name(r.case.id)}.html"
            if r.verdict not in ("fail", "deviates"):
                rows.append((None, [r.case.id, r.case.level, r.verdict, "", r.reason or ""]))
                continue
            if implementation is not None and r.case.side not in impls:
                impls[r.case.side] = implementation(r.case.side)
            trace = conformance_trace(r, impls.get(r.case.side))
            pages[name] = page(trace["title"], [trace], index="index.html")
            rows.append((name, [r.case.id, r.case.level, r.verdict, r.prop or "", r.message or ""]))
    finally:
        for built in impls.values():
            if callable(getattr(built, "stop", None)):
                built.stop()
    pages["index.html"] = index_page(f"mhmailbox conform {impl}", "A page per case that failed or deviates: "
                                     "its shrunk reproducer, access by access, beside the model.",
                                     rows, ["case", "level", "verdict", "property", "message"])
    return pages
