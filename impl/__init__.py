"""The concrete implementation: a host (VMM) and a guest migration helper, rfc and hardened.

Written independently of :mod:`mhmailbox.model`; only ``model/layout.py`` is shared.
See docs/implementation.md. The public surface, for adapters and tests:

* memory: :class:`MappedFile`, :class:`DirectPort`, :class:`InstrumentedPort`, :class:`Access`
* time: :class:`Clock`, :class:`MonotonicClock`, :class:`VirtualClock`
* sides: :class:`Host`, :class:`Reply`, :class:`GuestHelper`, :class:`Provision`
* stream: :class:`Record`, :class:`StreamReader`, :class:`StreamWriter`, :class:`StreamError`
* processes: :class:`HelperProcess`; lockstep pairs: :class:`Lockstep`
"""
from .clock import Clock, MonotonicClock, VirtualClock
from .crypto import Provision
from .guest import GuestHelper
from .harness import Lockstep
from .host import BadResponse, GuestFailed, HelperDied, Host, HostError, Reply, TimedOut
from .memory import Access, DirectPort, InstrumentedPort, MappedFile, MemoryFault
from .stream import Record, StreamError, StreamReader, StreamWriter

__all__ = [
    "Access", "BadResponse", "Clock", "DirectPort", "GuestFailed", "GuestHelper", "HelperDied",
    "HelperProcess", "Host", "HostError", "InstrumentedPort", "Lockstep", "MappedFile", "MemoryFault",
    "MonotonicClock", "Provision", "Record", "Reply", "StreamError", "StreamReader", "StreamWriter",
    "TimedOut", "VirtualClock",
]


def __getattr__(name: str):
    """``HelperProcess`` on first use: ``python -m mhmailbox.impl.procs`` (the foreground
    helper) would otherwise find procs already imported by this package and warn."""
    if name == "HelperProcess":
        from .procs import HelperProcess

        return HelperProcess
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
