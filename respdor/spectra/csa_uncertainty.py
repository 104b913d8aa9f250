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

from ..profile import stepped_profile as _profile

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


def _first_step(value, cov_err, lo, hi):
    """First profile step: the covariance error where it is a sensible scale, else 2 % of the
    value (at least 1 % of the range); the steps double from there."""
    rng = hi - lo
    if cov_err is not None and np.isfinite(cov_err) and 0 < cov_err < 0.25 * rng:
        return float(cov_err)
    return float(max(0.02 * abs(value), 0.01 * rng))


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
