r"""Distance distributions from one dephasing curve: the kernel, the regularised inversion, the alternatives.

The curve of a set of observed spins whose partners sit at different distances is the sum of
two-spin curves,

.. math::  \Delta S/S_0(t) = \sum_j K(t, r_j)\, w_j, \qquad w_j \ge 0,

where :math:`K(t, r) = \varepsilon\, x\, g(t; D(r))` is the two-spin dS/S0 of
:class:`respdor.fitting.CurveModel` (REDOR or RESPDOR, the partner's spin, the population transfer
and the recoupling scaling exactly as in ``respdor fit``), D(r) the dipolar coupling of the pair
(:mod:`spinsim.dipolar`), epsilon the saturation efficiency and x the partner's isotopic abundance.
The weights w_j are the fractions of observed spins with their partner at r_j, so
:math:`P(r_j) = w_j / \Delta r` (per angstrom) is **not** normalised to 1: its integral
:math:`\sum_j w_j` is the dephasing (bonded) fraction f of ``respdor fit``, and the remainder
1 - f are observed spins with no partner the curve can see. A partner too far away to dephase
within the longest recoupling time and a spin with no partner give the same curve; so mass beyond
the longest visible distance (:func:`visible_range`) trades off against the remainder.

Distances are in m inside this module (the grid, the kernel, the fitted distances); the
``*_angstrom`` helpers convert at the edge.

The inversion (:func:`tikhonov`) is non-negative least squares with a second-derivative Tikhonov
penalty, solved by DeerLab (``pip install 'respdor[distributions]'``) on the noise-weighted kernel
(each row divided by the point's sigma). The regularisation parameter alpha is chosen by the
Akaike information criterion N ln(RSS/N) + 2 tr H (DeerLab's default criterion; H the influence
matrix), which weighs misfit against the effective number of parameters tr H -- the same
trade-off used here to compare the inversion with the parametric alternatives
(:func:`fit_one_site`, :func:`fit_gaussian`, :func:`fit_two_sites`), each by its
chi^2 + 2k with k its number of parameters (tr H for the inversion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import UserError

__all__ = ["deerlab", "distance_kernel", "coupling_kernel", "distance_grid", "coupling_grid", "grid_widths",
           "Inversion", "tikhonov", "ParametricFit", "fit_one_site", "fit_gaussian", "fit_two_sites", "visible_range",
           "default_range", "ANGSTROM",
           "ALPHA_RANGE", "GAUSS_STEP_ANGSTROM", "GAUSS_MAX_POINTS", "MISSING_DEERLAB"]

#: One angstrom in m.
ANGSTROM = 1e-10

#: The one line said when DeerLab is missing.
MISSING_DEERLAB = "distance distributions need DeerLab: pip install 'respdor[distributions]'"


def deerlab():
    """The ``deerlab`` module, or :class:`UserError` with the one line that says how to install it."""
    try:
        import deerlab as dl
    except ImportError:
        raise UserError(MISSING_DEERLAB) from None
    return dl


def _couplings(distances_m, model):
    from spinsim.dipolar import dipolar_coupling_hz

    return np.atleast_1d(dipolar_coupling_hz(np.asarray(distances_m, float), model.observe_isotope,
                                             model.partner_isotope))


def coupling_kernel(time_s, couplings_hz, model, factor=1.0, width_m=0.0):
    """K[i, j] = factor * g(t_i; D_j): the two-spin dS/S0 of ``model`` at each coupling.

    Parameters
    ----------
    time_s : array_like, shape (N,)
        Recoupling times in s.
    couplings_hz : array_like, shape (M,)
        Dipolar couplings D of one pair in Hz.
    model : respdor.fitting.CurveModel
        The pair, experiment, transfer and recoupling scaling (the curve of ``respdor fit`` for f = 1).
    factor : float
        epsilon * x: saturation efficiency times the partner's abundance.
    width_m : float
        Standard deviation (m) of a Gaussian distance distribution around each r(D_j) (0: none).

    Returns
    -------
    ndarray, shape (N, M)
    """
    t = np.asarray(time_s, float)
    cols = [model.normalised(t, float(d), width_angstrom=width_m / ANGSTROM) for d in np.atleast_1d(couplings_hz)]
    return factor * np.stack(cols, axis=1) if cols else np.zeros((t.size, 0))


def distance_kernel(time_s, distances_m, model, factor=1.0, width_m=0.0):
    """K[i, j] = factor * g(t_i; D(r_j)) on a distance grid in m (see :func:`coupling_kernel`)."""
    return coupling_kernel(time_s, _couplings(distances_m, model), model, factor, width_m)


def distance_grid(r_min_m, r_max_m, n):
    """Uniform grid of ``n`` distances from ``r_min_m`` to ``r_max_m`` (m) and its spacing."""
    r = np.linspace(r_min_m, r_max_m, int(n))
    return r, float(r[1] - r[0])


def coupling_grid(r_min_m, r_max_m, n, model):
    """``n`` distances (m, increasing) uniform in the coupling D between D(r_max) and D(r_min), and those D (Hz).

    Uniform in D the kernel's columns change evenly (it is a function of D t), so short distances,
    whose curves change quickly with r, get as many points as long ones.
    """
    d = np.linspace(_couplings([r_min_m], model)[0], _couplings([r_max_m], model)[0], int(n))  # r increasing
    return np.cbrt(model.dr3 / d) * ANGSTROM, d


def grid_widths(r):
    """The width each grid point stands for (same unit as ``r``): P(r_j) = w_j / width_j; on a uniform
    grid the spacing."""
    return np.gradient(np.asarray(r, float))


@dataclass
class Inversion:
    """The regularised P(r): weights w_j (fractions), alpha, tr H, the model curve and chi^2."""

    weights: np.ndarray
    alpha: float
    n_eff: float
    model: np.ndarray
    chi2: float

    @property
    def aic(self) -> float:
        return self.chi2 + 2.0 * self.n_eff


def _influence_trace(kw, lop, alpha):
    """tr H of the unconstrained Tikhonov problem (as DeerLab's selection criteria count it)."""
    ata = kw.T @ kw + alpha**2 * (lop.T @ lop)
    return float(np.trace(kw @ np.linalg.solve(ata, kw.T)))


def _nnls_normal(ata, aty):
    """argmin_{w >= 0} of the quadratic with normal equations ``ata w = aty`` (DeerLab's solver signature),
    solved by scipy's active-set NNLS on the Cholesky factor: ata = R^T R, min |R w - R^-T aty|."""
    from scipy.linalg import LinAlgError, cholesky, solve_triangular
    from scipy.optimize import nnls

    try:
        upper = cholesky(ata)
    except LinAlgError:  # not positive definite (alpha ~ 0 on a rank-deficient kernel): DeerLab's own solver
        return deerlab().solvers.fnnls(ata, aty)
    return nnls(upper, solve_triangular(upper, aty, trans="T"), maxiter=50 * len(aty))[0]


#: Search range of alpha (noise-weighted problem, second-derivative operator per angstrom^2).
ALPHA_RANGE = (1e-6, 1e4)


def tikhonov(y, sigma, kernel, r_m, alpha=None, axis=None):
    """Non-negative Tikhonov inversion of ``y = kernel @ w`` with DeerLab, alpha by AIC.

    Parameters
    ----------
    y, sigma : ndarray, shape (N,)
        dS/S0 and its standard deviation at each time.
    kernel : ndarray, shape (N, M)
        From :func:`distance_kernel` on the grid ``r_m``.
    r_m : ndarray, shape (M,)
        The distance grid (m); the second-derivative operator is built on it (in angstrom).
    alpha : float, optional
        A fixed regularisation parameter (of the noise-weighted problem) instead of the AIC choice
        (DeerLab's ``selregparam``, Brent search over :data:`ALPHA_RANGE`).
    axis : ndarray, optional
        The axis the smoothness is measured on, one value per column (default the distances in
        angstrom; the couplings in kHz for a grid uniform in D).

    Returns
    -------
    Inversion
    """
    dl = deerlab()
    kw, yw = kernel / sigma[:, None], y / sigma
    lop = dl.regoperator(r_m / ANGSTROM if axis is None else np.asarray(axis, float), 2, includeedges=True)
    if alpha is None:
        alpha = float(dl.selregparam(yw, kw, _nnls_normal, "aic", regop=lop, searchrange=list(ALPHA_RANGE)))
    w = np.maximum(_nnls_normal(kw.T @ kw + alpha**2 * (lop.T @ lop), kw.T @ yw), 0.0)
    curve = kernel @ w
    return Inversion(weights=w, alpha=float(alpha), n_eff=_influence_trace(kw, lop, alpha), model=curve,
                     chi2=float(np.sum(((y - curve) / sigma) ** 2)))


@dataclass
class ParametricFit:
    """One parametric alternative: its name, values (distances in m, fractions), 95 % intervals, chi^2."""

    name: str
    values: dict
    ci95: dict
    chi2: float
    k: int
    model: np.ndarray = field(repr=False)
    at_bound: list = field(default_factory=list)

    @property
    def aic(self) -> float:
        return self.chi2 + 2.0 * self.k


#: Cap on the model evaluations of one parametric fit (each starts near the best point of a grid).
_MAX_NFEV = 200


def _parametric(name, y, sigma, columns, start, bounds, names):
    """DeerLab's separable fit of ``columns(p) @ a`` (p bounded, a >= 0) and the linearised 95 % intervals.

    ``names`` are (names of p, names of a); distances in p are in angstrom here (well-scaled for the
    solver) and leave in m. The intervals are +- 1.96 standard deviations from the covariance of all
    parameters together (distances and fractions; a fraction's error includes its correlation with
    the distances), clipped to the bounds.
    """
    dl = deerlab()
    lb, ub = (np.asarray(b, float) for b in bounds)
    columns = _remember_last(columns)
    fit = dl.snlls(y / sigma, lambda q: columns(q) / sigma[:, None], par0=start, lb=lb, ub=ub,
                   lbl=np.zeros(columns(start).shape[1]), reg=False, nnlsSolver="fnnls", uq=False, noiselvl=1.0,
                   max_nfev=_MAX_NFEV, ftol=1e-7, xtol=1e-7)
    p, a = np.asarray(fit.nonlin, float), np.maximum(np.asarray(fit.lin, float), 0.0)
    curve = columns(p) @ a
    sd = _linearised_sd(lambda th: columns(th[:p.size]) @ th[p.size:], np.concatenate([p, a]), sigma, lb, ub)
    lo = np.concatenate([lb, np.zeros(a.size)])
    hi = np.concatenate([ub, np.full(a.size, np.inf)])
    theta = np.concatenate([p, a])
    ci = np.stack([np.clip(theta - 1.96 * sd, lo, hi), np.clip(theta + 1.96 * sd, lo, hi)], axis=1)
    scale = np.concatenate([np.full(p.size, ANGSTROM), np.ones(a.size)])
    keys = list(names[0]) + list(names[1])
    values = {k: float(v * f) for k, v, f in zip(keys, theta, scale)}
    intervals = {k: (float(c[0] * f), float(c[1] * f)) for k, c, f in zip(keys, ci, scale)}
    at_bound = [n for n, v, l_, u in zip(names[0], p, lb, ub) if min(v - l_, u - v) <= 1e-3 * (u - l_)]
    return ParametricFit(name, values, intervals, _chi2(y, sigma, curve), theta.size, curve, at_bound)


def _remember_last(columns):
    """``columns`` that returns its last matrix again for the same parameters (DeerLab asks twice per step)."""
    last = {}

    def cached(q):
        key = tuple(np.asarray(q, float).ravel())
        if key not in last:
            last.clear()
            last[key] = columns(q)
        return last[key]

    return cached


def _linearised_sd(model, theta, sigma, lb, ub):
    """Standard deviations from (J^T J)^-1, J the noise-weighted Jacobian by central differences
    (one-sided at a bound); NaN for a parameter the curve does not determine."""
    jac = np.empty((sigma.size, theta.size))
    for k in range(theta.size):
        h = 1e-5 * max(abs(theta[k]), 1e-3)
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        if k < lb.size:
            up[k], down[k] = min(up[k], ub[k]), max(down[k], lb[k])
        else:
            down[k] = max(down[k], 0.0)
        jac[:, k] = (model(up) - model(down)) / (up[k] - down[k]) / sigma
    try:
        cov = np.linalg.inv(jac.T @ jac)
    except np.linalg.LinAlgError:
        return np.full(theta.size, np.nan)
    diag = np.diag(cov)
    return np.where(diag > 0, np.sqrt(np.abs(diag)), np.nan)


def _best_single(y, sigma, kernel):
    """Index of the grid column that fits best alone (closed-form non-negative amplitude)."""
    kw, yw = kernel / sigma[:, None], y / sigma
    amp = np.maximum((kw * yw[:, None]).sum(0) / np.maximum((kw**2).sum(0), 1e-300), 0.0)
    return int(np.argmin(((yw[:, None] - kw * amp) ** 2).sum(0)))


def _distance_columns(time_s, model, factor):
    return lambda q: distance_kernel(time_s, np.asarray(q) * ANGSTROM, model, factor)


def fit_one_site(y, sigma, time_s, model, factor, r_m, kernel):
    """One distance r and its fraction f (the two-spin fit of ``respdor fit``), started at the best
    column of ``kernel`` (the grid ``r_m``)."""
    ra = r_m / ANGSTROM
    j = _best_single(y, sigma, kernel)
    return _parametric("one distance", y, sigma, _distance_columns(time_s, model, factor), np.array([ra[j]]),
                       ([ra[0]], [ra[-1]]), (["r"], ["f"]))


#: Spacing (angstrom) of the fine grid on which the Gaussian alternative is summed.
GAUSS_STEP_ANGSTROM = 0.005
#: Most points of that fine grid.
GAUSS_MAX_POINTS = 1500


def _gauss_weights(ra, mean, width):
    w = np.exp(-0.5 * ((ra - mean) / width) ** 2)
    return w / w.sum()


def fit_gaussian(y, sigma, time_s, model, factor, r_m, kernel=None):
    """A Gaussian distribution of distances (mean r, standard deviation width) truncated to the grid's range
    (the support of P(r)), and its total fraction f.

    The Gaussian is summed on a fine grid (:data:`GAUSS_STEP_ANGSTROM`, at most :data:`GAUSS_MAX_POINTS`
    distances) so that widths down to two of its steps are represented; the fit starts from the three
    best of a grid of means and widths and keeps the lowest chi^2.
    """
    ra = r_m / ANGSTROM
    span = ra[-1] - ra[0]
    n = int(min(GAUSS_MAX_POINTS, math.ceil(span / GAUSS_STEP_ANGSTROM) + 1))
    fine = np.linspace(ra[0], ra[-1], n)
    fine_kernel = distance_kernel(time_s, fine * ANGSTROM, model, factor)
    low_width = 2.0 * (fine[1] - fine[0])

    def column(q):
        return fine_kernel @ _gauss_weights(fine, q[0], max(q[1], low_width))[:, None]

    widths = np.array([0.01, 0.03, 0.1, 0.2, 0.4]) * span
    starts = sorted(((m, w) for m in fine[:: max(1, n // 40)] for w in widths[widths >= low_width]),
                    key=lambda q: _column_chi2(y, sigma, column(q)))
    distinct = [q for k, q in enumerate(starts) if all(abs(q[0] - p[0]) > 0.1 * span for p in starts[:k])][:3]
    fits = [_parametric("Gaussian", y, sigma, column, np.array(q), ([ra[0], low_width], [ra[-1], 0.5 * span]),
                        (["r", "width"], ["f"])) for q in distinct]
    return min(fits, key=lambda f: f.chi2)


def fit_two_sites(y, sigma, time_s, model, factor, r_m, kernel):
    """Two discrete distances r1 < r2 with their fractions f1, f2, started from the best pair of grid columns."""
    from scipy.optimize import nnls

    ra = r_m / ANGSTROM
    step = max(1, len(ra) // 40)
    kw, yw = kernel[:, ::step] / sigma[:, None], y / sigma
    sub = ra[::step]
    pairs = [(i, j) for i in range(len(sub)) for j in range(i + 1, len(sub))]
    i, j = min(pairs, key=lambda ij: nnls(kw[:, ij], yw)[1])
    fit = _parametric("two distances", y, sigma, _distance_columns(time_s, model, factor), np.array([sub[i], sub[j]]),
                      ([ra[0]] * 2, [ra[-1]] * 2), (["r1", "r2"], ["f1", "f2"]))
    if fit.values["r1"] > fit.values["r2"]:  # name the shorter distance r1
        swap = {"r1": "r2", "r2": "r1", "f1": "f2", "f2": "f1"}
        fit.values = {swap[k]: v for k, v in fit.values.items()}
        fit.ci95 = {swap[k]: v for k, v in fit.ci95.items()}
        fit.at_bound = [swap[k] for k in fit.at_bound]
    return fit


def _chi2(y, sigma, curve):
    return float(np.sum(((y - curve) / sigma) ** 2))


def _column_chi2(y, sigma, col):
    kw, yw = col[:, 0] / sigma, y / sigma
    amp = max(float(kw @ yw) / max(float(kw @ kw), 1e-300), 0.0)
    return float(np.sum((yw - amp * kw) ** 2))


def visible_range(time_s, sigma, model, factor, amplitude, threshold=2.0):
    """Shortest and longest distance (m) the recoupling times can tell apart, for a site carrying ``amplitude``.

    Longest: the largest r at which such a site still changes the curve by ``threshold`` sigma at some
    measured time (beyond it, a partner and no partner give the same curve). Shortest: the smallest r
    at which its curve differs by ``threshold`` sigma from that of r -> 0 (the plateau reached before
    the first time); all shorter distances give the same curve.

    Returns
    -------
    (float, float)
        (r_short, r_long) in m; NaN where no distance in 0.3 ... 100 angstrom qualifies.
    """
    r = np.geomspace(0.3, 100.0, 600) * ANGSTROM
    kern = distance_kernel(time_s, r, model, factor)
    plateau = factor * float(model.normalised(np.array([1.0]), 1e12)[0])
    t = np.asarray(time_s, float)
    seen = amplitude * np.max(np.abs(kern) / sigma[:, None], axis=0) >= threshold
    moved = amplitude * np.max(np.abs(kern - plateau * (t > 0)[:, None]) / sigma[:, None], axis=0) >= threshold
    long_ = r[np.flatnonzero(seen)[-1]] if seen.any() else math.nan
    short = r[np.flatnonzero(moved)[0]] if moved.any() else math.nan
    return float(short), float(long_)


def default_range(time_s, sigma, model, factor, r_min_angstrom=None, r_max_angstrom=None):
    """The distance range (angstrom) of a distribution's grid: the given ends, else from what the times can
    resolve for a site holding every observed spin (:func:`visible_range`): 0.9 x the shortest to
    1.25 x the longest visible distance, within 1 ... 30 angstrom.

    Returns
    -------
    (float, float)
        (r_min, r_max) in angstrom; not necessarily increasing when only one end was given.
    """
    short, long_ = visible_range(time_s, sigma, model, factor, 1.0)
    lo = r_min_angstrom if r_min_angstrom is not None else min(max(0.9 * short / ANGSTROM, 1.0), 29.0) \
        if math.isfinite(short) else 1.0
    hi = r_max_angstrom if r_max_angstrom is not None else min(max(1.25 * long_ / ANGSTROM, lo + 1.0), 30.0) \
        if math.isfinite(long_) else 30.0
    return lo, hi
