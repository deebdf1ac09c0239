"""A progress line for long runs (``verify``, ``conform``, ``prove``): on stderr when it is a
terminal, one line rewritten in place (items done/total, elapsed time, the current item),
cleared at the end; nothing at all when stderr is a file or a pipe, so logs and CI output
stay clean.

Usage::

    with Progress(len(cells)) as progress:
        for cell in cells:
            progress.start(name)          # the item now running
            result = run(cell)
            with progress.paused():       # a line of the report: the progress line steps aside
                print(result)
            progress.finish()             # one more done

A daemon thread redraws the line once a second, so the elapsed time moves during a long
item. It writes with ``os.write`` on the stream's descriptor, never through Python's
buffered stream, so a worker forked meanwhile never inherits a held stream lock.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
import time
from typing import IO, Iterator

#: back to the line's start, and erase to its end (ANSI; every terminal emulator in use)
CLEAR = "\r\x1b[K"


class Progress:
    """Items done out of ``total`` on ``stream`` (default: stderr), if it is a terminal."""

    def __init__(self, total: int, *, stream: IO[str] | None = None, interval: float = 1.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.enabled = bool(self.stream.isatty())
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            self.enabled = False
        self.total = total
        self.done = 0
        self.current = ""
        self.t0 = time.monotonic()
        self._lock = threading.Lock()
        self._shown = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.enabled and interval > 0:
            self._thread = threading.Thread(target=self._tick, args=(interval,), name="progress", daemon=True)
            self._thread.start()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, item: str) -> None:
        """``item`` is running now."""
        with self._lock:
            self.current = item
            self._draw()

    def finish(self, item: str | None = None) -> None:
        """One more item done (``item``: what to show next to the count, e.g. the one just done)."""
        with self._lock:
            self.done += 1
            if item is not None:
                self.current = item
            self._draw()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Clear the line while the caller prints to the terminal, then draw it again."""
        with self._lock:
            self._clear()
            try:
                yield
            finally:
                self._draw()

    def close(self) -> None:
        """Stop redrawing and clear the line (idempotent)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            self._clear()
            self.enabled = False

    def text(self) -> str:
        seconds = int(time.monotonic() - self.t0)
        return f"[{self.done}/{self.total}] {seconds // 60}:{seconds % 60:02d} {self.current}".rstrip()

    def _tick(self, interval: float) -> None:
        while not self._stop.wait(interval):
            with self._lock:
                self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        self._write(CLEAR + self.text()[: self._width() - 1])
        self._shown = True

    def _clear(self) -> None:
        if self.enabled and self._shown:
            self._write(CLEAR)
            self._shown = False

    def _width(self) -> int:
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or 80
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return 80

    def _write(self, text: str) -> None:
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            self.stream.write(text)
            self.stream.flush()
            return
        with contextlib.suppress(OSError):  # the terminal went away: progress is not worth an error
            os.write(fd, text.encode(errors="replace"))
