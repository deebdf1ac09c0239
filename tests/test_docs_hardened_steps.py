"""docs/hardened.md, "Implementing it: each side's steps", is held to the ``Hardened`` model.

The section's step tables are what an implementer writes a host or a helper from, and the
conformance oracle cites the same step labels in its messages, so they must not drift from
``model/variants.py`` or from the oracle's rules (``model/observe.py``). Checked: every label
exists; every step that touches shared memory is cited; each row's access and field are its
step's; the rows follow program order; the freedoms claimed (write blocks in any order,
optional writes, reads that may be skipped) are exactly the oracle's; the layout and header
tables are the code's; the orders the doc calls the oracle's are enforced by it. Each check is
a function returning the problems it finds, run on the doc and the model and on one-fault
copies of either (a renamed step, a step missing from the doc, two steps swapped in the model
or in the doc, a wrong access, a freedom the oracle does not grant), so each fault is shown caught.
"""
from __future__ import annotations

import re
from collections import deque
from typing import Iterable, Mapping

import attrs
import pytest

from mhmailbox.model.expr import Expr
from mhmailbox.model.observe import ELIDABLE
from mhmailbox.model.program import Fence, Read, Step, Thread, Write
from mhmailbox.model.variants import Hardened, Rfc
from doc_tables import ROOT

DOC = "docs/hardened.md"
SECTION = "## Implementing it: each side's steps"
HEADER = "| # | model step | access | field | value | may vary |"
#: the doc's field names -> the model's (None: a field the model does not track)
FIELD = {"cmd_type": "cmd", "gpa": "gpa", "ret": "ret", "go": "go", "done": "done", "hdr.len": "hdr_len",
         "io": "io", "prefetch": None, "hdr.data": None}
#: where one operation (host) or one command (helper) ends and the next begins: a path of
#: program order never passes through them
LOOP_HEADS = {"host": {"idle"}, "guest": {"wait"}}


@attrs.frozen
class Row:
    """One row of a step table, as the doc states it."""

    number: int
    labels: tuple[str, ...]  # model steps (several: the same row in parallel instances)
    access: str
    field: str | None  # the doc's field name, e.g. "hdr.len"
    vary: str


@attrs.frozen
class Table:
    """One step table: an operation (host) or a part of the helper's loop."""

    side: str  # "host" | "guest"
    title: str
    rows: tuple[Row, ...]

    def row(self, n: int) -> Row:
        return self.rows[n - 1]


def parse(text: str) -> list[Table]:
    """The step tables of the section, each with the side its heading names."""
    body = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    tables: list[Table] = []
    title, side, rows, in_table = "", "", [], False
    for line in body.splitlines() + [""]:
        if line.startswith("### "):
            title = line[4:].strip()
            side = {"Host": "host", "Helper": "guest"}.get(title.split()[0], "")
        elif line.strip() == HEADER:
            assert side, f"a step table under {title!r}, which names no side"
            in_table, rows = True, []
        elif in_table and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if set(cells[0]) <= {"-"}:
                continue
            assert len(cells) == 6, f"{title}: a row of {len(cells)} cells: {line}"
            field = re.match(r"`([^`]+)`", cells[3])
            rows.append(Row(int(cells[0]), tuple(re.findall(r"`([^`]+)`", cells[1])), cells[2],
                            field.group(1) if field else None, cells[5]))
        elif in_table:
            assert [r.number for r in rows] == list(range(1, len(rows) + 1)), f"{title}: rows out of number"
            tables.append(Table(side, title, tuple(rows)))
            in_table = False
    return tables


def doc_tables() -> list[Table]:
    return parse((ROOT / DOC).read_text())


def threads(variant: Rfc) -> dict[str, Thread]:
    """The two sides as the conformance oracle builds them (host: any operation, any number of times)."""
    return {"host": variant.host([]), "guest": variant.guest()}


# ------------------------------------------------------------------ program order
def _refs(e: Expr) -> set[str]:
    if e.op == "label":
        return {e.args[0]}
    if e.op in ("var", "const", "param", "true", "false"):
        return set()
    return set().union(*(_refs(a) for a in e.args))


