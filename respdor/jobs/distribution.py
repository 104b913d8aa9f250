"""``respdor.distance_distribution``: the distribution of distances P(r) a dephasing curve allows, in one call.

What ``respdor distribution`` does, for scripts and notebooks: read the curve, build the two-spin
kernel of the pair (:mod:`respdor.distribution`), invert it with DeerLab (non-negative, Tikhonov,
alpha by AIC), put a bootstrap band on P(r), fit the parametric alternatives (one distance, a
Gaussian, two distances) to the same curve, rank everything by AIC, and say what the recoupling
times can and cannot resolve. Nothing is printed and nothing written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..display import ResultDisplay, axes_or_new
from ..errors import DataWarning, FitWarning, UserError, warn

__all__ = ["distance_distribution", "DistributionResult", "distribution_figure"]

#: Fewest points a distribution is computed from (the two-distance alternative has 4 parameters).
MIN_POINTS = 6
#: Grid sizes accepted (the kernel has one column per grid distance).
N_R_RANGE = (10, 400)
#: Fewest bootstrap samples that make a 95 % band (0 = no band); most accepted.
MIN_BOOTSTRAP, MAX_BOOTSTRAP = 20, 10000
#: Share of P(r) in the two outermost grid points on either side that is said as a warning.
EDGE_SHARE = 0.05
#: Names of the arguments in messages; the command line passes its options instead.
_NAMES = {"observe": "observe", "partner": "partner", "grid": "grid", "r_min_angstrom": "r_min_angstrom", "r_max_angstrom": "r_max_angstrom", "n_r": "n_r",
          "bootstrap": "bootstrap", "seed": "seed", "efficiency": "efficiency"}


@dataclass(repr=False)
class DistributionResult(ResultDisplay):
    """P(r) of one dephasing curve with its bootstrap band, the parametric alternatives and what the times resolve.

    Distances are in angstrom, times in s. ``p_per_angstrom`` integrates (sum of P times each point's
    width, :func:`respdor.distribution.grid_widths`) to ``fraction``, the dephasing (bonded) fraction; it is not normalised to 1, the remainder being
    observed spins without a partner the curve can see.
    """

    pair: str
    experiment: str
    model: str
    source: str
    time_s: np.ndarray
    dss0: np.ndarray
    sigma: np.ndarray
    sigma_estimated: bool
    r_angstrom: np.ndarray
    p_per_angstrom: np.ndarray
    p_low: np.ndarray | None
    p_high: np.ndarray | None
    fit_curve: np.ndarray
    alpha: float
    n_eff: float
    chi2: float
    aic: float
    fraction: float
    fraction_ci95: tuple | None
    mean_r_angstrom: float
    mean_r_ci95: tuple | None
    r_short_angstrom: float
    r_long_angstrom: float
    models: list
    efficiency: float = 1.0
    abundance: float = 1.0
    bootstrap: int = 0
    seed: int = 0
    grid: str = "distance"
    criterion: str = "aic"
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def _title(self):
        return f"distance distribution: {self.pair} {self.experiment.upper()}, {self.time_s.size} points"

    def best_model(self) -> dict:
        """The entry of :attr:`models` (the inversion included) with the lowest AIC."""
        return min(self.models, key=lambda m: m["aic"])

    def _headline(self):
        ci = self.fraction_ci95
        band = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
        best = self.best_model()
        return (f"fraction {self.fraction:.2f}{band}, mean r {self.mean_r_angstrom:.2f} A; "
                f"lowest AIC: {best['name']}")

    def _rows(self):
        low = self.p_low if self.p_low is not None else [None] * self.r_angstrom.size
        high = self.p_high if self.p_high is not None else [None] * self.r_angstrom.size
        return [{"r_angstrom": float(r), "P_per_angstrom": float(p), "P_low95": lo, "P_high95": hi}
                for r, p, lo, hi in zip(self.r_angstrom, self.p_per_angstrom, low, high)]

    def models_table(self) -> list[dict]:
        """One row per model: name, parameters with 95 % intervals (text), chi2, k, AIC, dAIC."""
        best = self.best_model()["aic"]
        return [{"model": m["name"], "parameters": _parameter_text(m), "chi2": m["chi2"], "k": m["k"],
                 "AIC": m["aic"], "dAIC": m["aic"] - best} for m in self.models]

    def to_dict(self) -> dict:
        from ..resultio import plain

        return plain({k: getattr(self, k) for k in self.__dataclass_fields__})

    @classmethod
    def from_dict(cls, data: dict):
        """The result from its JSON (``to_dict`` / the command line's ``--json``)."""
        try:
            kw = {k: data[k] for k in cls.__dataclass_fields__}
        except KeyError as exc:
            raise UserError(f"not the JSON of a distance distribution: no {exc.args[0]!r}") from None
        for k in ("time_s", "dss0", "sigma", "r_angstrom", "p_per_angstrom", "p_low", "p_high", "fit_curve"):
            kw[k] = None if kw[k] is None else np.asarray(kw[k], float)
        for k in ("fraction_ci95", "mean_r_ci95"):
            kw[k] = None if kw[k] is None else tuple(kw[k])
        for k in ("r_short_angstrom", "r_long_angstrom", "mean_r_angstrom"):
            kw[k] = math.nan if kw[k] is None else float(kw[k])
        return cls(**kw)

    def plot(self, ax=None):
        """The curve with the fits (left) and P(r) with its 95 % band (right).

        ``ax``: a pair of axes, or one axes (then P(r) only); None draws on a new pyplot figure.
        Returns the axes drawn on.
        """
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(1, 2, figsize=(10.0, 4.0))
        axes = list(np.atleast_1d(ax))
        if len(axes) >= 2:
            _draw_curve(self, axes[0])
        _draw_distribution(self, axes[-1])
        return ax


def _parameter_text(m):
    parts = []
    for k, v in m["values"].items():
        lo, hi = m["ci95"].get(k) or (None, None)
        unit = " A" if k.startswith(("r", "width")) else ""
        band = f" [{lo:.2f}, {hi:.2f}]" if lo is not None and hi is not None else ""
        parts.append(f"{k} = {v:.2f}{band}{unit}")
    return ", ".join(parts)


def _draw_curve(result, ax):
    t_ms = result.time_s * 1e3
    ax.errorbar(t_ms, result.dss0, yerr=result.sigma, fmt="o", ms=4, color="k", label="data")
    for m in result.models:
        style = "-" if m["name"] == "P(r), Tikhonov" else "--"
        ax.plot(t_ms, m["curve"], style, lw=1.2, label=f"{m['name']} (AIC {m['aic']:.1f})")
    ax.set_xlabel("recoupling time / ms")
    ax.set_ylabel("dS/S0")
    ax.legend(fontsize=7)


def _draw_distribution(result, ax):
    r = result.r_angstrom
    if result.p_low is not None:
        ax.fill_between(r, result.p_low, result.p_high, color="C0", alpha=0.3, lw=0, label="95 % bootstrap band")
    ax.plot(r, result.p_per_angstrom, "C0-", label=f"P(r), fraction {result.fraction:.2f}")
    for edge, label in ((result.r_short_angstrom, "shortest resolved"), (result.r_long_angstrom, "longest seen")):
        if math.isfinite(edge) and r[0] <= edge <= r[-1]:
            ax.axvline(edge, color="0.5", ls=":", lw=1)
            ax.annotate(label, (edge, 0.03), xycoords=("data", "axes fraction"), rotation=90, fontsize=7,
                        ha="right", va="bottom", color="0.4")
    ax.set_xlabel("r / A")
    ax.set_ylabel("P(r) / A^-1")
    ax.legend(fontsize=7)


def distribution_figure(result):
    """The two panels of :meth:`DistributionResult.plot` on a bare :class:`matplotlib.figure.Figure`
    (no pyplot, no backend chosen), for writing to a file."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.0, 4.0))
    result.plot(fig.subplots(1, 2))
    fig.tight_layout()
    return fig


def distance_distribution(curve, observe=None, partner=None, *, experiment="respdor", transfer=None,
                          sequence="redor", efficiency=1.0, r_min_angstrom=None, r_max_angstrom=None, n_r=91,
                          grid="distance", bootstrap=100, seed=0, time_unit=None, progress=None, option_names=None):
    """The distribution of distances P(r) of one REDOR / RESPDOR curve: everything ``respdor distribution`` does.

    The curve is inverted on the two-spin kernel K(t, r) of the pair (:mod:`respdor.distribution`):
    non-negative Tikhonov regularisation (second derivative) with the regularisation parameter
    chosen by AIC, solved with DeerLab; a seeded bootstrap (Gaussian noise of the curve's sigma
    around the fitted curve, alpha chosen anew for each sample) gives the 95 % band of P(r), of
    the fraction and of the mean distance. The same curve is fitted with one distance, a Gaussian
    distribution and two distances; all are compared by AIC = chi^2 + 2k (k = tr H for the
    inversion). P(r) is per angstrom and integrates to the dephasing fraction f (not to 1).

    Parameters
    ----------
    curve : path or DephasingCurve
        One curve (CSV / TSV / text, see :func:`respdor.read_curve`).
    observe, partner : str, optional
        Observed spin-1/2 nucleus and partner (``"13C"``, ``"27Al"``); default the file's
        ``# observe = ...`` lines, else 13C{27Al}.
    experiment, transfer, sequence : str
        As for :func:`respdor.fit`: ``"respdor"`` (saturation) or ``"redor"`` (pi pulses), the
        population transfer of the partner pulse, the recoupling sequence (dipolar scaling).
    efficiency : float
        Saturation (transfer) efficiency epsilon in (0, 1]; with the partner's natural abundance
        x it scales the kernel, so the fraction is f = sum P dr / (epsilon x) as in ``respdor fit``.
    r_min_angstrom, r_max_angstrom : float, optional
        The distance grid (angstrom). Default: from the kernel's sensitivity, 0.9 x the shortest
        distance the first time resolves to 1.25 x the longest the last time sees (for a site
        holding every observed spin), within 1 ... 30 angstrom.
    n_r : int
        Points of the grid, 10 ... 400.
    grid : {"distance", "coupling"}
        Grid points uniform in r, or uniform in the coupling D (denser at short distances, where
        the curves change quickly with r; the smoothness penalty then acts along D). P(r) is per
        angstrom either way, each point standing for the width between its neighbours.
    bootstrap, seed : int
        Bootstrap samples (0: no band; else at least 20) and the seed of their noise (numpy's global
        generator is seeded for the run and restored afterwards).
    time_unit : str, optional
        Time unit of a file whose header does not state it.
    progress : None, bool, callable or spinsim.progress.Progress
        Where the bootstrap's progress goes (see :mod:`spinsim.progress`).
    option_names : dict, optional
        How messages name the arguments (the command line passes its options).

    Returns
    -------
    DistributionResult

    Raises
    ------
    UserError
        DeerLab missing (``pip install 'respdor[distributions]'``), an impossible grid, too few points.

    Examples
    --------
    >>> import respdor
    >>> from respdor.examples import example_path
    >>> res = respdor.distance_distribution(example_path("respdor_13C27Al_synthetic.csv"), "13C", "27Al",
    ...                                     bootstrap=0)  # doctest: +SKIP
    >>> res.models_table()[0]["model"]  # doctest: +SKIP
    'P(r), Tikhonov'
    """
    import time

    from spinsim.progress import as_progress

    from .. import distribution as dist

    names = dict(_NAMES, **(option_names or {}))
    _check_settings(n_r, bootstrap, seed, efficiency, r_min_angstrom, r_max_angstrom, names)
    if grid not in ("distance", "coupling"):
        raise UserError(f"{_named(names, 'grid', repr(grid))}: choose distance or coupling")
    dl = dist.deerlab()
    data, model, factor, notes = _prepare(curve, observe, partner, experiment, transfer, sequence, efficiency,
                                          time_unit, progress, names)
    warnings_ = []
    sigma, estimated = _noise(data, model, factor, warnings_)
    r_m, axis = _grid(data.time_s, sigma, model, factor, (r_min_angstrom, r_max_angstrom, n_r, grid), notes)
    kernel = dist.distance_kernel(data.time_s, r_m, model, factor)
    clock = time.perf_counter()
    inv = dist.tikhonov(data.dss0, sigma, kernel, r_m, axis=axis)
    if bootstrap:  # each sample costs about one inversion
        as_progress(progress).note(f"bootstrap: {bootstrap} inversions, about "
                                   f"{max(1, round(bootstrap * (time.perf_counter() - clock)))} s")
    band = _bootstrap(dl, data.dss0, sigma, (kernel, r_m, axis), inv, bootstrap, seed, progress)
    parametric = [f(data.dss0, sigma, data.time_s, model, factor, r_m, kernel)
                  for f in (dist.fit_one_site, dist.fit_gaussian, dist.fit_two_sites)]
    result = _result(data, sigma, estimated, model, factor, r_m, inv, band, parametric)
    result.efficiency, result.bootstrap, result.seed, result.notes = efficiency, int(bootstrap), int(seed), notes
    result.grid = grid
    result.warnings = warnings_
    _judge(result, names)
    return result


def _result(data, sigma, estimated, model, factor, r_m, inv, band, parametric):
    """The DistributionResult in angstrom (P per angstrom): P(r), its band, the models, the resolved range."""
    from .. import distribution as dist

    step = dist.grid_widths(r_m) / dist.ANGSTROM
    fraction = float(inv.weights.sum())
    short, long_ = dist.visible_range(data.time_s, sigma, model, factor, max(fraction, 1e-3))
    result = DistributionResult(
        pair=model.pair, experiment=model.experiment, model=model.describe(), source=data.source,
        time_s=data.time_s, dss0=data.dss0, sigma=sigma, sigma_estimated=estimated, r_angstrom=r_m / dist.ANGSTROM,
        p_per_angstrom=inv.weights / step, p_low=None if band is None else band[0] / step,
        p_high=None if band is None else band[1] / step, fit_curve=inv.model, alpha=inv.alpha, n_eff=inv.n_eff,
        chi2=inv.chi2, aic=inv.aic, fraction=fraction, fraction_ci95=None if band is None else band[2],
        mean_r_angstrom=_mean_r(inv.weights, r_m) / dist.ANGSTROM,
        mean_r_ci95=None if band is None else band[3], r_short_angstrom=short / dist.ANGSTROM,
        r_long_angstrom=long_ / dist.ANGSTROM, models=[], abundance=model.partner_isotope.abundance)
    result.models = [_inversion_entry(result)] + [_parametric_entry(p) for p in parametric]
    return result


def _named(names, key, value):
    """``bootstrap=5`` in Python's words, ``--bootstrap 5`` in the command line's."""
    name = names[key]
    return f"{name} {value}" if name.startswith("--") else f"{name}={value}"


def _check_settings(n_r, bootstrap, seed, efficiency, r_min, r_max, names):
    """Refuse settings no inversion can use, naming the argument."""
    import numbers

    def integer(value, name):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise UserError(f"{_named(names, name, repr(value))}: must be a whole number")
        return int(value)

    if not N_R_RANGE[0] <= integer(n_r, "n_r") <= N_R_RANGE[1]:
        raise UserError(f"{_named(names, 'n_r', n_r)}: the distance grid needs {N_R_RANGE[0]} to {N_R_RANGE[1]} points")
    b = integer(bootstrap, "bootstrap")
    if b != 0 and not MIN_BOOTSTRAP <= b <= MAX_BOOTSTRAP:
        raise UserError(f"{_named(names, 'bootstrap', b)}: give 0 (no band) or {MIN_BOOTSTRAP} to {MAX_BOOTSTRAP} samples "
                        f"(fewer than {MIN_BOOTSTRAP} make no 95 % band)")
    if integer(seed, "seed") < 0 or seed >= 2**32:
        raise UserError(f"{_named(names, 'seed', seed)}: a seed is a whole number from 0 to 2^32 - 1")
    if not (isinstance(efficiency, numbers.Real) and 0.0 < efficiency <= 1.0):
        raise UserError(f"{_named(names, 'efficiency', efficiency)}: a saturation efficiency lies in (0, 1]")
    for value, name in ((r_min, "r_min_angstrom"), (r_max, "r_max_angstrom")):
        if value is not None and not (isinstance(value, numbers.Real) and 0.3 <= value <= 100.0):
            shown = f"{value:g}" if isinstance(value, numbers.Real) else repr(value)
            raise UserError(f"{_named(names, name, shown)} A: distances of a distribution lie between 0.3 and 100 A")
    if r_min is not None and r_max is not None and not r_min < r_max:
        raise UserError(f"{_named(names, 'r_min_angstrom', f'{r_min:g}')} A is not below "
                        f"{_named(names, 'r_max_angstrom', f'{r_max:g}')} A")


def _prepare(curve, observe, partner, experiment, transfer, sequence, efficiency, time_unit, progress, names):
    """(the curve sorted by time, its CurveModel, epsilon * x, notes)."""
    from spinsim.progress import as_progress

    from ..fitting import CurveModel
    from .fit import _NAMES as FIT_NAMES, _nuclei, _read_curves

    if isinstance(curve, (list, tuple)):
        if len(curve) != 1:
            raise UserError(f"a distance distribution is computed from one curve, got {len(curve)}")
        curve = curve[0]
    data = _read_curves(curve, time_unit, None)[0].sorted()
    if data.n_points < MIN_POINTS:
        raise UserError(f"{data.source or data.label}: {data.n_points} points; a distance distribution needs at "
                        f"least {MIN_POINTS} (the two-distance alternative alone has 4 parameters)")
    said = dict(FIT_NAMES, observe=names["observe"], partner=names["partner"])
    (obs, par), = _nuclei([data], observe, partner, None, None, said, as_progress(progress))
    model = CurveModel(observe=obs, partner=par, experiment=experiment, transfer=transfer, sequence=sequence)
    factor = efficiency * model.partner_isotope.abundance
    notes = [f"{model.describe()}; kernel scaled by efficiency x abundance = {efficiency:g} x "
             f"{model.partner_isotope.abundance:.4g}, so P(r) integrates to the bonded fraction"]
    return data, model, factor, notes


def _noise(data, model, factor, warnings_):
    """(sigma per point, whether it was estimated): the curve's, else the residual scatter of one distance."""
    from .. import distribution as dist

    if data.sigma is not None:
        return np.asarray(data.sigma, float), False
    ones = np.ones(data.n_points)
    r_m, _ = dist.distance_grid(1.0 * dist.ANGSTROM, 15.0 * dist.ANGSTROM, 120)
    one = dist.fit_one_site(data.dss0, ones, data.time_s, model, factor, r_m,
                            dist.distance_kernel(data.time_s, r_m, model, factor))
    sigma = max(math.sqrt(one.chi2 / (data.n_points - 2)), 1e-6)
    warn(f"{data.source or data.label}: the curve gives no uncertainties; sigma = {sigma:.3g} (dS/S0) for every "
         "point, estimated from the scatter about the best one-distance fit: the bootstrap band and the AIC "
         "comparison rest on it", DataWarning, into=warnings_, stacklevel=3)
    return sigma * ones, True


def _grid(t, sigma, model, factor, settings, notes):
    """(distances in m, increasing; the smoothness axis: None for r, D in kHz for a coupling grid). The range
    is the user's, or from the kernel's sensitivity for a site holding every spin."""
    from .. import distribution as dist

    r_min, r_max, n_r, kind = settings
    lo, hi = dist.default_range(t, sigma, model, factor, r_min, r_max)
    if lo >= hi:
        lo, hi = (lo, lo + 1.0) if r_max is None else (max(0.3, hi - 1.0), hi)
    if r_min is None or r_max is None:
        notes.append(f"distance grid {lo:.2f} ... {hi:.2f} A ({n_r} points), from what the recoupling times can "
                     "resolve for a site holding every observed spin")
    if kind == "coupling":
        r_m, d = dist.coupling_grid(lo * dist.ANGSTROM, hi * dist.ANGSTROM, n_r, model)
        notes.append(f"grid uniform in D ({d[-1]:.4g} ... {d[0]:.4g} Hz); smoothness along D")
        return r_m, d / 1e3
    return dist.distance_grid(lo * dist.ANGSTROM, hi * dist.ANGSTROM, n_r)[0], None


def _mean_r(weights, r_m):
    total = float(np.sum(weights))
    return float(np.sum(weights * r_m) / total) if total > 0 else math.nan


def _bootstrap(dl, y, sigma, grid, inv, samples, seed, progress):
    """(P low, P high, fraction 95 %, mean r 95 % in angstrom) from DeerLab's bootstrap, or None for 0 samples.

    Each sample is the inversion's curve plus Gaussian noise of the curve's sigma, inverted with
    alpha chosen anew; numpy's global generator (which DeerLab draws from) is seeded and restored.
    """
    from spinsim.progress import tracking

    from .. import distribution as dist

    if samples == 0:
        return None
    kernel, r_m, axis = grid
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        with tracking(progress, samples, "bootstrap", "samples") as report:
            first = [True]

            def one(v):
                v = np.asarray(v[0] if isinstance(v, list) else v, float)
                w = dist.tikhonov(v * sigma, sigma, kernel, r_m, axis=axis).weights
                if not first[0]:  # DeerLab analyses the data itself first
                    report.advance(1)
                first[0] = False
                return w, np.array([w.sum(), _mean_r(w, r_m) / dist.ANGSTROM if w.sum() > 0 else 0.0])

            uq_w, uq_s = dl.bootstrap_analysis(one, y / sigma, inv.model / sigma, samples=samples, noiselvl=1.0)
    finally:
        np.random.set_state(state)
    # Percentiles of the samples themselves: UQResult.ci smooths them with a kernel density first,
    # which puts the band of a non-negative P(r) below zero.
    low_w, high_w = np.percentile(np.asarray(uq_w.samples, float), [2.5, 97.5], axis=0)
    stats = np.percentile(np.asarray(uq_s.samples, float), [2.5, 97.5], axis=0)
    return low_w, high_w, (float(stats[0, 0]), float(stats[1, 0])), (float(stats[0, 1]), float(stats[1, 1]))


def _inversion_entry(result):
    ci_f, ci_r = result.fraction_ci95, result.mean_r_ci95
    return {"name": "P(r), Tikhonov", "values": {"f": result.fraction, "r_mean": result.mean_r_angstrom},
            "ci95": {"f": ci_f, "r_mean": ci_r}, "chi2": result.chi2, "k": result.n_eff, "aic": result.aic,
            "curve": result.fit_curve, "at_bound": []}


def _parametric_entry(fit):
    from ..distribution import ANGSTROM

    def conv(k, v):
        return v / ANGSTROM if k.startswith(("r", "width")) else v

    return {"name": fit.name, "values": {k: conv(k, v) for k, v in fit.values.items()},
            "ci95": {k: tuple(conv(k, x) for x in c) for k, c in fit.ci95.items()}, "chi2": fit.chi2, "k": fit.k,
            "aic": fit.aic, "curve": fit.model, "at_bound": list(fit.at_bound)}


def _judge(result, names):
    """Warnings: mass at the grid edges or outside what the times resolve, a fraction above 1, a poor fit,
    a best parametric model at a bound; notes: the criteria used."""
    from scipy import stats

    from ..distribution import grid_widths

    w = result.p_per_angstrom * grid_widths(result.r_angstrom)
    total = float(w.sum())
    into = result.warnings
    result.notes.append(f"regularisation: second-derivative Tikhonov, alpha = {result.alpha:.3g} chosen by AIC "
                        f"(effective parameters tr H = {result.n_eff:.2f}); models compared by AIC = chi2 + 2k")
    result.notes.append(f"the times resolve distances from {result.r_short_angstrom:.2f} A (shorter ones have "
                        f"reached the plateau at the first time) to {result.r_long_angstrom:.2f} A (a site with the "
                        f"fitted fraction further away dephases by less than 2 sigma at the last time)")
    result.notes.append(f"95 % band from {result.bootstrap} bootstrap samples (seed {result.seed})" if result.bootstrap
                        else "no bootstrap band (bootstrap = 0)")
    if total > 0:
        for share, where, name in ((w[:2].sum() / total, result.r_angstrom[0], "r_min_angstrom"),
                                   (w[-2:].sum() / total, result.r_angstrom[-1], "r_max_angstrom")):
            if share > EDGE_SHARE:
                warn(f"P(r) has {100 * share:.0f} % of its mass at the grid edge r = {where:.2f} A "
                     f"({names[name]}): the distribution may continue beyond it; widen the range", FitWarning,
                     into=into, stacklevel=3)
        _outside_visible(result, w, total, into)
    if total > 1.0 + 1e-6:
        warn(f"the fraction sum P(r) dr = {total:.2f} exceeds 1: the curve dephases more than pairs can (check dS/S0 "
             "normalisation, the saturation efficiency, or several partners per observed spin)", FitWarning,
             into=into, stacklevel=3)
    from ..distribution import ALPHA_RANGE

    if not ALPHA_RANGE[0] * 1.5 < result.alpha < ALPHA_RANGE[1] / 1.5:
        warn(f"the regularisation parameter alpha = {result.alpha:.3g} sits at the limit of its search "
             f"({ALPHA_RANGE[0]:g} ... {ALPHA_RANGE[1]:g}): AIC found no optimum inside, and P(r) is as "
             f"{'smooth' if result.alpha > 1 else 'rough'} as the search allows", FitWarning, into=into, stacklevel=3)
    dof = max(result.time_s.size - result.n_eff, 1.0)
    p_value = float(stats.chi2.sf(result.chi2, dof))
    if p_value < 0.01:
        warn(f"even P(r) does not describe the curve: chi2 = {result.chi2:.1f} for {dof:.1f} degrees of freedom "
             f"(p = {p_value:.2g}); check sigma and the experiment model", FitWarning, into=into, stacklevel=3)
    lowest = min(m["aic"] for m in result.models)
    close = [m["name"] for m in sorted(result.models, key=lambda m: m["aic"]) if m["aic"] - lowest < 2.0]
    result.notes.append(f"describe the curve about equally well (AIC within 2 of the lowest): {', '.join(close)}"
                        if len(close) > 1 else f"only {close[0]} has an AIC within 2 of the lowest")
    one = result.models[1]
    if one["ci95"]["f"][0] <= 1e-3:
        warn(f"no dephasing is detected: the one-distance fraction is {one['values']['f']:.3f} with a 95 % interval "
             f"reaching 0; P(r) and the distances below say nothing", FitWarning, into=into, stacklevel=3)
        return
    best = min(result.models[1:], key=lambda m: m["aic"])
    edge = [k for k in best["at_bound"] if k != "width"]
    if edge:
        warn(f"the best parametric model ({best['name']}) has {', '.join(edge)} at the edge of the distance grid "
             f"({names['r_min_angstrom']} / {names['r_max_angstrom']}): widen the range", FitWarning, into=into,
             stacklevel=3)
    if "width" in best["at_bound"]:
        warn(f"the best parametric model ({best['name']}) has its width at a limit (two fine-grid steps, or half "
             "the grid's range): the curve does not determine the width", FitWarning, into=into, stacklevel=3)


def _outside_visible(result, w, total, into):
    r = result.r_angstrom
    below = float(w[r < result.r_short_angstrom].sum()) / total if math.isfinite(result.r_short_angstrom) else 0.0
    above = float(w[r > result.r_long_angstrom].sum()) / total if math.isfinite(result.r_long_angstrom) else 0.0
    if below > EDGE_SHARE:
        warn(f"P(r) puts {100 * below:.0f} % of its mass below {result.r_short_angstrom:.2f} A, shorter than the "
             "recoupling times resolve: only its fraction is determined there, not where it lies", FitWarning,
             into=into, stacklevel=4)
    if above > EDGE_SHARE:
        warn(f"P(r) puts {100 * above:.0f} % of its mass beyond {result.r_long_angstrom:.2f} A, where a partner "
             "dephases the curve by less than 2 sigma within the longest time: that part cannot be told from "
             "spins without a partner", FitWarning, into=into, stacklevel=4)
