"""numba's cache of spinsim's kernels is dropped when a kernel source changes (spinsim._jitcache).

numba checks a cached kernel against its own source file only: a kernel that calls a function of
another module would keep its old code after only that module changed. The test builds such a
pair of modules inside a copy of the package and changes the callee alone."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[1]

CALLEE = "from numba import njit\n\n\n@njit(cache=True)\ndef f(x):\n    return x + {k}\n"
CALLER = ("from numba import njit\n\nfrom . import _kernels  # noqa: F401  (the cache guard)\nfrom ._t_callee import f\n\n\n"
          "@njit(cache=True)\ndef g(x):\n    return f(x) * 10\n")


def _package_copy(tmp_path):
    pkg = tmp_path / "src" / "spinsim"
    shutil.copytree(ROOT / "spinsim", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (pkg / "_t_caller.py").write_text(CALLER)
    return pkg


def _g_of_1(pkg, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env["PYTHONPATH"] = str(pkg.parent)
    out = subprocess.run([sys.executable, "-c", "from spinsim._t_caller import g; print(g(1))"], env=env,
                         cwd=str(tmp_path), capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def test_a_kernel_sees_a_change_in_the_module_it_calls(tmp_path):
    pkg = _package_copy(tmp_path)
    callee = pkg / "_t_callee.py"
    callee.write_text(CALLEE.format(k=1))
    assert _g_of_1(pkg, tmp_path) == 20
    cached = sorted(p.name for p in (pkg / "__pycache__").glob("_t_caller.*.nbi"))
    assert cached  # g was cached, so the next run would load it
    callee.write_text(CALLEE.format(k=2))  # the caller's file is untouched
    assert _g_of_1(pkg, tmp_path) == 30  # numba alone answers 20 here


def test_an_unchanged_package_keeps_its_cache(tmp_path):
    from spinsim._jitcache import STAMP, drop_stale_kernels, kernel_sources

    pkg = _package_copy(tmp_path)
    (pkg / "_t_callee.py").write_text(CALLEE.format(k=1))
    cache = tmp_path / "cache"
    cache.mkdir()
    entries = [cache / f"{src.stem}.g-7.py311.nbi" for src in kernel_sources(pkg)]
    for path in entries + [cache / "other.g-7.py311.nbi"]:
        path.write_text("x")
    assert "_t_callee.py" in [p.name for p in kernel_sources(pkg)]
    assert drop_stale_kernels(pkg, cache) == len(entries)  # no stamp yet: every kernel entry goes
    assert (cache / STAMP).exists() and (cache / "other.g-7.py311.nbi").exists()  # not spinsim's
    entries[0].write_text("x")
    assert drop_stale_kernels(pkg, cache) == 0 and entries[0].exists()  # same sources: kept
    (pkg / "_t_callee.py").write_text(CALLEE.format(k=3))
    assert drop_stale_kernels(pkg, cache) == 1 and not entries[0].exists()
