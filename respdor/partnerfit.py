"""Fits of one dephasing curve with two partners.

:func:`fit_two_partners` fits the exact per-crystallite product of :mod:`respdor.multipartner`:
the larger coupling D1, the smaller D2, the angle theta between the two vectors and the bonded
fraction f (efficiency and abundance as in the two-spin fits). Intervals are chi^2 profiles, each
parameter held and the three others re-fitted; a parameter whose 95 % interval spans its whole
allowed range is reported as not determined by the curve.

Fits with three or more partners are in :mod:`respdor.npartnerfit`; the comparison of models in
:mod:`respdor.comparison`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .display import ResultDisplay, axes_or_new
from .errors import FitWarning, UserError, warn
from .multipartner import pair_geometry, partners_dephasing, powder_error, powder_for

__all__ = ["fit_two_partners", "TwoPartnerFit", "information_criteria", "Estimate"]

#: Shortest distance a fit may reach (angstrom): closer than any bonded pair of these nuclei.
MIN_DISTANCE_ANGSTROM = 1.5
#: The largest coupling a fit tries puts the first point at lambda = kappa D t_min <= this.
MAX_FIRST_LAMBDA = 3.0
#: The working powder is this fraction of :func:`respdor.multipartner.powder_for`'s size rule; the
#: fit reports the change of its best curve at twice the working powder and warns when it matters.
WORKING_POWDER = 0.6


#: Re-fits inside a profile: a flat valley (the angle at small D2) would otherwise run leastsq to
#: thousands of evaluations for a chi^2 already settled to far below one unit.
_PROFILE_FIT = {"max_nfev": 300, "ftol": 1e-7, "xtol": 1e-7}


class _Problem:
    """The curve, the partner model and the working powder of a two-partner fit."""

    def __init__(self, curve, model, abundance):
        self.t = np.asarray(curve.time_s, float)
        self.y = np.asarray(curve.dss0, float)
        self.weighted = curve.sigma is not None
        self.sigma = np.asarray(curve.sigma, float) if self.weighted else np.ones_like(self.y)
        self.model, self.abundance = model, float(abundance)
        self.wj, self.kappa = model._weights, model.default_scaling
        j_max = int(np.flatnonzero(self.wj > 0).max()) if np.any(self.wj > 0) else 1
        self.j_max = max(j_max, 1)
        t_min = float(self.t[self.t > 0].min())
        d_phys = model.dr3 / MIN_DISTANCE_ANGSTROM ** 3
        self.d_max = float(min(d_phys, MAX_FIRST_LAMBDA / (self.kappa * t_min)))
        self._geometry = {}
        self.set_powder(self.d_max / 10.0)

    def set_powder(self, d1_hz, factor=1.0):
        """Work with the powder that D1 = ``d1_hz`` needs, ``factor`` times as fine (held through one
        local fit: a powder that changed with D1 inside a fit would make chi^2 jump)."""
        self.powder = powder_for(self.j_max * self.kappa * d1_hz * float(self.t.max()), factor)

    def geometry(self, angle_deg):
        key = (round(float(angle_deg), 9), self.powder.name, self.powder.n_gamma)
        if key not in self._geometry:
            if len(self._geometry) > 64:
                self._geometry.clear()
            self._geometry[key] = pair_geometry(angle_deg, self.powder)
        return self._geometry[key]

    def shape(self, d1, d2, angle, powder=None):
        g, w = self.geometry(angle) if powder is None else pair_geometry(angle, powder)
        return partners_dephasing(self.t, [d1, d2], g, w, self.wj, self.kappa, self.abundance)

    def residual(self, d1, d2, angle, fraction):
        return (fraction * self.shape(d1, d2, angle) - self.y) / self.sigma


def _params(kind, d1, d2, angle, fraction, d_max):
    """lmfit parameters of one parameterisation: ``"larger"`` (D1, D2/D1) or ``"smaller"`` (D2, D1 - D2)."""
    import lmfit

    p = lmfit.Parameters()
    if kind == "larger":
        p.add("coupling_1_hz", value=d1, min=1e-3, max=d_max)
        p.add("ratio", value=min(max(d2 / d1, 0.0), 1.0), min=0.0, max=1.0)
    else:
        p.add("coupling_2_hz", value=d2, min=0.0, max=d_max)
        p.add("gap_hz", value=max(d1 - d2, 0.0), min=0.0, max=d_max)
    p.add("angle_deg", value=angle, min=0.0, max=90.0)
    p.add("fraction", value=fraction, min=0.0, max=1.0)
    return p


def _values(p):
    """(D1, D2, angle, fraction) from either parameterisation."""
    v = p.valuesdict() if hasattr(p, "valuesdict") else p
    if "coupling_1_hz" in v:
        d1 = v["coupling_1_hz"]
        d2 = v["ratio"] * d1
    else:
        d2 = v["coupling_2_hz"]
        d1 = d2 + v["gap_hz"]
    return d1, d2, v["angle_deg"], v["fraction"]


def _best_fraction(y, shape, sigma):
    """The fraction that minimises chi^2 of ``f * shape`` against ``y`` (linear least squares, clipped
    to [0, 1]), and that chi^2."""
    a, b = shape / sigma, y / sigma
    den = float(a @ a)
    f = float(np.clip((a @ b) / den, 0.0, 1.0)) if den > 0 else 0.0
    return f, float(np.sum((f * a - b) ** 2))


def _start_grid(problem):
    """Starts for the local fits: chi^2 over a coarse (D1, D2/D1, angle) grid, fraction solved exactly."""
    d_lo = max(problem.d_max / 300.0, 0.2 / (problem.kappa * float(problem.t.max())))
    scored = []
    for d1 in np.geomspace(d_lo, problem.d_max, 14):
        problem.set_powder(d1, 0.5)  # the grid only ranks starts: half the working powder does
        for ratio in (0.25, 0.6, 1.0):
            for angle in (30.0, 90.0):
                f, chi = _best_fraction(problem.y, problem.shape(d1, ratio * d1, angle), problem.sigma)
                scored.append((chi, d1, ratio * d1, angle, f))
    scored.sort(key=lambda s: s[0])
    return [s[1:] for s in scored[:3]]


def _local_fit(problem, start):
    """Levenberg-Marquardt from ``start`` (D1, D2, angle, fraction) with a powder for 1.5 x the start's D1."""
    import lmfit

    problem.set_powder(1.5 * start[0], WORKING_POWDER)
    params = _params("larger", *start, problem.d_max)
    with np.errstate(all="ignore"):
        return lmfit.minimize(lambda p: problem.residual(*_values(p)), params, method="leastsq")


