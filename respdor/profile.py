"""Profile likelihood and covariance errors for least-squares fits with lmfit.

One home for how respdor turns a chi^2 surface into uncertainties, whatever is fitted (dephasing
curves, CSA lineshapes, deconvolutions):

:func:`probability`
    The confidence that a parameter value is excluded, from the rise of chi^2 above its minimum:
    with measured errors (residuals divided by a measured sigma) the chi^2 distribution with one
    degree of freedom (delta chi^2 = 1 and 4 at 68.3 and 95.4 %); with the noise estimated from the
    scatter the F-test lmfit uses (``F(1, N - P)`` of ``(chi2 / chi2_best - 1) (N - P)``).
:func:`profile`
    The profile of one parameter: chi^2 with that parameter held at each value and every other
    varied parameter re-fitted (lmfit), and the 68 / 95 % interval ends where :func:`probability`
    crosses those levels (found by bracketing and root finding, or read off a given grid).
:func:`stepped_profile`
    The same profile for fits whose every re-fit is costly (CSA lineshapes): the caller's re-fit,
    continuation from the previous point, crossings by interpolating sqrt(Delta chi^2).
:func:`covariance` / :func:`standard_errors`
    lmfit's covariance with the one rule for a measured sigma: lmfit scales it by chi^2_red
    (right when the noise is estimated from the scatter); with measured errors that scaling is
    undone, so the errors reflect the measured sigma and chi^2_red tests the model.

The residual function follows lmfit's convention: ``residual(params) -> ndarray`` whose sum of
squares is chi^2 (divided by sigma when the errors are measured).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

__all__ = ["LEVELS", "probability", "off_bound", "lmfit_prob_func", "chi2_at", "profile", "Profile", "covariance",
           "standard_errors", "stderr_factor", "stepped_profile", "sqrt_crossing"]

#: Probabilities of the 1- and 2-sigma intervals.
LEVELS = (0.6827, 0.9545)


def probability(chi2, chi2_best, sigma_known, nfree=None):
    """Confidence with which a value of chi^2 ``chi2`` is excluded, given the minimum ``chi2_best``.

    Parameters
    ----------
    chi2, chi2_best : float
        chi^2 at the value and at the best fit.
    sigma_known : bool
        True when the residuals are divided by measured errors (chi^2 distribution, 1 degree of
        freedom); False when the noise is estimated from the scatter (F-test with ``nfree``).
    nfree : int, optional
        Degrees of freedom of the fit (N - P), needed when ``sigma_known`` is False.
    """
    if sigma_known:
        return float(stats.chi2.cdf(max(chi2 - chi2_best, 0.0), 1))
    nfree = max(int(nfree or 1), 1)
    if not chi2_best > 0:
        return 1.0 if chi2 > chi2_best else 0.0
    return float(stats.f.cdf(max(chi2 / chi2_best - 1.0, 0.0) * nfree, 1, nfree))


def delta_chi2_level(prob, chi2_best, sigma_known, nfree=None):
    """The rise of chi^2 above ``chi2_best`` at which :func:`probability` reaches ``prob`` (its inverse):
    1 and 4 at 68.27 % and 95.45 % with measured errors, ``chi2_best * F^-1(prob; 1, nfree) / nfree``
    (the F-test) without."""
    if sigma_known:
        return float(stats.chi2.ppf(prob, 1))
    nfree = max(int(nfree or 1), 1)
    return float(chi2_best * stats.f.ppf(prob, 1, nfree) / nfree)


def lmfit_prob_func(sigma_known):
    """``prob_func`` for :func:`lmfit.conf_interval`: :func:`probability` with measured errors, None
    (lmfit's own F-test, the same rule) without."""
    if not sigma_known:
        return None
    return lambda best, new: probability(new.chisqr, best.chisqr, True)


def off_bound(par, margin=1e-4):
    """Move a varied parameter that sits on a finite bound ``margin`` (fraction of its range) inside.

    lmfit's bounded Levenberg-Marquardt maps a bound to a point of zero slope of its internal
    variable: a re-fit started exactly on the bound cannot leave it, although chi^2 may be lower
    inside (an amplitude at 1 stays at 1 while the profiled parameter moves away from its best
    value, and the profile rises too fast: an interval narrower than the truth).
    """
    lo, hi = par.min, par.max
    if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
        step = margin * (hi - lo)
        par.value = float(np.clip(par.value, lo + step, hi - step))


def _on_bound(par):
    return any(np.isfinite(b) and np.isclose(par.value, b, rtol=1e-6, atol=1e-9) for b in (par.min, par.max))


def chi2_at(params, residual, name, value, refit=True, starts=(), return_params=False, from_params=True,
            fit_kws=None):
    """chi^2 with ``name`` held at ``value`` and, when ``refit``, the other varied parameters re-fitted.

    Parameters
    ----------
    params : lmfit.Parameters
        Parameters at (or near) the best fit; not changed.
    residual : callable
        ``residual(params) -> ndarray`` (lmfit's convention).
    name : str
    value : float
    refit : bool
        Re-fit the other varied parameters (Levenberg-Marquardt from ``params`` and from each of
        ``starts``, every start moved off the bounds it sits on, and once more with the parameters
        that sit on a bound in ``params`` held there; the lowest chi^2 is kept).
    starts : sequence of lmfit.Parameters
        Further starting points (e.g. the re-fit at a neighbouring value: continuation).
    return_params : bool
        Also return the parameters of the lowest chi^2.
    from_params : bool
        Also start a re-fit at ``params`` (False: only at ``starts``, when they are closer).
    fit_kws : dict, optional
        Passed to the re-fits (:func:`lmfit.minimize` with ``leastsq``), e.g. ``max_nfev`` and
        ``ftol`` for costly residuals.
    """
    best = None
    # A parameter on its bound at the best fit is also held there in one more re-fit: the profile
    # with it free is then never above the profile with it fixed.
    on_bound = [n for n, q in params.items() if n != name and q.vary and q.expr is None and _on_bound(q)]
    first = [params] if from_params or not starts else []
    attempts = [(s, False) for s in [*first, *starts]] + ([(params, True)] if on_bound else [])
    for start, hold in attempts if refit else [(params, False)]:
        p = start.copy()
        p[name].set(value=value, vary=False)
        if hold:
            for n in on_bound:
                p[n].set(value=params[n].value, vary=False)
        if refit and any(q.vary and q.expr is None for q in p.values()):
            import lmfit

            for q in p.values():
                if q.vary and q.expr is None:
                    off_bound(q)
            with np.errstate(all="ignore"):
                out = lmfit.minimize(residual, p, method="leastsq", nan_policy="propagate", **(fit_kws or {}))
            chi, fitted = float(out.chisqr), out.params
        else:
            with np.errstate(all="ignore"):
                r = np.asarray(residual(p), float)
            chi, fitted = float(np.sum(r**2)), p
        if best is None or chi < best[0] or not np.isfinite(best[0]):
            best = (chi, fitted)
    return best if return_params else best[0]


@dataclass
class Profile:
    """The profile of one parameter (see :func:`profile`).

    Attributes
    ----------
    name : str
    best : float
        The parameter's best-fit value.
    chi2_best : float
    intervals : dict
        probability -> (low, high); an end is None where chi^2 does not rise enough before the
        parameter's bound (the interval is open on that side).
    values, chi2 : ndarray
        The points evaluated, sorted by value.
    lowest : lmfit.Parameters or None
        Every parameter at the lowest chi^2 the profile met (with re-fits): below ``chi2_best``
        it is where the fit should restart (the fit was not at its optimum).
    """

    name: str
    best: float
    chi2_best: float
    intervals: dict
    values: np.ndarray = field(default_factory=lambda: np.empty(0))
    chi2: np.ndarray = field(default_factory=lambda: np.empty(0))
    lowest: object = None

    def lmfit_levels(self):
        """The interval ends as lmfit's ``conf_interval`` lists them: (probability, value), an open end
        as an infinite value on its side."""
        levels = []
        for direction, side in ((-1, 0), (1, 1)):
            for prob in sorted(self.intervals):
                end = self.intervals[prob][side]
                levels.append((prob, direction * np.inf if end is None else end))
        return levels


def profile(params, residual, name, grid=None, sigma_known=True, nfree=None, chi2_best=None, levels=LEVELS,
            refit=True, candidates=(), rtol=1e-10, fit_kws=None):
    """Profile likelihood of parameter ``name`` of an lmfit least-squares problem.

    Parameters
    ----------
    params : lmfit.Parameters
        The best-fit parameters (their ``stderr``, when known, sets the first step).
    residual : callable
        ``residual(params) -> ndarray`` whose sum of squares is chi^2.
    name : str
        The parameter profiled.
    grid : array_like, optional
        Values to evaluate; the interval ends are then interpolated between grid points. Without
        a grid they are bracketed by steps growing from the best value and found by root finding
        (to ``rtol`` relative).
    sigma_known : bool
        Residuals divided by measured errors (see :func:`probability`).
    nfree : int, optional
        N - P of the fit (for ``sigma_known=False``).
    chi2_best : float, optional
        chi^2 at the best fit (default: evaluated at ``params``).
    levels : sequence of float
        Probabilities of the intervals.
    refit : bool
        Re-fit the other varied parameters at every value (a true profile); False holds them.
        Each re-fit starts from the optimum at the nearest value already evaluated
        (continuation; ``params`` for the first value) and from the candidate nearest in ``name``.
    candidates : sequence of lmfit.Parameters
        Further starting points, e.g. the optima along another parameter's profile: on a surface
        with several valleys (a library axis) they reach valleys a start at the best fit misses.
    rtol : float
        Relative tolerance of the interval ends found by root finding (of max(1, |best|)); a
        costly re-fit may take 1e-3, far below any interval's own uncertainty.
    fit_kws : dict, optional
        Options of every re-fit (see :func:`chi2_at`).

    Returns
    -------
    Profile
    """
    par = params[name]
    best = float(par.value)
    if chi2_best is None:
        chi2_best = chi2_at(params, residual, name, best, refit=False)
    seen, fitted = {}, {}

    def excess(value):
        if value not in seen:
            # continuation: the re-fit also starts from the optimum at the nearest value already done
            # (the best fit itself is the start only for the first value: later ones start nearer)
            near = min(fitted, key=lambda v: abs(v - value), default=None)
            starts = [fitted[near]] if near is not None else []
            if candidates:
                starts.append(min(candidates, key=lambda c: abs(c[name].value - value)))
            seen[value], fitted[value] = chi2_at(params, residual, name, value, refit, starts, return_params=True,
                                                 from_params=near is None, fit_kws=fit_kws)
        return probability(seen[value], chi2_best, sigma_known, nfree)

    if grid is not None:
        intervals = _from_grid(np.asarray(grid, float), best, excess, levels)
    else:
        intervals = _bracketed(par, best, excess, levels, rtol)
    values = np.array(sorted(seen))
    lowest = fitted[min(seen, key=seen.get)] if seen else None
    return Profile(name, best, float(chi2_best), intervals, values, np.array([seen[v] for v in values]), lowest)


def _bracketed(par, best, excess, levels, rtol=1e-10):
    """Interval ends by stepping out from ``best`` (steps x 1.6 from its stderr or 10 %) and brentq."""
    lo_edge, hi_edge = min(par.min, par.max), max(par.min, par.max)
    ends = {prob: [None, None] for prob in levels}
    for side, direction in ((0, -1), (1, 1)):
        edge = par.min if direction < 0 else par.max
        step = par.stderr if par.stderr and np.isfinite(par.stderr) and par.stderr > 0 else 0.1 * abs(best)
        if not step > 0:  # a best value of 0 (on a bound, no stderr): a hundredth of the range
            step = 0.01 * (hi_edge - lo_edge) if np.isfinite(hi_edge - lo_edge) else 0.1
        for prob in levels:  # the step keeps growing from one level to the next
            lo = hi = best
            for _ in range(60):
                hi = float(np.clip(hi + direction * step, lo_edge, hi_edge))
                if excess(hi) >= prob:
                    ends[prob][side] = _root(excess, prob, lo, hi, best, rtol)
                    break
                if hi == edge:
                    break
                lo = hi
                step *= 1.6
    return {prob: tuple(v) for prob, v in ends.items()}


def _root(excess, prob, inner, outer, best, rtol=1e-10):
    """Where ``excess`` crosses ``prob`` between ``inner`` (below) and ``outer`` (at or above).

    The re-fitted chi^2 need not be continuous (a re-fit may jump to another valley between two
    trial values), so the bracket may not hold a sign change when root finding re-evaluates its
    ends; bisection on the values already bracketing then gives the crossing (the outer end of
    the last bracket: the interval is never made narrower than the data allow).
    """
    from scipy.optimize import brentq

    try:
        return float(brentq(lambda v: excess(v) - prob, *sorted((inner, outer)), xtol=rtol * max(1, abs(best))))
    except ValueError:
        for _ in range(40):
            mid = 0.5 * (inner + outer)
            if excess(mid) >= prob:
                outer = mid
            else:
                inner = mid
            if abs(outer - inner) <= max(1e-8, rtol) * max(1.0, abs(best)):
                break
        return float(outer)


def _from_grid(grid, best, excess, levels):
    """Interval ends interpolated (linearly in probability) between the grid points that bracket them;
    None where the grid ends before the level is reached."""
    grid = np.unique(grid)
    sides = (grid[grid < best][::-1], grid[grid > best])  # each walked outwards from the best value
    ends = {}
    for level in levels:
        pair = []
        for values in sides:
            inner_v, inner_p, end = best, 0.0, None
            for v in values:
                p = excess(v)
                if p >= level:
                    t = (level - inner_p) / (p - inner_p) if p > inner_p else 1.0
                    end = float(inner_v + t * (v - inner_v))
                    break
                inner_v, inner_p = v, p
            pair.append(end)
        ends[level] = tuple(pair)
    return ends


def stepped_profile(name, params, chisqr, refit, chi_scale, lo, hi, step0, max_steps=10, n_refine=4):
    """Profile-likelihood 68 % interval of one parameter, for fits whose every re-fit is costly.

    The variant of :func:`profile` used by the CSA lineshape fits: few re-fits, each started from
    the previous optimum, and the crossing found by interpolating sqrt(Delta chi^2) instead of by
    root finding. Delta chi^2 = 1 in units of ``chi_scale`` is :func:`probability` 0.683 with
    measured errors.

    The parameter is fixed at trial values and the others re-optimised by ``refit`` (which
    returns ``(chisqr, params)``); the interval ends where chi^2 has risen by ``chi_scale``
    (1 with a measured sigma; the reduced chi^2 of the best fit when sigma comes from the
    residual, i.e. Delta chi^2 = 1 in units of the residual variance). Steps double outwards
    from ``step0`` until the rise exceeds the threshold or the physical bound is reached (then
    that side is open: a one-sided interval), and the crossing is refined by interpolating
    sqrt(Delta chi^2) linearly.
    Successive trial points start from the previous optimum (continuation).

    Returns
    -------
    dict
        ``lo``, ``hi`` (interval ends), ``lo_open``, ``hi_open`` (True: no crossing before the
        bound, the end is the bound), ``dchi2_min`` (lowest Delta chi^2 seen; < 0 means the
        profile found a better fit than ``params``), ``n_fits``.
    """
    best = float(params[name].value)
    out = dict(dchi2_min=0.0, n_fits=0)
    step0 = float(np.clip(step0, (hi - lo) / 500.0, (hi - lo) / 8.0))

    def dchi(v, start):
        p = start.copy()
        p[name].set(value=float(v), vary=False)
        c, q = refit(p)
        out["n_fits"] += 1
        d = (c - chisqr) / chi_scale
        out["dchi2_min"] = min(out["dchi2_min"], d)
        return d, q

    for side, direction, bound in (("lo", -1.0, lo), ("hi", 1.0, hi)):
        inner, d_in, p_in = best, 0.0, params
        outer = d_out = None
        step = step0
        for _ in range(max_steps):
            if abs(inner - bound) <= 1e-9 * max(1.0, abs(bound)):
                break
            v = best + direction * step
            if (v - bound) * direction >= 0:
                v = bound
            d, q = dchi(v, p_in)
            if d > 1.0:
                outer, d_out = v, d
                break
            inner, d_in, p_in = v, d, q
            step *= 2.0
        if outer is None:
            out[side], out[side + "_open"] = float(inner), True
            continue
        # sqrt(Delta chi2) is linear in the parameter for a quadratic profile: interpolating it
        # (not Delta chi2 itself, whose convexity makes regula falsi creep) converges in a step
        # or two.
        for _ in range(n_refine):
            v = sqrt_crossing(inner, d_in, outer, d_out, margin=0.02)
            d, q = dchi(v, p_in)
            if d > 1.0:
                outer, d_out = v, d
            else:
                inner, d_in, p_in = v, d, q
            if abs(np.sqrt(max(d, 0.0)) - 1.0) < 0.02:
                break
        out[side] = float(sqrt_crossing(inner, d_in, outer, d_out))
        out[side + "_open"] = False
    return out


def sqrt_crossing(inner, d_in, outer, d_out, margin=0.0):
    """Where sqrt(Delta chi2) = 1 on the straight line through the two points; a trial point
    keeps ``margin`` (fraction of the bracket) from both ends so that the bracket shrinks."""
    s_in, s_out = np.sqrt(max(d_in, 0.0)), np.sqrt(max(d_out, 0.0))
    t = (1.0 - s_in) / max(s_out - s_in, 1e-12)
    return inner + float(np.clip(t, margin, 1.0 - margin)) * (outer - inner)


def covariance(result, sigma_known, scaled=True):
    """The parameters' covariance of an lmfit fit, with the one rule for a measured sigma.

    Parameters
    ----------
    result : lmfit.minimizer.MinimizerResult
    sigma_known : bool
        True when the residuals are divided by measured errors: the covariance is the inverse
        curvature itself, not scaled by chi^2_red.
    scaled : bool
        Whether lmfit scaled the covariance by chi^2_red (``Minimizer(scale_covar=...)``, True by
        default in lmfit).

    Returns
    -------
    (list of str, ndarray) or (list of str, None)
        The varied parameters' names (``result.var_names``) and their covariance matrix (None when
        lmfit could not estimate it).
    """
    if getattr(result, "covar", None) is None:
        return list(result.var_names), None
    cov = np.array(result.covar, float)
    redchi = float(result.redchi) if np.isfinite(result.redchi) and result.redchi > 0 else 1.0
    if sigma_known and scaled:
        cov = cov / redchi
    elif not sigma_known and not scaled:
        cov = cov * redchi
    return list(result.var_names), cov


def stderr_factor(result, sigma_known) -> float:
    """The factor that turns lmfit's (chi^2_red-scaled) ``stderr`` into the error of the rule of
    :func:`covariance`: ``1 / sqrt(chi^2_red)`` with measured errors, 1 otherwise."""
    redchi = float(getattr(result, "redchi", float("nan")))
    if sigma_known and np.isfinite(redchi) and redchi > 0:
        return 1.0 / math.sqrt(redchi)
    return 1.0


def standard_errors(result, sigma_known, scaled=True):
    """name -> standard error (sqrt of the covariance's diagonal, see :func:`covariance`), None where
    lmfit gave no covariance or a negative variance."""
    names, cov = covariance(result, sigma_known, scaled)
    if cov is None:
        return {n: None for n in names}
    diag = np.diag(cov)
    return {n: (math.sqrt(v) if np.isfinite(v) and v >= 0 else None) for n, v in zip(names, diag)}