def _labels_in(e: Expr, thread: Thread) -> set[str]:
    """Step labels an expression can evaluate to: its own ``ref``s, and every ``ref`` stored in
    a variable it reads (a return address such as ``host.ret_to``)."""
    if e.op == "var":
        return {x for st in thread.steps for name, v in st.updates if name == e.args[0] for x in _refs(v)}
    if e.op in ("label", "const", "param", "true", "false"):
        return _refs(e)
    return set().union(*(_labels_in(a, thread) for a in e.args))


def successors(thread: Thread, st: Step) -> set[str]:
    nxt = st.next
    if nxt is None:
        return {thread.steps[st.pc + 1].label} if st.pc + 1 < len(thread.steps) else set()
    if isinstance(nxt, str):
        return {nxt}
    if isinstance(nxt, Expr):
        return _labels_in(nxt, thread)
    return {label for _, label in nxt}


def follows(thread: Thread, a: str, b: str, blocked: set[str], heads: set[str]) -> bool:
    """Program order: ``b`` can come after ``a`` on a path through no step of ``blocked`` and
    no loop head (the next operation or command)."""
    seen: set[str] = set()
    todo = deque(successors(thread, thread.steps[thread.pc_of(a)]))
    while todo:
        n = todo.popleft()
        if n == b:
            return True
        if n in seen or n in blocked or n in heads:
            continue
        seen.add(n)
        todo.extend(successors(thread, thread.steps[thread.pc_of(n)]))
    return False


def pairs(r1: Row, r2: Row) -> list[tuple[str, str]]:
    """Rows with one label per instance pair up by position; a single label pairs with each."""
    if len(r1.labels) == len(r2.labels):
        return list(zip(r1.labels, r2.labels))
    assert 1 in (len(r1.labels), len(r2.labels)), (r1, r2)
    return [(a, b) for a in r1.labels for b in r2.labels]


# ------------------------------------------------------------------ the checks
def unknown_steps(tables: Iterable[Table], th: Mapping[str, Thread]) -> list[str]:
    known = {side: {st.label for st in t.steps} for side, t in th.items()}
    return [f"{t.title} #{r.number}: `{label}` is no {t.side} step of the model"
            for t in tables for r in t.rows for label in r.labels if label not in known[t.side]]


def uncited_shared_steps(tables: Iterable[Table], th: Mapping[str, Thread]) -> list[str]:
    cited = {(t.side, label) for t in tables for r in t.rows for label in r.labels}
    return [f"{side} step `{st.label}` ({st.text}) touches shared memory and no table cites it"
            for side, t in th.items() for st in t.steps if st.mem is not None and (side, st.label) not in cited]


def access_mismatches(tables: Iterable[Table], th: Mapping[str, Thread], tracked: Iterable[str]) -> list[str]:
    """Each row's access and field are its step's; a row with no step names an access the model
    leaves out (a field it does not track, or the helper's read of hdr.len)."""
    out = []
    for t in tables:
        for r in t.rows:
            if r.access not in ("read", "write", "wmb", "rmb", "—"):
                out.append(f"{t.title} #{r.number}: unknown access {r.access!r}")
                continue
            if r.field is not None and r.field not in FIELD:
                out.append(f"{t.title} #{r.number}: unknown field {r.field!r}")
                continue
            field = FIELD.get(r.field) if r.field else None
            if not r.labels:
                helper_reads_len = (t.side, r.access, field) == ("guest", "read", "hdr_len")
                if r.access in ("read", "write") and field in tracked and not helper_reads_len:
                    out.append(f"{t.title} #{r.number}: a {r.access} of {r.field} with no model step")
                continue
            for label in r.labels:
                if label not in {st.label for st in th[t.side].steps}:
                    continue  # unknown_steps reports it
                mem = th[t.side].steps[th[t.side].pc_of(label)].mem
                model = ("—" if mem is None else mem.kind if isinstance(mem, Fence)
                         else "read" if isinstance(mem, Read) else "write")
                if model != r.access:
                    out.append(f"{t.title} #{r.number}: the doc says {r.access}, the model's `{label}` is {model}")
                elif isinstance(mem, (Read, Write)) and field != mem.field:
                    out.append(f"{t.title} #{r.number}: the doc names {r.field}, `{label}` accesses {mem.field}")
    return out


SPAN = re.compile(r"any order within #(\d+)–#(\d+)")
BRANCH = re.compile(r"branch from ((?:#\d+(?:, )?)+)")


