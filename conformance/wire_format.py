"""The names of the wire format (docs/wire.md), apart, so that a process speaking it imports nothing heavy."""

#: The format's name and version, in both hello lines.
WIRE_VERSION = "mhmailbox-wire 1"
#: Host operations a process may declare in its hello.
WIRE_OPERATIONS = ("init", "save", "load", "cleanup")
#: Helper operations (every helper has them all).
GUEST_OPERATIONS = ("start", "poll", "provision")
