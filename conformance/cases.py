"""The conformance cases: stable ids, graded levels, and the Hypothesis state machines behind them.

A case names the properties it checks (ids of the model's catalog, plus
``robust``: no crash, and ``barriers``: the fences the design needs), the
findings of docs/review-rfc.md it covers, the peer behaviours it draws from,
and the host operations a part of its check needs. An access of the
implementation its own protocol's model cannot explain (a *divergence*) stops
the model's monitors but not the example: the rigs' direct checks
(:data:`DIRECT_CHECKS`) go on to its end, so a run whose only finding is a
divergence gets a verdict of its own, ``deviates`` (conformance/runner.py).

A state machine step is one protocol operation (save, load, cleanup; or, against
a helper, one command) with its *schedule*: a short list of ``(k, action)``,
"run this peer action just before the implementation's k-th shared access in
this operation". Schedules are plain data, so a failure shrinks (fewer steps,
fewer actions, earlier indices, smaller values) and replays exactly
(:func:`replay`).
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Sequence

import time

import attrs
from hypothesis import Verbosity, event, note, settings
from hypothesis.control import current_build_context
from hypothesis.errors import InvalidArgument
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from mhmailbox.model import values as val
from mhmailbox.model.layout import Cmd, Ret

from .adapter import HOST_OPERATIONS, Implementation
from .rig import D_TICKS, GuestRig, HostRig


@attrs.frozen
class Case:
    id: str
    side: str  # host | guest
    level: str  # MUST | SHOULD
    properties: tuple[str, ...]
    findings: tuple[str, ...]  # review findings the rfc implementation must fail it with
    behaviours: tuple[str, ...]
    text: str
    #: host operations a part of the check needs, and what that part is: an implementation
    #: without the operation runs the case without its rule and cannot get ``pass``
    needs: tuple[tuple[str, str], ...] = ()


CASES: tuple[Case, ...] = (
    # ---------------------------------------------------------------- host side
    Case("host/honest", "host", "MUST", ("liveness.honest-progress", "robust"), (), ("honest",),
         "With an honest, prompt helper every save, load and cleanup succeeds, and every access is one the "
         "model of the protocol allows.", needs=(("load", "every load succeeding with an honest helper"),)),
    Case("host/init-after-reset", "host", "MUST", ("state.init-before-use",), ("F9",), ("honest",),
         "ENCRYPT and DECRYPT are only sent after an INIT that succeeded since the last RESET (a second "
         "migration after cleanup sends INIT again).",
         needs=(("load", "DECRYPT only after an INIT since the last RESET"),)),
    Case("host/early-command", "host", "SHOULD", ("liveness.honest-progress",), ("F3",), ("boot",),
         "A command published before the helper boots (the helper boots within the deadline) still completes."),
    Case("host/stale-completion", "host", "MUST", ("order.response",), ("F1",), ("slow",),
         "A slow helper's late completion of a timed-out command is never taken for the next command's "
         "(done, ret and page the host accepts come from the command it waits on)."),
    Case("host/publish-after-timeout", "host", "MUST", ("order.publish",), ("F2",), ("slow",),
         "After a timeout the host does not rewrite the parameters under a helper still serving the old "
         "command (the helper reads cmd_type and gpa of the go it serves)."),
    Case("host/recovery", "host", "SHOULD", ("liveness.recovery",), ("F14",), ("slow", "boot"),
         "Once the helper is prompt again, every operation after the first one succeeds."),
    Case("host/bounded-wait", "host", "MUST", ("timeout.bounded-wait",), (), ("slow", "silent", "hostile", "header"),
         "Every command returns within the deadline plus one polling quantum, whatever the helper does."),
    Case("host/no-false-timeout", "host", "SHOULD", ("timeout.no-false-timeout",), (), ("slow",),
         "A command the helper completed before the deadline is not reported as timed out."),
    Case("host/header-toctou", "host", "MUST", ("adversary.header-bound",), ("F6",), ("header",),
         "hdr.len changed between check and use: the host emits a header of at most 1024 bytes, and the "
         "length it emits is the length it checked and the number of bytes that follow."),
    Case("host/header-in-bounds", "host", "MUST", ("adversary.in-bounds",), ("F7",), ("header",),
         "Boundary and hostile header lengths (0, 1024, 1025, 4096, 0xFFFFFFFF, sign bit) never make the "
         "host read outside the shared area."),
    Case("host/error-no-data", "host", "MUST", ("adversary.error-no-data",), ("F8",), ("hostile-ret",),
         "A failed INIT, an error or unknown ret code, or a timeout: the operation emits no record and "
         "does not report success."),
    Case("host/hostile-peer", "host", "MUST", ("robust", "timeout.bounded-wait"), (), ("hostile",),
         "Completion without a request, double completion, done before ret/page, done values other than "
         "0/1/seq, writes to host-owned fields, torn pages: the host never crashes and never hangs."),
    Case("host/barriers", "host", "SHOULD", ("barriers",), ("F5",), ("honest",),
         "Write barrier between the parameters and go; read barrier between seeing done and reading ret "
         "(what a weakly ordered CPU needs)."),
    # ---------------------------------------------------------------- guest side
    Case("guest/honest", "guest", "MUST", ("robust", "honest"), (), ("honest",),
         "Against an honest host every INIT, ENCRYPT, DECRYPT of a fresh page and RESET succeeds, and every "
         "access is one the model of the protocol allows."),
    Case("guest/confidential", "guest", "MUST", ("guest.confidential",), ("F10",), ("honest",),
         "No plaintext of a private guest page is ever written to the shared area."),
    Case("guest/refusal-reported", "guest", "MUST", ("guest.refusal-reported",), ("F11",), ("gpa",),
         "The helper never reports success for a command it did not carry out (a RESTORE into the mailbox)."),
    Case("guest/gpa-checked", "guest", "MUST", ("guest.gpa-checked",), ("F13",), ("gpa",),
         "A gpa inside the shared area or outside guest RAM is refused with an error."),
    Case("guest/tamper", "guest", "MUST", ("guest.integrity",), ("F12",), ("tamper",),
         "A page with flipped bytes (in the io page, or flipped while the helper reads it) never reaches RAM."),
    Case("guest/moved", "guest", "MUST", ("guest.integrity",), ("F12",), ("moved",),
         "A page offered at another gpa than the one it was saved from never reaches RAM."),
    Case("guest/replay", "guest", "MUST", ("guest.integrity",), ("F12",), ("replay",),
         "A page from an earlier migration, or an older copy already superseded, never reaches RAM."),
    Case("guest/hostile-host", "guest", "MUST", ("robust",), (), ("hostile-host",),
         "Parameters changed after go, go repeated without waiting, unknown commands: the helper never "
         "crashes and stays within its model."),
    Case("guest/barriers", "guest", "SHOULD", ("barriers",), ("F4",), ("honest",),
         "Read barrier after go before the parameters; write barrier before done."),
)
BY_ID = {c.id: c for c in CASES}

#: What the rigs judge themselves, on the wire, by the virtual clock or by the suite's own
#: bookkeeping (conformance/rig.py, the machines below): these checks still run after the model
#: has stopped at a divergence. Every other property a case names is a model monitor and is
#: judged only up to the divergence; so are ``timeout.no-false-timeout`` and the per-command
#: bound of ``timeout.bounded-wait``, which are timed by the model's command windows.
DIRECT_CHECKS: dict[str, dict[str, str]] = {
    "host": {
        "order.publish": "the helper reads the cmd_type and gpa of the go it serves (gos counted on the wire)",
        "order.response": "done, ret and page taken come from the latest go (on the wire)",
        "adversary.error-no-data": "a failed or timed-out command leaves its operation failed, with no record",
        "adversary.header-bound": "the emitted header length is at most 1024 and matches its bytes",
        "adversary.in-bounds": "no read past the shared area",
        "timeout.bounded-wait": "every operation ends within its commands' deadlines (per operation)",
        "liveness.recovery": "an operation started with the helper prompt succeeds",
        "liveness.honest-progress": "every operation succeeds with an honest helper",
        "barriers": "wmb before go, rmb between done and ret",
        "robust": "no crash, no fault",
    },
    "guest": {
        "guest.confidential": "no private page's plaintext in the io page",
        "guest.integrity": "guest RAM unchanged",
        "guest.gpa-checked": "a gpa outside RAM, or an ENCRYPT of the mailbox, is not answered success",
        "guest.refusal-reported": "a DECRYPT into the mailbox or an unknown command is not answered success",
        "barriers": "rmb after go, wmb before done",
        "robust": "no crash",
        "honest": "every command of an honest host succeeds",
    },
}


def unrun_checks(case: Case, operations: frozenset[str]) -> list[str]:
    """What of ``case`` an implementation with only these host ``operations`` leaves unrun."""
    return [what for op, what in case.needs if op not in operations]


# ====================================================================== schedules (drawn data)
# Each schedule slot or element is drawn from tables (``st.sampled_from``) rather than as a ``one_of``
# of tuples of draws: the same distribution (every branch of a choice keeps its share), a third to
# a half of the choices per element and no branch filtering, so an example costs less
# (docs/ckit.md, "Speed"). A table lists the simplest values first: shrinking moves toward index 0.
SLEEPS = (1, D_TICKS - 1, D_TICKS, D_TICKS + 1, 2 * D_TICKS, 3 * D_TICKS)
HDR_LENS = (0, 1, 16, 67, 68, 69, 1024, 1025, 4096, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)
DONE_VALUES = (0, 1, 2, -1, "+0", "+1", "-1", 0x7FFFFFFF)
RET_VALUES = (0, -1, -2, 7, 0x7FFFFFFF, -(1 << 31))


def weighted(*branches: Sequence[Any]) -> tuple:
    """One table of the values of ``branches``, each branch the same share of it (as
    ``st.one_of`` gives each of its strategies) and each value its branch's share split evenly:
    values repeat, a branch of n values n' / n times where n' is the least common multiple."""
    n = math.lcm(*(len(b) for b in branches))
    return tuple(v for b in branches for v in b for _ in range(n // len(b)))


#: access indices: the first ones (a command's publish) drawn more often
_K = weighted(range(9), range(17))


#: stands in a table for a byte flip, whose values are drawn after it (too many for a table)
_FLIP = ("flip",)


def _action_table(behaviours: Sequence[str]) -> tuple:
    """The peer actions a list schedule draws from, each behaviour's alternatives weighed as one
    ``one_of`` of them all would weigh them (a byte flip as :data:`_FLIP`)."""
    acts: list[Sequence[Any]] = []
    for b in behaviours:
        if b == "slow":
            acts += [[("sleep", s) for s in SLEEPS], [("serve",)], [("serve",)], [("wake",)]]
        elif b == "silent":
            acts += [[("silent",)], [("wake",)]]
        elif b == "header":
            acts += [[("hdr_len", n) for n in HDR_LENS]]
        elif b == "hostile-ret":
            acts += [[("write", "ret", v) for v in RET_VALUES], [("sleep", s) for s in SLEEPS]]
        elif b == "hostile":
            acts += [[("write", "done", v) for v in DONE_VALUES], [("write", "ret", v) for v in RET_VALUES],
                     [("write", f, v) for f in ("go", "cmd_type", "gpa") for v in range(-1, 6)], [("serve",)],
                     [_FLIP]]
    return weighted(*acts) if acts else ()


_FLIP_WHERE = st.sampled_from(("io", "hdr"))
_FLIP_AT = st.integers(0, 4095)
_FLIP_MASK = st.integers(1, 255)


def _element(behaviours: Sequence[str]) -> st.SearchStrategy:
    """One ``(k, action)``: two draws from tables, three more for a byte flip's page, offset and mask."""
    acts = st.sampled_from(_action_table(behaviours))
    k = st.sampled_from(_K)
    if "hostile" not in behaviours:
        return st.tuples(k, acts)

    @st.composite
    def element(draw: Callable[[st.SearchStrategy], Any]) -> tuple:
        at, act = draw(k), draw(acts)
        if act is _FLIP:
            act = ("flip", draw(_FLIP_WHERE), draw(_FLIP_AT), draw(_FLIP_MASK))
        return at, act

    return element()