def in_order(t: Table, thread: Thread) -> list[Row]:
    """The table's rows that state program order: every row with a model step but the branches,
    with the rows of an any-order span put in the model's order (the oracle's write blocks are
    consecutive steps, so that order is the block's one path)."""
    rows = [r for r in t.rows if r.labels and not BRANCH.match(r.vary)]
    known = {st.label for st in thread.steps}

    def key(r: Row) -> tuple[int, int]:
        m = SPAN.search(r.vary)
        where = int(m.group(1)) if m else r.number
        pc = thread.pc_of(r.labels[0]) if m and r.labels[0] in known else 0
        return where, pc

    return sorted(rows, key=key)


def order_violations(tables: Iterable[Table], th: Mapping[str, Thread]) -> list[str]:
    """Consecutive rows follow the model's program order (a row's step comes after the row
    before it on a path through no other row's step), and so does each branch after each row
    it names. *fixed* rows and any-order spans alike hold their place; only within a span may
    the rows be in any order."""
    out = []
    for t in tables:
        thread = th[t.side]
        rows = in_order(t, thread)
        stops = {label for r in rows for label in r.labels}
        known = {st.label for st in thread.steps}

        def check(r1: Row, r2: Row, how: str) -> None:
            for a, b in pairs(r1, r2):
                if a in known and b in known and not follows(thread, a, b, stops - {b}, LOOP_HEADS[t.side]):
                    out.append(f"{t.title}: #{r2.number} `{b}` does not follow #{r1.number} `{a}` ({how})")

        for r1, r2 in zip(rows, rows[1:]):
            check(r1, r2, "program order")
        for r in t.rows:
            m = BRANCH.match(r.vary)
            if m:
                for k in re.findall(r"#(\d+)", m.group(1)):
                    check(t.row(int(k)), r, "branch")
    return out


def write_blocks(thread: Thread) -> list[set[str]]:
    """The oracle's write blocks (model/observe.py): Write steps in a row with no access, fence
    or branch between them, here the maximal ones of two steps or more."""
    out, block = [], []
    for st in thread.steps:
        if isinstance(st.mem, Write) and (not block or thread.steps[st.pc - 1].next is None):
            block.append(st.label)
        else:
            if len(block) > 1:
                out.append(set(block))
            block = [st.label] if isinstance(st.mem, Write) else []
    if len(block) > 1:
        out.append(set(block))
    return out


def freedom_mismatches(tables: Iterable[Table], th: Mapping[str, Thread], variant: type[Rfc]) -> list[str]:
    """The freedoms the tables claim are exactly those the oracle grants: write blocks in any
    order, optional writes (``OPTIONAL_WRITES``), reads that may be skipped (``ELIDABLE``)."""
    out = []
    claimed: dict[str, set] = {"blocks": set(), "optional": set(), "skipped": set()}
    for t in tables:
        for r in t.rows:
            m = SPAN.search(r.vary)
            if m:
                span = t.rows[int(m.group(1)) - 1:int(m.group(2))]
                if r not in span:
                    out.append(f"{t.title} #{r.number}: in no block of its own rows ({m.group(0)})")
                for s in span:
                    if s.labels and m.group(0) not in s.vary:
                        out.append(f"{t.title} #{s.number}: inside {m.group(0)} of #{r.number}, without saying so")
                claimed["blocks"].add((t.side, frozenset(x for s in span for x in s.labels)))
            for word, key in (("optional", "optional"), ("may be skipped", "skipped")):
                if word in r.vary:
                    claimed[key].update((t.side, label) for label in r.labels)
    granted = {
        "blocks": {(side, frozenset(b)) for side, thread in th.items() for b in write_blocks(thread)},
        "optional": set(variant.OPTIONAL_WRITES),
        "skipped": {(side, label) for side, label in ELIDABLE if label in {st.label for st in th[side].steps}},
    }
    for key in claimed:
        for x in sorted(claimed[key] - granted[key], key=str):
            out.append(f"{key}: the doc claims {x}, which the oracle does not grant")
        for x in sorted(granted[key] - claimed[key], key=str):
            out.append(f"{key}: the oracle grants {x}, which the doc does not state")
    return out


def all_problems(tables: list[Table], variant: type[Rfc]) -> list[str]:
    th = threads(variant())
    return (unknown_steps(tables, th) + uncited_shared_steps(tables, th)
            + access_mismatches(tables, th, variant.FIELDS) + order_violations(tables, th)
            + freedom_mismatches(tables, th, variant))


