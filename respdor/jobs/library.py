"""``respdor.build_library`` and ``respdor.library_info``: libraries of simulated curves, one call each.

What ``respdor library build`` and ``respdor library info`` do, for scripts and notebooks: the
request is checked before anything starts (the spec, every tabulated axis at both ends, the
coupling axis as distances, the longest time, the powder), the table is computed on Dask into
``<path>.partial`` and renamed whole when complete (:func:`respdor.library.build_library`), and
the result says what was computed, the measured interpolation error and the library's own
powder / gamma / step convergence check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..display import ResultDisplay, axes_or_new
from ..errors import ConvergenceWarning, DataWarning, RespdorWarning, UserError, warn

__all__ = ["build_library", "library_info", "LibraryBuild", "LibraryInfo"]


def build_library(spec, vary, path, *, couplings_hz=None, t_max_s=None, n_orientations=None, n_gamma_angles=None,
                  scheduler=None, n_workers=None, n_checks=8, check_convergence=False, powder_tol=None,
                  overwrite=False, progress=None):
    """Tabulate a spec's curves over D and ``vary`` into an HDF5 library, as ``respdor library build``.

    Parameters
    ----------
    spec : str, Path or dict
        spinsim spec (TOML/JSON file or dict); its first [[dipolar]] coupling is the D axis.
    vary : list
        Tabulated parameters, each ``"NAME=LOW:HIGH:N"`` (``"cq=1:6MHz:11"``, ``"nu1=20:60kHz:9"``,
        ``"eta_q=0:1:5"``, ``"length=100:300us:5"``) or a :class:`respdor.library.Axis`; may be empty.
    path : str or Path
        The library file (``.h5`` or ``.hdf5``); an unfinished build of the same request is resumed.
    couplings_hz : array_like or (float, float, int), optional
        The D axis in Hz: the values (increasing, at least 4), or ``(low, high, n)`` log-spaced.
        Default: 24 values from D0/4 to 4 D0 (D0 the spec's coupling).
    t_max_s : float, optional
        Longest recoupling time (s); default the spec's.
    n_orientations, n_gamma_angles : int, optional
        Powder (alpha, beta) count and gamma angles, replacing the spec's.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); default a local cluster.
    n_workers : int, optional
        Worker processes of the local cluster (default: all cores); not with ``scheduler``.
    n_checks : int
        Off-grid points simulated to measure the interpolation error (0: none; the library's own
        powder convergence check runs with it).
    check_convergence : bool
        Also check the powder settings chosen explicitly.
    powder_tol : float, optional
        Tolerance of the powder check (dS/S0), in (0, 1).
    overwrite : bool
        Start the file afresh instead of resuming.
    progress : None, bool, callable or spinsim.progress.Progress
        Progress over the parameter points (:mod:`spinsim.progress`).

    Returns
    -------
    LibraryBuild

    Raises
    ------
    respdor.errors.UserError
        A request that cannot be built (one line naming the argument and value); KeyboardInterrupt
        keeps ``<path>.partial`` for resuming.

    Examples
    --------
    >>> import respdor
    >>> built = respdor.build_library("spec.toml", ["cq=2:4MHz:5"], "cq.h5",
    ...                               couplings_hz=(300, 800, 8), n_workers=2)         # doctest: +SKIP
    >>> respdor.library_info("cq.h5")                                               # doctest: +SKIP
    """
    from .. import library as lib

    request = _checked_request(spec, vary, path, couplings_hz, t_max_s, n_orientations, n_gamma_angles,
                               scheduler, n_workers, n_checks, check_convergence, powder_tol)
    notes = request.pop("warnings")
    try:
        stats = lib.build_library(spec, path, request["axes"], request["couplings"], t_max_s=request["t_max_s"],
                                  powder=request["powder"], scheduler=scheduler, workers=n_workers,
                                  overwrite=overwrite, n_check=n_checks, progress=progress,
                                  powder_explicit=request["explicit"], powder_tol=request["tol"],
                                  check_explicit=bool(check_convergence))
    except KeyboardInterrupt:
        from ..files import partial_path

        work = partial_path(path)
        kept = (f"{path} not written; the points finished so far are kept in {work}: run the same build to resume"
                if work.exists() else f"{path} not written")
        raise KeyboardInterrupt(kept) from None
    built = LibraryBuild.from_dict(stats)
    for text in notes:
        warn(text, DataWarning, into=built.warnings, stacklevel=2)
    for text in (stats.get("convergence") or {}).get("warnings", []):
        warn(text, ConvergenceWarning, into=built.warnings, stacklevel=2)
    if stats.get("cluster_note"):
        warn(stats["cluster_note"], RespdorWarning, into=built.warnings, stacklevel=2)
    sparse = lib.sparse_check_warning(lib.library_info(path)["axes"], stats.get("interp_error"), Path(path).name)
    if sparse:
        warn(sparse, ConvergenceWarning, into=built.warnings, stacklevel=2)
    return built


def _checked_request(spec, vary, path, couplings_hz, t_max_s, n_orientations, n_gamma_angles, scheduler,
                     n_workers, n_checks, check_convergence, powder_tol):
    """Every argument checked before the build starts (outputs, axes, couplings, time, powder)."""
    from .. import library as lib
    from ..convergence import check_tol, spec_explicit
    from ..files import OutputPlan, partial_path
    from ..simulated import load_coupling_spec, spec_powder

    if isinstance(spec, (str, Path)) and not Path(spec).exists():
        raise UserError(f"{spec}: no such simulation spec")
    if n_workers is not None and scheduler:
        raise UserError("n_workers has no effect with a scheduler address (the running cluster has its own workers)")
    if n_workers is not None and (not isinstance(n_workers, (int, np.integer)) or n_workers < 1):
        raise UserError(f"n_workers {n_workers}: must be >= 1 (leave it out for all cores)")
    if not isinstance(n_checks, (int, np.integer)) or n_checks < 0:
        raise UserError(f"n_checks {n_checks}: must be >= 0 (0 skips the interpolation check)")
    if n_checks == 0 and (check_convergence or powder_tol is not None):
        raise UserError("check_convergence and powder_tol have no effect with n_checks 0 (the convergence check "
                        "runs with the interpolation check)")
    # The work goes to PATH.partial (kept by an interrupted build, for resuming); PATH appears,
    # renamed whole, only when the build is complete. Both are checked before anything starts.
    plan = OutputPlan(inputs=[spec] if isinstance(spec, (str, Path)) else [])
    plan.add(path, "library path", "binary")
    plan.add(partial_path(path), "library path", "binary")
    plan.check()
    if Path(path).suffix.lower() not in (".h5", ".hdf5"):  # after the guard: a device is named as such
        raise UserError(f"library path {path}: a library is an HDF5 file; name it .h5 or .hdf5")
    axes = [lib.parse_vary(v) if isinstance(v, str) else v for v in (vary or [])]
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        raise UserError("vary: each parameter once")
    sp = load_coupling_spec(spec, "tabulate")
    notes = []
    couplings = _couplings(couplings_hz, sp, notes)
    if t_max_s is not None:
        from ..units import plausible

        plausible("t_max", float(t_max_s), "t_max_s", f"{float(t_max_s):g} s", notes)
    tol = check_tol(powder_tol, "powder_tol") if powder_tol is not None else None
    explicit = spec_explicit(sp.raw, bool(n_orientations), bool(n_gamma_angles))
    powder = None
    if n_orientations or n_gamma_angles:
        powder = spec_powder(sp.raw)
        powder.update({k: int(v) for k, v in (("n", n_orientations), ("n_gamma", n_gamma_angles)) if v})
    return {"axes": axes, "couplings": couplings, "t_max_s": t_max_s, "powder": powder, "explicit": explicit,
            "tol": tol, "warnings": notes}


def _couplings(couplings_hz, sp, notes):
    """The D axis (Hz): the spec's D0/4 to 4 D0 by default, ``(low, high, n)`` log-spaced, or the
    values themselves; its ends checked as distances for the spec's pair (a kHz axis typed as Hz
    is refused, an unusual one warned)."""
    if couplings_hz is None:
        d0 = sp.system.dipolar[0].d_hz
        return np.geomspace(d0 / 4, d0 * 4, 24)
    if isinstance(couplings_hz, tuple) and len(couplings_hz) == 3 and not isinstance(couplings_hz[2], float):
        lo, hi, n = couplings_hz
        label = f"{lo:g}:{hi:g}:{n}"
        if not (0 < lo < hi and math.isfinite(hi)) or int(n) < 4:
            raise UserError(f"couplings_hz {label}: need 0 < low < high and n >= 4")
        values = np.geomspace(lo, hi, int(n))
    else:
        values = np.asarray(couplings_hz, float)
        label = f"{values[0]:g}..{values[-1]:g}" if values.size else "[]"
    _plausible_couplings(label, (float(values[0]), float(values[-1])), sp, notes)
    return values


def _plausible_couplings(label, ends, sp, notes):
    """The distances the D axis spans, checked against the one table of plausible distances."""
    from spinsim.dipolar import distance_from_coupling
    from spinsim.isotopes import element_of
    from spinsim.plausibility import check, shortest_distance_angstrom

    a, b = sp.system.spins[0].isotope, sp.system.spins[1].isotope
    shortest = shortest_distance_angstrom(element_of(a), element_of(b))
    hint = "D in Hz: check the unit of couplings_hz"
    for d in ends:
        if not (d > 0 and math.isfinite(d)):
            continue  # refused as an axis by the build
        r = float(distance_from_coupling(d, a, b))
        try:
            msg = check("distance", r, f"couplings_hz {label} ({d:g} Hz for {a.symbol}-{b.symbol}, i.e. r)", "A",
                        lo=shortest, lo_reason=f"for {a.symbol}-{b.symbol}", hint=False)
        except ValueError as exc:
            raise UserError(f"{exc} ({hint})") from None
        if msg:
            notes.append(f"{msg} ({hint})")


def library_info(path):
    """What a library file holds, as ``respdor library info``.

    Parameters
    ----------
    path : str or Path
        A library built by :func:`build_library` (or its ``.partial`` work file).

    Returns
    -------
    LibraryInfo
        Axes, completeness, size, engine, powder, measured interpolation error and the library's
        own powder convergence check (its warnings raised as
        :class:`respdor.errors.ConvergenceWarning`).

    Examples
    --------
    >>> import respdor
    >>> info = respdor.library_info("cq.h5")                                       # doctest: +SKIP
    >>> info.to_dataframe()                                                        # doctest: +SKIP
    """
    from .. import library as lib

    info = LibraryInfo.from_dict(lib.library_info(path))
    sparse = lib.sparse_check_warning(info.axes, info.interp_error, Path(path).name)
    if sparse:
        info.warnings.append(sparse)
    for text in list(info.warnings):
        warn(text, ConvergenceWarning, stacklevel=2)
    return info


def _convergence_headline(record):
    """``powder converged`` only for settings that were checked: an explicit setting not checked on
    request says so, whatever the checked ones gave."""
    if record is None:
        return "powder not checked"
    status = [d.get("status") for d in (record.get("dimensions") or {}).values()]
    unchecked = "explicit" in status
    if not record.get("converged"):
        return "powder NOT converged"
    if unchecked and not any(s in ("converged", "refined") for s in status):
        return "powder not checked (explicit)"
    return "powder converged" + (" (explicit settings not checked)" if unchecked else "")


@dataclass(repr=False)
class LibraryInfo(ResultDisplay):
    """A library file described (:func:`library_info`); ``to_dict()`` is ``library info --json``."""

    path: str
    axes: dict
    points_done: int
    points: int
    complete: bool
    engine: str
    powder: dict
    bytes: int
    interp_error: dict | None = None
    convergence: dict | None = None
    warnings: list = field(default_factory=list)

    def _title(self):
        return Path(self.path).name

    def _headline(self):
        err = self.interp_error
        return (f"{'complete' if self.complete else 'INCOMPLETE'}, {self.points_done}/{self.points} points, "
                f"axes {', '.join(self.axes)}; interpolation error "
                + (f"max {err['max']:.2g}" if err else "not measured") + f"; {_convergence_headline(self.convergence)}")

    def _rows(self):
        return [{"name": n, "n": a["n"], "min": a["min"], "max": a["max"], "unit": a["unit"]}
                for n, a in self.axes.items()]

    def lines(self):
        """The text ``respdor library info`` prints (without the convergence warnings)."""
        out = [f"{self.path}: {'complete' if self.complete else 'INCOMPLETE'}, {self.points_done}/{self.points} "
               f"parameter points, {self.bytes / 1e6:.2f} MB"]
        out += [f"  {name:12s} {a['n']:4d} values  {a['min']:.6g} .. {a['max']:.6g} {a['unit']}"
                for name, a in self.axes.items()]
        pw = self.powder
        out.append(f"  powder {pw['scheme'].upper()} {pw['n']} x {pw['n_gamma']}; engine {self.engine}")
        err = self.interp_error
        out.append("  interpolation error: " + (f"max {err['max']:.2g}, rms {err['rms']:.2g} at {err['n_points']} "
                                                "off-grid points" if err else "not measured"))
        return out + convergence_lines(self.convergence, "  ")

    def plot(self, ax=None, parameters=None):
        """dS/S0 of the library against the recoupling time (ms) at its smallest, middle and largest D,
        the other parameters at their defaults (or ``parameters``, SI). Returns the axes."""
        from ..library import LibraryShape

        shape = LibraryShape.open(self.path)
        ax = axes_or_new(ax)
        t = shape.times_s[shape.times_s <= shape.t_max_s * (1 + 1e-9)]
        grid = shape.coupling_grid_hz
        for d in (grid[0], grid[len(grid) // 2], grid[-1]):
            ax.plot(1e3 * t, shape(t, d, **(parameters or {})), label=f"D = {d:.4g} Hz")
        ax.set_xlabel("recoupling time (ms)")
        ax.set_ylabel("dS/S0")
        ax.set_title(Path(self.path).name, fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        return ax

    def to_dict(self):
        return {"path": self.path, "axes": self.axes, "points_done": self.points_done, "points": self.points,
                "complete": self.complete, "engine": self.engine, "powder": self.powder, "bytes": self.bytes,
                "interp_error": self.interp_error, "convergence": self.convergence}

    @classmethod
    def from_dict(cls, data):
        conv = data.get("convergence")
        return cls(str(data["path"]), dict(data["axes"]), int(data["points_done"]), int(data["points"]),
                   bool(data["complete"]), str(data["engine"]), dict(data["powder"]), int(data["bytes"]),
                   data.get("interp_error"), conv, list((conv or {}).get("warnings", [])))


def convergence_lines(record, indent=""):
    """Lines saying the library's own powder / gamma / step check (stored in the file)."""
    if record is None:
        return [f"{indent}powder convergence: not checked (built with n_checks 0 or by an older version)"]
    return ([f"{indent}powder {record['lines'][0]} (at D = {record['coupling_hz']:.4g} Hz)"]
            + [f"{indent}{line}" for line in record["lines"][1:]])


