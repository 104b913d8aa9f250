"""Designing the experiment that decides: one partner, or two?

Two models of one site: **A**, one partner at distance r_A with a bonded fraction (the two-spin fit:
D and f free) and **B**, two partners at r_B, theta apart (a structure: geometry given, f free). A
design (recoupling times, scans per point) tells them apart when, whichever is true, the other
cannot follow the true curve within the noise. With noise-free data from the true model and the
other model fitted to it, chi^2 of that fit is the non-centrality lambda of the likelihood-ratio
statistic; the design decides at confidence ``confidence`` with probability ``power`` when
lambda exceeds the value at which the non-central chi^2 (2 degrees of freedom) passes its
``confidence`` quantile with that probability. Noise per point comes from the planner's
sensitivity model (:class:`respdor.planner.Sensitivity`: S/N, DNP build-up, T2' decay), so lambda
grows in proportion to the scans per point, and the hours follow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .display import ResultDisplay, axes_or_new
from .errors import UserError
from .partnerfit import WORKING_POWDER

__all__ = ["Hypotheses", "separations", "required_noncentrality", "plan_discrimination", "DiscriminationPlan"]


@dataclass
class Hypotheses:
    """The two models to tell apart (distances in angstrom, angle in degrees).

    Parameters
    ----------
    one_distance_angstrom, one_fraction : float
        Model A: one partner at this distance, this bonded fraction.
    two_distance_angstrom : float or (float, float)
        Model B: the two partners' distances.
    two_angle_deg, two_fraction : float
        Model B: the angle between the two vectors and the bonded fraction.
    observe, partner, experiment, sequence : str
        As in :class:`respdor.CurveModel`.
    """

    one_distance_angstrom: float = 2.5
    one_fraction: float = 0.24
    two_distance_angstrom: float | tuple = 2.9
    two_angle_deg: float = 110.0
    two_fraction: float = 0.30
    observe: str = "13C"
    partner: str = "27Al"
    experiment: str = "respdor"
    sequence: str = "redor"

    def __post_init__(self):
        from .fitting import CurveModel

        self.model = CurveModel(self.observe, self.partner, experiment=self.experiment, sequence=self.sequence)
        r2 = np.broadcast_to(np.asarray(self.two_distance_angstrom, float), (2,))
        for r in (self.one_distance_angstrom, *r2):
            if not 0.5 <= r <= 20.0:
                raise UserError(f"distance {r} angstrom: expected 0.5-20 angstrom")
        for f in (self.one_fraction, self.two_fraction):
            if not 0.0 < f <= 1.0:
                raise UserError(f"fraction {f}: must lie in (0, 1]")
        self.couplings_two = tuple(float(self.model.dr3 / r**3) for r in r2)
        self.coupling_one = float(self.model.dr3 / self.one_distance_angstrom**3)

    def curve_one(self, t, coupling_hz=None):
        """Model A's dS/S0 for fraction 1."""
        return self.model.normalised(t, self.coupling_one if coupling_hz is None else coupling_hz)

    def curve_two(self, t):
        """Model B's dS/S0 for fraction 1 (the exact product, at twice the fits' working powder)."""
        from .multipartner import pair_geometry, partners_dephasing, powder_for

        w = self.model._weights
        j = max(int(np.flatnonzero(w > 0).max()), 1)
        powder = powder_for(j * self.model.default_scaling * max(self.couplings_two) * float(np.max(t)),
                            2.0 * WORKING_POWDER)
        return partners_dephasing(t, self.couplings_two, *pair_geometry(self.two_angle_deg, powder), w,
                                  self.model.default_scaling, self.model.partner_isotope.abundance)


def _fit_fraction(y, g, w):
    """min over f in [0, 1] of sum(w (y - f g)^2): chi^2 and f."""
    den = float(np.sum(w * g * g))
    f = float(np.clip(np.sum(w * g * y) / den, 0.0, 1.0)) if den > 0 else 0.0
    return float(np.sum(w * (y - f * g) ** 2)), f


def separations(hyp: Hypotheses, times_s, sigma):
    """chi^2 of each model fitted to the other's noise-free curve, for noise ``sigma`` at ``times_s``.

    Returns
    -------
    dict
        ``"A true"``: B (f free) fitted to A's curve; ``"B true"``: A (D and f free) fitted to B's.
    """
    t = np.asarray(times_s, float)
    w = 1.0 / np.broadcast_to(np.asarray(sigma, float), t.shape) ** 2
    shape_two = hyp.curve_two(t)
    one, two = hyp.one_fraction * hyp.curve_one(t), hyp.two_fraction * shape_two
    chi_a, _ = _fit_fraction(one, shape_two, w)
    grid = hyp.coupling_one * np.geomspace(0.2, 5.0, 161)
    chis = [_fit_fraction(two, hyp.curve_one(t, d), w)[0] for d in grid]
    k = int(np.argmin(chis))
    from scipy.optimize import minimize_scalar

    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    best = minimize_scalar(lambda d: _fit_fraction(two, hyp.curve_one(t, d), w)[0], bounds=(lo, hi),
                           method="bounded", options={"xatol": 1e-3})
    return {"A true": chi_a, "B true": float(min(best.fun, chis[k]))}