#: a slow operation's two slots, each empty half the time: asleep from early on; a late completion
SLOW_SLOTS = (weighted([None], [(k, ("sleep", s)) for k in range(4) for s in SLEEPS]),
              weighted([None], [(k, a) for k in range(11) for a in (("serve",), ("serve",), ("wake",))]))


def _slow_schedule() -> st.SearchStrategy:
    """Slow helper: maybe asleep from early in the operation, maybe a late completion at k."""
    sleep, serve = (st.sampled_from(t) for t in SLOW_SLOTS)
    return st.builds(lambda a, b: [x for x in (a, b) if x is not None], sleep, serve)


def _header_schedule() -> st.SearchStrategy:
    """Hostile header length: maybe one value early (before the check), maybe one later (between
    check and use), at the indices of a save's header reads with or without an INIT first."""
    early = st.sampled_from(weighted([None], [(k, ("hdr_len", n)) for k in range(9) for n in HDR_LENS]))
    late = st.sampled_from(weighted([None], [(k, ("hdr_len", n)) for k in (9, 10, 11, 12, 18, 19, 20, 21)
                                             for n in HDR_LENS]))
    return st.builds(lambda a, b: [x for x in (a, b) if x is not None], early, late)


def _ret_schedule() -> st.SearchStrategy:
    """Hostile result, in every operation: the helper asleep from early on (a timeout) and/or ret
    rewritten, mostly where a host reads it (just after done, for an INIT and the command after).
    Never empty: an empty schedule is what Hypothesis draws first, and this case has nothing to
    find in an operation left alone."""
    sleep = [(k, ("sleep", s)) for k in range(4) for s in SLEEPS]
    ret = [(k, ("write", "ret", v)) for k in weighted((7, 8, 9, 16, 17, 18), range(25)) for v in RET_VALUES]
    return st.lists(st.sampled_from(weighted(sleep, ret)), min_size=1, max_size=2)


