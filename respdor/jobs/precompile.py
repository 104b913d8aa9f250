"""``respdor.precompile``: compile the numba kernels of the simulation engines once, ahead of use.

What ``respdor precompile`` does, for scripts and notebooks. The kernels are compiled on first use
and cached per machine and version anyway (``spinsim._jitcache``); this call does it on purpose,
for every engine and for the multi-partner model of the two-partner fits, so that the first
simulation or partner fit on a new machine (an image build, a cluster node, the server of the
browser app) starts as fast as later ones. On a machine that has compiled this version it loads
the cached kernels and returns within seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..display import ResultDisplay
from ..errors import UserError

__all__ = ["precompile", "PrecompileResult", "TARGETS", "estimated_seconds"]

#: What can be compiled: the three spinsim engines, then respdor's multi-partner model.
TARGETS = ("fast", "general", "coupled", "partners")

#: CPU seconds of the multi-partner model's kernels with an empty cache (2-core x86_64 machine,
#: ``python benchmarks/bench_fast_engine.py --skip-warm --precompile``).
PARTNERS_COMPILE_SECONDS = 1.0

_LABELS = {"fast": "fast engine", "general": "general engine", "coupled": "coupled engine",
           "partners": "multi-partner model"}


@dataclass(repr=False)
class PrecompileResult(ResultDisplay):
    """What :func:`precompile` did (one row per engine or model).

    Attributes
    ----------
    rows : list of dict
        ``target``, ``cpu_s``, ``wall_s`` (seconds) and ``compiled`` (kernels compiled and written
        to the cache; 0 when all were cached already).
    cache : str
        The directory of the engines' compiled kernels (of the multi-partner model's when it was
        the only target).
    warnings : list of str
    """

    rows: list
    cache: str
    warnings: list = field(default_factory=list)

    def _title(self):
        return ", ".join(r["target"] for r in self.rows)

    def _headline(self):
        compiled = sum(r["compiled"] for r in self.rows)
        cpu = sum(r["cpu_s"] for r in self.rows)
        if compiled == 0:
            return f"all kernels were cached ({cpu:.1f} CPU s to load them)"
        return f"{compiled} kernel files compiled in {cpu:.1f} CPU s, cached in {self.cache}"

    def _rows(self):
        return [dict(r) for r in self.rows]

    def to_dict(self) -> dict:
        return {"rows": [dict(r) for r in self.rows], "cache": self.cache, "warnings": list(self.warnings)}

    @classmethod
    def from_dict(cls, data: dict):
        try:
            return cls(rows=[dict(r) for r in data["rows"]], cache=str(data["cache"]),
                       warnings=list(data.get("warnings", [])))
        except KeyError as exc:
            raise UserError(f"not the JSON of a precompile run: no {exc.args[0]!r}") from None


def estimated_seconds(targets=TARGETS) -> float:
    """CPU seconds :func:`precompile` takes where nothing is cached yet (measured constants)."""
    from spinsim.precompile import estimated_seconds as engines_seconds

    targets = _checked(targets)
    engines = [t for t in targets if t != "partners"]
    return engines_seconds(engines) + (PARTNERS_COMPILE_SECONDS if "partners" in targets else 0.0)


def _checked(targets):
    if isinstance(targets, str):
        targets = [targets]
    targets = list(dict.fromkeys(targets))
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise UserError(f"nothing called {unknown[0]!r} to precompile: choose from {', '.join(TARGETS)}")
    if not targets:
        raise UserError(f"nothing to precompile: choose from {', '.join(TARGETS)}")
    return targets


def _run_partners():
    """Both kernels of :func:`respdor.multipartner.partners_dephasing` (times on a common step, and not)."""
    import numpy as np

    from spinsim.powder import zcw

    from ..models import transfer_matrix, transfer_weights
    from ..multipartner import pair_geometry, partners_dephasing

    geometry, weights = pair_geometry(60.0, zcw(2, 4))
    w = transfer_weights(transfer_matrix(2.5, "saturation"))
    for t in (np.array([0.0, 1e-3, 2e-3]), np.array([0.0, 1e-3, np.pi * 1e-3])):  # a common step, and none
        partners_dephasing(t, [500.0, 300.0], geometry, weights, w)


def precompile(targets=TARGETS, progress=None) -> PrecompileResult:
    """Compile the numba kernels of the simulation engines (and the multi-partner model) now.

    Parameters
    ----------
    targets : iterable of {"fast", "general", "coupled", "partners"}
        Default: all. ``"partners"`` is the exact multi-partner model (:mod:`respdor.multipartner`)
        of the two- and n-partner fits (``respdor partners``, :func:`respdor.fit_two_partners`,
        :func:`respdor.fit_partners`) and of ``respdor plan --versus-two``.
    progress : callable, optional
        ``progress(target, None)`` before each target and ``progress(target, row)`` after it.

    Returns
    -------
    PrecompileResult
        Seconds and kernels compiled per target, and the cache directory.

    Notes
    -----
    Where nothing is cached yet this takes about :func:`estimated_seconds` CPU seconds (a minute
    on a 2-core machine); it is interrupted cleanly by Ctrl-C (numba writes each cache file whole),
    and a second call on the same machine and version compiles nothing.
    """
    from spinsim._jitcache import cache_directory
    from spinsim.precompile import precompile as precompile_engines

    targets = _checked(targets)
    rows = []

    def report(target, row):
        if row is not None:
            rows.append({"target": target, **{k: row[k] for k in ("cpu_s", "wall_s", "compiled")}})
        if progress is not None:
            progress(target, rows[-1] if row is not None else None)

    precompile_engines([t for t in targets if t != "partners"], report)
    if "partners" in targets:
        report("partners", None)
        before, c0, w0 = _partner_kernel_files(), time.process_time(), time.perf_counter()
        _run_partners()
        report("partners", {"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0,
                            "compiled": max(_partner_kernel_files() - before, 0)})
    partners_only = targets == ["partners"]
    return PrecompileResult(rows=rows, cache=str(_partner_cache() if partners_only else cache_directory()))


def _partner_cache():
    """numba's cache directory of the multi-partner model (its own location: respdor's kernels are
    not in spinsim's shared directory), or None when numba does not say."""
    from pathlib import Path

    from .._partners_kernel import product_dephasing

    try:
        return Path(product_dephasing._cache._cache_path)
    except AttributeError:  # numba's cache object is internal
        return None


def _partner_kernel_files():
    """Compiled files of the multi-partner model in numba's cache; 0 when it cannot be read."""
    try:
        return sum(1 for _ in _partner_cache().glob("_partners_kernel.*.nbc"))
    except (AttributeError, OSError):
        return 0


def label(target) -> str:
    """The words for a target in messages (``"fast"`` -> ``"fast engine"``)."""
    return _LABELS[target]