def required_noncentrality(confidence=0.95, power=0.9, dof=2):
    """Non-centrality at which the LRT statistic (chi^2, ``dof``) exceeds its ``confidence`` quantile
    with probability ``power``."""
    from scipy import optimize, stats

    crit = stats.chi2.ppf(confidence, dof)
    return float(optimize.brentq(lambda lam: stats.ncx2.sf(crit, dof, lam) - power, 1e-6, 1e4))


def plan_discrimination(hypotheses: Hypotheses, sensitivity, mas_rate_hz, *, max_time_s=8e-3, n_points=16,
                        confidence=0.95, power=0.9, phase_cycle=8, n_lengths=12):
    """The evenly spaced designs (n_points up to t_max) that tell A from B, and the hours each needs.

    Parameters
    ----------
    hypotheses : Hypotheses
    sensitivity : respdor.planner.Sensitivity
        S/N of a reference spectrum, scans, recycle delay, build-up, T2' (the noise model).
    mas_rate_hz : float
        MAS rate; recoupling times are whole numbers of two rotor periods.
    max_time_s : float
        Longest recoupling time considered (s).
    n_points : int
        Recoupling times per design (equal scans each, S0 and S1).
    confidence, power : float
        The LRT decides at ``confidence`` with probability ``power``.
    phase_cycle : int
        Scans per point are rounded up to a multiple of this.
    n_lengths : int
        Number of longest times t_max tried, evenly up to ``max_time_s``.

    Returns
    -------
    DiscriminationPlan
    """
    if not mas_rate_hz > 0 or not max_time_s > 0 or n_points < 3:
        raise UserError("mas_rate_hz and max_time_s must be > 0 and n_points >= 3")
    step = 2.0 / mas_rate_hz
    need = required_noncentrality(confidence, power)
    rows = []
    for t_max in np.unique(np.maximum(np.round(np.linspace(max_time_s / n_lengths, max_time_s, n_lengths) / step),
                                      n_points) * step):
        t = np.maximum(np.round(np.linspace(t_max / n_points, t_max, n_points) / step), 1) * step
        truth = hypotheses.two_fraction * hypotheses.curve_two(t)
        _, _, _, sigma1 = sensitivity.noise(t, np.ones(t.size), truth)  # one scan of S0 and S1 per point
        sep = separations(hypotheses, t, sigma1)
        per_scan = min(sep.values())
        scans = phase_cycle * math.ceil(need / per_scan / phase_cycle) if per_scan > 0 else math.inf
        hours = (float(np.sum(2 * scans * sensitivity.scan_time(t))) / 3600.0) if math.isfinite(scans) else math.inf
        rows.append({"t_max_ms": float(t_max * 1e3), "points": int(t.size), "scans_per_point": scans,
                     "hours": hours, "chi2_A_true_per_scan": sep["A true"], "chi2_B_true_per_scan": sep["B true"]})
    return DiscriminationPlan(rows=rows, required_noncentrality=need, confidence=confidence, power=power,
                              hypotheses=hypotheses)


@dataclass(repr=False)
class DiscriminationPlan(ResultDisplay):
    """Designs that tell one partner from two (:func:`plan_discrimination`), one row per longest time."""

    rows: list
    required_noncentrality: float
    confidence: float
    power: float
    hypotheses: Hypotheses | None = None
    warnings: list = field(default_factory=list)

    @property
    def best(self):
        """The row with the fewest hours."""
        return min(self.rows, key=lambda r: r["hours"])

    def _title(self):
        h = self.hypotheses
        return (f"one {h.partner} at {h.one_distance_angstrom} A vs two at {h.two_distance_angstrom} A"
                if h is not None else "discrimination plan")

    def _headline(self):
        b = self.best
        return (f"{b['points']} points to {b['t_max_ms']:.3g} ms, {b['scans_per_point']} scans each: "
                f"{b['hours']:.3g} h for {self.confidence:.0%} at power {self.power:.0%}")

    def _rows(self):
        return [dict(r) for r in self.rows]

    def to_dict(self):
        return {"kind": "discrimination plan", "rows": self._rows(), "required_noncentrality":
                self.required_noncentrality, "confidence": self.confidence, "power": self.power,
                "warnings": self.warnings}

    @classmethod
    def from_dict(cls, data):
        return cls(rows=data["rows"], required_noncentrality=data["required_noncentrality"],
                   confidence=data["confidence"], power=data["power"], warnings=data["warnings"])

    def plot(self, ax=None):
        """Hours needed against the longest recoupling time."""
        ax = axes_or_new(ax)
        ax.plot([r["t_max_ms"] for r in self.rows], [r["hours"] for r in self.rows], "o-")
        ax.set_xlabel("longest recoupling time (ms)")
        ax.set_ylabel("hours to decide")
        ax.set_yscale("log")
        return ax