def host_schedules(case: Case) -> st.SearchStrategy:
    if case.behaviours in (("honest",), ("boot",)):
        return st.just([])
    if case.behaviours in (("slow",), ("slow", "boot")):
        return _slow_schedule()
    if case.behaviours == ("header",):
        return _header_schedule()
    if case.behaviours == ("hostile-ret",):
        return _ret_schedule()
    return st.lists(_element(case.behaviours), max_size=3)


def guest_schedules(case: Case) -> st.SearchStrategy:
    acts: list[Sequence[Any]] = []
    if "hostile-host" in case.behaviours:
        acts += [[("param", "gpa", g) for g in (val.G0, val.G1, val.MAILBOX, val.OUTSIDE)],
                 # every command, INIT included (a repeated INIT keeps the session; one after a
                 # RESET opens the next: docs/hardened.md, "Sessions and replays")
                 [("param", "cmd_type", c) for c in range(6)],
                 [("go",)]]
    k = st.integers(0, 12)
    if "tamper" in case.behaviours:
        if acts:
            raise ValueError(f"{case.id}: a byte flip and hostile parameters in one schedule are not drawn")
        return st.lists(st.tuples(k, st.tuples(st.just("flip"), _FLIP_AT, _FLIP_MASK)), max_size=2)
    if not acts:
        return st.just([])
    return st.lists(st.tuples(k, st.sampled_from(weighted(*acts))), max_size=2)


