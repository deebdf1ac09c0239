"""What a run's derandomized seed comes from: Hypothesis' digest of the machine class and of its
runner's test, computed without re-reading sources at every run and equal to Hypothesis' own."""
from __future__ import annotations

import inspect

import pytest
from hypothesis import core as hypothesis_core
from hypothesis.internal.reflection import function_digest

from mhmailbox.conformance.adapter import IMPLEMENTATIONS
from mhmailbox.conformance.cases import BY_ID, machine
from mhmailbox.conformance.runner import _DIGESTS, remembered_digests


def test_a_machine_class_has_no_source_to_find() -> None:
    """getsource gives up at once (no module to read), so its digest is its name's: the one
    Hypothesis fell back to after parsing cases.py for a class of that name."""
    M = machine(BY_ID["host/honest"], IMPLEMENTATIONS["hardened"])
    with pytest.raises(TypeError):
        inspect.getsource(M)

    class Same:  # same name and signature, nothing else: the digest the fallback gives
        def __init__(self) -> None:
            pass

    Same.__name__ = Same.__qualname__ = M.__name__  # (inspect finds no class of that name in this file)
    assert function_digest(M) == function_digest(Same) != function_digest(machine(BY_ID["guest/honest"], "hardened"))


def test_remembered_digests_are_hypothesis_digests_computed_once(monkeypatch) -> None:
    calls: list = []

    def counted(f):
        calls.append(f)
        return function_digest(f)

    def a() -> None:
        pass

    def b() -> None:
        pass

    monkeypatch.setattr(hypothesis_core, "function_digest", counted)
    monkeypatch.setattr(a, "_hypothesis_internal_add_digest", b"one", raising=False)
    _DIGESTS.clear()
    with remembered_digests():
        first = hypothesis_core.function_digest(a)
        assert hypothesis_core.function_digest(a) == first == function_digest(a)
        assert len(calls) == 1  # the second time from memory
        a._hypothesis_internal_add_digest = b"two"  # another machine: another digest, computed
        assert hypothesis_core.function_digest(a) == function_digest(a) != first
        assert hypothesis_core.function_digest(b) == function_digest(b)
        assert len(calls) == 3
    assert hypothesis_core.function_digest is counted  # put back after the run
