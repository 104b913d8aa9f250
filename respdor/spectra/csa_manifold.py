"""CSA fit of one sideband manifold (intensity per order) with lmfit.

Model (see :mod:`spinsim.sidebands`): sideband k has intensity ``A * I_k(Omega, kappa; nu0, nu_r)``
with sum_k I_k = 1. Haeberlen zeta = delta_zz - delta_iso and eta are reported alongside (derived,
with propagated errors from the covariance).

Span/skew degeneracy. With few sidebands (nu_r comparable to the span) the sign of the skew,
and with it the span, is poorly determined: mirror-image tensors produce nearly the same
manifold. Every manifold fit is therefore run twice, with the skew restricted to [0, 1] and to
[-1, 0]; when the two minima differ by less than ``degeneracy_dchi2`` in chi-square (4 = a
two-sigma difference), the result is flagged ``degenerate`` and both solutions are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spinsim import csa
from spinsim.sidebands import sideband_intensities

from ..display import ResultDisplay
from ..errors import UserError
from .csa_model import moment_estimates
from .csa_uncertainty import NEAR_BOUND, _covariance_suspect, _error_entry, _first_step, _profile, format_estimate

__all__ = ["ManifoldFit", "fit_manifold"]


@dataclass(repr=False)
class ManifoldFit(ResultDisplay):
    """Result of a CSA fit to one sideband manifold.

    Attributes
    ----------
    span, skew, amplitude : float
        Best fit (ppm, dimensionless, intensity units = sum over all orders).
    span_err, skew_err, amplitude_err : float
        Standard errors: from the covariance, or (``*_err_method`` 'profile') from the
        profile-likelihood interval (half its width; its full width when one-sided; nan when
        the data do not bound the parameter).
    span_interval, skew_interval : list or None
        68 % profile-likelihood interval [lo, hi] (ppm; dimensionless) when the profile was used.
    span_limit, skew_limit : str or None
        'lower' / 'upper': the interval is one-sided and runs into that physical bound
        (skew -1 or 1; span 0 or the fit's upper span bound); 'both': not bounded by the data.
    zeta, eta : float
        Haeberlen reduced anisotropy (ppm) and asymmetry of the best fit.
    zeta_err, eta_err : float
        Their standard errors (linear propagation through the conversion).
    chisqr : float
        Chi-square (with the given sigma, or with sigma from the residual).
    degenerate : bool
        True when the opposite skew sign fits within ``degeneracy_dchi2``, or when the skew
        error exceeds 0.5 or the span error half the span (the data do not resolve them).
    alternative : dict or None
        Best fit with the skew of opposite sign: span, skew, chisqr.
    model : ndarray
        Fitted intensities per order.
    notes : list of str
    """

    span: float
    skew: float
    amplitude: float
    span_err: float
    skew_err: float
    amplitude_err: float
    zeta: float
    eta: float
    zeta_err: float
    eta_err: float
    chisqr: float
    degenerate: bool
    alternative: dict | None
    model: np.ndarray
    notes: list = field(default_factory=list)
    span_err_method: str = "covariance"
    skew_err_method: str = "covariance"
    span_interval: list | None = None
    skew_interval: list | None = None
    span_limit: str | None = None
    skew_limit: str | None = None

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in (
            "span", "span_err", "span_err_method", "span_interval", "span_limit",
            "skew", "skew_err", "skew_err_method", "skew_interval", "skew_limit",
            "zeta", "zeta_err", "eta", "eta_err", "amplitude", "amplitude_err", "chisqr", "degenerate")}
        d["alternative"] = self.alternative
        d["notes"] = list(self.notes)
        return d

    @property
    def warnings(self) -> list:
        """A manifold fit says what it found in ``notes``; it has no warnings of its own."""
        return []

    def _title(self):
        return "CSA of a sideband manifold" + (" (degenerate)" if self.degenerate else "")

    def _headline(self):
        return f"span {self.text('span')} ppm, skew {self.text('skew')}, chi2 {self.chisqr:.3g}"

    def _rows(self):
        rows = []
        for name, unit in (("span", "ppm"), ("skew", ""), ("zeta", "ppm"), ("eta", ""), ("amplitude", "")):
            rows.append(dict(name=name, value=getattr(self, name), error=getattr(self, name + "_err"),
                             interval=getattr(self, name + "_interval", None),
                             method=getattr(self, name + "_err_method", "covariance"), unit=unit,
                             text=self.text(name) if name in ("span", "skew") else
                             format_estimate(getattr(self, name), getattr(self, name + "_err"), fmt=".4g")))
        return rows

    def to_dict(self) -> dict:
        return self.as_dict()

    @classmethod
    def from_dict(cls, data: dict):
        """The fit from :meth:`as_dict` (JSON's null back to nan; ``model`` is not in it: empty)."""
        def num(key):
            v = data.get(key)
            return float("nan") if v is None else float(v)

        floats = ("span", "skew", "amplitude", "span_err", "skew_err", "amplitude_err", "zeta", "eta", "zeta_err",
                  "eta_err", "chisqr")
        return cls(degenerate=bool(data.get("degenerate")), alternative=data.get("alternative"), model=np.array([]),
                   notes=list(data.get("notes", [])), span_err_method=data.get("span_err_method", "covariance"),
                   skew_err_method=data.get("skew_err_method", "covariance"),
                   **{k: num(k) for k in floats},
                   **{k: data.get(k) for k in ("span_interval", "skew_interval", "span_limit", "skew_limit")})

    def text(self, name: str) -> str:
        """``span`` or ``skew`` as text with its error or profile interval (see format_estimate)."""
        fmt = ".1f" if name == "span" else "+.3f"
        return format_estimate(getattr(self, name), getattr(self, name + "_err"), getattr(self, name + "_interval"),
                               getattr(self, name + "_limit"), fmt)


def _haeberlen_with_errors(span, skew, cov2):
    _, zeta, eta = csa.maryland_to_haeberlen(0.0, span, skew)
    if cov2 is None or not np.all(np.isfinite(cov2)):
        return zeta, eta, float("nan"), float("nan")
    h = 1e-6 * max(span, 1.0)
    hk = 1e-6

    def f(o, k):
        k = float(np.clip(k, -1, 1))
        _, z, e = csa.maryland_to_haeberlen(0.0, max(o, 0.0), k)
        # Stay on one branch of the kappa = 0 ambiguity: zeta carries the sign of -kappa.
        return np.array([z, e])

    j0 = (f(span + h, skew) - f(span - h, skew)) / (2 * h)
    k_lo, k_hi = max(skew - hk, -1.0), min(skew + hk, 1.0)
    if skew == 0.0:
        k_lo, k_hi = 0.0, hk  # one-sided: zeta jumps sign across kappa = 0
    j1 = (f(span, k_hi) - f(span, k_lo)) / (k_hi - k_lo)
    jac = np.column_stack([j0, j1])
    cov = jac @ cov2 @ jac.T
    return zeta, eta, float(np.sqrt(max(cov[0, 0], 0))), float(np.sqrt(max(cov[1, 1], 0)))


def _check_order_reach(kmax, larmor_hz, mas_hz):
    """Refuse sideband orders farther from the centreband than any chemical shift anisotropy reaches
    (spinsim.plausibility's ppm range): orders mistyped (or in Hz) would make the model without end."""
    from spinsim.plausibility import RANGES

    reach = kmax * mas_hz / larmor_hz * 1e6
    if reach > RANGES["ppm"].hi:
        raise UserError(f"sideband order {kmax} at MAS {mas_hz:g} Hz lies {reach:.4g} ppm from the centreband, beyond "
                        f"the {RANGES['ppm'].hi:g} ppm any chemical shift anisotropy reaches: check the order column "
                        "and mas_rate_hz")


def fit_manifold(
    orders,
    intensities,
    larmor_hz: float,
    mas_hz: float,
    sigma=None,
    span0: float | None = None,
    n_orientations: int = 987,
    degeneracy_dchi2: float = 4.0,
    profile: str = "auto",
) -> ManifoldFit:
    """Fit span, skew and amplitude to sideband intensities I_k.

    Parameters
    ----------
    orders : array_like of int
        Sideband orders k of the measured intensities (any subset, e.g. -4..4).
    intensities : array_like
        Measured intensities (any scale; integrals or heights of equal-width lines).
    larmor_hz : float
        |nu0| of the observed nucleus in Hz.
    mas_hz : float
        Spinning rate in Hz.
    sigma : float or array_like, optional
        Standard deviation of each intensity. Without it, sigma is estimated from the residual
        (uncertainties then scale with the reduced chi-square).
    span0 : float, optional
        Starting span in ppm (default from the second moment of the manifold).
    n_orientations : int
        Powder orientations of the model.
    degeneracy_dchi2 : float
        Chi-square difference below which the two skew signs are called indistinguishable.
    profile : {'auto', 'always', 'never'}
        Profile-likelihood intervals for span and skew: 'auto' where the covariance cannot be
        trusted (no covariance, a parameter at or within 2 % of its range from a bound, a
        +-1 error interval that crosses a bound, a correlation above 0.995, or an error above
        half the physical range).

    Returns
    -------
    ManifoldFit
    """
    k, y, s, have_sigma = _manifold_data(orders, intensities, sigma, profile)
    kmax = int(np.max(np.abs(k)))
    _check_order_reach(kmax, larmor_hz, mas_hz)
    span_m, _ = moment_estimates(k, y, larmor_hz, mas_hz)
    span_start = float(span0) if span0 is not None else max(span_m, 1.0)
    problem = _ManifoldProblem(k, y, s, kmax, larmor_hz, mas_hz, n_orientations)
    total = float(np.sum(y))
    pos = problem.run(0.0, 1.0, (0.3, 0.8), span_start, total)
    neg = problem.run(-1.0, 0.0, (-0.3, -0.8), span_start, total)
    best, other = (pos, neg) if pos.chisqr <= neg.chisqr else (neg, pos)
    dof = max(1, k.size - 3)
    notes = []
    alt, degenerate = _sign_degeneracy(best, other, 1.0 if have_sigma else best.chisqr / dof, degeneracy_dchi2,
                                       notes)
    p = best.params
    cov, cov_errs = _span_skew_covariance(best, have_sigma)
    scale_chi = 1.0 if have_sigma else max(best.chisqr / dof, 1e-300)
    entries = _span_skew_errors(problem, best, cov_errs, scale_chi, have_sigma, profile, notes)
    errs = dict(span=entries["span"]["err"], skew=entries["skew"]["err"], amp=cov_errs.get("amp", float("nan")))
    if any(en["err_method"] == "profile" for en in entries.values()):
        cov = None  # Haeberlen errors by linear propagation need a valid covariance
    zeta, eta, zeta_err, eta_err = _haeberlen_with_errors(p["span"].value, p["skew"].value, cov)
    # The data may also fail to pin the skew (or the span) even where one sign is preferred.
    if not degenerate and (not np.isfinite(errs["skew"]) or errs["skew"] > 0.5
                           or not np.isfinite(errs["span"]) or errs["span"] > 0.5 * p["span"].value):
        degenerate = True
        sk, sp = entries["skew"], entries["span"]
        notes.append(
            f"span/skew degenerate (not resolved): skew "
            f"{format_estimate(p['skew'].value, errs['skew'], sk['interval'], sk['limit'], '+.2f')}, span "
            f"{format_estimate(p['span'].value, errs['span'], sp['interval'], sp['limit'], '.0f')} ppm "
            "(too few or too weak sidebands)"
        )
    return ManifoldFit(
        span=float(p["span"].value), skew=float(p["skew"].value), amplitude=float(p["amp"].value),
        span_err=errs["span"], skew_err=errs["skew"], amplitude_err=errs["amp"],
        zeta=zeta, eta=eta, zeta_err=zeta_err, eta_err=eta_err, chisqr=float(best.chisqr), degenerate=degenerate,
        alternative=alt, model=problem.model(p), notes=notes,
        span_err_method=entries["span"]["err_method"], skew_err_method=entries["skew"]["err_method"],
        span_interval=entries["span"]["interval"], skew_interval=entries["skew"]["interval"],
        span_limit=entries["span"]["limit"], skew_limit=entries["skew"]["limit"],
    )


def _manifold_data(orders, intensities, sigma, profile):
    """Orders, intensities and sigma as arrays, checked; ``have_sigma``: sigma was given."""
    k = np.asarray(orders, int)
    y = np.asarray(intensities, float)
    if k.shape != y.shape or k.ndim != 1:
        raise UserError("orders and intensities must be 1-D and of equal length")
    if k.size < 3:
        raise UserError(f"a CSA fit needs at least 3 sideband orders, got {k.size}")
    if not np.all(np.isfinite(y)):
        raise UserError("sideband intensities must be finite")
    have_sigma = sigma is not None
    s = np.broadcast_to(np.asarray(sigma if have_sigma else 1.0, float), y.shape)
    if have_sigma and np.any(s <= 0):
        raise UserError("sideband uncertainties must be > 0")
    if profile not in ("auto", "always", "never"):
        raise UserError(f"profile must be 'auto', 'always' or 'never', got {profile!r}")
    return k, y, s, have_sigma


class _ManifoldProblem:
    """The least-squares problem of one manifold: model, weighted residual, sign-restricted runs."""

    def __init__(self, k, y, s, kmax, larmor_hz, mas_hz, n_orientations):
        self.k, self.y, self.s, self.kmax = k, y, s, kmax
        self.larmor_hz, self.mas_hz, self.n_orientations = larmor_hz, mas_hz, n_orientations

    def model(self, p):
        man = sideband_intensities(p["span"].value, p["skew"].value, self.larmor_hz, self.mas_hz,
                                   n_sidebands=self.kmax, n_orientations=self.n_orientations)
        return p["amp"].value * man.intensities[self.k + self.kmax]

    def resid(self, p):
        return (self.model(p) - self.y) / self.s

    def run(self, lo, hi, k0, span_start, total):
        """Best of the runs from each starting skew in ``k0``, the skew held within [lo, hi]."""
        import lmfit

        best = None
        for sk in k0:
            p = lmfit.Parameters()
            p.add("span", value=span_start, min=0.0, max=max(20 * span_start, 100.0))
            p.add("skew", value=sk, min=lo, max=hi)
            p.add("amp", value=total if total > 0 else 1.0)
            r = lmfit.minimize(self.resid, p, method="least_squares")
            r = lmfit.minimize(self.resid, r.params, method="leastsq")
            if best is None or r.chisqr < best.chisqr:
                best = r
        return best

    def refit(self, pp):
        """Re-fit with the skew free over [-1, 1] (a profile step): ``(chisqr, params)``."""
        import lmfit

        pp["skew"].set(min=-1.0, max=1.0)
        r = lmfit.minimize(self.resid, pp, method="least_squares")
        return r.chisqr, r.params


def _sign_degeneracy(best, other, scale2, degeneracy_dchi2, notes):
    """The opposite-sign solution and whether it fits as well (a note says so)."""
    dchi2 = (other.chisqr - best.chisqr) / scale2 if scale2 > 0 else np.inf
    alt = dict(span=float(other.params["span"].value), skew=float(other.params["skew"].value),
               chisqr=float(other.chisqr), delta_chisqr=float(dchi2))
    # Two fits meeting at skew ~0 are one tensor, not a mirror-image pair.
    distinct = (abs(alt["skew"] - best.params["skew"].value) > 0.1
                or abs(alt["span"] - best.params["span"].value) > 0.05 * max(best.params["span"].value, 1e-9))
    degenerate = bool(dchi2 < degeneracy_dchi2 and distinct)
    if degenerate:
        notes.append(
            f"span/skew degenerate: skew {best.params['skew'].value:+.2f} (span {best.params['span'].value:.0f} ppm) and "
            f"{alt['skew']:+.2f} (span {alt['span']:.0f} ppm) fit within delta chi2 = {dchi2:.2g} < {degeneracy_dchi2:g}"
        )
    return alt, degenerate


def _span_skew_covariance(best, have_sigma):
    """The span/skew block of the covariance and the covariance errors of span, skew and amp."""
    if best.covar is None:
        return None, {}
    from ..profile import covariance

    names, c = covariance(best, sigma_known=have_sigma)
    idx = [names.index("span"), names.index("skew")]
    errs = {nm: float(np.sqrt(max(c[names.index(nm), names.index(nm)], 0.0))) for nm in ("span", "skew", "amp")}
    return c[np.ix_(idx, idx)], errs


def _span_skew_errors(problem, best, cov_errs, scale_chi, have_sigma, profile, notes):
    """Error entries of span and skew: covariance, or profile likelihood where it is not trusted."""
    p = best.params
    # Physical ranges: skew [-1, 1] (the sign-restricted runs are searches, not physics); span
    # [0, the fit's upper bound].
    ranges = dict(span=(0.0, float(p["span"].max)), skew=(-1.0, 1.0))
    entries = {}
    for name in ("span", "skew"):
        lo, hi = ranges[name]
        val = float(p[name].value)
        why = "requested" if profile == "always" else _covariance_suspect(
            val, cov_errs.get(name), lo, hi, p[name].correl if best.covar is not None else None)
        if name == "skew" and not why and min(abs(val), 1 - abs(val)) <= NEAR_BOUND * 2:
            why = "at a bound"  # skew 0 is the edge of the sign-restricted run
        prof = None
        if why and profile != "never":
            step0 = _first_step(val, cov_errs.get(name, float("nan")), lo, hi)
            prof = _profile(name, p, best.chisqr, problem.refit, scale_chi, lo, hi, step0)
            if prof["dchi2_min"] < -0.01:
                notes.append(f"the {name} profile found a lower chi2 (by {-prof['dchi2_min']:.3g} x the threshold) "
                             "than the reported fit: the fit did not reach the global minimum")
            notes.append(f"{name}: {why}; 68 % interval from the profile likelihood (Delta chi2 = "
                         f"{'1' if have_sigma else 'reduced chi2'}): {prof['lo']:.4g}..{prof['hi']:.4g}")
        entries[name] = _error_entry(val, cov_errs.get(name), prof, lo, hi)
    return entries
