"""Shared test configuration.

Hypothesis profiles: ``ci`` (derandomized, no deadline, no example database:
every CI run explores the same examples) is chosen when CI is set; ``dev`` runs
more examples for local runs. Pick one with HYPOTHESIS_PROFILE=ci|dev|long.
"""
import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, database=None, max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", deadline=None, max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# The suite never reads or writes the user's own invariant store (~/.local/share/mhmailbox, or
# $MHMAILBOX_INVARIANTS): what a user proved with `mhmailbox prove` must not change a verdict here,
# and tests that prove must not leave sets behind. Subprocesses inherit this; tests that need a
# store of their own set the variable again (monkeypatch).
import tempfile  # noqa: E402

os.environ["MHMAILBOX_INVARIANTS"] = os.path.join(tempfile.mkdtemp(prefix="mhmailbox-test-store-"),
                                                  "proved-invariants.json")
