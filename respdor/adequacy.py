"""Does the model describe the data? Goodness of fit and physical-range checks after a fit.

Three checks, each a one-line warning (also in the JSON result's ``warnings``):

* with measurement errors, the chi^2 p-value (chi^2 distribution with N - P degrees of freedom);
  a tiny one means the model, or the stated errors, are wrong;
* the ceiling: no curve of the model exceeds A_max * g_max, A_max = f_max * eps * x (upper bound
  of the varied factor times the fixed ones) and g_max the largest normalised dephasing the
  allowed D reach at the measured times. Points above it by more than 3 sigma mean the model
  cannot follow the data; the commonest cause, a labelled sample fitted at the partner's natural
  abundance, is named;
* the physical range: dS/S0 of any experiment lies in [0, g_max] for fraction 1; points outside
  by more than 3 sigma are flagged (a wrong normalisation, S0/S1 swapped, an outlier);
* plausibility of the answer: a time axis longer than curves usually reach
  (:func:`respdor.curve.time_axis_warnings`), a fitted distance shorter than any bond of the pair
  (sum of covalent radii minus :data:`BOND_MARGIN_ANGSTROM`), or one whose curve has barely begun
  to dephase by the last time (dS/S0 below :data:`RESOLVED_DSS0` at fraction 1: the data bound r
  from below but do not measure it). Each names the likely unit mistake.

Without errors sigma is estimated from neighbouring differences (robust median), which does not
depend on the fit being right.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["adequacy_checks", "P_VALUE_WARN", "BOND_MARGIN_ANGSTROM", "RESOLVED_DSS0"]

#: Below this chi^2 p-value the model is said not to describe the data.
P_VALUE_WARN = 1e-3
#: A distance below (sum of covalent radii - this margin) is no bond: the margin covers multiple
#: bonds (C#N 1.16 A against 0.76 + 0.71 - 0.4 = 1.07 A).
BOND_MARGIN_ANGSTROM = 0.4
#: A fitted curve that reaches less than this dS/S0 (fraction 1) by its last time has not resolved r.
RESOLVED_DSS0 = 0.05


def _noise(curve):
    """Per-point sigma: the stated errors, else a robust estimate from successive differences."""
    if curve.sigma is not None:
        return curve.sigma
    d = np.diff(curve.dss0)
    s = 1.4826 * np.median(np.abs(d)) / np.sqrt(2.0) if d.size else 0.0
    return np.full(curve.n_points, max(s, 1e-6))


def _g_max(problem, p, i):
    """Largest normalised dephasing at curve i's times over the allowed D (others at p)."""
    from .optimum import _grid

    base = "coupling_hz" if problem.param == "coupling" else "distance_angstrom"
    name = problem.name(base, i)
    values = _grid(problem, name, 80) if problem.params[name].vary else [p[name]]
    curve, model = problem.curves[i], problem.models[i]
    best = 0.0
    if model.shape is None and p[problem.name("width_angstrom", i)] == 0:  # one array call
        v = np.asarray(values, float)[:, None]
        d = v if problem.param == "coupling" else model.dr3 / v**3
        with np.errstate(all="ignore"):
            g = model.normalised(curve.time_s[None, :], d, p[problem.name("scaling", i)], 0.0)
        return float(np.nanmax(g))
    with np.errstate(all="ignore"):
        for v in values:
            q = dict(p)
            q[name] = float(v)
            g = model.normalised(curve.time_s, problem.coupling(q, i), q[problem.name("scaling", i)],
                                 q[problem.name("width_angstrom", i)])
            best = max(best, float(np.nanmax(g)))
    return best


def _fmt_points(curve, idx, z, what):
    shown = ", ".join(f"t = {curve.time_s[k] * 1e3:.4g} ms: {curve.dss0[k]:.3g} ({abs(z[k]):.0f} sigma)"
                      for k in idx[:3])
    more = f" and {idx.size - 3} more" if idx.size > 3 else ""
    return f"{curve.label}: {idx.size} point(s) lie {what} by more than 3 sigma ({shown}{more})"


