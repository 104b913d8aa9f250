"""numba's on-disk cache of spinsim's kernels, dropped when any kernel source changed.

numba keys a cached kernel on its own source file (that file's time stamp and size). A kernel that
calls functions of another module (most of spinsim's do: :mod:`spinsim._coupled` calls
:mod:`spinsim._coupled_split`, which calls :mod:`spinsim._kernels`) keeps its compiled code when
only that other module changed, and a later run would silently use the old code: in a source
checkout after ``git pull`` or an edit, say. So the cache directory carries a digest of every
kernel source of the package, and the first kernel import of a process that finds another digest
removes the package's cached kernels before any of them loads. An installed package that does not
change keeps its cache: the digest is read, compared and left alone (a few milliseconds).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
STAMP = "spinsim-kernels.sha256"


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
    """Where numba keeps this package's cached kernels (its own choice of location: next to the
    sources, NUMBA_CACHE_DIR, or the user cache), as a Path; the in-tree ``__pycache__`` if numba
    does not say."""
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
