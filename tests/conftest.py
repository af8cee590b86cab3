"""Test-wide settings.

Hypothesis draws the same examples on every run (``derandomize``) and keeps no example database
in the working tree: a CI failure then reproduces from a clean clone. To hunt for new
counterexamples, run with ``HYPOTHESIS_PROFILE=explore`` (fresh random draws each run).
"""

import os

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
