"""Optimum and intervals of tabulated shape parameters (a library's cq, nu1, eta_q, length).

A tabulated parameter lives on a finite axis, and its optimum may lie on an end of that axis,
where a covariance (which assumes an interior optimum) describes nothing and lmfit's bounded
Levenberg-Marquardt cannot move: its internal variable maps the bound to a point of zero slope,
so a step that lands on the bound stays there although chi^2 is lower inside. Both are mended by
one chi^2 profile per tabulated parameter: the parameter is stepped over its whole allowed range
(several values per library cell), every other parameter refitted at each value (continued from
the neighbouring value and from the best fit, the lower kept). A profile point below the fit
restarts the fit there; the Delta chi^2 crossings, located by root finding on the same refit, are
the intervals. Where chi^2 does not rise enough before the axis ends the interval is one-sided,
bounded by the edge, and the fitter says so.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.optimize import brentq

from .profile import off_bound

__all__ = ["tabulated_names", "profile_tabulated", "confirm_tabulated", "several_minima_warning", "LEVELS"]

#: Probability levels of the reported intervals (1 and 2 sigma, as for every other parameter).
LEVELS = (0.6827, 0.9545)
#: Profile values per library cell (between neighbouring nodes) and at most in all.
_PER_CELL = 4
_MAX_POINTS = 41


def tabulated_names(problem, result):
    """Varied parameters of ``problem`` that are axes of a tabulated shape (names as fitted)."""
    out = []
    for i, model in enumerate(problem.models):
        for base in model.shape_parameters:
            name = problem.name(base, i)
            if name in result.params and result.params[name].vary and name not in out:
                out.append(name)
    return out


def _nodes(problem, name):
    """Library nodes of the axis behind ``name`` (for the profile grid)."""
    base = name.split("_", 1)[1] if name[:1] == "c" and name[1:2].isdigit() else name
    for model in problem.models:
        for axis in getattr(model.shape, "axes", []):
            if axis.name == base:
                return np.asarray(axis.values, float)
    return np.array([], float)


def _grid(problem, name, par):
    """Profile values over [min, max]: every node inside plus ``_PER_CELL`` per cell, and the best value."""
    lo, hi = float(par.min), float(par.max)
    nodes = _nodes(problem, name)
    nodes = np.unique(np.concatenate([[lo, hi], nodes[(nodes > lo) & (nodes < hi)]]))
    fine = np.concatenate([np.linspace(a, b, _PER_CELL + 1)[:-1] for a, b in zip(nodes[:-1], nodes[1:])] + [[hi]])
    if fine.size > _MAX_POINTS:
        fine = np.linspace(lo, hi, _MAX_POINTS)
    return np.unique(np.concatenate([fine, [float(par.value)]]))


class _Refit:
    """chi^2 with one parameter held at a value and every other varied parameter refitted."""

    def __init__(self, problem, result, name):
        self.problem, self.name = problem, name
        self.best = result.params.copy()
        self.others = [n for n in result.var_names if n != name]

    def __call__(self, value, starts):
        import lmfit

        out = None
        for start in starts:
            params = start.copy()
            params[self.name].set(value=float(value), vary=False)
            if not self.others:
                chi = float(np.sum(self.problem.residual(params) ** 2))
                fit_params = params
            else:
                for n in self.others:  # a start on a bound cannot move (lmfit's bounded transform)
                    off_bound(params[n])
                mini = lmfit.Minimizer(self.problem.residual, params, nan_policy="raise")
                with np.errstate(all="ignore"):
                    res = mini.minimize(method="leastsq")
                chi, fit_params = float(res.chisqr), res.params
            if out is None or chi < out[0]:
                out = (chi, fit_params)
        return out


def _probability(delta, chi_best, nfree, weighted):
    """Confidence of a chi^2 excess: chi^2(1) with known errors, the F-test without (as for D, f)."""
    delta = max(delta, 0.0)
    if weighted:
        return float(stats.chi2.cdf(delta, 1))
    return float(stats.f.cdf(delta / max(chi_best, 1e-300) * nfree, 1, nfree))


def profile_tabulated(problem, result, name, weighted):
    """chi^2 profile of one tabulated parameter over its allowed range, with its intervals.

    Parameters
    ----------
    problem : respdor.fitting._Problem
    result : lmfit.minimizer.MinimizerResult
        The fit; ``name`` must be one of its varied parameters.
    name : str
        Fitted name of the tabulated parameter (e.g. ``cq`` or ``c1_nu1``), in SI units.
    weighted : bool
        Measurement errors known (Delta chi^2 levels 1 and 4) or not (F-test).

    Returns
    -------
    dict
        ``values`` and ``chi2`` (the profile), ``best`` (lowest point: value, chi^2, parameters),
        ``ci68`` and ``ci95`` (low, high: the hull of every profile point below the level),
        ``open`` ({level: (low_open, high_open)}: True where chi^2 does not rise to the level
        before the allowed range ends), ``several`` ({level: True when the profile rises above
        the level and falls below it again inside the interval: several minima}), ``range``
        (min, max), ``fits`` (the re-fitted parameters at each value).
    """
    par = result.params[name]
    refit = _Refit(problem, result, name)
    values = _grid(problem, name, par)
    k0 = int(np.argmin(np.abs(values - par.value)))
    chi = np.full(values.size, np.inf)
    fits = [None] * values.size
    chi[k0], fits[k0] = refit(values[k0], [refit.best])
    for step in (-1, 1):  # continue outward from the best value, so each refit starts near its optimum
        prev = fits[k0]
        for k in range(k0 + step, -1 if step < 0 else values.size, step):
            chi[k], fits[k] = refit(values[k], [prev, refit.best])
            prev = fits[k]
    k_min = int(np.argmin(chi))
    chi_best = min(float(chi[k_min]), float(result.chisqr))
    nfree = max(int(result.nfree), 1)
    out = {"values": values, "chi2": chi, "range": (float(par.min), float(par.max)),
           "best": (float(values[k_min]), float(chi[k_min]), fits[k_min]), "open": {}, "several": {},
           "fits": fits}
    for level in LEVELS:
        ends, opened, several = [], [], False
        for step in (-1, 1):
            end, is_open, gap = _crossing(refit, values, chi, fits, k_min, step, level, chi_best, nfree, weighted)
            ends.append(end)
            opened.append(is_open)
            several = several or gap
        out["ci68" if level == LEVELS[0] else "ci95"] = tuple(ends)
        out["open"][level] = tuple(opened)
        out["several"][level] = several
    return out


def _crossing(refit, values, chi, fits, k_min, step, level, chi_best, nfree, weighted):
    """The interval end on one side of k_min: (end, open, several_minima).

    The outermost profile point still below ``level`` in direction ``step`` bounds the interval,
    not the first point above it: a profile with several valleys gives the hull of the points
    below the level (``several_minima`` True when a point above the level lies between them). The
    end is located by root finding between that point and the next one out; it is the edge
    (``open`` True) when the level is not reached before the axis ends.
    """
    def prob(c):
        return _probability(c - chi_best, chi_best, nfree, weighted)

    def excess(v, start):
        return prob(refit(v, [start])[0]) - level

    side = range(k_min + step, -1 if step < 0 else values.size, step)
    below = [k for k in side if prob(chi[k]) < level]
    k = below[-1] if below else k_min
    several = any(prob(chi[j]) >= level for j in range(k_min + step, k, step))
    nxt = k + step
    if not 0 <= nxt < values.size:
        return float(values[k]), True, several
    a, b = sorted((values[k], values[nxt]))
    try:
        end = brentq(lambda v: excess(v, fits[k]), a, b, xtol=1e-4 * (values[-1] - values[0]))
    except ValueError:  # the refit is not continuous across this cell: keep the outer grid point
        end = values[nxt]
    return float(end), False, several


def confirm_tabulated(problem, minimizer, result, weighted, scale_covar):
    """Profile every varied tabulated parameter; restart the fit where a profile finds a lower chi^2.

    Returns
    -------
    minimizer, result
        The fit, replaced when a profile point was lower.
    profiles : dict
        name -> :func:`profile_tabulated` of the final fit.
    notes, warnings : list of str
    """
    from .optimum import CONFIRM_RTOL, _run, _start_params

    names = tabulated_names(problem, result)
    notes, warns = [], []
    atol = (1e-8 if weighted else 1e-14) * result.ndata
    for _ in range(3):
        profiles = {n: profile_tabulated(problem, result, n, weighted) for n in names}
        lower = [(p["best"][1], n, p) for n, p in profiles.items()
                 if p["best"][1] < result.chisqr * (1 - CONFIRM_RTOL) - atol]
        if not lower:
            break
        chi_low, name, prof = min(lower, key=lambda x: x[0])
        start = dict(prof["best"][2].valuesdict())
        m2, r2 = _run(problem, _start_params(problem, start), scale_covar)
        notes.append(f"the local fit ended at {name} = {result.params[name].value:.6g} (chi2 {result.chisqr:.6g}); "
                     f"its profile found chi2 {chi_low:.6g} at {name} = {prof['best'][0]:.6g}: fit restarted there")
        if r2.chisqr < result.chisqr:
            minimizer, result = m2, r2
        else:
            warns.append(f"{name}: its chi2 profile reaches {chi_low:.6g} at {prof['best'][0]:.6g}, below the fit's "
                         f"{result.chisqr:.6g}, and a fit restarted there did not get lower; treat the result with "
                         "caution")
            break
    if names:
        notes.append("intervals of " + ", ".join(names) + ": chi2 profile over the library axis, every other "
                     "parameter refitted at each value")
    return minimizer, result, profiles if names else {}, notes, warns


def model_of(problem, name):
    """The curve model whose tabulated parameter ``name`` is (the first curve using it)."""
    for i, model in enumerate(problem.models):
        if any(problem.name(b, i) == name for b in model.shape_parameters):
            return model
    return problem.models[0]


def edge_warnings(name, prof, model, value=None, bound_label="bounds"):
    """One line per side where the 95 % interval of ``name`` runs to the end of its allowed range.

    The line names the edge, says that the interval is one-sided (bounded by the edge, not by the
    data) and how to move the edge: the ``respdor library build`` command of a wider library, or
    a wider bound when the edge is the user's bound inside the library (named as ``bound_label``
    says: ``bounds['cq']`` in Python, ``--bound cq`` on the command line).
    """
    from .library import format_value, rebuild_command

    base = name.split("_", 1)[1] if name[:1] == "c" and name[1:2].isdigit() else name
    lib_lo, lib_hi = model.shape_parameters[base][1]
    value = prof["best"][0] if value is None else value
    out = []
    for side, (open_end, edge, lib_edge) in enumerate(zip(prof["open"][LEVELS[1]], prof["range"], (lib_lo, lib_hi))):
        if not open_end:
            continue
        where = ("lower", "upper")[side]
        ci = "; ".join(f"{lab} % [{format_value(base, prof[key][0])}, {format_value(base, prof[key][1])}]"
                       for lab, key in (("68", "ci68"), ("95", "ci95")))
        head = (f"{name} = {format_value(base, value)} {_relation(value, edge, _axis_nodes(model, base))} the "
                f"{{what}} {where} edge {format_value(base, edge)}: chi2 rises by less than 4 between them, "
                f"so its intervals are "
                f"one-sided, bounded by the edge and not by the data ({ci}), and the intervals of the other "
                f"parameters hold only for {name} inside it; ")
        if not np.isclose(edge, lib_edge, rtol=1e-9, atol=0.0):
            bound = f"{bound_label} {base}" if bound_label.startswith("--") else f"{bound_label}[{base!r}]"
            what = bound_label if bound_label.startswith("--") else bound
            out.append(head.format(what=what) + f"widen {bound} to the library's {format_value(base, lib_edge)}")
            continue
        command = rebuild_command(model.shape, base, side)
        if command is None:
            out.append(head.format(what="library's") + "the edge is the physical limit of the parameter")
        else:
            out.append(head.format(what="library's") + f"extend the library beyond it: {command}")
    return out


def _axis_nodes(model, base):
    for axis in getattr(model.shape, "axes", []):
        if axis.name == base:
            return np.asarray(axis.values, float)
    return np.array([], float)


def _relation(value, edge, nodes):
    """How the best value stands to an edge its 95 % interval reaches: on it, in the cell next to
    it (near), or further inside (the interval alone reaches it)."""
    if np.isclose(value, edge, rtol=1e-6, atol=1e-12 * max(abs(edge), 1.0)):
        return "is on"
    inner = nodes[(nodes > min(value, edge)) & (nodes < max(value, edge))]
    return "is near" if inner.size == 0 else "lies inside, but its 95 % interval reaches"


def several_minima_warning(name, prof):
    """One line when the profile of ``name`` falls below the 95 % level again beyond a rise above it."""
    from .library import format_value

    if not prof.get("several", {}).get(LEVELS[1]):
        return None
    base = name.split("_", 1)[1] if name[:1] == "c" and name[1:2].isdigit() else name
    lo, hi = prof["ci95"]
    return (f"{name}: its chi2 profile has several minima: values from {format_value(base, lo)} to "
            f"{format_value(base, hi)} lie within the 95 % level, with higher chi2 between them; the "
            f"intervals given span all of them, and the data do not single out one {name}")