# ====================================================================== failures
class ConformanceFailure(AssertionError):
    """A case's property failed (or, as :class:`Deviation`, the implementation left its model)."""

    def __init__(self, case: Case, prop: str, message: str, divergence: dict | None, steps: list, trace: list[str]):
        super().__init__(f"{case.id}: {prop}: {message}")
        self.case, self.prop, self.message = case, prop, message
        self.divergence, self.steps, self.trace = divergence, list(steps), list(trace)


class Deviation(ConformanceFailure):
    """The implementation made an access its model cannot explain, and no property failed
    (raised only when a run is asked to shrink a deviation: the runner's second pass)."""


def divergence_line(d: dict) -> str:
    """A divergence (``Divergence.as_dict()``) in one line: where, what the implementation did,
    what its model expected there."""
    return (f"first divergence at access #{d['access']}: implementation did `{d['observed']}`; "
            f"model at {d['model_at']} expects: {'; '.join(d['model_expects'])}")


def deviation_message(case: Case, divergence: dict, examples: int | None = None, diverged: int | None = None) -> str:
    """Exactly what was and was not checked when the only finding is a divergence."""
    k = divergence["access"]
    direct = DIRECT_CHECKS[case.side]
    to_end = [p for p in case.properties if p in direct]
    up_to = [p for p in case.properties if p not in direct]
    where = f" (in {diverged} of {examples} examples)" if examples else ""
    text = (f"no property failed; deviates from the reference procedure at access #{k}{where}: {divergence['why']}. "
            f"The model's monitors ran up to access #{k}")
    if up_to:
        text += f" (so {', '.join(up_to)} was judged only that far)"
    text += f"; the suite's direct checks ({', '.join(direct)}) ran to the end of every example"
    return text + (f" (this case's {', '.join(to_end)} among them)." if to_end else " (none of this case's properties among them).")


#: The finding of a divergence that is a wrong answer (model/observe.py ``Divergence.answer``): a
#: write the peer sees, of a value the model's step there does not write or of a field only the
#: peer writes. It fails every case, whatever its properties: no peer can call it a style.
ANSWER = "protocol.answer"
#: The last failure seen per case (Hypothesis replays the shrunk example last).
LAST: dict[str, ConformanceFailure] = {}
#: When a case first failed in the current run (time.perf_counter()), before shrinking.
FIRST: dict[str, float] = {}
#: ``ORACLE["on"] = False`` judges by properties alone (divergences are ignored; the model's
#: monitors stop at the first divergence, direct checks go on): how the mutant report tells
#: "the oracle noticed" from "a property failed".
ORACLE = {"on": True}


