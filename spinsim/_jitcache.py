"""Where numba keeps spinsim's compiled kernels, and why a kernel never runs stale code.

numba keys a cached kernel on its own source file. A kernel that calls functions of another module
(most of spinsim's do: :mod:`spinsim._coupled` calls :mod:`spinsim._coupled_split`, which calls
:mod:`spinsim._kernels`) would keep its compiled code when only that other module changed, and a
later run would silently use the old code: in a source checkout after ``git pull`` or an edit, say.

So spinsim's kernels are cached under one digest of all its kernel sources, in the user's cache
directory (``platformdirs.user_cache_dir("spinsim")/kernels/<python>-numba<version>-numpy<version>/<digest>``):

- any change of any kernel source gives another directory, so no stale kernel can load;
- every environment with the same spinsim sources shares the compiled kernels, so a fresh virtual
  environment on a machine that has run this version before starts without compiling (numba
  itself checks the CPU and its own version inside);
- the four most recently used digest directories are kept, older ones removed.

With ``NUMBA_CACHE_DIR`` set, or no writable user cache directory, numba's own choice of location
is used instead, and the cache directory carries the digest: the first kernel import of a process
that finds another digest removes the package's cached kernels before any of them loads.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
STAMP = "spinsim-kernels.sha256"
#: Digest directories of the shared kernel cache that are kept (the most recently used).
KEEP_DIGESTS = 4


def kernel_sources(package=PACKAGE):
    """The package's modules that define numba kernels, sorted by name."""
    return sorted(p for p in package.glob("*.py") if b"njit" in p.read_bytes())


def sources_digest(sources):
    """SHA-256 over the names and contents of ``sources`` (hex); also the engine part of the key of
    respdor's table cache (:func:`respdor.simcache.engine_version`)."""
    h = hashlib.sha256()
    for path in sources:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _probe(x):
    return x


def cache_directory():
    """Where this process caches the package's kernels (the shared directory of
    :func:`install_shared_cache`, or numba's own choice: NUMBA_CACHE_DIR, next to the sources, the
    user cache), as a Path; the in-tree ``__pycache__`` if numba does not say."""
    try:
        from numba import njit

        return Path(njit(cache=True)(_probe)._cache._cache_path)
    except Exception:  # numba's cache object is internal: fall back to its default location
        return PACKAGE / "__pycache__"


def drop_stale_kernels(package=PACKAGE, cache=None):
    """Remove the package's cached kernels when the kernel sources differ from those the cache was
    filled from; returns the number of files removed. Nothing is raised: a cache that cannot be
    read or written is one numba cannot use either."""
    sources = kernel_sources(package)
    digest = sources_digest(sources)
    cache = cache_directory() if cache is None else Path(cache)
    stamp = cache / STAMP
    try:
        if stamp.read_text().strip() == digest:
            return 0
    except OSError:
        pass
    removed = 0
    for src in sources:
        for pattern in (f"{src.stem}.*.nbi", f"{src.stem}.*.nbc"):
            for path in cache.glob(pattern):
                try:
                    path.unlink()
                    removed += 1
                except OSError:
                    pass
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = cache / f"{STAMP}.{os.getpid()}.tmp"
        tmp.write_text(digest + "\n")
        os.replace(tmp, stamp)
    except OSError:
        pass
    return removed


def shared_cache_root():
    """The shared kernel cache of this Python, numba and numpy (major.minor: numba types numpy calls by
    the installed numpy's rules): a Path under the user cache directory."""
    import numba
    import numpy
    from platformdirs import user_cache_dir

    numpy_version = ".".join(numpy.__version__.split(".")[:2])
    tag = f"py{sys.version_info[0]}{sys.version_info[1]}-numba{numba.__version__}-numpy{numpy_version}"
    return Path(user_cache_dir("spinsim")) / "kernels" / tag


def _prune(root, keep):
    """Remove all but the ``keep`` most recently used digest directories under ``root``."""
    import shutil

    dirs = sorted((d for d in root.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime, reverse=True)
    for old in dirs[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def _shared_locator_class(package, directory, digest):
    """A numba cache locator that puts the kernels of the files of ``package`` into ``directory``,
    keyed by ``digest`` (numba's ``_CacheLocator`` interface, internal to numba)."""
    from numba.core.caching import _CacheLocator

    class SharedKernelLocator(_CacheLocator):
        def __init__(self, py_func):
            self._lineno = py_func.__code__.co_firstlineno

        def get_cache_path(self):
            return str(directory)

        def get_source_stamp(self):
            return digest

        def get_disambiguator(self):
            return str(self._lineno)

        @classmethod
        def from_function(cls, py_func, py_file):
            if Path(py_file).resolve().parent != package:
                return None
            return cls(py_func)

    return SharedKernelLocator


def install_shared_cache(package=PACKAGE, root=None):
    """Cache the package's kernels in the shared, digest-keyed directory (see the module docstring);
    returns that directory, or None when numba's own location stays in use (``NUMBA_CACHE_DIR`` set,
    numba's locator list overridden or not where expected, or the directory not writable)."""
    if os.environ.get("NUMBA_CACHE_DIR") or os.environ.get("NUMBA_CACHE_LOCATOR_CLASSES"):
        return None
    try:
        from numba.core import caching

        impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # its name in older numba
        locators = impl._locator_classes
        if not isinstance(locators, list):
            return None
        root = shared_cache_root() if root is None else Path(root)
        digest = sources_digest(kernel_sources(package))
        directory = root / digest[:24]
        fresh = not directory.is_dir()
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".probe.{os.getpid()}"
        probe.write_bytes(b"")  # numba's own locators check writability the same way
        probe.unlink()
        now = time.time()
        os.utime(directory, (now, now))  # recently used: kept by the pruning
        if fresh:
            _prune(root, KEEP_DIGESTS)
    except (ImportError, AttributeError, OSError):
        return None
    if any(getattr(c, "__name__", "") == "SharedKernelLocator" for c in locators):
        return directory
    locators.insert(0, _shared_locator_class(Path(package).resolve(), directory, digest))
    return directory


def prepare_kernel_cache():
    """Before the first kernel of the package is defined: the shared cache, or numba's own location
    with the stale-kernel guard (:func:`drop_stale_kernels`)."""
    if install_shared_cache() is None:
        drop_stale_kernels()