def _search(problem, progress):
    """The lowest chi^2 of local fits from the best grid points, the powder fitted to the result."""
    from spinsim.progress import tracking

    starts = _start_grid(problem)
    best = None
    with tracking(progress, len(starts), "two-partner fit", "starts") as bar:
        for start in starts:
            out = _local_fit(problem, start)
            if best is None or out.chisqr < best.chisqr:
                best = out
            bar.advance(1)
    # once more with the powder the fitted D1 needs (each start had its own)
    return _local_fit(problem, _values(best.params))


@dataclass
class Estimate:
    """One parameter of a two-partner fit: best value and profile-likelihood intervals (None: open)."""

    name: str
    value: float
    unit: str
    ci68: tuple = (None, None)
    ci95: tuple = (None, None)
    determined: bool | None = None  # None: no intervals were computed

    def to_dict(self):
        return {"name": self.name, "value": self.value, "unit": self.unit, "ci68": list(self.ci68),
                "ci95": list(self.ci95), "determined": self.determined}


def _profile_one(problem, best, name, sigma_known, nfree, chisqr):
    """Profile of ``name`` in the parameterisation that holds it (D2 needs the 'smaller' one)."""
    from .profile import profile

    kind = "smaller" if name == "coupling_2_hz" else "larger"
    params = _params(kind, *best, problem.d_max)
    return profile(params, lambda p: problem.residual(*_values(p)), name, sigma_known=sigma_known, nfree=nfree,
                   chi2_best=chisqr, refit=True, rtol=1e-3, fit_kws=_PROFILE_FIT)