# ------------------------------------------------------------------ the doc against the model
def test_the_section_has_a_table_per_operation_and_side() -> None:
    titles = [t.title for t in doc_tables()]
    for word in ("send one command", "the wait", "INIT when needed", "ENCRYPT: save", "DECRYPT: load",
                 "RESET: cleanup", "boot and the poll", "INIT, RESET", "ENCRYPT (", "DECRYPT (", "completion"):
        assert any(word in title for title in titles), (word, titles)
    assert {t.side for t in doc_tables()} == {"host", "guest"}


def test_every_cited_step_exists() -> None:
    assert unknown_steps(doc_tables(), threads(Hardened())) == []


def test_every_shared_memory_step_is_cited() -> None:
    assert uncited_shared_steps(doc_tables(), threads(Hardened())) == []


def test_each_rows_access_and_field_are_its_steps() -> None:
    assert access_mismatches(doc_tables(), threads(Hardened()), Hardened.FIELDS) == []


def test_fixed_rows_follow_the_models_program_order() -> None:
    assert order_violations(doc_tables(), threads(Hardened())) == []


def test_freedoms_are_exactly_the_oracles() -> None:
    assert freedom_mismatches(doc_tables(), threads(Hardened()), Hardened) == []


def test_response_header_layout_is_the_implementations() -> None:
    """The byte table of the response header is the one ``impl/crypto.py`` packs."""
    import struct

    from mhmailbox.impl.crypto import AAD_SIZE, HDR_SIZE, HDR_STRUCT, MAGIC

    body = (ROOT / DOC).read_text().split("### The response header", 1)[1].split("\n### ", 1)[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in body.splitlines()
            if re.match(r"\| \d+ \|", line)]
    sizes = [struct.calcsize("<" + f) for f in re.findall(r"\d*[a-zA-Z]", HDR_STRUCT.format.lstrip("<"))]
    assert [int(r[1]) for r in rows] == sizes
    assert [int(r[0]) for r in rows] == [sum(sizes[:i]) for i in range(len(sizes))]
    assert f"`hdr.len` = {HDR_SIZE}" in body and f"Bytes 0 to {AAD_SIZE - 1} are the associated data" in body
    assert rows[0][3] == f"`{MAGIC.decode()}`"


# ------------------------------------------------------------------ each fault is caught
def test_a_step_renamed_in_the_model_is_caught() -> None:
    class Renamed(Hardened):
        def guest_finish(self, G: Thread) -> None:
            super().guest_finish(G)
            G.steps[G.pc_of("wmb")] = attrs.evolve(G.steps[G.pc_of("wmb")], label="fence")
            G._labels["fence"] = G._labels.pop("wmb")

    problems = all_problems(doc_tables(), Renamed)
    assert any("`wmb` is no guest step" in p for p in problems), problems
    assert any("`fence`" in p and "no table cites it" in p for p in problems), problems


def test_a_step_missing_from_the_doc_is_caught() -> None:
    tables = doc_tables()
    cut = [attrs.evolve(t, rows=tuple(r for r in t.rows if "send.rmb" not in r.labels)) for t in tables]
    assert all_problems(tables, Hardened) == []
    assert any("`send.rmb`" in p and "no table cites it" in p for p in all_problems(cut, Hardened))


@pytest.mark.parametrize("first, second, side", [("send.wmb", "send.go", "host"), ("ret", "wmb", "guest"),
                                                 ("cmd", "gpa", "guest"), ("accept", "cmd", "guest"),
                                                 ("send.ret", "send.wmb", "host"), ("restore", "restore.copy", "guest")])
def test_two_steps_swapped_in_the_model_are_caught(first: str, second: str, side: str) -> None:
    """Two steps of the model exchanged in program order (the first falls through to the second)."""
    problems = order_violations(doc_tables(), threads(swapped(first, second, side)()))
    assert any(f"`{first}`" in p and "does not follow" in p for p in problems), problems


def test_steps_swapped_within_a_write_block_are_not_reported() -> None:
    """The order within a write block is free (the oracle accepts it), so the check must not fault it."""
    assert order_violations(doc_tables(), threads(swapped("send.cmd", "send.gpa", "host")())) == []
    assert order_violations(doc_tables(), threads(swapped("save", "save.hdr", "guest")())) == []


