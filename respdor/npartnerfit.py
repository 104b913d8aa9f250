r"""Fits of one dephasing curve with n partners of one kind: a rigid geometry, or uncorrelated directions.

:func:`fit_partners` fits n partners coupled to the observed spin only (not to each other):

``geometry="general"`` (n >= 2)
    The exact per-crystallite product of :mod:`respdor.multipartner` for n vectors joined rigidly:
    couplings D1 >= D2 >= ... >= Dn, the 2n - 3 angles of the n vectors and the bonded fraction f.
    Vector 1 lies on z, vector 2 in the xz plane at ``angle_12_deg`` from it, vector k >= 3 at polar
    angle ``polar_k_deg`` from vector 1 and azimuth ``azimuth_k_deg`` from the xz plane. Each
    partner's signal is even in its phase, so inverting one vector changes nothing: the angle 1-2
    and every polar angle are folded into [0, 90] deg. Reflecting the whole geometry in the xz
    plane (an inversion of every vector and a rotation, both without effect on the powder curve)
    turns every azimuth into its negative: ``azimuth_3_deg`` is folded into [0, 180] deg, the
    further azimuths run over [0, 360) deg. For n = 2 this is :func:`respdor.partnerfit.fit_two_partners`,
    whose result is returned unchanged.
``geometry="uncorrelated"``
    The limit of disordered surroundings: each vector's direction independent and isotropic. The
    powder average of the product is then the product of the one-partner powder curves,
    <prod_k s_k> = prod_k <s_k> = prod_k (1 - x g(D_k t)), with g the closed-form two-spin curve of
    :meth:`respdor.CurveModel.normalised` and x the partner's abundance: no angles, couplings
    D1 >= ... >= Dn and f.
``geometry="equivalent"``
    Uncorrelated partners with one coupling D shared by all n ("n equivalent partners"): D and f.

Couplings are fitted as D1 and the ratios D_k / D_(k-1) in [0, 1] (the ordering held by the
bounds, as the two-partner fit does); distances follow as r = (dr3 / D)^(1/3). Starts: a coarse
grid of D1, ratio patterns and a few fixed geometries, chi^2 ranked with the fraction solved
linearly; Levenberg-Marquardt from the best three. Intervals are chi^2 profiles of every
parameter with all others re-fitted (an angle's on :data:`ANGLE_GRID` points over its range, its
interval ends to a grid step); the parameters whose 95 % interval spans their whole range are
named, one line for the couplings and one for the angles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import FitWarning, UserError, warn
from .multipartner import partners_dephasing, powder_error, vector_geometry
from .partnerfit import (_PROFILE_FIT, WORKING_POWDER, Estimate, TwoPartnerFit, _adequacy_warning, _best_fraction,
                         _Problem, fit_two_partners)

__all__ = ["fit_partners", "PartnersFit", "GEOMETRIES", "ANGLE_GRID", "MAX_PARTNERS", "PROFILE_EVALUATIONS",
           "uncorrelated_dephasing", "partner_vectors", "angle_names"]

#: The partner models of :func:`fit_partners`.
GEOMETRIES = ("general", "uncorrelated", "equivalent")
#: Curve evaluations of the profiles per P (P - 1), P the fitted parameters (each profile re-fits P - 1):
#: measured 83 000 and 150 000 for three partners (P = 7; benchmarks/bench_npartners.py, 16 points to
#: 3 ms, and the bundled curve); the estimate said before the profiles start spans this range.
PROFILE_EVALUATIONS = (1300, 5300)
#: Points of the grid over each angle's range on which its profile is evaluated.
ANGLE_GRID = 10
#: Most partners a fit accepts (each adds a coupling and, with a rigid geometry, two angles).
MAX_PARTNERS = 6


def angle_names(n):
    """Names and allowed ranges (deg) of the 2n - 3 angles of n rigidly joined vectors."""
    out = [("angle_12_deg", 90.0)] if n >= 2 else []
    for k in range(3, n + 1):
        out += [(f"polar_{k}_deg", 90.0), (f"azimuth_{k}_deg", 180.0 if k == 3 else 360.0)]
    return out


def partner_vectors(angles_deg):
    """Unit vectors of n partners from the 2n - 3 angles (deg) of :func:`angle_names`, shape (n, 3)."""
    a = np.radians(np.asarray(angles_deg, float))
    vectors = [[0.0, 0.0, 1.0], [math.sin(a[0]), 0.0, math.cos(a[0])]]
    for theta, phi in zip(a[1::2], a[2::2]):
        vectors.append([math.sin(theta) * math.cos(phi), math.sin(theta) * math.sin(phi), math.cos(theta)])
    return np.array(vectors)


def uncorrelated_dephasing(time_s, couplings_hz, model, abundance):
    """dS/S0 for fraction 1 of n partners with independent isotropic directions: 1 - prod_k (1 - x g(D_k t)).

    Parameters
    ----------
    time_s : array_like
        Recoupling times (s).
    couplings_hz : sequence of float
        D of each partner (Hz).
    model : respdor.CurveModel
        The pair, experiment and recoupling (its :meth:`~respdor.CurveModel.normalised` is g).
    abundance : float
        Isotopic abundance x of the partner nucleus.

    Returns
    -------
    ndarray
    """
    t = np.asarray(time_s, float)
    signal = np.ones_like(t)
    for d in couplings_hz:
        if d > 0:
            signal = signal * (1.0 - abundance * model.normalised(t, float(d)))
    return 1.0 - signal


class _NProblem(_Problem):
    """The curve and the n-partner model: ``general`` (powder product) or ``uncorrelated`` / ``equivalent``."""

    def __init__(self, curve, model, abundance, n, geometry):
        super().__init__(curve, model, abundance)
        self.n, self.kind = int(n), geometry
        self.n_couplings = 1 if geometry == "equivalent" else self.n
        self.angles = angle_names(self.n) if geometry == "general" else []

    def prepare(self, d1, factor=WORKING_POWDER):
        if self.kind == "general":
            self.set_powder(d1, factor)

    def geometry(self, angles):
        key = (tuple(round(float(a), 9) for a in angles), self.powder.name, self.powder.n_gamma)
        if key not in self._geometry:
            if len(self._geometry) > 64:
                self._geometry.clear()
            self._geometry[key] = vector_geometry(partner_vectors(angles), self.powder)
        return self._geometry[key]

    def shape(self, couplings, angles, powder=None):
        if self.kind != "general":
            return uncorrelated_dephasing(self.t, couplings, self.model, self.abundance)
        g, w = self.geometry(angles) if powder is None else vector_geometry(partner_vectors(angles), powder)
        return partners_dephasing(self.t, couplings, g, w, self.wj, self.kappa, self.abundance)

    def residual(self, values):
        couplings, angles, fraction = values
        return (fraction * self.shape(couplings, angles) - self.y) / self.sigma


def _params(problem, values, pivot=1):
    """lmfit parameters; coupling ``pivot`` held as itself, the larger ones as gaps above it, the smaller
    ones as ratios below it (pivot 1: D1 and ratios D_k / D_(k-1))."""
    import lmfit

    couplings, angles, fraction = values
    d = list(couplings[:problem.n_couplings])
    p = lmfit.Parameters()
    p.add(f"coupling_{pivot}_hz", value=min(max(d[pivot - 1], 1e-3 if pivot == 1 else 0.0), problem.d_max),
          min=1e-3 if pivot == 1 else 0.0, max=problem.d_max)
    for k in range(pivot - 1, 0, -1):
        p.add(f"gap_{k}_hz", value=max(d[k - 1] - d[k], 0.0), min=0.0, max=problem.d_max)
    for k in range(pivot + 1, len(d) + 1):
        p.add(f"ratio_{k}", value=min(max(d[k - 1] / d[k - 2], 0.0), 1.0) if d[k - 2] > 0 else 0.0, min=0.0, max=1.0)
    for (name, top), a in zip(problem.angles, angles):
        p.add(name, value=min(max(float(a), 0.0), top), min=0.0, max=top)
    p.add("fraction", value=min(max(fraction, 0.0), 1.0), min=0.0, max=1.0)
    return p


def _values(problem, p):
    """(couplings (n), angles, fraction) from parameters of any pivot."""
    v = p.valuesdict() if hasattr(p, "valuesdict") else p
    m = problem.n_couplings
    pivot = next(k for k in range(1, m + 1) if f"coupling_{k}_hz" in v)
    d = [0.0] * m
    d[pivot - 1] = v[f"coupling_{pivot}_hz"]
    for k in range(pivot - 1, 0, -1):
        d[k - 1] = d[k] + v[f"gap_{k}_hz"]
    for k in range(pivot + 1, m + 1):
        d[k - 1] = d[k - 2] * v[f"ratio_{k}"]
    couplings = tuple(d) if m == problem.n else tuple(d) * problem.n
    return couplings, tuple(v[name] for name, _ in problem.angles), v["fraction"]


#: Ratio patterns (D_k / D_(k-1)) of the start grid.
_RATIOS = (1.0, 0.7, 0.4)
#: Fixed geometries of the start grid: isotropic random directions (seeded), folded into the ranges.
_START_GEOMETRIES = 5


def _start_geometries(problem):
    if not problem.angles:
        return [()]
    rng = np.random.default_rng(22)
    tops = np.array([top for _, top in problem.angles])
    out = []
    for _ in range(_START_GEOMETRIES):
        a = rng.uniform(0.0, 1.0, tops.size) * tops
        # polar angles isotropic: cos uniform over the folded range
        a[0] = math.degrees(math.acos(rng.uniform(0.0, 1.0)))
        a[1::2] = np.degrees(np.arccos(rng.uniform(0.0, 1.0, a[1::2].size)))
        out.append(tuple(a))
    return out


def _start_grid(problem):
    """Starts for the local fits: chi^2 over D1 x ratio patterns x fixed geometries, fraction solved exactly."""
    d_lo = max(problem.d_max / 300.0, 0.2 / (problem.kappa * float(problem.t.max())))
    m = problem.n_couplings
    patterns = sorted({tuple([1.0] + [r] * (m - 1)) for r in _RATIOS}) if m > 1 else [(1.0,)]
    scored = []
    for d1 in np.geomspace(d_lo, problem.d_max, 12):
        problem.prepare(d1, 0.5)  # the grid only ranks starts: half the working powder does
        for pattern in patterns:
            d = tuple(d1 * float(np.prod(pattern[:k + 1])) for k in range(m))
            couplings = d if m == problem.n else d * problem.n
            for angles in _start_geometries(problem):
                f, chi = _best_fraction(problem.y, problem.shape(couplings, angles), problem.sigma)
                scored.append((chi, (couplings, angles, f)))
    scored.sort(key=lambda s: s[0])
    return [s[1] for s in scored[:3]]


def _local_fit(problem, start, **kws):
    import lmfit

    problem.prepare(1.5 * start[0][0])
    with np.errstate(all="ignore"):
        return lmfit.minimize(lambda p: problem.residual(_values(problem, p)), _params(problem, start),
                              method="leastsq", **kws)


def _search(problem, progress):
    from spinsim.progress import tracking

    best = None
    starts = _start_grid(problem)
    with tracking(progress, len(starts), f"{problem.n}-partner fit", "starts") as bar:
        for start in starts:
            out = _local_fit(problem, start)
            if best is None or out.chisqr < best.chisqr:
                best = out
            bar.advance(1)
    return _local_fit(problem, _values(problem, best.params))


def _fixed_fraction(problem, fraction, progress):
    import lmfit

    params = _search(problem, progress).params.copy()
    params["fraction"].set(value=fraction, vary=False)
    with np.errstate(all="ignore"):
        return lmfit.minimize(lambda p: problem.residual(_values(problem, p)), params, method="leastsq")


def _allowed(problem):
    """name -> (unit, allowed range) of every fitted parameter, couplings first."""
    out = {f"coupling_{k}_hz": ("Hz", (0.0, problem.d_max)) for k in range(1, problem.n_couplings + 1)}
    out.update({name: ("deg", (0.0, top)) for name, top in problem.angles})
    out["fraction"] = ("", (0.0, 1.0))
    return out


def _best_values(problem, best):
    couplings, angles, fraction = best
    values = {f"coupling_{k}_hz": couplings[k - 1] for k in range(1, problem.n_couplings + 1)}
    values.update({name: a for (name, _), a in zip(problem.angles, angles)})
    values["fraction"] = fraction
    return values


def _profile_one(problem, best, name, nfree, chisqr):
    """Profile of ``name``: a coupling held as itself (its pivot parameterisation), the rest re-fitted."""
    from .profile import profile

    pivot = int(name.split("_")[1]) if name.startswith("coupling_") else 1
    tops = dict(problem.angles)
    # an angle is seldom determined: a grid over its range finds that with a tenth of the re-fits
    # root finding spends on a flat profile (its interval ends then to a grid step)
    grid = np.linspace(0.0, tops[name], ANGLE_GRID) if name in tops else None
    return profile(_params(problem, best, pivot), lambda p: problem.residual(_values(problem, p)), name, grid=grid,
                   sigma_known=problem.weighted, nfree=nfree, chi2_best=chisqr, refit=True, rtol=1e-3,
                   fit_kws=_PROFILE_FIT)


def _estimates(problem, best, chisqr, nfree, intervals, progress):
    """Estimate per parameter (intervals from profiles when asked) and the lowest chi^2 a profile met."""
    from spinsim.progress import tracking

    allowed, values = _allowed(problem), _best_values(problem, best)
    out, lowest = {}, (chisqr, None)
    with tracking(progress if intervals else False, len(allowed), "profiles", "parameters") as bar:
        for name, (unit, (lo, hi)) in allowed.items():
            est = Estimate(name, float(values[name]), unit)
            if intervals:
                prof = _profile_one(problem, best, name, nfree, chisqr)
                est.ci68, est.ci95 = (tuple(prof.intervals[k]) for k in sorted(prof.intervals))
                span = (lo if est.ci95[0] is None else est.ci95[0], hi if est.ci95[1] is None else est.ci95[1])
                est.determined = not (span[0] - lo <= 0.02 * (hi - lo) and hi - span[1] <= 0.02 * (hi - lo))
                if prof.chi2.size and prof.chi2.min() < lowest[0] and prof.lowest is not None:
                    lowest = (float(prof.chi2.min()), _values(problem, prof.lowest))
            out[name] = est
            bar.advance(1)
    _distances(problem, out)
    return out, lowest


def _distances(problem, out):
    """distance_k_angstrom from coupling_k_hz: r = (dr3 / D)^(1/3), the interval ends swapped."""
    dr3 = problem.model.dr3
    for k in range(1, problem.n_couplings + 1):
        d = out[f"coupling_{k}_hz"]
        inv = [None if v is None or v <= 0 else (dr3 / v) ** (1 / 3) for v in (*d.ci68, *d.ci95)]
        out[f"distance_{k}_angstrom"] = Estimate(
            f"distance_{k}_angstrom", (dr3 / d.value) ** (1 / 3) if d.value > 0 else math.inf, "angstrom",
            (inv[1], inv[0]), (inv[3], inv[2]), d.determined)


def _announce_profiles(problem, best, progress):
    """Say before the profiles start how long they will take (CPU time of one curve evaluation, measured)."""
    import time

    from spinsim.progress import as_progress

    start = time.process_time()
    for _ in range(3):
        problem.residual(best)
    each = (time.process_time() - start) / 3
    n_par = len(_allowed(problem))
    lo, hi = (n * n_par * (n_par - 1) * each / 60.0 for n in PROFILE_EVALUATIONS)
    as_progress(progress).note(f"profile intervals of {n_par} parameters: about {lo:.2g}-{hi:.2g} CPU minutes "
                               f"({each * 1e3:.2g} ms per curve evaluation; twice that if a profile finds a better "
                               "fit, which is then profiled again)")


def _determination_warnings(problem, estimates, warns):
    """One line per group (couplings, angles, fraction) of parameters the curve leaves undetermined,
    and one naming the partners whose coupling may be zero (the curve does not need them)."""
    absent = [k for k in range(2, problem.n_couplings + 1) if estimates[f"coupling_{k}_hz"].determined is not None
              and estimates[f"coupling_{k}_hz"].ci95[0] is None]
    if absent:
        bounds = ", ".join(f"r{k} > {estimates[f'distance_{k}_angstrom'].ci95[0]:.3g} A" for k in absent
                           if estimates[f"distance_{k}_angstrom"].ci95[0] is not None)
        warn(f"the curve does not need partner{'s' if len(absent) > 1 else ''} {', '.join(map(str, absent))}: "
             f"{'their couplings' if len(absent) > 1 else 'its coupling'} may be zero within 95 %"
             + (f"; only lower bounds on the distance: {bounds}" if bounds else ""), FitWarning, into=warns)
    groups = (("couplings", [f"coupling_{k}_hz" for k in range(1, problem.n_couplings + 1)]),
              ("geometry", [name for name, _ in problem.angles]), ("fraction", ["fraction"]))
    for label, names in groups:
        loose = [n for n in names if estimates[n].determined is False]
        if not loose:
            continue
        what = "any of the angles" if names and loose == names and label == "geometry" else ", ".join(loose)
        warn(f"the curve does not determine {what} ({label}): each 95 % profile interval spans the whole "
             "allowed range", FitWarning, into=warns)


def _check(curve, n, geometry, fraction):
    if geometry not in GEOMETRIES:
        raise UserError(f"geometry={geometry!r}: choose one of {', '.join(GEOMETRIES)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n <= MAX_PARTNERS:
        raise UserError(f"n={n!r}: give a whole number of partners from 2 to {MAX_PARTNERS}")
    if fraction is not None and not 0.0 < float(fraction) <= 1.0:
        raise UserError(f"fraction must lie in (0, 1], got {fraction}")
    k = (1 if geometry == "equivalent" else n) + (2 * n - 3 if geometry == "general" else 0) + 1
    if curve.n_points <= k:
        raise UserError(f"{n} partners ({geometry}) have {k} parameters; {curve.n_points} points cannot "
                        "determine them")
    return k


def fit_partners(curve, observe, partner, n=3, *, geometry="general", experiment="respdor", sequence="redor",
                 fraction=None, intervals=True, progress=None):
    """Fit a dephasing curve with ``n`` partners of one kind (see the module docstring for the models).

    Parameters
    ----------
    curve : DephasingCurve
        The measured curve (times in s; with errors if known).
    observe, partner : str
        Observed spin-1/2 and partner nucleus, e.g. ``"13C"``, ``"27Al"``.
    n : int
        Number of partners, 2 ... 6.
    geometry : {"general", "uncorrelated", "equivalent"}
        Rigid geometry with 2n - 3 angles fitted; independent isotropic directions (the product of
        one-partner powder curves) with n couplings; or those with one coupling shared by all.
    experiment, sequence : str
        As in :class:`respdor.CurveModel`.
    fraction : float, optional
        Hold the bonded fraction at this value (default: fitted).
    intervals : bool
        Profile-likelihood intervals of every parameter (the slow part; only with the fraction fitted).
    progress : None, bool, callable or Progress
        See :mod:`spinsim.progress`.

    Returns
    -------
    PartnersFit
        Parameters ``coupling_k_hz``, ``distance_k_angstrom`` (k = 1 only for ``"equivalent"``), the
        angles of :func:`angle_names` (``"general"``) and ``fraction``; warnings as for two partners,
        the undetermined parameters named per group. For n = 2 and ``"general"``, the
        :class:`~respdor.partnerfit.TwoPartnerFit` of :func:`respdor.partnerfit.fit_two_partners`.
    """
    from .fitting import CurveModel

    k = _check(curve, n, geometry, fraction)
    if n == 2 and geometry == "general":
        return fit_two_partners(curve, observe, partner, experiment=experiment, sequence=sequence,
                                fraction=fraction, intervals=intervals, progress=progress)
    model = CurveModel(observe, partner, experiment=experiment, sequence=sequence)
    problem = _NProblem(curve, model, model.partner_isotope.abundance, n, geometry)
    result = _search(problem, progress) if fraction is None else _fixed_fraction(problem, float(fraction), progress)
    best, chisqr = _values(problem, result.params), float(result.chisqr)
    nfree = curve.n_points - (k - 1 if fraction is not None else k)
    profiles = intervals and fraction is None
    if profiles:
        _announce_profiles(problem, best, progress)
    estimates, lowest = _estimates(problem, best, chisqr, nfree, profiles, progress)
    notes, warns = [], []
    if lowest[1] is not None and lowest[0] < chisqr * (1 - 1e-6) - 1e-9:
        restarted = _local_fit(problem, lowest[1])
        if restarted.chisqr < chisqr:
            notes.append(f"a profile found chi2 {lowest[0]:.6g} below the fit's {chisqr:.6g}: fit restarted there")
            best, chisqr = _values(problem, restarted.params), float(restarted.chisqr)
            estimates, _ = _estimates(problem, best, chisqr, nfree, True, progress)
    err = _powder_check(problem, best, chisqr, nfree, notes, warns)
    _determination_warnings(problem, estimates, warns)
    _adequacy_warning(problem, chisqr, nfree, warns, f"{problem.n} {problem.kind} partners")
    if geometry == "general":
        notes.append(_pair_angles(best[1]))
    return PartnersFit(
        observe=model.observe_isotope.symbol, partner=model.partner_isotope.symbol, experiment=experiment,
        parameters=estimates, chisqr=chisqr, n_points=curve.n_points, n_free_parameters=curve.n_points - nfree,
        weighted=problem.weighted, powder=f"{problem.powder.name}x{problem.powder.n_gamma}" if geometry == "general"
        else "closed form", powder_error=err, times_s=problem.t, dss0=problem.y,
        sigma=problem.sigma if problem.weighted else None, model_curve=best[2] * problem.shape(*best[:2]),
        notes=notes, warnings=warns, n_partners=int(n), geometry=geometry)


def _powder_check(problem, best, chisqr, nfree, notes, warns):
    """Change of the best curve with a powder twice as fine (0 for the closed-form uncorrelated models)."""
    if problem.kind != "general":
        notes.append("uncorrelated directions: the product of closed-form one-partner powder curves (no powder grid)")
        return 0.0
    couplings, angles, fraction = best
    err = powder_error(lambda pw: problem.shape(couplings, angles, pw),
                       problem.j_max * problem.kappa * 1.5 * couplings[0] * float(problem.t.max()), WORKING_POWDER)
    noise = float(np.median(problem.sigma)) if problem.weighted else math.sqrt(chisqr / max(nfree, 1))
    notes.append(f"powder {problem.powder.name} x {problem.powder.n_gamma} rotor phases: the best curve changes by "
                 f"at most {fraction * err:.2g} with a powder twice as fine")
    if fraction * err > 0.2 * noise:
        warn(f"the powder average of the best curve is uncertain by {fraction * err:.2g}, more than 0.2 x the noise "
             f"({noise:.2g}): intervals may be too narrow", FitWarning, into=warns)
    return err


def _pair_angles(angles):
    """The angles between every pair of vectors (deg), as a note."""
    v = partner_vectors(angles)
    pairs = [f"{i + 1}-{j + 1} {math.degrees(math.acos(np.clip(v[i] @ v[j], -1.0, 1.0))):.0f}"
             for i in range(len(v)) for j in range(i + 1, len(v))]
    return ("angles between the vectors: " + ", ".join(pairs) + " deg (inverting a vector turns its angles a "
            "into 180 - a: the same curve)")


@dataclass(repr=False)
class PartnersFit(TwoPartnerFit):
    """A fit with n partners (:func:`fit_partners`): estimates with profile intervals, and the curves."""

    n_partners: int = 2
    geometry: str = "general"

    def _title(self):
        return (f"{self.n_partners}-partner fit ({self.geometry}): {self.observe}{{{self.partner}}} "
                f"{self.experiment.upper()}")

    def _headline(self):
        return self.summary() + f", chi2 = {self.chisqr:.4g}"

    def summary(self):
        """The best distances (and angles) and fraction in one line."""
        p = self.parameters
        if self.geometry == "equivalent":
            text = f"{self.n_partners} x r = {p['distance_1_angstrom'].value:.3g} A"
        else:
            text = ", ".join(f"r{k} = {p[f'distance_{k}_angstrom'].value:.3g} A" for k in range(1, self.n_partners + 1))
        angles = [e for e in p.values() if e.unit == "deg"]
        if angles:
            text += ", angles " + "/".join(f"{e.value:.0f}" for e in angles) + " deg"
        return text + f", f = {p['fraction'].value:.3g}"

    def to_dict(self):
        return {**super().to_dict(), "kind": "partner fit", "n_partners": self.n_partners, "geometry": self.geometry}

    @classmethod
    def from_dict(cls, data):
        fit = super().from_dict({k: v for k, v in data.items() if k not in ("n_partners", "geometry")})
        fit.n_partners, fit.geometry = int(data["n_partners"]), data["geometry"]
        return fit