def _estimates(problem, best, chisqr, nfree, intervals, progress):
    """Estimate per physical parameter; distances from the couplings (r = (dr3 / D)^(1/3))."""
    from spinsim.progress import tracking

    names = {"coupling_1_hz": ("Hz", best[0]), "coupling_2_hz": ("Hz", best[1]), "angle_deg": ("deg", best[2]),
             "fraction": ("", best[3])}
    allowed = {"coupling_1_hz": (0.0, problem.d_max), "coupling_2_hz": (0.0, problem.d_max),
               "angle_deg": (0.0, 90.0), "fraction": (0.0, 1.0)}
    out, lowest = {}, (chisqr, None)
    with tracking(progress if intervals else False, len(names), "profiles", "parameters") as bar:
        for name, (unit, value) in names.items():
            est = Estimate(name, float(value), unit)
            if intervals:
                prof = _profile_one(problem, best, name, problem.weighted, nfree, chisqr)
                (lo68, hi68), (lo95, hi95) = (prof.intervals[k] for k in sorted(prof.intervals))
                est.ci68, est.ci95 = (lo68, hi68), (lo95, hi95)
                lo, hi = allowed[name]
                span = (lo95 if lo95 is not None else lo, hi95 if hi95 is not None else hi)
                est.determined = not (span[0] - lo <= 0.02 * (hi - lo) and hi - span[1] <= 0.02 * (hi - lo))
                if prof.chi2.size and prof.chi2.min() < lowest[0] and prof.lowest is not None:
                    lowest = (float(prof.chi2.min()), _values(prof.lowest))
            out[name] = est
            bar.advance(1)
    dr3 = problem.model.dr3
    for k in (1, 2):
        d = out[f"coupling_{k}_hz"]
        inv = [None if v is None or v <= 0 else (dr3 / v) ** (1 / 3) for v in (*d.ci68, *d.ci95)]
        out[f"distance_{k}_angstrom"] = Estimate(
            f"distance_{k}_angstrom", (dr3 / d.value) ** (1 / 3) if d.value > 0 else math.inf, "angstrom",
            (inv[1], inv[0]), (inv[3], inv[2]), d.determined)
    return out, lowest


def fit_two_partners(curve, observe, partner, *, experiment="respdor", sequence="redor", fraction=None,
                     intervals=True, progress=None):
    """Fit a dephasing curve with two partners of one kind: D1 >= D2, the angle between them and f.

    Parameters
    ----------
    curve : DephasingCurve
        The measured curve (times in s; with errors if known).
    observe, partner : str
        Observed spin-1/2 and partner nucleus, e.g. ``"13C"``, ``"27Al"``.
    experiment : {"respdor", "redor"}
        Saturation (RESPDOR) or pi pulses (REDOR) on the partner, as in :class:`respdor.CurveModel`.
    sequence : str
        Recoupling sequence (its dipolar scaling kappa), as in :class:`respdor.CurveModel`.
    fraction : float, optional
        Hold the bonded fraction at this value (default: fitted).
    intervals : bool
        Profile-likelihood intervals of every parameter (four profiles; the slow part). Only with
        the fraction fitted.
    progress : None, bool, callable or Progress
        See :mod:`spinsim.progress`.

    Returns
    -------
    TwoPartnerFit
        With a warning when chi^2 says the model does not describe the data (p < 0.001), when the
        powder average is uncertain against the noise, and naming the parameters the curve leaves
        undetermined.
    """
    from .fitting import CurveModel

    model = CurveModel(observe, partner, experiment=experiment, sequence=sequence)
    problem = _Problem(curve, model, model.partner_isotope.abundance)
    if curve.n_points < 5:
        raise UserError(f"a two-partner fit has 4 parameters; {curve.n_points} points cannot determine them")
    if fraction is not None and not 0.0 < float(fraction) <= 1.0:
        raise UserError(f"fraction must lie in (0, 1], got {fraction}")
    result = _search(problem, progress) if fraction is None else _search_fixed(problem, float(fraction), progress)
    best, chisqr = _values(result.params), float(result.chisqr)
    nfree = curve.n_points - (3 if fraction is not None else 4)
    notes, warns = [], []
    if intervals and fraction is None:
        _announce_profiles(problem, best, progress)
    estimates, lowest = _estimates(problem, best, chisqr, nfree, intervals and fraction is None, progress)
    if lowest[1] is not None and lowest[0] < chisqr * (1 - 1e-6) - 1e-9:
        restarted = _local_fit(problem, lowest[1])
        if restarted.chisqr < chisqr:
            notes.append(f"a profile found chi2 {lowest[0]:.6g} below the fit's {chisqr:.6g}: fit restarted there")
            best, chisqr = _values(restarted.params), float(restarted.chisqr)
            estimates, _ = _estimates(problem, best, chisqr, nfree, True, progress)
    err = powder_error(lambda pw: problem.shape(best[0], best[1], best[2], pw),
                       problem.j_max * problem.kappa * 1.5 * best[0] * float(problem.t.max()), WORKING_POWDER)
    noise = float(np.median(problem.sigma)) if problem.weighted else math.sqrt(chisqr / max(nfree, 1))
    notes.append(f"powder {problem.powder.name} x {problem.powder.n_gamma} rotor phases: the best curve changes by "
                 f"at most {best[3] * err:.2g} with a powder twice as fine")
    if best[3] * err > 0.2 * noise:
        warn(f"the powder average of the best curve is uncertain by {best[3] * err:.2g}, more than 0.2 x the noise "
             f"({noise:.2g}): intervals may be too narrow", FitWarning, into=warns)
    _determination_warnings(estimates, warns)
    _adequacy_warning(problem, chisqr, nfree, warns)
    return TwoPartnerFit(
        observe=model.observe_isotope.symbol, partner=model.partner_isotope.symbol, experiment=experiment,
        parameters=estimates, chisqr=chisqr, n_points=curve.n_points, n_free_parameters=curve.n_points - nfree,
        weighted=problem.weighted, powder=f"{problem.powder.name}x{problem.powder.n_gamma}", powder_error=err,
        times_s=problem.t, dss0=problem.y, sigma=problem.sigma if problem.weighted else None,
        model_curve=best[3] * problem.shape(*best[:3]), notes=notes, warnings=warns)