def swapped(first: str, second: str, side: str) -> type[Hardened]:
    """``Hardened`` with ``first`` and ``second`` (which it falls through to) exchanged in one side's
    program order: what led to ``first`` leads to ``second``, which falls through to ``first``."""
    def swap(thread: Thread) -> Thread:
        i, j = thread.pc_of(first), thread.pc_of(second)
        a, b = thread.steps[i], thread.steps[j]
        assert a.next is None and j == i + 1, "first falls through to second"
        a, b = attrs.evolve(a, next=b.next), attrs.evolve(b, next=None)  # now b falls through to a
        thread.steps[i], thread.steps[j] = attrs.evolve(b, pc=i), attrs.evolve(a, pc=j)
        thread._labels[first], thread._labels[second] = j, i
        for st in thread.steps:  # whatever went to the first step now goes to the new first
            if st.next == first:
                thread.steps[st.pc] = attrs.evolve(st, next=second)
            elif isinstance(st.next, list) and first in [label for _, label in st.next]:
                thread.steps[st.pc] = attrs.evolve(st, next=[(c, second if x == first else x) for c, x in st.next])
        return thread

    class Swapped(Hardened):
        def host(self, scripts):  # type: ignore[no-untyped-def]
            t = super().host(scripts)
            return swap(t) if side == "host" else t

        def guest(self) -> Thread:
            t = super().guest()
            return swap(t) if side == "guest" else t

    return Swapped


def test_a_freedom_the_doc_claims_wrongly_is_caught() -> None:
    """Marking the helper's ret write optional, or the write barrier before go as reorderable,
    is not what the oracle grants."""
    tables = doc_tables()

    def mark(label: str, vary: str) -> list[Table]:
        return [attrs.evolve(t, rows=tuple(attrs.evolve(r, vary=vary) if label in r.labels else r
                                           for r in t.rows)) for t in tables]

    assert any("optional" in p for p in freedom_mismatches(mark("done", "optional"), threads(Hardened()), Hardened))
    assert any("grants" in p for p in freedom_mismatches(mark("send.ret", "any order within #4–#6"),
                                                         threads(Hardened()), Hardened))


def test_a_wrong_access_in_the_doc_is_caught() -> None:
    tables = doc_tables()
    wrong = [attrs.evolve(t, rows=tuple(attrs.evolve(r, access="rmb") if r.labels == ("send.wmb",) else r
                                        for r in t.rows)) for t in tables]
    assert any("`send.wmb` is wmb" in p for p in access_mismatches(wrong, threads(Hardened()), Hardened.FIELDS))


# ------------------------------------------------------------------ the other tables of the section
def test_layout_table_is_the_models_layout() -> None:
    from mhmailbox.model.layout import FIELDS as LAYOUT
    from mhmailbox.model.layout import OFF_HDR_DATA, OFF_IO_PAGE, PAGE_SIZE

    body = (ROOT / DOC).read_text().split(SECTION, 1)[1].split("\n### ", 1)[0]
    rows = {c[1].strip("`"): (int(c[0].strip("`"), 16), c[2]) for line in body.splitlines()
            if line.startswith("| `0x") for c in [[x.strip() for x in line.strip().strip("|").split("|")]]}
    width = {"<Q": "u64", "<i": "i32", "<I": "u32"}
    want = {name.replace("hdr_len", "hdr.len"): (off, width[fmt]) for name, (off, fmt) in LAYOUT.items()}
    want |= {"hdr.data": (OFF_HDR_DATA, "u8[`hdr.len`]"), "io page": (OFF_IO_PAGE, f"u8[{PAGE_SIZE}]")}
    assert rows == want


# ------------------------------------------------------------------ "the oracle's order"
def _host_save(o, hdr_first: bool) -> None:  # type: ignore[no-untyped-def]
    from mhmailbox.model import values as val
    from mhmailbox.model.variants import OP_SAVE

    o.choose(role=0)
    o.choose(op=OP_SAVE, g=val.G0)
    for seq, (cmd, gpa) in enumerate(((0, 0), (1, val.G0)), 1):  # INIT, then ENCRYPT G0
        for access in (("write", "cmd", cmd), ("write", "gpa", gpa), ("barrier", "wmb"), ("write", "go", seq),
                       ("read", "done", seq, 0), ("barrier", "rmb"), ("read", "ret", 0, 0)):
            o.observe(*access)
    reads = [("read", "hdr_len", val.HLEN_OK, 0), ("read", "io", 6, 0)]  # 6: CIPHER(G0, session 1)
    for access in reads if hdr_first else reversed(reads):
        o.observe(*access)


