"""Pages per second through real helper processes: source save, target load, end to end.

Save: the hardened source host (pipelined ``save_pages``) with AES-256-GCM in the
helper, records written to a stream file in /dev/shm (or the temp dir). Load: the
strict decoder feeding the target host (pipelined ``load_pages``), authenticated
decryption in the target helper. End to end: pages / (save + load) time; the
verification and helper start-up are outside the timed region. Best of ``--rounds``.

    python bench/migrate.py [--json] [--ram 64MiB] [--mode hardened] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from mhmailbox.impl.cli import parse_size
from mhmailbox.impl.migrate import run_migration


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--ram", default="64MiB")
    ap.add_argument("--mode", choices=("hardened", "rfc"), default="hardened")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args(argv)
    ram = parse_size(a.ram)
    d = "/dev/shm" if os.path.isdir("/dev/shm") else None
    reps = []
    for i in range(a.rounds):
        path = os.path.join(d or "/tmp", f"mhmailbox-bench-{os.getpid()}-{i}.bin")
        try:
            reps.append(run_migration(ram, a.mode, stream_path=path))
        finally:
            if os.path.exists(path):
                os.unlink(path)
    if not all(r.verified for r in reps):
        print("error: target RAM differs from source RAM", file=sys.stderr)
        return 1
    pages = reps[0].pages
    best_save = min(r.save_seconds for r in reps)
    best_load = min(r.load_seconds for r in reps)
    best = min(reps, key=lambda r: r.seconds)
    out = {
        "save_pages_per_s": round(pages / best_save, 1),
        "load_pages_per_s": round(pages / best_load, 1),
        "end_to_end_pages_per_s": round(pages / best.seconds, 1),
        "end_to_end_seconds": round(best.seconds, 4),
        "end_to_end_median_pages_per_s": round(pages / sorted(r.seconds for r in reps)[len(reps) // 2], 1),
        "pages": pages,
        "ram_bytes": ram,
        "mode": a.mode,
        "rounds": a.rounds,
        "verified": True,
        "plaintext_pages_in_stream": best.plaintext_pages_in_stream,
        "cpus": os.cpu_count(),
    }
    if a.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:32} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