def _note_step(name: str, args: dict) -> None:
    """Hypothesis' note of a step, formatted only when Hypothesis prints notes (the final replay
    of a failure, or a verbose run): a run makes thousands of steps and prints none."""
    try:
        ctx = current_build_context()
    except InvalidArgument:  # outside a Hypothesis test (replay)
        return
    if ctx.is_final or _verbose():
        note(f"{name}({args})")


def checked(body: Callable[..., None]) -> Callable[..., None]:
    """A rule's body, then the machine's ``after_each_step`` (coverage events, the case's check).

    What an ``@invariant`` did, without Hypothesis' per-step invariant loop (about 20 µs a step:
    it compares Verbosity values); nothing is drawn either way, so the examples are the same."""
    @functools.wraps(body)
    def step(self: Any, *args: Any, **kwargs: Any) -> None:
        body(self, *args, **kwargs)
        self.after_each_step()
    return step


def _verbose() -> bool:
    """Whether the default settings print notes; computed once per settings object (they are
    immutable): comparing Hypothesis' Verbosity values costs about 20 µs, and a run asks at every step."""
    default = settings.default
    if default is not _VERBOSE[0]:
        _VERBOSE[:] = [default, default is not None and default.verbosity >= Verbosity.verbose]
    return _VERBOSE[1]


#: (the settings object last asked about, whether it prints notes)
_VERBOSE: list = [None, False]


def sampled(values: Sequence[Any]) -> st.SearchStrategy:
    """``st.sampled_from(values)``, built once per tuple of values: a strategy drawn from inside a
    step is otherwise built and validated anew at every draw (the same draws either way)."""
    key = tuple(values)
    strategy = _SAMPLED.get(key)
    if strategy is None:
        strategy = _SAMPLED[key] = st.sampled_from(key)
    return strategy


_SAMPLED: dict[tuple, st.SearchStrategy] = {}


def _event(text: str) -> None:
    try:
        event(text)
    except Exception:  # noqa: BLE001 - outside a Hypothesis test (replay)
        pass


def _check(case: Case, rig: Any, steps: list, *, stop_at_divergence: bool = False) -> None:
    """Raise on a property violation (with the run's divergence, if any, for the report); on a
    divergence only when ``stop_at_divergence`` (to shrink a deviation): otherwise the example
    goes on, judged by the direct checks."""
    diverged = rig.divergence is not None and ORACLE["on"]
    if any(p in rig.violations for p in case.properties) and case.id not in FIRST:
        FIRST[case.id] = time.perf_counter()
    for p in case.properties:
        if p in rig.violations:
            f = ConformanceFailure(case, p, rig.violations[p], rig.divergence.as_dict() if diverged else None,
                                   steps, rig.trace[-40:])
            LAST[case.id] = f
            _event(f"{case.id}: violated {p}")
            raise f
    if diverged and rig.divergence.answer:
        # not a matter of order: the peer reads what no conforming implementation leaves there
        d = rig.divergence.as_dict()
        f = ConformanceFailure(case, ANSWER, f"wrong answer at access #{d['access']}: {d['answer']} "
                               f"(model at {d['model_at']})", d, steps, rig.trace[-40:])
        LAST[case.id] = f
        FIRST.setdefault(case.id, time.perf_counter())
        _event(f"{case.id}: wrong answer")
        raise f
    if diverged:
        _event(f"{case.id}: divergence")
        if stop_at_divergence:
            d = rig.divergence.as_dict()
            f = Deviation(case, "divergence", deviation_message(case, d), d, steps, rig.trace[-40:])
            LAST[case.id] = f
            raise f