def _host_load(o, request_first: bool) -> None:  # type: ignore[no-untyped-def]
    from mhmailbox.model import values as val
    from mhmailbox.model.variants import OP_LOAD

    o.choose(role=0)
    o.choose(op=OP_LOAD, g=val.G0)
    for access in (("write", "cmd", 0), ("write", "gpa", 0), ("barrier", "wmb"), ("write", "go", 1),
                   ("read", "done", 1, 0), ("barrier", "rmb"), ("read", "ret", 0, 0)):
        o.observe(*access)
    request = [("write", "hdr_len", 0), ("write", "io", 0)]
    params = [("write", "cmd", 2), ("write", "gpa", val.G0)]
    for access in (request + params if request_first else params + request):
        o.observe(*access)


def _guest_encrypt(o, params_in_order: bool, response_first: bool) -> None:  # type: ignore[no-untyped-def]
    from mhmailbox.model import values as val

    for seq, (cmd, gpa) in enumerate(((0, 0), (1, val.G0)), 1):  # INIT, then ENCRYPT G0
        params = [("read", "cmd", cmd, 0), ("read", "gpa", gpa, 0)]
        for access in [("read", "go", seq, 0), ("barrier", "rmb")] + (params if params_in_order else params[::-1]):
            o.observe(*access)
        response = [("write", "io", 6), ("write", "hdr_len", val.HLEN_OK)] if cmd == 1 else []
        done = [("write", "ret", 0)]
        for access in (response + done if response_first else done + response) + [("barrier", "wmb"),
                                                                                   ("write", "done", seq)]:
            o.observe(*access)


@pytest.mark.parametrize("side, run", [
    ("host", lambda o, ok: _host_save(o, hdr_first=ok)),  # Host 4 #5, #7
    ("host", lambda o, ok: _host_load(o, request_first=ok)),  # Host 5 #10
    ("guest", lambda o, ok: _guest_encrypt(o, params_in_order=ok, response_first=True)),  # Helper 1 #4, #5
    ("guest", lambda o, ok: _guest_encrypt(o, params_in_order=True, response_first=ok)),  # Helper 3 #5
], ids=["hdr.len-before-io", "request-before-params", "cmd-before-gpa", "response-before-ret"])
def test_orders_the_doc_calls_the_oracles_are_enforced(side, run) -> None:  # type: ignore[no-untyped-def]
    """"Where our implementation and the model part" names four orders no peer can tell apart that
    the oracle nevertheless asks for: the doc's order passes, the other is a divergence."""
    from mhmailbox.model.observe import Divergence, Observer

    run(Observer(Hardened(4, 1), side), True)
    with pytest.raises(Divergence):
        run(Observer(Hardened(4, 1), side), False)


def test_a_filtered_row_naming_a_model_field_is_caught() -> None:
    """A row with no model step may only name an access the model leaves out: a host write of
    ``go`` with no step would be an access the oracle rejects."""
    tables = doc_tables()
    wrong = [attrs.evolve(t, rows=tuple(attrs.evolve(r, field="go") if r.field == "prefetch" else r
                                        for r in t.rows)) for t in tables]
    typo = [attrs.evolve(t, rows=tuple(attrs.evolve(r, field="hdr_len") if r.labels == ("load.len",) else r
                                       for r in t.rows)) for t in tables]
    th = threads(Hardened())
    assert any("a write of go with no model step" in p for p in access_mismatches(wrong, th, Hardened.FIELDS))
    assert any("unknown field 'hdr_len'" in p for p in access_mismatches(typo, th, Hardened.FIELDS))


def test_two_fixed_rows_swapped_in_the_doc_are_caught() -> None:
    tables = doc_tables()
    swapped_doc = []
    for t in tables:
        rows = list(t.rows)
        if t.title.startswith("Helper 5"):
            rows[1], rows[2] = attrs.evolve(rows[2], number=2), attrs.evolve(rows[1], number=3)  # done before wmb
        swapped_doc.append(attrs.evolve(t, rows=tuple(rows)))
    problems = order_violations(swapped_doc, threads(Hardened()))
    assert any("`done` does not follow #1 `ret`" in p for p in problems), problems
