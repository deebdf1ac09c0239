"""Files a user names on the command line (reports, streams).

Checked before the long work starts, so a bad path costs one line, not a whole run;
written through a temporary file in the same directory and renamed, so a failed
write never leaves a half report and never loses the one already there.
"""
from __future__ import annotations

import os
import stat
import tempfile

from mhmailbox.errors import UsageError


def check_output(path: str, *, force: bool, what: str, pipe_ok: bool = True) -> None:
    """UsageError unless ``path`` can be written: its directory exists and is writable,
    it is not a directory, and (without ``force``) it does not exist yet. A pipe or a
    device is accepted when ``pipe_ok`` (a report), refused otherwise (a file read back)."""
    if not path:
        raise UsageError(f"{what}: an empty file name")
    if os.path.isdir(path):
        raise UsageError(f"{what}: {path} is a directory")
    if _is_stream(path):
        if not pipe_ok:
            raise UsageError(f"{what}: {path} is not a regular file")
        return  # a pipe or a device (/dev/stdout): written in place, nothing to overwrite
    parent = os.path.dirname(os.path.realpath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"{what}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{what}: directory {parent} is not writable")
    if os.path.lexists(path) and not force:
        raise UsageError(f"{what}: {path} exists (use --force to overwrite it)")


def write_atomically(path: str, data: str | bytes) -> None:
    """Write ``data`` to ``path`` in one step: a temporary file beside it, then a rename.

    A symbolic link keeps pointing where it did (its target is replaced); a pipe or a
    device is written in place (renaming onto /dev/stdout would replace the link, onto
    a device the node itself)."""
    data = data.encode("utf-8") if isinstance(data, str) else data
    if _is_stream(path):
        with open(path, "wb") as fh:
            fh.write(data)
        return
    path = os.path.realpath(path)
    parent = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would hide a report from its readers
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _is_stream(path: str) -> bool:
    """An existing pipe, socket or device (after links): not a file to replace."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode) and not stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False