# ====================================================================== host machine
class HostMachine(RuleBasedStateMachine):
    """Drive an implementation's host, the suite playing the helper (reference helper + schedule)."""

    case: Case
    impl: Implementation
    #: the runner's second pass sets it, to shrink a deviation
    stop_at_divergence = False

    def __init__(self) -> None:
        super().__init__()
        self.rig = HostRig.build(self.impl, booted="boot" not in self.case.behaviours)
        self.steps: list = []
        self.latest: dict[int, Any] = {}

    def do_boot(self, at: int) -> None:
        """The helper boots just before the host's ``at``-th access (within the first deadline)."""
        self._record("boot", at=at)
        self.rig.boot_at = at

    def _record(self, name: str, **args: Any) -> None:
        self.steps.append((name, args))
        _note_step(name, args)

    def after_each_step(self) -> None:
        """Coverage events, then the case's check: run after each rule's body (:func:`checked`)."""
        self.behaviours()
        self.conforms()

    def behaviours(self) -> None:
        """Coverage: which peer behaviours ran, which model outcomes were reached."""
        for e in sorted(set(self.rig.events)):
            _event(e)
        self.rig.events.clear()
        for label in ("send.timeout", "send.prev", "save.fail", "load.fail"):
            if label in self.rig.observer.visited:
                _event(f"model reached {label}")

    def _honest(self) -> bool:
        return self.case.behaviours in (("honest",), ("boot",))

    def conforms(self) -> None:
        _check(self.case, self.rig, self.steps, stop_at_divergence=self.stop_at_divergence)

    def do_save(self, g: int, sched: list) -> None:
        self._record("save", g=g, sched=sched)
        rec = self.rig.save(g, sched)
        _event(f"save: {'record' if rec is not None else 'failed'}")
        if rec is not None and not sched:
            self.latest[g] = rec
        if self._honest():
            self.rig.progress_check(rec is not None, f"save {val.GPA_NAMES[g]}")

    def do_load(self, g: int, sched: list) -> None:
        self._record("load", g=g, sched=sched)
        rec = self.latest.pop(g)
        ok = self.rig.load(rec, sched)
        _event(f"load: {'ok' if ok else 'failed'}")
        if self._honest():
            self.rig.progress_check(ok, f"load {val.GPA_NAMES[g]}")

    def do_cleanup(self, sched: list) -> None:
        self._record("cleanup", sched=sched)
        ok = self.rig.cleanup(sched)
        if self._honest():
            self.rig.progress_check(ok, "cleanup")


def _host_machine(case: Case, impl: Implementation) -> type:
    """One rule per host operation the implementation has (``impl.operations``)."""
    sched = host_schedules(case)
    ops = impl.operations

    class M(HostMachine):
        if "boot" in case.behaviours:
            @initialize(at=st.integers(0, 9))
            @checked
            def boot(self, at: int) -> None:
                self.do_boot(at)

        if "save" in ops:
            @rule(g=st.sampled_from((val.G0, val.G1)), sched=sched)
            @checked
            def save(self, g: int, sched: list) -> None:
                self.do_save(g, sched)

        if "load" in ops:
            @precondition(lambda self: bool(self.latest))
            @rule(data=st.data(), sched=sched)
            @checked
            def load(self, data: Any, sched: list) -> None:
                self.do_load(data.draw(sampled(sorted(self.latest))), sched)

        if "cleanup" in ops:
            @rule(sched=sched)
            @checked
            def cleanup(self, sched: list) -> None:
                self.do_cleanup(sched)

    M.case, M.impl = case, impl
    M.__name__ = M.__qualname__ = "Host_" + case.id.split("/")[1].replace("-", "_")
    return M


# ====================================================================== guest machine
GPAS_RAM = (val.G0, val.G1)
GPAS_ALL = (val.G0, val.G1, val.MAILBOX, val.OUTSIDE)


