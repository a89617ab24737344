"""How many examples a property test runs: the ``ci`` profile (the default, and
what CI runs) keeps the full counts (>= 10,000 for ``decide()``, names and the
ownership properties); ``HYPOTHESIS_PROFILE=dev`` runs a fiftieth of them for
a quick loop while working."""

from __future__ import annotations

import os

from hypothesis import settings

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.register_profile("ci", deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(PROFILE)


def examples(full: int) -> int:
    """``full`` on the ci profile; a fiftieth (at least 50) on dev."""
    return full if PROFILE == "ci" else max(50, full // 50)
