"""Test-suite configuration shared by every test module.

Hypothesis runs deterministically everywhere: a fixed seed (``derandomize``) and no example
database, so the README's ``pytest`` gives the same result on every fresh machine and writes
nothing into the checkout. ``HYPOTHESIS_PROFILE=explore`` switches to random exploration with a
database outside the checkout for local bug hunting.
"""

import os
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase

# Hypothesis keeps caches (e.g. of source constants) under its home directory, by default
# ./.hypothesis in the checkout; keep them in the temporary directory instead.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "respdor-hypothesis-home"))

settings.register_profile(
    "deterministic",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore",
    derandomize=False,
    deadline=None,
    database=DirectoryBasedExampleDatabase(os.path.join(tempfile.gettempdir(), "respdor-hypothesis")),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _private_table_cache(tmp_path_factory, monkeypatch):
    """Simulated-table cache (respdor.simcache) in a fresh temporary directory for every test,
    never the user's cache directory, so that no test sees another's tables."""
    monkeypatch.setenv("RESPDOR_CACHE_DIR", str(tmp_path_factory.mktemp("respdor-cache")))
