"""Uncertainties of the CSA fits: the covariance where it is valid, the profile likelihood where
it is not (one routine for the manifold and the spectrum fits), and how an estimate is written.

A covariance error is not trusted when there is none, when it exceeds half the parameter's
physical range, when the parameter sits at (within :data:`NEAR_BOUND` of) a bound or its +-1
error interval crosses one, or when a correlation exceeds :data:`MAX_CORREL`. Then the
parameter is fixed on a grid, the others re-fitted, and the 68 % interval ends where chi^2 has
risen by 1 (measured sigma) or by the reduced chi^2 (sigma from the residual); an interval that
reaches a physical bound is one-sided.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NEAR_BOUND", "MAX_CORREL", "format_estimate"]

#: A parameter within this fraction of its range from a bound is "at the bound": the
#: covariance (a quadratic expansion about an interior minimum) does not describe it.
NEAR_BOUND = 0.02
#: Correlation above which the covariance is called ill-conditioned for that parameter.
MAX_CORREL = 0.995


def _covariance_suspect(value, err, lo, hi, correl=None):
    """Why the covariance error of a parameter cannot be trusted (a short reason), or ''."""
    rng = hi - lo
    if err is None or not np.isfinite(err):
        return "no covariance error"
    if err > 0.5 * rng:
        return "covariance error exceeds half the physical range"
    if value - lo <= NEAR_BOUND * rng or hi - value <= NEAR_BOUND * rng:
        return "at a bound"
    if value - err < lo or value + err > hi:
        return "covariance interval crosses a bound"
    if correl and max(abs(c) for c in correl.values()) > MAX_CORREL:
        return "covariance ill-conditioned"
    return ""


def _profile(name, params, chisqr, refit, chi_scale, lo, hi, step0, max_steps=10, n_refine=4):
    """Profile-likelihood 68 % interval of one parameter.

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
            v = _sqrt_crossing(inner, d_in, outer, d_out, margin=0.02)
            d, q = dchi(v, p_in)
            if d > 1.0:
                outer, d_out = v, d
            else:
                inner, d_in, p_in = v, d, q
            if abs(np.sqrt(max(d, 0.0)) - 1.0) < 0.02:
                break
        out[side] = float(_sqrt_crossing(inner, d_in, outer, d_out))
        out[side + "_open"] = False
    return out


def _first_step(value, cov_err, lo, hi):
    """First profile step: the covariance error where it is a sensible scale, else 2 % of the
    value (at least 1 % of the range); the steps double from there."""
    rng = hi - lo
    if cov_err is not None and np.isfinite(cov_err) and 0 < cov_err < 0.25 * rng:
        return float(cov_err)
    return float(max(0.02 * abs(value), 0.01 * rng))


def _sqrt_crossing(inner, d_in, outer, d_out, margin=0.0):
    """Where sqrt(Delta chi2) = 1 on the straight line through the two points; a trial point
    keeps ``margin`` (fraction of the bracket) from both ends so that the bracket shrinks."""
    s_in, s_out = np.sqrt(max(d_in, 0.0)), np.sqrt(max(d_out, 0.0))
    t = (1.0 - s_in) / max(s_out - s_in, 1e-12)
    return inner + float(np.clip(t, margin, 1.0 - margin)) * (outer - inner)


def _error_entry(value, cov_err, prof, lo, hi):
    """Error fields of one parameter: ``err``, ``err_method``, ``interval``, ``limit``.

    With a profile: two-sided, err = half the interval width; one-sided (the interval runs into
    the physical bound ``lo`` or ``hi``), err = the interval width; open on both sides (the data
    do not bound the parameter at all), err = nan. The error never exceeds the range hi - lo.
    """
    if prof is None:
        return dict(err=float(cov_err) if cov_err is not None else float("nan"), err_method="covariance",
                    interval=None, limit=None)
    a, b = prof["lo"], prof["hi"]
    if prof["lo_open"] and prof["hi_open"]:
        limit, err = "both", float("nan")
    elif prof["lo_open"] or prof["hi_open"]:
        limit, err = ("lower" if prof["lo_open"] else "upper"), b - a
    else:
        limit, err = None, 0.5 * (b - a)
    return dict(err=float(min(err, hi - lo)) if np.isfinite(err) else err, err_method="profile",
                interval=[float(a), float(b)], limit=limit)


def format_estimate(value, err, interval=None, limit=None, fmt=".2f"):
    """One parameter as text: ``v +- e`` (covariance), ``v [lo, hi]`` (two-sided profile),
    ``v (> lo, upper hi)`` / ``v (< hi, lower lo)`` (one-sided at the physical bound),
    ``v (undetermined: lo..hi)``.

    Parameters
    ----------
    value, err : float
    interval : (float, float), optional
        68 % profile-likelihood interval.
    limit : {'lower', 'upper', 'both'}, optional
        Which end of ``interval`` is the physical bound.
    fmt : str
        Format of the numbers.

    Returns
    -------
    str
    """
    if not np.isfinite(value):
        return "nan"
    v = format(float(value), fmt)
    if interval is None:
        efmt = fmt.replace("+", "")
        return v + (" +- " + format(float(err), efmt) if err is not None and np.isfinite(err) else "")
    a, b = (format(float(t), fmt) for t in interval)
    if limit == "lower":
        return f"{v} (> {a}, upper {b})"
    if limit == "upper":
        return f"{v} (< {b}, lower {a})"
    if limit == "both":
        return f"{v} (undetermined: {a}..{b})"
    return f"{v} [{a}, {b}]"
