"""The C kit: check a C host file or an EDK2-style C helper, unedited, with the conformance suite.

``c_host(files, protocol)`` builds the file(s) against the kit's QEMU stand-ins and
runtime and returns an :class:`~mhmailbox.conformance.adapter.Implementation` that
``run_case``/``replay`` take as they are; :func:`run_c_case` adds what a C file may lack
(a case needing a load the file does not have is ``skipped``). ``c_guest(files, protocol)``
does the same for a helper (its entry ``MigrationHandlerMain`` run in its own process). docs/ckit.md.
"""
from .guest import CGuestImplementation, c_guest
from .host import CHostImplementation, c_host
from .run import CResult, run_c_case

__all__ = ["CGuestImplementation", "CHostImplementation", "CResult", "c_guest", "c_host", "run_c_case"]
