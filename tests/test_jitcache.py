"""Where spinsim's compiled kernels are cached, and that none runs stale code (spinsim._jitcache).

numba checks a cached kernel against its own source file only: a kernel that calls a function of
another module would keep its old code after only that module changed. The tests build such a
pair of modules inside a copy of the package and change the callee alone, with the shared
digest-keyed cache (the default) and with numba's own location (NUMBA_CACHE_DIR)."""

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


# g(1), the number of kernels compiled and numba's cache directory of the package, in a child
G_OF_1 = """
from numba.core import event
compiled = []
class Count(event.Listener):
    def on_start(self, e):
        compiled.append(e.data["dispatcher"].py_func.__name__)
    def on_end(self, e):
        pass
event.register("numba:compile", Count())
from spinsim._t_caller import g
from spinsim._jitcache import cache_directory
print(g(1), len(compiled), cache_directory())
"""


def _g_of_1(pkg, tmp_path, numba_cache=None):
    """(g(1), kernels compiled, cache directory) in a child importing the package copy ``pkg``; the
    user cache directory is tmp_path/user-cache, numba's NUMBA_CACHE_DIR ``numba_cache`` if given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(PYTHONPATH=str(pkg.parent), XDG_CACHE_HOME=str(tmp_path / "user-cache"))
    if numba_cache is not None:
        env["NUMBA_CACHE_DIR"] = str(numba_cache)
    out = subprocess.run([sys.executable, "-c", G_OF_1], env=env, cwd=str(tmp_path), capture_output=True, text=True,
                         check=True)
    value, n_compiled, cache = out.stdout.split()
    return int(value), int(n_compiled), Path(cache)


def test_a_kernel_sees_a_change_in_the_module_it_calls(tmp_path):
    pkg = _package_copy(tmp_path)
    callee = pkg / "_t_callee.py"
    callee.write_text(CALLEE.format(k=1))
    value, n_compiled, cache = _g_of_1(pkg, tmp_path)
    assert (value, n_compiled) == (20, 2)
    assert cache.parent.parent == tmp_path / "user-cache" / "spinsim" / "kernels"  # the shared cache
    assert sorted(p.name for p in cache.glob("_t_caller.*.nbi"))  # g was cached there
    assert _g_of_1(pkg, tmp_path)[:2] == (20, 0)  # and loads from there
    callee.write_text(CALLEE.format(k=2))  # the caller's file is untouched
    value, n_compiled, changed = _g_of_1(pkg, tmp_path)
    assert (value, n_compiled) == (30, 2) and changed != cache  # numba alone answers 20 here


def test_with_numba_cache_dir_a_kernel_sees_a_change_in_the_module_it_calls(tmp_path):
    pkg = _package_copy(tmp_path)
    callee = pkg / "_t_callee.py"
    callee.write_text(CALLEE.format(k=1))
    value, _, cache = _g_of_1(pkg, tmp_path, tmp_path / "numba")
    assert value == 20 and tmp_path / "numba" in cache.parents and not (tmp_path / "user-cache").exists()
    assert sorted(p.name for p in cache.glob("_t_caller.*.nbi"))  # g was cached, so the next run would load it
    callee.write_text(CALLEE.format(k=2))
    assert _g_of_1(pkg, tmp_path, tmp_path / "numba")[0] == 30  # the digest stamp dropped g


def test_a_fresh_copy_of_the_package_loads_the_kernels_another_compiled(tmp_path):
    """Two environments with the same sources (another path, no __pycache__): the second compiles nothing."""
    first = _package_copy(tmp_path / "env1")
    second = _package_copy(tmp_path / "env2")
    for pkg in (first, second):
        (pkg / "_t_callee.py").write_text(CALLEE.format(k=4))
    assert _g_of_1(first, tmp_path)[:2] == (50, 2)
    assert _g_of_1(second, tmp_path)[:2] == (50, 0)
    assert not list((second / "__pycache__").glob("*.nbi"))  # nothing cached beside the sources


def test_the_shared_cache_keeps_the_most_recently_used_digests(tmp_path, monkeypatch):
    from spinsim import _jitcache as J

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.delenv("NUMBA_CACHE_LOCATOR_CLASSES", raising=False)
    root = tmp_path / "kernels"
    for i in range(6):
        old = root / f"old{i}"
        old.mkdir(parents=True)
        os.utime(old, (1000.0 + i, 1000.0 + i))
    monkeypatch.setattr(J, "_shared_locator_class", lambda package, directory, digest: None)  # install nothing in numba
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    monkeypatch.setattr(impl, "_locator_classes", list(impl._locator_classes))
    directory = J.install_shared_cache(root=root)
    assert directory.parent == root and len(directory.name) == 24
    assert sorted(p.name for p in root.iterdir()) == sorted([directory.name, "old5", "old4", "old3"])


def test_no_writable_shared_cache_leaves_numba_its_own_location(tmp_path, monkeypatch):
    from spinsim import _jitcache as J

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    (tmp_path / "a_file").write_text("")
    assert J.install_shared_cache(root=tmp_path / "a_file" / "kernels") is None
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    assert J.install_shared_cache(root=tmp_path / "kernels") is None and not (tmp_path / "kernels").exists()


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
