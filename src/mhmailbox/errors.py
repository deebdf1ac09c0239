"""Errors shared by every subcommand."""


class UsageError(Exception):
    """A mistake of the user's (bad argument, unreadable or malformed file): exit 2, one line, no traceback."""
