"""Injectable time, so that host timeouts are deterministic under test.

The host never calls :mod:`time` directly: it asks a :class:`Clock`. In production
that is :class:`MonotonicClock`; a test harness passes a :class:`VirtualClock` and
advances it itself (or lets the host's polling advance it one quantum per burst), so
"the host returns within deadline + one polling quantum" is an exact, repeatable fact.
"""
from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

import attrs


@runtime_checkable
class Clock(Protocol):
    """Where a host (or a helper's idle back-off) gets its time from."""

    def now(self) -> float:
        """Seconds on a monotonic scale (the origin is arbitrary)."""

    def spent(self, seconds: float) -> None:
        """The caller just busy-polled for about ``seconds`` (one burst).

        A real clock ignores this (the time passed by itself); a virtual clock advances,
        which is what makes a polling loop terminate in virtual time.
        """

    def sleep(self, seconds: float) -> None:
        """Yield the CPU for ``seconds`` (0: just let another runnable thread in; virtual: advance)."""

    def relax(self) -> None:
        """The caller has been waiting a while: give the CPU away briefly (tens of us).

        Real clock: a short sleep, so a peer sharing our core (or another job) runs and a
        wake-up brings us back promptly; virtual clock: nothing (time moves by ``spent``).
        """


class MonotonicClock:
    """The real clock: ``time.monotonic``; bursts cost real time, so ``spent`` is a no-op."""

    now = staticmethod(time.monotonic)  # a builtin: no Python frame on the hot path
    sleep = staticmethod(time.sleep)

    def spent(self, seconds: float) -> None:
        pass

    def relax(self) -> None:
        time.sleep(20e-6)


@attrs.define
class VirtualClock:
    """A clock only the harness moves: ``advance``, or one quantum per polling burst."""

    t: float = 0.0

    def now(self) -> float:
        return self.t

    def spent(self, seconds: float) -> None:
        self.t += seconds

    def sleep(self, seconds: float) -> None:
        self.t += seconds

    def relax(self) -> None:
        pass

    def advance(self, seconds: float) -> None:
        """Move time forward (e.g. from an access hook, to model a slow peer)."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self.t += seconds