#: Curve evaluations of the four profiles: measured 9 000 (16 points to 3 ms) to 30 000 (41 points
#: to 8 ms, two partners at 2.9 A); the estimate says the range.
_PROFILE_EVALUATIONS = (8000, 32000)


def _announce_profiles(problem, best, progress):
    """Say before the profiles start how long they will take (CPU time of one curve evaluation, measured)."""
    import time

    from spinsim.progress import as_progress

    start = time.process_time()
    for _ in range(3):
        problem.residual(*best)
    each = (time.process_time() - start) / 3
    lo, hi = (n * each / 60.0 for n in _PROFILE_EVALUATIONS)
    as_progress(progress).note(f"profile intervals of D1, D2, angle and f: about {lo:.2g}-{hi:.2g} CPU minutes "
                               f"({each * 1e3:.2g} ms per curve evaluation)")


def _search_fixed(problem, fraction, progress):
    """:func:`_search` with the fraction held."""
    import lmfit

    out = _search(problem, progress)
    params = out.params.copy()
    params["fraction"].set(value=fraction, vary=False)
    with np.errstate(all="ignore"):
        return lmfit.minimize(lambda p: problem.residual(*_values(p)), params, method="leastsq")


def _adequacy_warning(problem, chisqr, nfree, warns, models="two partners"):
    """chi^2 test of the best curve of ``models`` (how the warning names them) against the measured errors."""
    from scipy import stats

    from .adequacy import P_VALUE_WARN

    if problem.weighted and nfree > 0:
        p = float(stats.chi2.sf(chisqr, nfree))
        if p < P_VALUE_WARN:
            warn(f"chi2 = {chisqr:.4g} for {nfree} degrees of freedom: p = {p:.2g}: {models} do not describe "
                 "the data within their stated errors either", FitWarning, into=warns)


def _determination_warnings(estimates, warns):
    """Say which parameters the curve leaves undetermined (95 % interval over the whole allowed range)."""
    names = ("coupling_1_hz", "coupling_2_hz", "angle_deg", "fraction")
    loose = [n for n in names if estimates[n].determined is False]
    if loose:
        warn(f"the curve does not determine {', '.join(loose)}: the 95 % profile interval spans the whole allowed "
             "range; report the others with this in mind", FitWarning, into=warns)
    d1_low, d2_high = estimates["coupling_1_hz"].ci95[0], estimates["coupling_2_hz"].ci95[1]
    if d1_low is not None and (d2_high is None or d2_high >= d1_low) and "coupling_2_hz" not in loose:
        warn(f"D1 and D2 may be equal (their 95 % intervals overlap above {d1_low:.4g} Hz): at the edge D1 = D2 of "
             "the fit their separate intervals are not calibrated and can be too narrow; report D1 and D2 together",
             FitWarning, into=warns)


