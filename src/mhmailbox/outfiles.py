"""Files a user names on the command line (reports, streams).

Checked before the long work starts, so a bad path costs one line, not a whole run;
written through a temporary file in the same directory and renamed, so a failed
write never leaves a half report and never loses the one already there.
"""
from __future__ import annotations

import os
import tempfile

from mhmailbox.errors import UsageError


def check_output(path: str, *, force: bool, what: str) -> None:
    """UsageError unless ``path`` can be written: its directory exists and is writable,
    it is not a directory, and (without ``force``) it does not exist yet."""
    if not path:
        raise UsageError(f"{what}: an empty file name")
    if os.path.isdir(path):
        raise UsageError(f"{what}: {path} is a directory")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"{what}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{what}: directory {parent} is not writable")
    if os.path.lexists(path) and not force:
        raise UsageError(f"{what}: {path} exists (use --force to overwrite it)")


def write_atomically(path: str, data: str | bytes) -> None:
    """Write ``data`` to ``path`` in one step: a temporary file beside it, then a rename."""
    parent = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would hide a report from its readers
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
