"""mhmailbox: model, proofs, implementation and conformance kit for the migration-helper mailbox.

The root package is deliberately thin: the work lives in the subpackages
``mhmailbox.model``, ``mhmailbox.proofs``, ``mhmailbox.impl`` and
``mhmailbox.conformance``; ``mhmailbox.cli`` is the command line.
"""
__version__ = "0.1.0"
