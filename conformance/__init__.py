"""Conformance kit: Hypothesis state machines drive an implementation's host or helper in
lockstep, every shared access a scheduling point, the protocol's model as the oracle.

Entry points: ``mhmailbox conform`` (cli.py), :func:`runner.run_case`, :func:`cases.replay`,
the adapter interface in adapter.py; docs/conformance.md explains all of it.
"""
