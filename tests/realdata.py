"""Where the tests find measured data: the sets bundled with respdor (respdor.datasets), and two
optional extras that are not bundled (the alginate set, whose licence is unstated, and the 2.9 MB
HETCOR set that respdor.datasets fetches on first use) in a ``shared/realdata`` folder beside the
checkout when there is one."""

from pathlib import Path

import pytest

from respdor.datasets import bundled_root

#: The bundled measured sets (always present).
REAL = bundled_root()

_REPO = Path(__file__).resolve().parents[1]
#: Optional extras, beside the checkout (a git worktree may sit deeper: look up the parents).
EXTRA = next((p / "shared" / "realdata" for p in _REPO.parents if (p / "shared" / "realdata").is_dir()),
             _REPO.parent / "shared" / "realdata")


def needs_extra(folder: str):
    """Skip mark for a test of an optional, non-bundled set."""
    return pytest.mark.skipif(not (EXTRA / folder).is_dir(),
                              reason=f"optional data set {folder} not beside this checkout (not bundled)")
