"""Hypothesis fuzz of the strict stream decoder: >= 100k inputs, only StreamError allowed.

Inputs mix raw bytes with mutations of valid streams (byte flips, length-field
edits to the interesting values 0/1024/1025/4096/0xFFFFFFFF, truncation, appended
bytes, duplicated or swapped records). Any exception other than ``StreamError`` (or a
StreamError whose offset lies outside the input) is a failure. Prints inputs/s.

    python bench/fuzz_stream.py [--json] [--examples 100000] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from mhmailbox.impl.stream import FILE_HEADER_SIZE, Record, StreamError, decode, encode
from mhmailbox.model.layout import PAGE_SIZE

_RECS = [Record(i * PAGE_SIZE, bytes(range(i, i + 5)), bytes([i]) * PAGE_SIZE) for i in range(3)]
VALID = encode("hardened", _RECS)
REC = len(_RECS[0].encode())
INTERESTING = [0, 1, 4, 1023, 1024, 1025, 4095, 4096, 4097, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


def mutate(recipe: bytes) -> bytes:
    """Turn a drawn recipe into a decoder input, in plain Python (cheap per example,
    and Hypothesis still shrinks the recipe). recipe[0] picks the kind of mutation."""
    kind, r = recipe[0] % 6, recipe[1:]
    if kind == 0:  # raw bytes
        return r
    data = bytearray(VALID)
    if kind == 1:  # byte flips anywhere: (be16 position, new byte) triples
        for i in range(0, len(r) - 2, 3):
            data[int.from_bytes(r[i:i + 2], "big") % len(data)] = r[i + 2]
    elif kind == 2:  # a length field set to an interesting value: (record, field, value) triples
        for i in range(0, len(r) - 2, 3):
            at = FILE_HEADER_SIZE + (r[i] % 3) * REC + (12 if r[i + 1] & 1 else 16 + 5)
            data[at:at + 4] = INTERESTING[r[i + 2] % len(INTERESTING)].to_bytes(4, "big")
    elif kind == 3:  # records dropped, duplicated or swapped; maybe a matching count
        recs = [VALID[FILE_HEADER_SIZE + i * REC:FILE_HEADER_SIZE + (i + 1) * REC] for i in range(3)]
        order = [b % 3 for b in r[1:6]]
        data = bytearray(VALID[:FILE_HEADER_SIZE] + b"".join(recs[i] for i in order))
        if r[:1] and r[0] & 1:
            data[16:24] = len(order).to_bytes(8, "big")
    elif kind == 4:  # truncated, then arbitrary bytes appended
        cut = int.from_bytes(r[:2], "big") % (len(data) + 1) if len(r) >= 2 else len(data)
        data = data[:cut] + r[2:]
    else:  # flips within the file header and the first record's head
        for i in range(0, len(r) - 1, 2):
            data[r[i] % (FILE_HEADER_SIZE + 20)] = r[i + 1]
    return bytes(data)


def run(examples: int, seed_value: int) -> dict[str, object]:
    counts = {"accepted": 0, "rejected": 0}

    @seed(seed_value)
    @settings(max_examples=examples, database=None, deadline=None, derandomize=False, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(st.binary(min_size=1, max_size=48).map(mutate))
    def fuzz(data: bytes) -> None:
        try:
            hdr, recs = decode(data)
        except StreamError as e:
            if not 0 <= e.offset <= len(data):
                raise AssertionError(f"offset {e.offset} outside the input ({len(data)} bytes)") from e
            counts["rejected"] += 1
        else:
            assert len(recs) == hdr.page_count
            counts["accepted"] += 1

    t0 = time.perf_counter()
    fuzz()
    dt = time.perf_counter() - t0
    n = counts["accepted"] + counts["rejected"]
    return {"inputs": n, "seconds": round(dt, 2), "inputs_per_s": round(n / dt, 1), **counts, "failures": 0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--examples", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    out = run(a.examples, a.seed)
    if a.json:
        print(json.dumps(out))
    else:
        print(f"{out['inputs']} inputs in {out['seconds']} s: {out['inputs_per_s']} inputs/s "
              f"({out['accepted']} accepted, {out['rejected']} rejected, 0 failures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
