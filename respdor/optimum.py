"""Find and confirm the global least-squares optimum of a dephasing-curve fit.

A REDOR/RESPDOR curve is linear in its amplitude A = f * eps * x and strongly non-linear in D
(or r). For a given geometry the best amplitude therefore follows in closed form (weighted linear
least squares, clipped to its bounds, which is exact because chi^2 is a parabola in A). That gives
the chi^2 profile over D at almost no cost, and with it

* the starts of the local Levenberg-Marquardt fit: every local minimum of a coarse profile over the
  whole allowed range (starts placed inside the bounds, never on them), plus the user's start;
* the confirmation afterwards: a dense profile plus a bounded one-dimensional refinement must not
  find a chi^2 below the fit's. If it does, the fit restarts from there (Levenberg-Marquardt only
  accepts downhill steps, so the restart cannot end higher); if that still fails the fit says so.

With other free parameters (scaling, width) the profile holds them at their fitted values, so the
confirmation is over the geometry and the amplitude; the note says so.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

__all__ = ["geometry_names", "profile", "search_and_fit"]

#: Relative chi^2 by which a profile must beat the fit to count as a better optimum.
CONFIRM_RTOL = 1e-6
#: Fewest and most points of the profile over the whole range (see ``_size``); spaced by about
#: 5 % in D, finer than any minimum a curve of measured points can resolve, and each of its
#: ``_REFINED`` lowest local minima is refined by a bounded 1-D minimisation.
_POINTS = (120, 300)
_REFINED = 3


def geometry_names(problem):
    """Distinct names of the varied geometric parameter (D or r), one per independent geometry."""
    base = "coupling_hz" if problem.param == "coupling" else "distance_angstrom"
    names = []
    for i in range(problem.n):
        name = problem.name(base, i)
        if problem.params[name].vary and name not in names:
            names.append(name)
    return names


def _grid(problem, gname, n):
    """Values of ``gname`` (D in Hz or r in angstrom) to profile over, inside its bounds.

    The range covers lambda = kappa D t from 1e-3 at the longest time (deep in the D^2 t^2 regime)
    to 60 at the shortest (every point on the plateau) for every curve using ``gname``: outside it
    the profile is flat.
    """
    par = problem.params[gname]
    base = "coupling_hz" if problem.param == "coupling" else "distance_angstrom"
    lows, highs = [], []
    for i, (curve, model) in enumerate(zip(problem.curves, problem.models)):
        if problem.name(base, i) != gname:
            continue
        positive = curve.time_s[curve.time_s > 0]
        kappa = problem.params[problem.name("scaling", i)].value * np.sqrt(model.n_partners)
        d_lo, d_hi = 1e-3 / (kappa * positive.max()), 60.0 / (kappa * positive.min())
        if base == "coupling_hz":
            lows.append(d_lo), highs.append(d_hi)
        else:
            lows.append((model.dr3 / d_hi) ** (1 / 3)), highs.append((model.dr3 / d_lo) ** (1 / 3))
    lo, hi = max(min(lows), par.min), min(max(highs), par.max)
    if not lo < hi:
        lo, hi = par.min, par.max
    lo, hi = max(lo, 1e-12), max(hi, 2e-12)
    # A hair inside the bounds: r at its bound maps to D a round-off beyond a table's limit.
    return np.geomspace(lo * (1 + 1e-9), hi * (1 - 1e-9), n)


def _weights(problem, curve):
    if curve.sigma is not None and (problem.weighted or problem.method == "signals"):
        return 1.0 / curve.sigma**2
    return np.ones_like(curve.time_s)


def _amplitude_factors(problem, i, p):
    """(name of the varied factor of f*eps*x or None, product of the fixed factors)."""
    varied, const = None, 1.0
    for base in ("fraction", "efficiency", "abundance"):
        name = problem.name(base, i)
        if problem.params[name].vary:
            varied = name
        else:
            const *= p[name]
    return varied, const


def profile_point(problem, p):
    """chi^2 of the ratio residual at the geometry in ``p`` with every amplitude solved.

    Parameters
    ----------
    problem : respdor.fitting._Problem
    p : dict
        Parameter values; the varied amplitude factors are overwritten with their best values.

    Returns
    -------
    float
        chi^2 (weighted when the fit is), the amplitude factors in ``p`` updated in place.
    """
    shapes, groups = [], {}
    with np.errstate(all="ignore"):
        for i, curve in enumerate(problem.curves):
            g = problem.models[i].normalised(curve.time_s, problem.coupling(p, i),
                                             p[problem.name("scaling", i)], p[problem.name("width_angstrom", i)])
            name, const = _amplitude_factors(problem, i, p)
            shapes.append((curve, _weights(problem, curve), np.asarray(g, float) * const, name))
            if name is not None:
                groups.setdefault(name, []).append(len(shapes) - 1)
        for name, members in groups.items():
            num = sum(np.sum(shapes[k][1] * shapes[k][2] * shapes[k][0].dss0) for k in members)
            den = sum(np.sum(shapes[k][1] * shapes[k][2] ** 2) for k in members)
            par = problem.params[name]
            value = num / den if den > 0 and np.isfinite(num / den) else par.value
            p[name] = float(np.clip(value, par.min, par.max))
        chi = 0.0
        for curve, w, gc, name in shapes:
            amp = p[name] if name is not None else 1.0
            chi += float(np.sum(w * (curve.dss0 - amp * gc) ** 2))
    return chi if np.isfinite(chi) else np.inf


def profile(problem, p0, gname, values):
    """chi^2 profile over ``gname`` (amplitudes solved, everything else as in ``p0``).

    Returns
    -------
    chi : ndarray
        chi^2 at each value.
    best : dict
        Parameter values (amplitudes included) at the lowest chi^2.
    """
    if _vectorisable(problem, p0):
        chi = _profile_vectorised(problem, p0, gname, np.asarray(values, float))
        best = dict(p0)
        best[gname] = float(values[int(np.argmin(chi))])
        profile_point(problem, best)
        return chi, best
    chi = np.empty(len(values))
    best, best_chi = None, np.inf
    for k, v in enumerate(values):
        p = dict(p0)
        p[gname] = float(v)
        chi[k] = profile_point(problem, p)
        if chi[k] < best_chi:
            best, best_chi = p, chi[k]
    return chi, best


def _vectorisable(problem, p):
    """True when every curve is analytical with one distance (one array call covers the grid)."""
    return all(m.shape is None and p[problem.name("width_angstrom", i)] == 0
               for i, m in enumerate(problem.models))


def _profile_vectorised(problem, p0, gname, values):
    """chi^2 at every grid value at once: same numbers as :func:`profile_point`, one call per curve."""
    base = "coupling_hz" if problem.param == "coupling" else "distance_angstrom"
    parts, groups = [], {}
    with np.errstate(all="ignore"):
        for i, (curve, model) in enumerate(zip(problem.curves, problem.models)):
            if problem.name(base, i) == gname:
                d = values if problem.param == "coupling" else model.dr3 / values**3
            else:
                d = np.full(values.size, problem.coupling(p0, i))
            g = model.normalised(curve.time_s[None, :], d[:, None], p0[problem.name("scaling", i)], 0.0)
            name, const = _amplitude_factors(problem, i, p0)
            parts.append((curve, _weights(problem, curve)[None, :], np.asarray(g, float) * const, name))
            if name is not None:
                groups.setdefault(name, []).append(len(parts) - 1)
        amps = {}
        for name, members in groups.items():
            num = sum(np.sum(parts[k][1] * parts[k][2] * parts[k][0].dss0[None, :], axis=1) for k in members)
            den = sum(np.sum(parts[k][1] * parts[k][2] ** 2, axis=1) for k in members)
            par = problem.params[name]
            value = np.where((den > 0) & np.isfinite(num / den), num / den, par.value)
            amps[name] = np.clip(value, par.min, par.max)
        chi = np.zeros(values.size)
        for curve, w, gc, name in parts:
            amp = amps[name][:, None] if name is not None else 1.0
            chi += np.sum(w * (curve.dss0[None, :] - amp * gc) ** 2, axis=1)
    return np.where(np.isfinite(chi), chi, np.inf)


def _refine(problem, p0, gname, values, chi, k):
    """Bounded 1-D minimisation of the profile between the neighbours of grid point k (log scale)."""
    lo, hi = values[max(k - 1, 0)], values[min(k + 1, len(values) - 1)]
    if not hi > lo:
        p = dict(p0)
        p[gname] = float(values[k])
        return profile_point(problem, p), p

    def f(logv):
        p = dict(p0)
        p[gname] = float(np.exp(logv))
        return profile_point(problem, p)

    out = minimize_scalar(f, bounds=(np.log(lo), np.log(hi)), method="bounded",
                          options={"xatol": 1e-10})
    p = dict(p0)
    p[gname] = float(np.exp(out.x))
    chi_ref = profile_point(problem, p)
    if chi_ref > chi[k]:
        p = dict(p0)
        p[gname] = float(values[k])
        chi_ref = profile_point(problem, p)
    return chi_ref, p


def _local_minima(chi, keep):
    """Indices of the ``keep`` lowest local minima of a sampled profile."""
    idx = [k for k in range(len(chi)) if np.isfinite(chi[k])
           and (k == 0 or chi[k] <= chi[k - 1]) and (k == len(chi) - 1 or chi[k] <= chi[k + 1])]
    return sorted(idx, key=lambda k: chi[k])[:keep]


def _inside(par, value):
    """A start strictly inside the bounds (a Levenberg-Marquardt start on a bound cannot move)."""
    lo, hi = par.min, par.max
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return float(np.clip(value, lo, hi))
    if lo > 0:  # D, r: log-scale ranges spanning decades
        return float(np.clip(value, lo * (1 + 1e-4), hi * (1 - 1e-4)))
    margin = 1e-3 * (hi - lo)
    return float(np.clip(value, lo + margin, hi - margin))


def _start_params(problem, values):
    params = problem.params.copy()
    for name, v in values.items():
        if name in params and params[name].vary and params[name].expr is None:
            params[name].value = _inside(params[name], v)
    return params


def _run(problem, params, scale_covar):
    import lmfit

    minimizer = lmfit.Minimizer(problem.residual, params, scale_covar=scale_covar, nan_policy="raise")
    with np.errstate(all="ignore"):
        result = minimizer.minimize(method="leastsq")
    return minimizer, result


def search_and_fit(problem, scale_covar, user_start=None):
    """Multi-start local fits from the profile's minima; then confirm the optimum.

    Parameters
    ----------
    problem : respdor.fitting._Problem
    scale_covar : bool
        Passed to lmfit (True when the noise is estimated from the scatter).
    user_start : dict, optional
        name -> value the user asked to start from; run as one of the starts.

    Returns
    -------
    minimizer, result : lmfit objects of the best fit
    notes, warnings : list of str
    """
    gnames = geometry_names(problem)
    p0 = problem.params.valuesdict()
    n_coarse = _size(problem, p0)
    coarse = {}
    for gname in gnames:
        values = _grid(problem, gname, n_coarse)
        chi, _ = profile(problem, p0, gname, values)
        coarse[gname] = (values, chi)
    starts = _starts(problem, p0, gnames, coarse, user_start)
    best = None
    for label, values in starts:
        minimizer, result = _run(problem, _start_params(problem, values), scale_covar)
        if best is None or result.chisqr < best[1].chisqr * (1 - 1e-12):
            best = (minimizer, result, label)
    minimizer, result, label = best
    notes = []
    if user_start:
        shown = ", ".join(_show_start(problem, k, v) for k, v in user_start.items())
        notes.append(f"local fits from your start ({shown}) and {len(starts) - 1} grid start(s); the lowest "
                     f"chi2 ({result.chisqr:.6g}) came from {label}")
    if problem.method == "signals" or not gnames:
        if problem.method == "signals":
            notes.append("global search on the dS/S0 profile; the joint S0/S1 optimum is not confirmed by a profile")
        return minimizer, result, notes, []
    minimizer, result, more_notes, warns = _confirmed(problem, minimizer, result, gnames, coarse, scale_covar)
    return minimizer, result, notes + more_notes, warns


def _starts(problem, p0, gnames, coarse, user_start):
    """[(label, parameter values)] of the local fits: the lowest local minima of the first geometry's
    profile (the others at their grid optimum), and the user's start first when given."""
    starts = []
    if gnames:
        base = dict(p0)
        for gname in gnames[1:]:
            values, chi = coarse[gname]
            base[gname] = float(values[int(np.argmin(chi))])
        values, chi = coarse[gnames[0]]
        # Every local minimum nearly as low as the best: the conditional optimum of the others
        # (scaling, width) may move it, and a local fit is cheap next to a wrong answer.
        for k in [k for k in _local_minima(chi, 3) if chi[k] <= 1.5 * np.min(chi) + 1e-12]:
            p = dict(base)
            p[gnames[0]] = float(values[k])
            profile_point(problem, p)
            starts.append(("grid", p))
    else:
        p = dict(p0)
        profile_point(problem, p)
        starts.append(("grid", p))
    if user_start:
        # The user's values, the rest (e.g. the amplitude for a start on r only) from the grid.
        p = dict(starts[0][1])
        p.update(user_start)
        starts.insert(0, ("your start", p))
    return starts


