"""A tiny process speaking mhmailbox-wire 1 badly or oddly on purpose, for fast tests of the wire's error paths.

``python wire_peer.py MODE``: says hello (except ``bad-hello``), then on its first operation:

* ``die``: prints a last word on stderr and exits with status 3;
* ``garbage``: prints a line that is not JSON;
* ``unknown``: an event the wire does not have;
* ``silent``: sends nothing, for ever;
* ``spin``: reads done for ever, never reading the clock;
* ``ignore-clock``: reads done and the clock for ever (a deadline it ignores);
* ``wild-write``: writes 4 bytes past the shared area;
* ``refuse``: every operation fails cleanly;
* ``bad-result``: a result that is neither ok nor failed;
* ``bad-record``: a save's result whose ``page`` is not hex;
* ``mirror``: reads hdr.len, then writes go = 7, then fails cleanly saying what the answer
  and the mapped file held (``answer <hex> file <hex>``);
* ``bad-hello``: answers the hello with another version.
"""
from __future__ import annotations

import json
import mmap
import os
import sys
import time


def say(d: dict) -> None:
    sys.stdout.write(json.dumps(d) + "\n")
    sys.stdout.flush()


def ask(d: dict) -> dict:
    say(d)
    return json.loads(sys.stdin.readline())


def main(mode: str) -> None:
    hello = json.loads(sys.stdin.readline())
    if mode == "bad-hello":
        say({"wire": "mhmailbox-wire 0"})
        return
    ops = ["init", "save", "load", "cleanup"] if hello["side"] == "host" else ["start", "poll", "provision"]
    say({"wire": hello["wire"], "name": f"wire_peer {mode}", "operations": ops})
    with open(os.environ["MHWIRE_MAILBOX"], "r+b") as f:
        shm = mmap.mmap(f.fileno(), 8192)
    for line in sys.stdin:
        op = json.loads(line)
        if mode == "die":
            print("wire_peer: giving up", file=sys.stderr, flush=True)
            sys.exit(3)
        elif mode == "garbage":
            print("this is not json", flush=True)
        elif mode == "unknown":
            say({"ev": "jump", "off": 0})
        elif mode == "silent":
            time.sleep(3600)
        elif mode == "spin":
            while True:
                ask({"ev": "read", "off": 0x1C, "len": 4})
        elif mode == "ignore-clock":
            while True:
                ask({"ev": "read", "off": 0x1C, "len": 4})
                ask({"ev": "clock"})
        elif mode == "wild-write":
            say({"ev": "write", "off": 8190, "data": "00000000"})
            ask({"ev": "clock"})
        elif mode == "refuse":
            say({"result": "failed", "error": f"{op['op']} refused by wire_peer"})
        elif mode == "bad-result":
            say({"result": "maybe"})
        elif mode == "bad-record":
            say({"result": "ok", "hdr_len": 0, "header": "", "page": "zz"})
        elif mode == "mirror":
            data = ask({"ev": "read", "off": 0x800, "len": 4})["data"]
            say({"ev": "write", "off": 0x18, "data": "07000000"})
            say({"result": "failed", "error": f"answer {data} file {shm[0x800:0x804].hex()}"})


if __name__ == "__main__":
    main(sys.argv[1])