@dataclass(repr=False)
class LibraryBuild(ResultDisplay):
    """What a build did (:func:`build_library`); ``to_dict()`` is ``library build --json``."""

    path: str
    computed: int
    skipped: int
    n_points: int
    n_curves: int
    wall_s: float
    grid_s: float = 0.0
    curves_per_s: float | None = None
    interp_error: dict | None = None
    convergence: dict | None = None
    warnings: list = field(default_factory=list)

    def _title(self):
        return Path(self.path).name

    def _headline(self):
        err = self.interp_error
        return (f"{self.n_curves} curves, {self.computed} points computed, {self.skipped} already there, "
                f"{self.wall_s:.1f} s; interpolation error " + (f"max {err['max']:.2g}" if err else "not measured")
                + f"; {_convergence_headline(self.convergence)}")

    def _rows(self):
        return [{"name": k, "value": getattr(self, k)} for k in ("computed", "skipped", "n_points", "n_curves",
                                                                 "wall_s", "curves_per_s")]

    def lines(self):
        """The text ``respdor library build`` prints (without the warnings)."""
        out = [f"wrote {self.path}: {self.n_curves} curves, {self.computed} points computed, {self.skipped} already "
               f"in the file, {self.wall_s:.1f} s" + (f", {self.curves_per_s:.2f} curves/s" if self.curves_per_s
                                                       else "")]
        err = self.interp_error
        if err:
            out.append(f"interpolation error at {err['n_points']} off-grid points: max {err['max']:.2g}, "
                       f"rms {err['rms']:.2g} (dS/S0)")
        return out + convergence_lines(self.convergence)

    def info(self):
        """The :class:`LibraryInfo` of the library built."""
        return library_info(self.path)

    def plot(self, ax=None, parameters=None):
        """As :meth:`LibraryInfo.plot` of the library built."""
        from .. import library as lib

        return LibraryInfo.from_dict(lib.library_info(self.path)).plot(ax, parameters)

    def to_dict(self):
        return {"path": self.path, "computed": self.computed, "grid_s": self.grid_s, "skipped": self.skipped,
                "n_points": self.n_points, "n_curves": self.n_curves, "wall_s": self.wall_s,
                "curves_per_s": self.curves_per_s, "interp_error": self.interp_error,
                "convergence": self.convergence, "warnings": list(self.warnings)}

    @classmethod
    def from_dict(cls, data):
        conv = data.get("convergence")
        return cls(str(data["path"]), int(data["computed"]), int(data["skipped"]), int(data["n_points"]),
                   int(data["n_curves"]), float(data["wall_s"]), float(data.get("grid_s") or 0.0),
                   data.get("curves_per_s"), data.get("interp_error"), conv,
                   list(data.get("warnings") or (conv or {}).get("warnings", [])))
