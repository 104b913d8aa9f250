"""``respdor.simulate``: an exact spin-dynamics REDOR / RESPDOR curve from a spec, as one call.

What ``respdor simulate SPEC`` does, for scripts and notebooks: the spec is read (a TOML/JSON path
or a dict, :mod:`spinsim.spec`), checked against the one table of plausible values, its work is
estimated before it starts (and refused beyond the limit unless ``allow_long=True``), the curve
is simulated, and the powder, gamma and time-step settings the spec left at their defaults are
checked for convergence (and refined when unconverged; the settings you chose are checked on
request). The result is a :class:`SimulationRun`; nothing is written unless you ask
(:meth:`SimulationRun.to_csv`, :meth:`~respdor.display.ResultDisplay.to_json`).

The steps are also available one by one (:func:`prepare_simulation`, then
:meth:`SimulationSetup.check_work` and :meth:`SimulationSetup.run`): the command line says what it
is about to simulate between the work estimate and the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..display import ResultDisplay, axes_or_new
from ..errors import ConvergenceWarning, DataWarning, UserError, warn

__all__ = ["simulate", "prepare_simulation", "single_crystal_warning", "SimulationSetup", "SimulationRun", "UNITS_NOTE"]

#: What the curve's numbers are in (the command line prints it before the run).
UNITS_NOTE = ("units assumed: times in s (CSV column t_s), couplings in Hz, CQ in Hz/MHz, rf in kHz as named "
              "in the spec")

#: The Python names of the convergence hints (:func:`respdor.convergence.check_warnings`).
_HINT_NAMES = {"alpha_beta": "n_orientations", "gamma": "n_gamma_angles"}


def simulate(spec, *, n_orientations=None, n_gamma_angles=None, check_convergence=False, powder_tol=None,
             allow_long=False, progress=None):
    """Simulate a REDOR / RESPDOR dephasing curve from a spec, with every check of ``respdor simulate``.

    Parameters
    ----------
    spec : str, Path, dict or spinsim.spec.Spec
        A spinsim spec: a TOML or JSON file, the same as a dict (format: docs/simulation.md), or a
        loaded spec (left unchanged).
        Every key carries its unit in its name (``d_hz``, ``cq_mhz``, ``nu1_khz``, ``t_max_ms``).
    n_orientations : int, optional
        Number of (alpha, beta) powder orientations, replacing the spec's ``[powder] n`` (ZCW sizes
        are rounded up to the next Fibonacci number). Not with a ``[powder] file``.
    n_gamma_angles : int, optional
        Number of gamma angles, replacing the spec's ``[powder] n_gamma``.
    check_convergence : bool
        Also check the settings you chose explicitly (the spec's ``[powder]`` keys,
        ``[simulation] max_dt_us``, ``n_orientations``, ``n_gamma_angles``); defaulted settings are
        always checked, and refined when unconverged.
    powder_tol : float, optional
        Largest accepted change of dS/S0 when a setting is made coarser, in (0, 1); default
        :data:`spinsim.convergence.DEFAULT_TOL`.
    allow_long : bool
        Run even when the estimated work is beyond the limit (:data:`respdor.workload.SIMULATION_LIMIT`).
    progress : None, bool, callable or spinsim.progress.Progress
        Progress of the run and notes (the work estimate, the convergence check's cost); see
        :mod:`spinsim.progress`. ``False``: silent.

    Returns
    -------
    SimulationRun
        The curve (``t_s`` in s, ``S0``, ``S1``, ``dSS0``), the convergence record and the warnings.

    Raises
    ------
    respdor.errors.UserError
        A spec that cannot be read or has an implausible value, contradicting arguments, or work
        beyond the limit without ``allow_long``: one line naming the key or argument.

    Warns
    -----
    respdor.errors.DataWarning
        An unusual spec value (also in ``SimulationRun.warnings``).
    respdor.errors.ConvergenceWarning
        A setting not converged within ``powder_tol`` (also in ``SimulationRun.warnings``).

    Examples
    --------
    >>> import respdor
    >>> run = respdor.simulate("data/c13_al27_respdor.toml", n_orientations=144, n_gamma_angles=8,
    ...                        progress=False)                                     # doctest: +SKIP
    >>> run.dSS0[-1]                                                              # doctest: +SKIP
    >>> run.plot()                                                                # doctest: +SKIP
    """
    from ..convergence import check_tol

    if powder_tol is not None:
        check_tol(powder_tol, "powder_tol")
    setup = prepare_simulation(spec, n_orientations=n_orientations, n_gamma_angles=n_gamma_angles)
    setup.check_work(allow_long=allow_long, progress=progress)
    return setup.run(check_convergence=check_convergence, powder_tol=powder_tol, progress=progress)


def _whole(value, name):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise UserError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def _load(spec):
    """The spinsim Spec of a path, dict or Spec; its errors as one-line user errors."""
    from spinsim.spec import Spec, SpecError, load_spec

    if isinstance(spec, Spec):
        import copy

        return copy.copy(spec)  # the run sets its powder and step; the caller's spec keeps its own
    try:
        return load_spec(spec if isinstance(spec, dict) else Path(spec))
    except SpecError as exc:
        raise UserError(str(exc)) from None


def prepare_simulation(spec, *, n_orientations=None, n_gamma_angles=None):
    """Read a spec and apply the powder overrides: the first step of :func:`simulate`.

    Parameters are those of :func:`simulate`. Unusual values are warned
    (:class:`respdor.errors.DataWarning`) and kept in :attr:`SimulationSetup.warnings`.

    Returns
    -------
    SimulationSetup
    """
    n_orientations = _whole(n_orientations, "n_orientations")
    n_gamma_angles = _whole(n_gamma_angles, "n_gamma_angles")
    sp = _load(spec)
    source = str(spec) if isinstance(spec, (str, Path)) else sp.source
    notes = list(sp.warnings)
    if n_orientations is not None or n_gamma_angles is not None:
        notes = [w for w in notes if not w.startswith("[powder]")] + _override_powder(sp, n_orientations,
                                                                                      n_gamma_angles)
    setup = SimulationSetup(sp, source, n_orientations, n_gamma_angles)
    for text in notes:
        warn(text, DataWarning, into=setup.warnings, stacklevel=3)
    return setup


def _override_powder(sp, n, g):
    """Replace the spec's powder by ``n`` orientations x ``g`` gamma angles; returns the warnings."""
    from spinsim.powder import make_powder

    raw_powder = sp.raw.get("powder") or {}
    if n is not None and "file" in raw_powder:
        raise UserError(f"n_orientations={n} contradicts the spec's [powder] file {raw_powder['file']!r}, which "
                        "gives the (alpha, beta) orientations; drop one of them (n_gamma_angles still applies)")
    n_ab = n if n is not None else sp.powder.n_ab
    n_g = g if g is not None else sp.powder.n_gamma
    if n_ab < 1 or n_g < 1:
        raise UserError(f"n_orientations and n_gamma_angles must be >= 1, got {n_ab} and {n_g}")
    scheme = "repulsion" if sp.powder.name.startswith("rep") else "zcw"
    try:
        sp.powder = make_powder(scheme, n_ab, n_g)
    except ValueError as exc:
        raise UserError(f"n_orientations={n_ab} n_gamma_angles={n_g}: {exc}") from None
    notes = [w for w in [single_crystal_warning(sp.powder, f"n_orientations={n_ab}")] if w]
    if g is not None:
        from ..units import plausible

        plausible("gamma", g, "n_gamma_angles", str(g), notes)
    return notes


def single_crystal_warning(powder, given):
    """The warning for a powder (:class:`spinsim.powder.Powder`) of fewer than
    ``spinsim.spec.MIN_POWDER`` orientations, which is a single crystal, else None; ``given``
    names the argument or option that chose it."""
    from spinsim.spec import MIN_POWDER

    if powder.n_ab < MIN_POWDER:
        return (f"{given}: {powder.n_ab} (alpha, beta) orientation(s) is a (near) single crystal, not a powder "
                f"average (below {MIN_POWDER} is never one)")
    return None


@dataclass(repr=False)
class SimulationSetup:
    """A spec read and ready to run (:func:`prepare_simulation`).

    Attributes
    ----------
    spec : spinsim.spec.Spec
        The spec, with the powder overrides applied.
    source : str
        Where it came from (the path, or ``"<dict>"``).
    n_orientations, n_gamma_angles : int or None
        The overrides given.
    warnings : list of str
        Unusual values of the spec or of the overrides.
    """

    spec: object
    source: str
    n_orientations: int | None = None
    n_gamma_angles: int | None = None
    warnings: list = field(default_factory=list)

    def __repr__(self):
        return f"<SimulationSetup {self.source}: {' '.join(self.describe()[:1])[:150]}>"

    def work(self):
        """The estimated work of the run (:class:`respdor.workload.Work`)."""
        from ..workload import simulation_work

        return simulation_work(self.spec.work_counts(), "t_max_ms / recoupling_times_ms, the powder (n, n_gamma, "
                                                        "n_orientations, n_gamma_angles), rf_inhomogeneity n or "
                                                        "the number of partners")

    def check_work(self, allow_long=False, progress=None, command=None):
        """Refuse work beyond the limit unless ``allow_long``; note the estimate of long work.

        ``command`` names the job in the refusal (default ``simulate <source>``). Returns True
        when the run is long (the estimate was noted through ``progress``).
        """
        from ..workload import check_work

        from spinsim.progress import as_progress

        return check_work(self.work(), allow_long, command or f"simulate {self.source}",
                          progress=as_progress(progress), confirm="allow_long=True")

    def describe(self):
        """Lines saying what will be simulated (experiment, nuclei, field, MAS, times, powder)."""
        sp = self.spec
        partners = ",".join(s.isotope.symbol for s in sp.system.spins[1:])
        return [f"{sp.kind.upper()}, {sp.system.spins[0].isotope.symbol}{{{partners}}}, B0 = {sp.system.field_t:g} T, "
                f"MAS = {sp.mas_rate:g} Hz, {len(sp.times_s)} recoupling times up to {1e3 * sp.times_s[-1]:g} ms, "
                f"powder {sp.powder.name} x {sp.powder.n_gamma} gamma"]

    def run(self, check_convergence=False, powder_tol=None, progress=None, bar=None):
        """Simulate and check convergence (see :func:`simulate`).

        ``bar``: None passes ``progress`` to the engine as it is; True makes the engine show its
        progress (through ``progress`` when given), also when ``progress`` only shows notes (the
        command line's long runs); False keeps the engine silent.

        Returns
        -------
        SimulationRun
        """
        from spinsim.convergence import DEFAULT_TOL

        from ..convergence import check_tol, spec_explicit

        tol = check_tol(DEFAULT_TOL if powder_tol is None else powder_tol, "powder_tol")
        explicit = spec_explicit(self.spec.raw, self.n_orientations is not None, self.n_gamma_angles is not None)
        engine_progress = progress if bar is None else (_engine_bar(progress) if bar else False)
        from spinsim.compilation import compilation_notice

        with compilation_notice(progress, self.spec.work_counts()["engine"]):
            result, check = _run_checked(self, explicit, tol, bool(check_convergence), progress, engine_progress)
        run = SimulationRun.from_simulation(self, result, check)
        from .. import convergence as cv

        for text in cv.check_warnings(check, result.t_s, options=_HINT_NAMES):
            warn(text, ConvergenceWarning, into=run.warnings, stacklevel=3)
        return run


def _engine_bar(progress):
    """What the engine reports its crystallites to when a bar is asked for: ``progress``, unless it
    shows notes only (:class:`spinsim.progress.LineProgress`, the command line's): then a bar on
    standard error (``True``)."""
    from spinsim.progress import LineProgress

    return True if progress is None or isinstance(progress, LineProgress) else progress


def _run_checked(setup, explicit, tol, check_explicit, progress, engine_progress):
    """The simulation and its convergence check (:mod:`spinsim.convergence`): defaulted powder,
    gamma and step settings checked (and refined when unconverged), explicit ones on request."""
    from spinsim.convergence import check_convergence, step_used

    from .. import convergence as cv

    sp = setup.spec
    results = {}

    def run(level):
        sp.powder, sp.max_dt = level.powder, level.max_dt
        try:
            r = sp.run(progress=engine_progress)
        except ValueError as exc:
            raise UserError(f"{setup.source}: {exc}") from None
        results[level.describe()] = r
        return r.dSS0

    level = cv.spec_level(sp)
    t0 = time.perf_counter()
    base = run(level)
    wall = time.perf_counter() - t0
    uses_step = step_used(results[level.describe()].info)
    from spinsim.progress import as_progress

    cv.announce(explicit, check_explicit, wall, as_progress(progress), uses_step)
    check = check_convergence(run, level, explicit, tol, check_explicit, base=(base, wall), uses_step=uses_step,
                              nested=True, times_s=results[level.describe()].t_s)
    sp.powder, sp.max_dt = check.level.powder, check.level.max_dt
    result = results[check.level.describe()]
    result.info["experiment"] = list(result.info.get("experiment", [])) + [
        f"numerics: {check.level.describe()}; convergence " + ", ".join(
            f"{d.dimension} {d.status}" + (f" ({d.max_change:.1e})" if d.max_change is not None else "")
            for d in check.dimensions)]
    return result, check


def _plain_info(info):
    return {k: (v if isinstance(v, (int, float, str, bool, type(None))) or k == "experiment" else str(v))
            for k, v in info.items()}


@dataclass(repr=False)
class SimulationRun(ResultDisplay):
    """A simulated dephasing curve with its convergence record (:func:`simulate`).

    Attributes
    ----------
    spec : str
        Where the spec came from (its path, or ``"<dict>"``).
    title : str
        The spec's title (may be empty).
    t_s : ndarray
        Recoupling times (s).
    S0, S1, dSS0 : ndarray
        Reference and dephased signals (relative to the initial magnetisation) and (S0 - S1) / S0.
    info : dict
        Engine, powder, step, wall time and ``info["experiment"]`` (what was simulated, in words).
    convergence : dict
        The powder / gamma / step check (:func:`respdor.convergence.check_json`).
    warnings : list of str
        Unusual spec values and unconverged settings, one line each.
    check : spinsim.convergence.ConvergenceCheck or None
        The check itself (None when read from JSON).
    """

    spec: str
    title: str
    t_s: np.ndarray
    S0: np.ndarray
    S1: np.ndarray
    dSS0: np.ndarray
    info: dict = field(default_factory=dict)
    convergence: dict | None = None
    warnings: list = field(default_factory=list)
    check: object = None

    @classmethod
    def from_simulation(cls, setup, result, check):
        """The run of ``setup`` (:class:`SimulationSetup`) from spinsim's result and the check."""
        from .. import convergence as cv

        return cls(setup.source, setup.spec.title or "", np.asarray(result.t_s, float), np.asarray(result.S0, float),
                   np.asarray(result.S1, float), np.asarray(result.dSS0, float), dict(result.info),
                   cv.check_json(check, result.t_s), list(setup.warnings), check)

    # --- display
    def _title(self):
        return self.title or (Path(self.spec).name if self.spec != "<dict>" else "spinsim curve")

    def _headline(self):
        n = len(self.t_s)
        head = (f"{n} times to {1e3 * self.t_s[-1]:.4g} ms, dS/S0 at the end {self.dSS0[-1]:.4g}" if n else "no times")
        conv = (self.convergence or {}).get("converged")
        engine = self.info.get("engine")
        return head + (f"; {engine} engine" if engine else "") + (
            "" if conv is None else f"; convergence {'passed' if conv else 'NOT reached'}")

    def _rows(self):
        return [{"t_s": float(t), "S0": float(a), "S1": float(b), "dSS0": float(d)}
                for t, a, b, d in zip(self.t_s, self.S0, self.S1, self.dSS0)]

    def to_dataframe(self):
        """The curve as a pandas DataFrame indexed by ``t_s`` (s), columns ``S0``, ``S1``, ``dSS0``."""
        frame = super().to_dataframe()
        return frame.set_index("t_s") if "t_s" in frame.columns else frame

    def to_xarray(self):
        """The curve as an ``xarray.Dataset`` over ``t_s`` (s), with the info as attributes.

        Raises
        ------
        ImportError
            When xarray is not installed.
        """
        try:
            import xarray as xr
        except ImportError:
            raise ImportError('to_xarray needs xarray: pip install xarray (or use to_dataframe())') from None
        attrs = {"spec": self.spec, "title": self.title, "warnings": "\n".join(self.warnings),
                 **{k: v for k, v in _plain_info(self.info).items() if k != "experiment"}}
        attrs["experiment"] = "\n".join(self.info.get("experiment", []))
        return xr.Dataset({name: ("t_s", getattr(self, name)) for name in ("S0", "S1", "dSS0")},
                          coords={"t_s": ("t_s", self.t_s, {"units": "s"})}, attrs=attrs)

    def convergence_lines(self):
        """Lines saying what the convergence check compared and found (empty when read from JSON)."""
        from .. import convergence as cv

        return [] if self.check is None else cv.check_text(self.check, self.t_s, options=False)

    def plot(self, ax=None):
        """dS/S0, S0 and S1 against the recoupling time (ms) on ``ax`` (new axes when None).

        No backend is selected: in a notebook the figure shows inline. Returns the axes.
        """
        ax = axes_or_new(ax, figsize=(5.5, 4.0))
        t_ms = 1e3 * self.t_s
        ax.plot(t_ms, self.dSS0, "o-", ms=3, label="dS/S0")
        ax.plot(t_ms, self.S0, "--", lw=1, label="S0")
        ax.plot(t_ms, self.S1, ":", lw=1, label="S1")
        ax.set_xlabel("recoupling time (ms)")
        ax.set_ylabel("signal / dephasing")
        ax.set_title(self.title or "spinsim", fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        return ax

    # --- files
    def csv_text(self):
        """The curve as CSV: ``#`` lines saying what was simulated, then ``t_s,S0,S1,dSS0``
        (:meth:`spinsim.simulate.SimulationResult.csv_text`, the one curve CSV format)."""
        from spinsim.simulate import SimulationResult

        return SimulationResult(self.t_s, self.S0, self.S1, self.dSS0, self.info).csv_text()

    def to_csv(self, path, inputs=()):
        """Write :meth:`csv_text` to ``path`` atomically, never over one of ``inputs`` (or the spec)."""
        from ..files import write_output

        spec = [self.spec] if self.spec not in ("", "<dict>") else []
        write_output(path, self.csv_text(), [*spec, *inputs], "path")

    def to_json(self, path=None, inputs=()):
        """The JSON of ``respdor simulate --json``; also written to ``path`` when given, never over
        the spec or one of ``inputs``."""
        spec = [self.spec] if self.spec not in ("", "<dict>") else []
        return super().to_json(path, [*spec, *inputs])

    def to_dict(self):
        """The JSON document of ``respdor simulate --json``."""
        return {"spec": self.spec, "title": self.title, "t_s": self.t_s.tolist(), "S0": self.S0.tolist(),
                "S1": self.S1.tolist(), "dSS0": self.dSS0.tolist(), "warnings": list(self.warnings),
                "info": _plain_info(self.info), "convergence": self.convergence}

    @classmethod
    def from_dict(cls, data):
        """The run from its JSON (:meth:`to_dict`, or ``respdor simulate --json``)."""
        try:
            arrays = [np.asarray(data[k], float) for k in ("t_s", "S0", "S1", "dSS0")]
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"not the JSON of a simulated curve (t_s, S0, S1, dSS0): {exc}") from None
        return cls(str(data.get("spec", "")), str(data.get("title") or ""), *arrays, dict(data.get("info") or {}),
                   data.get("convergence"), list(data.get("warnings") or []))
