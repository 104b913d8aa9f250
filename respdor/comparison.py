"""Which models one dephasing curve supports: partners, a distance distribution, structure candidates.

:func:`compare_models` fits the same curve, with the same weighting, with

- one partner + fraction (:func:`respdor.fitting.fit_curve`, 2 parameters);
- two partners + angle + fraction (:func:`respdor.partnerfit.fit_two_partners`, 4), and on request
  n = 3 ... partners in a rigid geometry (:func:`respdor.npartnerfit.fit_partners`, 3n - 2);
- n partners with uncorrelated isotropic directions (n + 1) and n equivalent such partners (2);
- a Gaussian distribution of distances and two sites of one partner each (3 and 4 parameters,
  :mod:`respdor.distribution`'s fits; needs DeerLab);
- structure candidates, only the fraction fitted (1);

and compares them by AIC, AICc, BIC, Akaike weights and a likelihood-ratio test of one partner
within two, and says how far apart the preferred curve and each other model's are against the noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .display import ResultDisplay, axes_or_new
from .errors import UserError
from .npartnerfit import MAX_PARTNERS, PartnersFit, fit_partners
from .partnerfit import MIN_DISTANCE_ANGSTROM, TwoPartnerFit, _best_fraction, fit_two_partners, information_criteria

__all__ = ["compare_models", "ModelComparison", "SEPARATION_CHI2", "AICC_TIE"]

#: Two model curves are told apart when chi^2 between them, over the measured points and their
#: errors, exceeds this: the 95 % point of chi^2 with 2 degrees of freedom (the two parameters the
#: second partner adds).
SEPARATION_CHI2 = 5.99

#: Models within this AICc of the lowest have substantial support too (Burnham and Anderson's rule):
#: the verdict names them.
AICC_TIE = 2.0

#: Names of the rows (the one- and two-partner rows are always there; the likelihood-ratio test and
#: the first sentence of the verdict are about them).
ONE, TWO = "one partner + fraction", "two partners + angle + fraction"


def _whole(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _fraction_only(curve, shape):
    """chi^2 and fraction of a fixed predicted shape (a structure candidate) with only f fitted."""
    sigma = np.asarray(curve.sigma, float) if curve.sigma is not None else np.ones(curve.n_points)
    y, g = np.asarray(curve.dss0, float), np.asarray(shape, float)
    if g.shape != y.shape:
        raise UserError(f"a candidate curve has {g.size} values, the measured curve {y.size} points")
    f, chi = _best_fraction(y, g, sigma)
    return chi, f


def _chi2(curve, values):
    sigma = np.asarray(curve.sigma, float) if curve.sigma is not None else np.ones(curve.n_points)
    return float(np.sum(((np.asarray(curve.dss0, float) - values) / sigma) ** 2))


def _distribution_rows(curve, model, noise, notes):
    """The Gaussian distribution of distances and two sites (:mod:`respdor.distribution`'s fits), as rows;
    none without DeerLab (said in ``notes``)."""
    from . import distribution as dist

    try:
        dist.deerlab()
    except UserError as exc:
        notes.append(f"no distribution rows: {exc}")
        return []
    t, y = np.asarray(curve.time_s, float), np.asarray(curve.dss0, float)
    sigma = np.asarray(curve.sigma, float) if curve.sigma is not None else np.full(t.size, noise)
    factor = model.partner_isotope.abundance  # saturation efficiency 1, as the partner fits
    lo, hi = dist.default_range(t, sigma, model, factor)
    lo = max(lo, MIN_DISTANCE_ANGSTROM)  # the partner fits' shortest distance: no model gets closer
    r_m = dist.distance_grid(lo * dist.ANGSTROM, max(hi, lo + 1.0) * dist.ANGSTROM, 91)[0]
    gauss = dist.fit_gaussian(y, sigma, t, model, factor, r_m)
    two = dist.fit_two_sites(y, sigma, t, model, factor, r_m, dist.distance_kernel(t, r_m, model, factor))
    a, v = dist.ANGSTROM, gauss.values
    w = two.values
    return [
        ("Gaussian distribution + fraction", 3, _chi2(curve, gauss.model), gauss.model,
         f"mean r = {v['r'] / a:.3g} A, width = {v['width'] / a:.2g} A, f = {v['f']:.3g}"),
        ("two sites, one partner each", 4, _chi2(curve, two.model), two.model,
         f"r = {w['r1'] / a:.3g} A (f {w['f1']:.3g}), {w['r2'] / a:.3g} A (f {w['f2']:.3g})"),
    ]


def _partner_rows(curve, observe, partner, options, progress):
    """Rows of the partner models beyond two: rigid n = 3 ... ``max_partners``, uncorrelated, equivalent."""
    experiment, sequence, max_partners, uncorrelated = options
    rows = []
    for n in range(3, max_partners + 1):
        fit = fit_partners(curve, observe, partner, n, experiment=experiment, sequence=sequence, intervals=False,
                           progress=progress)
        rows.append((f"{n} partners + {2 * n - 3} angles + fraction", 3 * n - 2, fit.chisqr, fit.model_curve,
                     fit.summary(), fit))
    if uncorrelated:
        for geometry, k, label in (("uncorrelated", uncorrelated + 1, "uncorrelated partners"),
                                   ("equivalent", 2, "equivalent uncorrelated partners")):
            fit = fit_partners(curve, observe, partner, uncorrelated, geometry=geometry, experiment=experiment,
                               sequence=sequence, intervals=False, progress=progress)
            rows.append((f"{uncorrelated} {label} + fraction", k, fit.chisqr, fit.model_curve, fit.summary(), fit))
    return rows


def compare_models(curve, observe, partner, *, experiment="respdor", sequence="redor", candidates=None,
                   intervals=False, max_partners=2, uncorrelated=3, distribution=True, progress=None):
    """Which models the curve supports: partners, distance distributions, structure candidates.

    Parameters
    ----------
    curve : DephasingCurve
    observe, partner : str
    experiment, sequence : str
        As in :class:`respdor.CurveModel`.
    candidates : dict, optional
        name -> predicted dS/S0 at the curve's times for fraction 1 (e.g. a structure's curve from
        :func:`respdor.predict_structure`); each is compared with only the fraction fitted.
    intervals : bool
        Also profile-likelihood intervals of the two-partner fit (kept as ``two_partners``).
    max_partners : int
        Rigid geometries fitted up to this many partners (2: one and two; 3 adds three partners with
        3 angles, a fit several times slower than the two-partner one).
    uncorrelated : int or None
        Number of partners of the uncorrelated and equivalent rows (None or 0: no such rows).
    distribution : bool
        The Gaussian-distribution and two-site rows (need DeerLab; left out, and said, without it).
    progress : None, bool, callable or Progress

    Returns
    -------
    ModelComparison
    """
    from .fitting import CurveModel, fit_curve

    if not _whole(max_partners) or not 2 <= max_partners <= MAX_PARTNERS:
        raise UserError(f"max_partners={max_partners!r}: give a whole number from 2 to {MAX_PARTNERS}")
    if uncorrelated is not None and (not _whole(uncorrelated) or uncorrelated not in (0, *range(2, MAX_PARTNERS + 1))):
        raise UserError(f"uncorrelated={uncorrelated!r}: give 0 (no such rows) or a whole number from 2 to "
                        f"{MAX_PARTNERS}")
    model = CurveModel(observe, partner, experiment=experiment, sequence=sequence)
    one = fit_curve(curve, model, intervals=False)
    two = fit_two_partners(curve, observe, partner, experiment=experiment, sequence=sequence, intervals=intervals,
                           progress=progress)
    weighted, notes = curve.sigma is not None, []
    models = [(ONE, 2, float(one.chisqr), one.best_fit(),
               f"r = {one.value('distance_angstrom'):.3g} A, f = {one.value('fraction'):.3g}", one),
              (TWO, 4, two.chisqr, two.model_curve, two._headline().rsplit(", chi2", 1)[0], two)]
    models += _partner_rows(curve, observe, partner, (experiment, sequence, int(max_partners), uncorrelated or 0),
                            progress)
    noise = math.sqrt(one.chisqr / max(curve.n_points - 2, 1))
    if distribution:
        models += [(*row, None) for row in _distribution_rows(curve, model, noise, notes)]
    for name, shape in (candidates or {}).items():
        chi, f = _fraction_only(curve, shape)
        models.append((f"candidate {name}", 1, chi, f * np.asarray(shape, float), f"f = {f:.3g}", None))
    warns = [w for m in models if m[5] is not None for w in m[5].warnings]
    result = _comparison(curve, models, weighted, one, two, notes, list(dict.fromkeys(warns)))
    result.partner_fits = {m[0]: m[5] for m in models[2:] if isinstance(m[5], PartnersFit)}
    return result


def _comparison(curve, models, weighted, one, two, notes, warns):
    """The table, the likelihood-ratio test of one partner within two, and the separations."""
    from scipy import stats

    n = curve.n_points
    rows = []
    for name, k, chi, values, summary, _ in models:
        crit = information_criteria(chi, n, k, weighted)
        rows.append({"name": name, "parameters": k, "chi2": chi, **crit, "summary": summary,
                     "curve": np.asarray(values, float)})
    best_aicc = min(r["aicc"] for r in rows)
    weights = np.array([math.exp(-0.5 * (r["aicc"] - best_aicc)) if math.isfinite(r["aicc"]) else 0.0 for r in rows])
    for r, w in zip(rows, weights / weights.sum()):
        r["delta_aicc"], r["akaike_weight"] = r["aicc"] - best_aicc, float(w)
    drop = max(one.chisqr - two.chisqr, 0.0)
    if weighted:
        lrt_p = float(stats.chi2.sf(drop, 2))
    else:
        dof = n - 4
        lrt_p = float(stats.f.sf((drop / 2) / (two.chisqr / dof), 2, dof)) if dof > 0 and two.chisqr > 0 else None
    sigma = np.asarray(curve.sigma, float) if weighted else np.full(n, math.sqrt(one.chisqr / max(n - 2, 1)))
    preferred = min(rows, key=lambda r: r["aicc"])
    for r in rows:  # each model's curve against the preferred one
        diff = r["curve"] - preferred["curve"]
        r["max_difference"], r["separation_chi2"] = float(np.max(np.abs(diff))), float(np.sum((diff / sigma) ** 2))
    diff = rows[0]["curve"] - rows[1]["curve"]
    gap, separation = float(np.max(np.abs(diff))), float(np.sum((diff / sigma) ** 2))
    return ModelComparison(rows=rows, n_points=n, weighted=weighted, lrt_p=lrt_p, max_difference=gap,
                           noise=float(np.median(sigma)), separation_chi2=separation,
                           times_s=np.asarray(curve.time_s, float), dss0=np.asarray(curve.dss0, float),
                           warnings=warns, two_partners=two, notes=notes)


@dataclass(repr=False)
class ModelComparison(ResultDisplay):
    """Models of one curve compared (:func:`compare_models`).

    ``rows``: one dict per model (name, parameters, chi2, aic, aicc, bic, delta_aicc, akaike_weight,
    summary, curve, and max_difference / separation_chi2 of its curve against the preferred model's);
    ``lrt_p``: likelihood-ratio p-value of one partner against two (approximate: the angle is
    undefined when the second coupling is zero); ``max_difference``: the largest difference between
    the best one- and two-partner curves over the measured times, set against ``noise`` (the median
    error, or the scatter about the one-partner fit); ``separation_chi2``: chi^2 between those two
    curves over all points, sum((c1 - c2)^2 / sigma^2); ``two_partners`` and ``partner_fits`` (row
    name -> :class:`~respdor.npartnerfit.PartnersFit`): the partner fits behind the rows.
    """

    rows: list
    n_points: int
    weighted: bool
    lrt_p: float | None
    max_difference: float
    noise: float
    separation_chi2: float
    times_s: np.ndarray
    dss0: np.ndarray
    warnings: list = field(default_factory=list)
    two_partners: TwoPartnerFit | None = None
    notes: list = field(default_factory=list)
    partner_fits: dict = field(default_factory=dict)

    @property
    def preferred(self):
        """Name of the model with the lowest AICc."""
        return min(self.rows, key=lambda r: r["aicc"])["name"]

    @property
    def distinguishable(self):
        """True when chi^2 between the best one- and two-partner curves exceeds ``SEPARATION_CHI2`` (5.99)."""
        return self.separation_chi2 > SEPARATION_CHI2

    def indistinguishable(self):
        """Names of the models whose curve lies within ``SEPARATION_CHI2`` of the preferred one's."""
        best = self.preferred
        return [r["name"] for r in self.rows if r["name"] != best and r.get("separation_chi2", math.inf)
                <= SEPARATION_CHI2]

    def verdict(self):
        """The sentences of :meth:`verdict_lines` in one paragraph."""
        return " ".join(self.verdict_lines())

    def verdict_lines(self):
        """Sentences: can this curve tell one partner from two; which models it cannot tell from the
        preferred one; which lie within :data:`AICC_TIE` of the lowest AICc."""
        head = (f"the one- and two-partner curves differ by at most {self.max_difference:.3g} in dS/S0 over your "
                f"times (chi2 {self.separation_chi2:.3g} over your {self.n_points} points); your noise is "
                f"{self.noise:.2g}")
        if not self.distinguishable:
            head += f": the curve cannot tell them apart (chi2 {SEPARATION_CHI2} needed for 95 %)."
        else:
            head += f": the data prefer '{self.preferred}' (lowest AICc)."
        lines = [head]
        close = [r for r in self.rows if r["name"] in self.indistinguishable()]
        if len(self.rows) > 2 and not close:
            lines.append(f"No other model comes within chi2 {SEPARATION_CHI2} of '{self.preferred}'.")
        elif len(self.rows) > 2:
            listed = "; ".join(f"{r['name']} (at most {r['max_difference']:.2g}, chi2 {r['separation_chi2']:.2g})"
                               for r in close)
            lines.append(f"The curve cannot tell '{self.preferred}' (lowest AICc) from: {listed}: each differs from "
                         f"it by less than chi2 {SEPARATION_CHI2} over your points.")
        tied = [r["name"] for r in self.rows if r["name"] != self.preferred and r["delta_aicc"] < AICC_TIE]
        if tied:
            lines.append(f"AICc does not single out one model: {', '.join(tied)} within {AICC_TIE:g} of the lowest "
                         "(prefer the simplest of them).")
        return lines

    def _title(self):
        return f"model comparison, {self.n_points} points"

    def _headline(self):
        return f"preferred: {self.preferred}; LRT p = {self.lrt_p:.3g}" if self.lrt_p is not None else self.preferred

    def _rows(self):
        return [{k: v for k, v in r.items() if k != "curve"} for r in self.rows]

    def to_dict(self):
        return {"kind": "model comparison", "n_points": self.n_points, "weighted": self.weighted, "lrt_p": self.lrt_p,
                "max_difference": self.max_difference, "noise": self.noise,
                "separation_chi2": self.separation_chi2, "verdict": self.verdict(),
                "models": [{**{k: v for k, v in r.items() if k != "curve"}, "curve": list(map(float, r["curve"]))}
                           for r in self.rows],
                "times_s": list(map(float, self.times_s)), "dss0": list(map(float, self.dss0)),
                "warnings": self.warnings, "notes": self.notes,
                "two_partners": None if self.two_partners is None else self.two_partners.to_dict(),
                "partner_fits": {name: fit.to_dict() for name, fit in self.partner_fits.items()}}

    @classmethod
    def from_dict(cls, data):
        two = data.get("two_partners")
        rows = [{**r, "curve": np.asarray(r["curve"], float)} for r in data["models"]]
        return cls(rows=rows, n_points=data["n_points"], weighted=data["weighted"], lrt_p=data["lrt_p"],
                   max_difference=data["max_difference"], noise=data["noise"],
                   separation_chi2=data["separation_chi2"],
                   times_s=np.asarray(data["times_s"], float), dss0=np.asarray(data["dss0"], float),
                   warnings=data["warnings"], two_partners=None if two is None else TwoPartnerFit.from_dict(two),
                   notes=data.get("notes", []),
                   partner_fits={k: PartnersFit.from_dict(v) for k, v in data.get("partner_fits", {}).items()})

    def plot(self, ax=None):
        """The measured curve and every model's best curve, dS/S0 against time in ms."""
        ax = axes_or_new(ax)
        t_ms = 1e3 * self.times_s
        ax.plot(t_ms, self.dss0, "o", ms=4, label="measured")
        for r in self.rows:
            ax.plot(t_ms, r["curve"], "-", label=f"{r['name']} (dAICc {r['delta_aicc']:.1f})")
        ax.set_xlabel("recoupling time (ms)")
        ax.set_ylabel("dS/S0")
        ax.legend(fontsize="small")
        return ax