@dataclass(repr=False)
class TwoPartnerFit(ResultDisplay):
    """A two-partner fit (:func:`fit_two_partners`): estimates with profile intervals, and the curves."""

    observe: str
    partner: str
    experiment: str
    parameters: dict
    chisqr: float
    n_points: int
    n_free_parameters: int
    weighted: bool
    powder: str
    powder_error: float
    times_s: np.ndarray
    dss0: np.ndarray
    sigma: np.ndarray | None
    model_curve: np.ndarray
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def value(self, name):
        """Best value of ``name`` (``coupling_1_hz``, ``distance_2_angstrom``, ``angle_deg``, ``fraction``...)."""
        return self.parameters[name].value

    @property
    def p_value(self):
        """chi^2 p-value of the fit (None without measurement errors)."""
        from scipy import stats

        dof = self.n_points - self.n_free_parameters
        return float(stats.chi2.sf(self.chisqr, dof)) if self.weighted and dof > 0 else None

    def _title(self):
        return f"two-partner fit: {self.observe}{{{self.partner}}} {self.experiment.upper()}"

    def _headline(self):
        p = self.parameters
        return (f"r1 = {p['distance_1_angstrom'].value:.3g} A, r2 = {p['distance_2_angstrom'].value:.3g} A, "
                f"angle = {p['angle_deg'].value:.0f} deg, f = {p['fraction'].value:.3g}, chi2 = {self.chisqr:.4g}")

    def _rows(self):
        return [{"name": e.name, "value": e.value, "unit": e.unit, "ci68": e.ci68, "ci95": e.ci95,
                 "determined": e.determined} for e in self.parameters.values()]

    def to_dict(self):
        return {"kind": "two-partner fit", "observe": self.observe, "partner": self.partner,
                "experiment": self.experiment, "parameters": [e.to_dict() for e in self.parameters.values()],
                "chisqr": self.chisqr, "n_points": self.n_points, "n_free_parameters": self.n_free_parameters,
                "weighted": self.weighted, "powder": self.powder, "powder_error": self.powder_error,
                "times_s": list(map(float, self.times_s)), "dss0": list(map(float, self.dss0)),
                "sigma": None if self.sigma is None else list(map(float, self.sigma)),
                "model_curve": list(map(float, self.model_curve)), "notes": self.notes, "warnings": self.warnings}

    @classmethod
    def from_dict(cls, data):
        params = {p["name"]: Estimate(p["name"], p["value"], p["unit"], tuple(p["ci68"]), tuple(p["ci95"]),
                                      p["determined"]) for p in data["parameters"]}
        arrays = {k: None if data[k] is None else np.asarray(data[k], float)
                  for k in ("times_s", "dss0", "sigma", "model_curve")}
        keep = ("observe", "partner", "experiment", "chisqr", "n_points", "n_free_parameters", "weighted", "powder",
                "powder_error", "notes", "warnings")
        return cls(parameters=params, **arrays, **{k: data[k] for k in keep})

    def plot(self, ax=None):
        """The curve with its errors and the best two-partner curve, dS/S0 against time in ms."""
        ax = axes_or_new(ax)
        t_ms = 1e3 * self.times_s
        ax.errorbar(t_ms, self.dss0, yerr=self.sigma, fmt="o", ms=4, label="measured")
        ax.plot(t_ms, self.model_curve, "-", label="two partners")
        ax.set_xlabel("recoupling time (ms)")
        ax.set_ylabel("dS/S0")
        ax.legend()
        return ax


def information_criteria(chisqr, n_points, n_parameters, weighted):
    """AIC, AICc and BIC of a least-squares fit.

    With measured errors -2 ln L = chi^2 + const, so AIC = chi^2 + 2k; without, the noise is a
    fitted parameter too and -2 ln L = n ln(chi^2 / n) + const (lmfit's convention).

    Parameters
    ----------
    chisqr : float
    n_points, n_parameters : int
    weighted : bool
        True when chi^2 is weighted by measured errors.

    Returns
    -------
    dict
        ``aic``, ``aicc``, ``bic``.
    """
    n, k = int(n_points), int(n_parameters)
    m2lnl = chisqr if weighted else n * math.log(max(chisqr, 1e-300) / n)
    aic = m2lnl + 2 * k
    aicc = aic + (2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else math.inf)
    return {"aic": aic, "aicc": aicc, "bic": m2lnl + k * math.log(n)}
