"""The progress line: on a terminal (a pseudo-terminal here) it shows and is cleared at the end;
into a pipe or a file there is none."""
from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys

import pytest

from mhmailbox.progress import CLEAR, Progress

VERIFY = ["verify", "--variant", "hardened", "--memory", "sc", "--depth", "4", "--no-trace"]
CONFORM = ["conform", "--case", "host/honest", "--case", "guest/honest", "--examples", "2"]


def run_with_stderr_on_a_terminal(argv: list[str]) -> tuple[int, str, str]:
    """Run ``mhmailbox ARGV`` with stderr on a pseudo-terminal and stdout on a pipe."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mhmailbox", *argv], stdout=subprocess.PIPE, stderr=slave,
                            stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal's last writer
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    out = proc.stdout.read().decode()
    status = proc.wait()
    os.close(master)
    return status, out, seen.decode(errors="replace")


@pytest.mark.parametrize("argv,total", [(VERIFY + ["--jobs", "1"], 5), (VERIFY + ["--jobs", "2"], 5), (CONFORM, 2)],
                         ids=["verify", "verify-jobs", "conform"])
def test_progress_shows_on_a_terminal_and_is_cleared(argv: list[str], total: int) -> None:
    status, out, err = run_with_stderr_on_a_terminal(argv)
    assert status == 0, err
    assert f"\r\x1b[K[0/{total}] 0:00 " in err and f"\r\x1b[K[{total}/{total}] 0:" in err
    assert err.endswith(CLEAR)  # the line is gone when the report prints
    assert "\x1b" not in out and "\r" not in out and out.strip()  # the report itself is clean


@pytest.mark.parametrize("argv", [VERIFY + ["--jobs", "2"], CONFORM], ids=["verify", "conform"])
def test_no_progress_into_a_pipe(argv: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "mhmailbox", *argv], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stderr == ""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_line_counts_names_and_steps_aside() -> None:
    term = Terminal()
    with Progress(3, stream=term, interval=0) as progress:
        progress.start("cell a")
        assert term.getvalue().endswith(CLEAR + "[0/3] 0:00 cell a")
        progress.finish()
        with progress.paused():
            assert term.getvalue().endswith(CLEAR)  # cleared while the report prints
            term.write("a report line\n")
        assert term.getvalue().endswith("a report line\n" + CLEAR + "[1/3] 0:00 cell a")
        progress.finish("done: b")
        assert term.getvalue().endswith("[2/3] 0:00 done: b")
    assert term.getvalue().endswith(CLEAR)
    progress.start("late")  # after the end: nothing more
    assert term.getvalue().endswith(CLEAR)


def test_nothing_written_when_not_a_terminal() -> None:
    stream = io.StringIO()
    with Progress(2, stream=stream) as progress:
        progress.start("x")
        progress.finish()
        with progress.paused():
            pass
    assert stream.getvalue() == ""
