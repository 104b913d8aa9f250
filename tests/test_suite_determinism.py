"""The suite itself must be deterministic: Hypothesis derandomised, no example database."""

import os

from hypothesis import settings


def test_hypothesis_profile_is_deterministic_unless_asked():
    if os.environ.get("HYPOTHESIS_PROFILE", "deterministic") != "deterministic":
        return  # a developer chose to explore; nothing to check then
    assert settings.default.derandomize is True
    assert settings.default.database is None
