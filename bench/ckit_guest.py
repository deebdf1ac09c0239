"""C kit throughput on a C helper: examples/s per guest case, and the cost of one command.

    python bench/ckit_guest.py [FILE.c ...] [--protocol hardened] [--entry NAME] [--examples N]
                               [--shrink-seconds S] [--case ID] [--python] [--no-speedups] [--jobs N]

With no file: our hardened C helper (examples/c/hardened-helper/) at 200 examples per case, the
acceptance run of docs/ckit.md. Per case: the verdict (and property), the examples Hypothesis ran
(shrinking included), wall and CPU seconds (this process and the C helpers) and examples/s. Then
the wall time of honest commands (INIT, ENCRYPT, DECRYPT) through the kit and through the Python
helper, and the mailbox accesses each takes. ``--python``: each case for the Python helper too.
"""
from __future__ import annotations

import argparse
import os
import time

from ckit_host import add_run_options, as_asked, cases, load  # bench/ is the script's directory

from mhmailbox.conformance.adapter import IMPLEMENTATIONS
from mhmailbox.conformance.ckit import c_guest
from mhmailbox.conformance.rig import GuestRig
from mhmailbox.model import values as val

HARDENED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "examples", "c", "hardened-helper", "ConfidentialMigrationHardened.c")


def honest_commands(impl, n: int = 200) -> None:
    """Wall time per honest command (one migration: INIT, then ENCRYPT and DECRYPT of G0 n times)."""
    print(f"honest commands; {load()}", flush=True)
    for im in (impl, IMPLEMENTATIONS[impl.protocol]):
        rig = GuestRig.build(im)
        t0 = time.perf_counter()
        assert rig.new_migration() == 0
        for _ in range(n):
            assert rig.encrypt(val.G0) == 0
            hdr, page, _ = rig.records[-1]
            assert rig.decrypt(hdr, page, val.G0) == 0
        dt = time.perf_counter() - t0
        ahead = f", {rig.guest.ran_ahead / (2 * n + 1):.1f} of its reads run ahead" if im is impl else ""
        print(f"{im.name:32} {2 * n + 1} honest commands: {dt / (2 * n + 1) * 1e6:7.0f} us each, "
              f"{rig.accesses / (2 * n + 1):.1f} mailbox accesses each{ahead}", flush=True)
        if im is impl:
            impl.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*", default=[HARDENED])
    p.add_argument("--protocol", default="hardened")
    p.add_argument("--entry", default="MigrationHandlerMain")
    add_run_options(p, examples=200, side="helper")
    a = p.parse_args()
    impl = as_asked(c_guest(a.files, a.protocol, entry=a.entry), a)
    honest_commands(impl)
    cases(impl, a.examples, a.shrink_seconds, a.case, side="guest", python=a.python, jobs=a.jobs)


if __name__ == "__main__":
    main()