class GuestMachine(RuleBasedStateMachine):
    """Drive an implementation's helper, the suite playing the host."""

    case: Case
    impl: Implementation
    stop_at_divergence = False

    def __init__(self) -> None:
        super().__init__()
        self.rig = GuestRig.build(self.impl)
        self.steps: list = []
        self.inited = False
        self.epoch = 0
        self.fresh: dict[int, tuple] = {}  # g -> (hdr, page) sealed in this epoch, not yet loaded
        self.old: list[tuple] = []  # (hdr, page, g): earlier epochs, or loaded already

    def _record(self, name: str, **args: Any) -> None:
        self.steps.append((name, args))
        _note_step(name, args)

    def after_each_step(self) -> None:
        """Coverage events, then the case's check: run after each rule's body (:func:`checked`)."""
        self.behaviours()
        self.conforms()

    def conforms(self) -> None:
        _check(self.case, self.rig, self.steps, stop_at_divergence=self.stop_at_divergence)

    def behaviours(self) -> None:
        for e in sorted(set(self.rig.events)):
            _event(e)
        self.rig.events.clear()

    def _must(self, ok: bool, what: str) -> None:
        if "honest" in self.case.properties and not ok:
            self.rig.violate("honest", f"{what} failed against an honest host")

    def do_init(self) -> None:
        self._record("init")
        ret = self.rig.new_migration()
        self.old += [(h, p, g) for g, (h, p) in self.fresh.items()]
        self.fresh.clear()
        self.inited = ret == Ret.OK
        self.epoch += 1
        self._must(ret == Ret.OK, "INIT")

    def do_reset(self) -> None:
        self._record("reset")
        ret = self.rig.command(int(Cmd.RESET), 0)
        self.inited = False
        self._must(ret == Ret.OK, "RESET")

    def do_encrypt(self, g: int, sched: list) -> None:
        self._record("encrypt", g=g, sched=sched)
        n = len(self.rig.records)
        ret = self.rig.encrypt(g, sched)
        _event(f"encrypt {val.GPA_NAMES.get(g)}: ret {ret}")
        if g in GPAS_RAM and self.inited and not sched:
            self._must(ret == Ret.OK, f"ENCRYPT {val.GPA_NAMES[g]}")
            if len(self.rig.records) > n:
                h, p, _ = self.rig.records[-1]
                if g in self.fresh:
                    self.old.append((*self.fresh[g], g))
                self.fresh[g] = (h, p)

    def do_unknown(self, cmd: int, g: int) -> None:
        self._record("unknown_command", cmd=cmd, g=g)
        ret = self.rig.command(cmd, g)
        if ret == Ret.OK:
            self.rig.violate("guest.refusal-reported", f"unknown command {cmd} reported as success")

    def do_decrypt(self, hdr: bytes, page: bytes, g: int, sched: list, fresh_at: int | None) -> None:
        ret = self.rig.decrypt(hdr, page, g, sched)
        _event(f"decrypt: ret {ret}")
        if fresh_at is not None and self.inited and not sched:
            self._must(ret == Ret.OK, f"DECRYPT of a fresh page at {val.GPA_NAMES[g]}")

    # Each step below is one rule's body, with what the rule drew as arguments; ``replay``
    # calls the same methods with a reproducer's recorded arguments.
    def do_decrypt_fresh(self, g: int, sched: list) -> None:
        """An honest load: the latest page of g, at g (the one DECRYPT that must succeed)."""
        self._record("decrypt_fresh", g=g, sched=sched)
        h, p = self.fresh.pop(g)
        self.old.append((h, p, g))
        self.do_decrypt(h, p, g, sched, fresh_at=g)

    def do_decrypt_at(self, i: int, to: int, sched: list) -> None:
        """Any page sealed so far (the fresh ones first), at any gpa."""
        self._record("decrypt_at", i=i, to=to, sched=sched)
        h, p, _ = ([(h, p, g) for g, (h, p) in sorted(self.fresh.items())] + self.old)[i]
        self.do_decrypt(h, p, to, sched, None)

    def do_decrypt_tampered(self, g: int, off: int, byte: int) -> None:
        """The fresh page of g with one byte flipped: of the page (off < 4096) or of its header."""
        self._record("decrypt_tampered", g=g, off=off, byte=byte)
        h, p = self.fresh[g]
        if off < 4096:
            p = p[:off] + bytes([p[off] ^ byte]) + p[off + 1:]
        elif h:
            j = (off - 4096) % len(h)
            h = h[:j] + bytes([h[j] ^ byte]) + h[j + 1:]
        else:
            p = bytes([p[0] ^ byte]) + p[1:]
        self.do_decrypt(h, p, g, [], None)

    def do_decrypt_moved(self, g: int, to: int) -> None:
        self._record("decrypt_moved", g=g, to=to)
        h, p = self.fresh[g]
        self.do_decrypt(h, p, to, [], None)

    def do_decrypt_replayed(self, i: int, to: int) -> None:
        self._record("decrypt_replayed", i=i, to=to)
        h, p, _ = self.old[i]
        self.do_decrypt(h, p, to, [], None)