def _confirmed(problem, minimizer, result, gnames, coarse, scale_covar):
    """The fit once no chi^2 profile finds a lower point (restarting from a lower one, at most three
    times); (minimizer, result, notes, warnings)."""
    # The search's profile holds for the fit when nothing but the geometry and amplitudes varies.
    amplitude = {problem.name(b, i) for b in ("fraction", "efficiency", "abundance") for i in range(problem.n)}
    extra = [n for n in result.var_names if not n.startswith("s0_") and n not in gnames and n not in amplitude]
    reuse = not extra and len(gnames) == 1
    for attempt in range(3):
        better = _confirm(problem, result, gnames, coarse, reuse)
        if better is None:
            scope = "D and the amplitude"
            if extra:
                scope += f" (with {', '.join(extra)} at their fitted values)"
            n_pts = len(coarse[gnames[0]][0])
            return minimizer, result, [f"global optimum confirmed: a {n_pts}-point chi2 profile over {scope}, its "
                                       "lowest minima refined, finds nothing lower"], []
        chi_better, p_better = better
        m2, r2 = _run(problem, _start_params(problem, p_better), scale_covar)
        if r2.chisqr < result.chisqr:
            minimizer, result = m2, r2
    return minimizer, result, [], [f"the optimum could not be confirmed: a chi2 profile over D reaches chi2 = "
                                   f"{chi_better:.6g}, below the fit's {result.chisqr:.6g}; treat the result with "
                                   "caution"]


