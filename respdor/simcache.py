"""Persistent cache of simulated curve tables, so that the second fit with a spec starts at once.

A table is stored as one ``.npz`` file (arrays + a JSON metadata string) under the user's cache
directory (``platformdirs.user_cache_dir("respdor")/tables``), or under ``$RESPDOR_CACHE_DIR``
when that is set. The file name is a hash of everything that changes the result: the spec content
(normalised: key order and the cosmetic title do not count), the powder, the time and coupling
grids, the accuracy asked for, and the engine version. The engine version includes a hash of the
spinsim sources, so an edited kernel never serves stale tables.

The cache only saves time: a cache directory that cannot be read or written (read-only, full,
on a missing disk) never stops a run. The first failure says so in one warning naming the
directory, and the rest of the run works without the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = ["ENV_VAR", "cache_dir", "engine_version", "table_key", "load", "save", "entries", "clear"]

#: Environment variable that moves the cache (tests point it at a temporary directory).
ENV_VAR = "RESPDOR_CACHE_DIR"


def _engine_files():
    """Every spinsim module: any of them may decide a simulated number (kernels, drivers, isotope
    data), and a module added later must not leave stale tables valid."""
    import spinsim

    return sorted(p.name for p in Path(spinsim.__file__).parent.glob("*.py"))


def cache_dir() -> Path:
    """Directory of the table cache (created on first write).

    Returns
    -------
    Path
        ``$RESPDOR_CACHE_DIR`` if set, else ``<user cache dir>/respdor/tables``.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    try:
        from platformdirs import user_cache_dir
    except ImportError:  # XDG convention as a fallback; platformdirs is a core dependency
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return Path(base) / "respdor" / "tables"
    return Path(user_cache_dir("respdor")) / "tables"


_ENGINE = None


def engine_version() -> str:
    """``spinsim <version>+<12-hex hash of the engine sources>``: part of every cache key."""
    global _ENGINE
    if _ENGINE is None:
        import spinsim
        from spinsim._jitcache import sources_digest  # the one digest of spinsim's sources

        root = Path(spinsim.__file__).parent
        digest = sources_digest([root / name for name in _engine_files() if (root / name).exists()])
        _ENGINE = f"spinsim {spinsim.__version__}+{digest[:12]}"
    return _ENGINE


def normalised_spec(raw: dict) -> dict:
    """The spec dict without what cannot change a simulated number (the experiment title)."""
    out = json.loads(json.dumps(raw, sort_keys=True, default=float))
    out.get("experiment", {}).pop("title", None)
    return out


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return [float(x) for x in value.ravel()] + [list(value.shape)]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def table_key(raw_spec: dict, **extra) -> str:
    """Hash (hex) of the normalised spec, the engine version and ``extra`` (grids, powder, ...)."""
    payload = {"spec": normalised_spec(raw_spec), "engine": engine_version()}
    payload.update({k: _jsonable(v) for k, v in extra.items()})
    text = json.dumps(payload, sort_keys=True, default=_jsonable)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _path(key: str) -> Path:
    return cache_dir() / f"{key}.npz"


#: The cache directory found unusable in this process (None while the cache works).
_DISABLED = None


def _off() -> bool:
    return _DISABLED is not None and _DISABLED == cache_dir()


def _give_up(exc: OSError, doing: str):
    """Switch the cache off for the rest of the process, saying why in one warning."""
    global _DISABLED
    if not _off():
        _DISABLED = cache_dir()
        warnings.warn(f"{_DISABLED}: cannot {doing} the simulation cache ({exc.strerror or exc}); running without "
                      f"it, so simulated curves are not kept for the next run (set {ENV_VAR} to a writable "
                      "directory to keep them)", UserWarning, stacklevel=3)


def load(key: str):
    """Arrays and metadata stored under ``key``, or None when absent or unreadable.

    Returns
    -------
    (dict of ndarray, dict) or None
    """
    if _off():
        return None
    path = _path(key)
    try:
        if not path.exists():
            return None
    except OSError as exc:  # e.g. a directory on the way that may not be searched
        _give_up(exc, "read")
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != "_meta"}
            meta = json.loads(str(z["_meta"]))
    except (OSError, ValueError, KeyError):  # a damaged entry is a miss, and is rebuilt
        return None
    return arrays, meta


def save(key: str, arrays: dict, meta: dict):
    """Store ``arrays`` and ``meta`` under ``key`` atomically (write a temporary file, rename).

    Returns
    -------
    Path or None
        The cache file; None when the cache directory cannot be written (one warning says so,
        and the cache stays off for the rest of the process).
    """
    if _off():
        return None
    path = _path(key)
    meta = dict(meta, engine=engine_version(), created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, _meta=np.array(json.dumps(meta, default=_jsonable)), **arrays)
        os.replace(tmp, path)
    except OSError as exc:  # read-only, full, not a directory, permission denied: the run goes on
        with contextlib.suppress(OSError):
            tmp.unlink()
        _give_up(exc, "write")
        return None
    return path


def entries() -> list[dict]:
    """One dict per cached table: ``key``, ``path``, ``bytes``, ``created``, ``description``, ``engine``."""
    d = cache_dir()
    rows = []
    for path in sorted(d.glob("*.npz")) if d.exists() else []:
        if ".tmp" in path.name:
            continue
        row = {"key": path.stem, "path": str(path), "bytes": path.stat().st_size}
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["_meta"]))
        except (OSError, ValueError, KeyError):
            meta = {"description": "(unreadable)"}
        row.update({k: meta.get(k, "") for k in ("created", "description", "engine", "wall_s")})
        rows.append(row)
    return rows


def clear() -> int:
    """Delete every cached table (and stale temporary files); returns how many tables were removed."""
    d = cache_dir()
    n = 0
    for path in list(d.glob("*.npz")) if d.exists() else []:
        n += ".tmp" not in path.name
        path.unlink(missing_ok=True)
    return n
