"""Conformance-suite throughput: Hypothesis examples per second and model-checked steps per second.

    python bench/conformance.py [--examples N] [--impl hardened]

Two figures per side: the whole suite (Hypothesis generation, the implementation, the rig and
the model oracle together; every case passes against hardened, so no shrinking distorts it),
and the oracle alone (an honest lockstep run with the observer on, model steps per second).
"""
from __future__ import annotations

import argparse
import time

from mhmailbox.conformance.adapter import IMPLEMENTATIONS
from mhmailbox.conformance.cases import CASES
from mhmailbox.conformance.rig import GuestRig, HostRig
from mhmailbox.conformance.runner import run_case


def suite(impl: str, examples: int) -> None:
    for side in ("host", "guest"):
        ex = steps = acc = 0
        secs = 0.0
        for c in CASES:
            if c.side != side:
                continue
            r = run_case(c, impl, examples=examples)
            ex, steps, acc, secs = ex + r.examples, steps + r.model_steps, acc + r.accesses, secs + r.seconds
        print(f"suite  {impl:9} {side:5}: {ex:6} examples in {secs:6.2f} s = {ex / secs:7.1f} examples/s, "
              f"{steps / secs:9.0f} model steps/s, {acc / secs:9.0f} implementation accesses/s")


def oracle(impl: str, ops: int = 300) -> None:
    t0 = time.perf_counter()
    rig = HostRig.build(IMPLEMENTATIONS[impl])
    for i in range(ops):
        rec = rig.save(i % 2)
        assert rec is not None and rig.load(rec)
    secs = time.perf_counter() - t0
    assert rig.divergence is None
    print(f"oracle {impl:9} host : {rig.observer.steps:6} model steps, {rig.accesses} accesses in {secs:.2f} s = "
          f"{rig.observer.steps / secs:9.0f} model steps/s ({2 * ops / secs:6.0f} operations/s)")
    t0 = time.perf_counter()
    g = GuestRig.build(IMPLEMENTATIONS[impl])
    g.new_migration()
    for i in range(ops):
        g.encrypt(i % 2)
        hdr, page, gg = g.records[-1]
        assert g.decrypt(hdr, page, gg) == 0
    secs = time.perf_counter() - t0
    assert g.divergence is None
    print(f"oracle {impl:9} guest: {g.observer.steps:6} model steps, {g.accesses} accesses in {secs:.2f} s = "
          f"{g.observer.steps / secs:9.0f} model steps/s ({2 * ops / secs:6.0f} commands/s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=100)
    ap.add_argument("--impl", action="append", choices=sorted(IMPLEMENTATIONS))
    args = ap.parse_args()
    for impl in args.impl or ["hardened"]:
        oracle(impl)
        suite(impl, args.examples)


if __name__ == "__main__":
    main()