def _size(problem, p0):
    """Number of profile points, fewer when one point costs many curve evaluations.

    A cost model, not a clock, so that the same data give the same fit on every machine: an
    analytical curve costs 1, a distance distribution one per Gauss-Hermite node, a simulated
    table 5.
    """
    from .models import _GH_X

    units = 0.0
    for i, model in enumerate(problem.models):
        width = problem.params[problem.name("width_angstrom", i)]
        cost = len(_GH_X) if (width.vary or p0[width.name] > 0) else 1
        units += cost * (5 if model.shape is not None else 1)
    return int(np.clip(_POINTS[1] * 4 / max(units, 1.0), *_POINTS))


def _show_start(problem, name, value):
    """``coupling_hz = 183.7 (r = 3.5 A)``: a start on D or r shown in both."""
    for i, model in enumerate(problem.models):
        if name == problem.name("coupling_hz", i) and problem.param == "coupling":
            return f"{name} = {value:.6g} (r = {(model.dr3 / value) ** (1 / 3):.6g} A)"
        if name == problem.name("distance_angstrom", i) and problem.param == "distance":
            return f"{name} = {value:.6g} (D = {model.dr3 / value**3:.6g} Hz)"
    return f"{name} = {value:.6g}"


def _confirm(problem, result, gnames, coarse, reuse):
    """None when no profile beats the fit, else (chi2, parameter values) of the better point.

    The profile over the whole range (the search's own when nothing else varies, else recomputed
    at the fitted values), each of its lowest local minima refined by a bounded 1-D minimisation,
    and the fitted value itself refined: none may fall below the fit's chi^2.
    """
    p_fit = result.params.valuesdict()
    chi_fit = float(result.chisqr)
    # Below this a lower chi^2 is round-off (noise-free synthetic curves reach chi^2 ~ 1e-20).
    atol = (1e-8 if problem.weighted else 1e-14) * result.ndata
    for gname in gnames:
        values, chi = coarse[gname]
        if not reuse:
            chi, _ = profile(problem, p_fit, gname, values)
        k_fit = int(np.clip(np.searchsorted(values, p_fit[gname]), 1, len(values) - 1))
        for k in _local_minima(chi, _REFINED) + [k_fit]:
            chi_ref, p_ref = _refine(problem, p_fit, gname, values, chi, k)
            if chi_ref < chi_fit * (1 - CONFIRM_RTOL) - atol:
                return chi_ref, p_ref
    return None