def adequacy_checks(problem, result, weighted, option="fix"):
    """Run the checks on a finished fit.

    Parameters
    ----------
    problem : respdor.fitting._Problem
    result : lmfit.minimizer.MinimizerResult
    weighted : bool
        True when the curves carry measurement errors.
    option : str
        How to name the fix option in advice.

    Returns
    -------
    p_value : float or None
        chi^2 p-value when weighted (None otherwise).
    warnings : list of str
    """
    warns = []
    p_value = None
    dof = int(result.nfree)
    if weighted and dof > 0 and np.isfinite(result.chisqr):
        p_value = float(stats.chi2.sf(result.chisqr, dof))
        if p_value < P_VALUE_WARN:
            warns.append(f"chi2 = {result.chisqr:.4g} for {dof} degrees of freedom (chi2_red = {result.redchi:.3g}): "
                         f"p = {p_value:.2g}: the model does not describe the data within their stated errors "
                         "(or the errors are too small)")
        elif stats.chi2.cdf(result.chisqr, dof) < P_VALUE_WARN:
            # the lower tail: the points scatter far less than their errors say, so every error and
            # interval is too wide by about 1/sqrt(chi2_red)
            warns.append(f"chi2 = {result.chisqr:.4g} for {dof} degrees of freedom (chi2_red = {result.redchi:.3g}): "
                         f"P(chi2 this small) = {stats.chi2.cdf(result.chisqr, dof):.2g}: the points scatter "
                         f"{1 / np.sqrt(max(result.redchi, 1e-300)):.3g}x less than their stated errors, so the "
                         "errors and intervals are too wide (noise estimated on signal, or errors given in percent?)")
    p = result.params.valuesdict()
    for i, (curve, model) in enumerate(zip(problem.curves, problem.models)):
        g_max = _g_max(problem, p, i)
        sigma = _noise(curve)
        amp_max, fixed = 1.0, {}
        for base in ("fraction", "efficiency", "abundance"):
            par = result.params[problem.name(base, i)]
            amp_max *= par.max if par.vary else par.value
            fixed[base] = (par.vary, par.max if par.vary else par.value)
        ceiling = amp_max * g_max
        top = int(np.argmax((curve.dss0 - ceiling) / sigma))
        if (curve.dss0[top] - ceiling) / sigma[top] > 3:
            warns.append(_ceiling_message(curve, model, curve.dss0[top], ceiling, fixed, option))
        z_low = curve.dss0 / sigma
        z_high = (curve.dss0 - g_max) / sigma
        low = np.flatnonzero(z_low < -3)
        high = np.flatnonzero(z_high > 3)
        if low.size:
            warns.append(_fmt_points(curve, low, z_low, "below 0, the least dephasing possible,"))
        if high.size:
            warns.append(_fmt_points(curve, high, z_high,
                                     f"above {g_max:.3g}, the most dephasing this model allows even at fraction 1,"))
        warns.extend(_plausibility(problem, p, i))
    return p_value, warns


def _plausibility(problem, p, i):
    """Time axis and fitted distance against what the pair and REDOR/RESPDOR can show."""
    from spinsim.isotopes import element_of
    from spinsim.plausibility import covalent_radius_angstrom

    from .curve import time_axis_warnings

    curve, model = problem.curves[i], problem.models[i]
    warns = time_axis_warnings(curve)
    d = float(problem.coupling(p, i))
    if not (np.isfinite(d) and d > 0):
        return warns
    r = (model.dr3 / d) ** (1.0 / 3.0)
    obs, par = model.observe_isotope, model.partner_isotope
    pair = f"{obs.symbol}-{par.symbol}"
    said = f" ({curve.time_unit_source})" if curve.time_unit_source else ""
    radii = [covalent_radius_angstrom(element_of(x)) for x in (obs, par)]
    if r < sum(radii) - BOND_MARGIN_ANGSTROM:
        shortest = sum(radii) - BOND_MARGIN_ANGSTROM
        # D ~ 1/t and r ~ D^(-1/3): times 1000x too short make r 10x too short
        warns.append(f"{curve.label}: r = {r:.3g} A (D = {d:.4g} Hz) is shorter than any {pair} bond (about "
                     f"{shortest:.2f} A or more): the pair cannot be that close; are the times in the right "
                     f"unit{said}? with times 1000x longer r would be {10 * r:.3g} A")
        return warns
    t_max = float(np.max(curve.time_s))
    with np.errstate(all="ignore"):
        reach = float(np.nanmax(model.normalised(np.array([t_max]), d, p[problem.name("scaling", i)],
                                                 p[problem.name("width_angstrom", i)])))
    if reach < RESOLVED_DSS0:
        warns.append(f"{curve.label}: r = {r:.3g} A (D = {d:.4g} Hz) dephases only {reach:.2g} (fraction 1) by the "
                     f"last time, {t_max * 1e3:.4g} ms: the curve has not resolved this distance (it bounds r "
                     "from below); record longer recoupling times")
    return warns


def _ceiling_message(curve, model, y, ceiling, fixed, option):
    partner = model.partner_isotope
    x_vary, x = fixed["abundance"]
    head = f"{curve.label}: the curve reaches {y:.3g}"
    if not x_vary and x < 0.5 and abs(x - partner.abundance) < 1e-12:
        return (f"{head} but {partner.symbol} at natural abundance ({100 * x:.3g} %) allows at most {ceiling:.2g}: "
                f"is the sample {partner.symbol}-enriched? use {option} x=1" if option.startswith("--") else
                f"is the sample {partner.symbol}-enriched? use {option}={{'x': 1}}")
    parts = []
    for base, label in (("fraction", "f"), ("efficiency", "eps"), ("abundance", "x")):
        vary, value = fixed[base]
        parts.append(f"{label} {'<=' if vary else '='} {value:g}")
    return (f"{head} but the model allows at most {ceiling:.3g} ({', '.join(parts)}): check the "
            "normalisation, the partner spin and the fixed factors")