def _guest_machine(case: Case, impl: Implementation) -> type:
    sched = guest_schedules(case)
    b = case.behaviours
    targets = GPAS_ALL if "gpa" in b or "hostile-host" in b else GPAS_RAM

    class M(GuestMachine):
        @initialize()
        @checked
        def first_init(self) -> None:
            self.do_init()

        @rule()
        @checked
        def init(self) -> None:
            self.do_init()

        @rule()
        @checked
        def reset(self) -> None:
            self.do_reset()

        @rule(g=st.sampled_from(targets), sched=sched)
        @checked
        def encrypt(self, g: int, sched: list) -> None:
            self.do_encrypt(g, sched)

        @precondition(lambda self: bool(self.fresh))
        @rule(data=st.data(), sched=sched)
        @checked
        def decrypt_fresh(self, data: Any, sched: list) -> None:
            self.do_decrypt_fresh(data.draw(sampled(sorted(self.fresh))), sched)

        if "gpa" in b or "hostile-host" in b:
            @precondition(lambda self: bool(self.fresh) or bool(self.old))
            @rule(data=st.data(), to=st.sampled_from(GPAS_ALL), sched=sched)
            @checked
            def decrypt_at(self, data: Any, to: int, sched: list) -> None:
                self.do_decrypt_at(data.draw(st.integers(0, len(self.fresh) + len(self.old) - 1)), to, sched)

            @rule(cmd=st.sampled_from((4, 5, 99, 0x7FFFFFFF, -1 & 0xFFFFFFFFFFFFFFFF)), g=st.sampled_from(GPAS_ALL))
            @checked
            def unknown_command(self, cmd: int, g: int) -> None:
                self.do_unknown(cmd, g)

        if "tamper" in b:
            @precondition(lambda self: bool(self.fresh))
            @rule(data=st.data(), off=st.integers(0, 4095 + 68), byte=st.integers(1, 255))
            @checked
            def decrypt_tampered(self, data: Any, off: int, byte: int) -> None:
                self.do_decrypt_tampered(data.draw(sampled(sorted(self.fresh))), off, byte)

        if "moved" in b:
            @precondition(lambda self: bool(self.fresh))
            @rule(data=st.data())
            @checked
            def decrypt_moved(self, data: Any) -> None:
                g = data.draw(sampled(sorted(self.fresh)))
                self.do_decrypt_moved(g, val.G1 if g == val.G0 else val.G0)

        if "replay" in b:
            @precondition(lambda self: bool(self.old))
            @rule(data=st.data(), to=st.sampled_from(GPAS_RAM))
            @checked
            def decrypt_replayed(self, data: Any, to: int) -> None:
                self.do_decrypt_replayed(data.draw(st.integers(0, len(self.old) - 1)), to)

    M.case, M.impl = case, impl
    M.__name__ = M.__qualname__ = "Guest_" + case.id.split("/")[1].replace("-", "_")
    return M


def machine(case: Case, impl: Implementation) -> type:
    """The state machine class for one case against one implementation."""
    M = _host_machine(case, impl) if case.side == "host" else _guest_machine(case, impl)
    M.__module__ = MACHINE_MODULE
    return M


#: The module the machine classes say they come from: none that exists. Hypothesis derives a
#: derandomized run's seed from the class (``function_digest``): its source when
#: ``inspect.getsource`` finds it, else its name. Our classes are renamed per case, so Python 3.11
#: parses all of this file, looks for a class of that name, finds none and falls back to the name,
#: 52 ms per run; with no such module ``getsource`` gives up at once (the same fallback, the same
#: seed, the same examples), and a Python whose ``getsource`` could find a renamed class
#: (through ``__firstlineno__``) does not draw other examples for it.
MACHINE_MODULE = f"{__name__}.<per-case machines>"


# ====================================================================== replay
def replay(case_id: str, impl: Implementation | str, steps: Sequence[tuple[str, dict]]) -> ConformanceFailure | None:
    """Run a reproducer (steps as data, as a failure prints them) without Hypothesis.

    Returns the failure (a :class:`Deviation` when the only finding is a divergence: after
    the last step, as the runner judges it), or None if the steps now pass.
    """
    from .adapter import IMPLEMENTATIONS

    if isinstance(impl, str):
        impl = IMPLEMENTATIONS[impl]
    case = BY_ID[case_id]
    M = machine(case, impl)
    m = M.__new__(M)
    (HostMachine if case.side == "host" else GuestMachine).__init__(m)
    for name, a in steps:  # each step is the machine's own method for that rule
        step = getattr(m, f"do_{'unknown' if name == 'unknown_command' else name}", None)
        if step is None:
            raise ValueError(f"unknown step {name!r} for a {case.side} case")
        if case.side == "host" and name in HOST_OPERATIONS and name not in impl.operations:
            raise ValueError(f"{impl.name} has no {name} operation")
        step(**{k: [tuple(x) for x in v] if k == "sched" else v for k, v in a.items()})
        try:
            _check(case, m.rig, list(steps))
        except ConformanceFailure as f:
            return f
    try:
        _check(case, m.rig, list(steps), stop_at_divergence=True)
    except ConformanceFailure as f:
        return f
    return None
