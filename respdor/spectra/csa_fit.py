"""CSA fits with lmfit: from a sideband manifold (intensity per order) or from a 1D MAS spectrum.

Model (see :mod:`spinsim.sidebands`): sideband k of a site with isotropic shift delta_iso (ppm),
span Omega (ppm) and skew kappa (Herzfeld-Berger, shift convention) has intensity
``A * I_k(Omega, kappa; nu0, nu_r)`` with sum_k I_k = 1, at ``delta_iso + k nu_r/nu0 * 1e6`` ppm.
Haeberlen zeta = delta_zz - delta_iso and eta are reported alongside (derived, with propagated
errors from the covariance).

Span/skew degeneracy. With few sidebands (nu_r comparable to the span) the sign of the skew,
and with it the span, is poorly determined: mirror-image tensors produce nearly the same
manifold. Every manifold fit is therefore run twice, with the skew restricted to [0, 1] and to
[-1, 0]; when the two minima differ by less than ``degeneracy_dchi2`` in chi-square (4 = a
two-sigma difference), the result is flagged ``degenerate`` and both solutions are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from spinsim import csa
from spinsim.sidebands import pseudo_voigt, sideband_intensities

from ..errors import UserError

__all__ = ["ManifoldFit", "fit_manifold", "SpectrumFit", "fit_mas_spectrum", "moment_estimates", "format_estimate",
           "site_text"]


def moment_estimates(orders, intensities, larmor_hz, mas_hz):
    """Starting span (ppm) and skew sign from the second and third moments of a manifold.

    For a traceless tensor d: M2 = (2/15) sum d^2 and M3 = (2/35)... only its sign is used;
    M2 = Omega^2/15 for kappa = 0, which gives the span estimate sqrt(15 M2).
    """
    k = np.asarray(orders, float)
    w = np.clip(np.asarray(intensities, float), 0.0, None)
    if w.sum() <= 0:
        raise UserError("the sideband manifold has no positive intensity")
    step = mas_hz / abs(larmor_hz) * 1e6
    w = w / w.sum()
    mean = np.sum(w * k) * step
    m2 = np.sum(w * (k * step - mean) ** 2)
    m3 = np.sum(w * (k * step - mean) ** 3)
    return float(np.sqrt(15.0 * m2)), float(np.sign(m3) if m3 != 0 else 0.0)


@dataclass
class ManifoldFit:
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


#: Starting spans of the multi-start, as factors of the moment estimate: n_starts takes the first n.
START_SPAN_FACTORS = (1.0, 0.5, 2.0, 0.25, 4.0)


def _check_order_reach(kmax, larmor_hz, mas_hz):
    """Refuse sideband orders farther from the centreband than any chemical shift anisotropy reaches
    (spinsim.plausibility's ppm range): orders mistyped (or in Hz) would make the model without end."""
    from spinsim.plausibility import RANGES

    reach = kmax * mas_hz / larmor_hz * 1e6
    if reach > RANGES["ppm"].hi:
        raise UserError(f"sideband order {kmax} at MAS {mas_hz:g} Hz lies {reach:.4g} ppm from the centreband, beyond "
                        f"the {RANGES['ppm'].hi:g} ppm any chemical shift anisotropy reaches: check the order column "
                        "and --mas")


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
    import lmfit

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
    kmax = int(np.max(np.abs(k)))
    _check_order_reach(kmax, larmor_hz, mas_hz)
    span_m, sign3 = moment_estimates(k, y, larmor_hz, mas_hz)
    span_start = float(span0) if span0 is not None else max(span_m, 1.0)
    total = float(np.sum(y))
    notes = []

    def model(p):
        man = sideband_intensities(
            p["span"].value, p["skew"].value, larmor_hz, mas_hz, n_sidebands=kmax, n_orientations=n_orientations
        )
        return p["amp"].value * man.intensities[k + kmax]

    def resid(p):
        return (model(p) - y) / s

    def run(lo, hi, k0):
        best = None
        for sk in k0:
            p = lmfit.Parameters()
            p.add("span", value=span_start, min=0.0, max=max(20 * span_start, 100.0))
            p.add("skew", value=sk, min=lo, max=hi)
            p.add("amp", value=total if total > 0 else 1.0)
            r = lmfit.minimize(resid, p, method="least_squares")
            r = lmfit.minimize(resid, r.params, method="leastsq")
            if best is None or r.chisqr < best.chisqr:
                best = r
        return best

    pos = run(0.0, 1.0, (0.3, 0.8))
    neg = run(-1.0, 0.0, (-0.3, -0.8))
    best, other = (pos, neg) if pos.chisqr <= neg.chisqr else (neg, pos)
    dof = max(1, k.size - 3)
    scale2 = 1.0 if have_sigma else best.chisqr / dof
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
    p = best.params
    cov, cov_errs = None, {}
    if best.covar is not None:
        names = best.var_names
        # lmfit scales covar by redchi; with a known sigma we undo it.
        c = np.array(best.covar) * (1.0 if not have_sigma else 1.0 / max(best.redchi, 1e-300))
        idx = [names.index("span"), names.index("skew")]
        cov = c[np.ix_(idx, idx)]
        cov_errs = {nm: float(np.sqrt(max(c[names.index(nm), names.index(nm)], 0.0))) for nm in ("span", "skew", "amp")}
    # Physical ranges: skew [-1, 1] (the sign-restricted runs are searches, not physics); span
    # [0, the fit's upper bound].
    ranges = dict(span=(0.0, float(p["span"].max)), skew=(-1.0, 1.0))
    scale_chi = 1.0 if have_sigma else max(best.chisqr / dof, 1e-300)

    def refit(pp):
        pp["skew"].set(min=-1.0, max=1.0)
        r = lmfit.minimize(resid, pp, method="least_squares")
        return r.chisqr, r.params

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
            e = cov_errs.get(name, float("nan"))
            step0 = _first_step(val, e, lo, hi)
            prof = _profile(name, p, best.chisqr, refit, scale_chi, lo, hi, step0)
            if prof["dchi2_min"] < -0.01:
                notes.append(f"the {name} profile found a lower chi2 (by {-prof['dchi2_min']:.3g} x the threshold) "
                             "than the reported fit: the fit did not reach the global minimum")
            notes.append(f"{name}: {why}; 68 % interval from the profile likelihood (Delta chi2 = "
                         f"{'1' if have_sigma else 'reduced chi2'}): {prof['lo']:.4g}..{prof['hi']:.4g}")
        entries[name] = _error_entry(val, cov_errs.get(name), prof, lo, hi)
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
        span=float(p["span"].value),
        skew=float(p["skew"].value),
        amplitude=float(p["amp"].value),
        span_err=errs["span"],
        skew_err=errs["skew"],
        amplitude_err=errs["amp"],
        zeta=zeta,
        eta=eta,
        zeta_err=zeta_err,
        eta_err=eta_err,
        chisqr=float(best.chisqr),
        degenerate=degenerate,
        alternative=alt,
        model=model(p),
        notes=notes,
        span_err_method=entries["span"]["err_method"],
        skew_err_method=entries["skew"]["err_method"],
        span_interval=entries["span"]["interval"],
        skew_interval=entries["skew"]["interval"],
        span_limit=entries["span"]["limit"],
        skew_limit=entries["skew"]["limit"],
    )


@dataclass
class SpectrumFit:
    """Result of a multi-site CSA fit to a 1D MAS spectrum.

    Attributes
    ----------
    sites : list of dict
        Per site: delta_iso, span, skew, amplitude, fwhm (+ ``*_err``), zeta, eta, fraction,
        ``status`` ('ok', 'degenerate', 'misfit' or 'undetermined'), ``n_sidebands`` (orders
        k != 0 whose fitted height exceeds 3 sigma), ``missing_sidebands`` (ppm positions of
        fitted sidebands above 3 sigma that the data do not show: status 'misfit', with a
        warning), ``error_method`` ('covariance' or 'profile') and, for a
        degenerate site, ``alternative`` (best fit with the opposite skew sign).
    eta_lorentz : float
        Common Lorentzian fraction of the lines.
    sigma : float
        Noise standard deviation used for the errors.
    ppm, data, model : ndarray
    components : ndarray, shape (n_sites, n)
    notes, warnings : list of str
    """

    sites: list
    eta_lorentz: float
    sigma: float
    ppm: np.ndarray
    data: np.ndarray
    model: np.ndarray
    components: np.ndarray
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def _site_spectrum(x, iso, span, skew, amp, fwhm, eta_l, larmor_hz, mas_hz, n_orient):
    step = mas_hz / larmor_hz * 1e6
    reach = max(abs(x.max() - iso), abs(x.min() - iso))
    kmax = int(min(reach / step + 1, 64))
    orders, inten = _manifold(float(span), float(skew), float(larmor_hz), float(mas_hz), kmax, int(n_orient))
    keep = inten > 1e-7
    return amp * _line_sum(x, iso + orders[keep] * step, inten[keep], fwhm, eta_l)


def _line_sum(x, centres, weights, fwhm, eta_l):
    """sum_k w_k * pseudo_voigt(x, c_k, fwhm, eta_l), all orders at once.

    Gaussian lines on a monotonic axis are evaluated only within 8 FWHM of each centre (beyond,
    a Gaussian is below 1e-40 of its peak; real spectra have 10^4 points and lines a few points
    wide) and scattered with one bincount; Lorentzian tails need the whole axis.
    """
    n = x.size
    if centres.size == 0:
        return np.zeros(n)
    desc = x[0] > x[-1]
    xa = x[::-1] if desc else x
    dx = float(np.min(np.abs(np.diff(xa)))) if n > 1 else 1.0
    width = int(16.0 * fwhm / max(dx, 1e-300)) + 2
    if eta_l != 0.0 or width >= n or not np.all(np.diff(xa) > 0):
        out = weights @ pseudo_voigt(x[None, :], centres[:, None], fwhm, eta_l)
        return out
    first = np.searchsorted(xa, centres - 8.0 * fwhm)
    idx = first[:, None] + np.arange(width)[None, :]
    ok = idx < n
    idx = np.where(ok, idx, n - 1)
    g_sigma = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    vals = np.exp(-0.5 * ((xa[idx] - centres[:, None]) / g_sigma) ** 2) * (weights[:, None] / (g_sigma * np.sqrt(2 * np.pi)))
    out = np.bincount(idx[ok], weights=vals[ok], minlength=n)
    return out[::-1] if desc else out


@lru_cache(maxsize=2048)
def _manifold(span, skew, larmor_hz, mas_hz, kmax, n_orient):
    """Cached powder manifold: steps in a site's shift, width or amplitude reuse it."""
    man = sideband_intensities(span, skew, larmor_hz, mas_hz, n_sidebands=kmax, n_orientations=n_orient)
    return man.orders, man.intensities


def _measured_manifold(x, y, iso, step, half):
    """Heights of the spectrum at iso + k step (k within the window): a starting manifold."""
    ks = np.arange(-int((iso - x.min()) / step), int((x.max() - iso) / step) + 1)
    h = []
    for k in ks:
        sel = np.abs(x - (iso + k * step)) <= half
        h.append(float(np.max(y[sel])) if sel.any() else 0.0)
    return ks, np.clip(np.array(h), 0.0, None)


def fit_mas_spectrum(
    ppm,
    y,
    sites,
    larmor_hz: float,
    mas_hz: float,
    noise_region=None,
    fit_lorentz: bool = False,
    n_orientations: int = 610,
    n_starts: int = 3,
    degeneracy_dchi2: float = 4.0,
    fit_region=None,
    profile: str = "auto",
) -> SpectrumFit:
    """Fit several CSA sites (with all their sidebands) to a 1D MAS spectrum, robustly.

    Physical bounds: each isotropic shift stays within 0.4 sideband spacings (and the window)
    of its start, 0 < fwhm <= min(sideband spacing, window / 2), 0 <= span <= max(window, 4
    spacings), skew in [-1, 1]. ``n_starts`` starting spans per site (0.5, 1, 2 x the moment
    estimate from the measured sideband heights) are tried, each with both skew signs; the best
    chi-square wins. Then, per site, the fit is repeated with that site's skew restricted to the
    opposite sign: a chi-square difference below ``degeneracy_dchi2`` flags the site
    ``degenerate``. Where the covariance cannot be trusted (see ``profile``), the errors of
    delta_iso, span and skew come from the profile likelihood: the parameter is fixed on a grid
    and the parameters of its site and of every site whose lines overlap it are re-fitted; the
    68 % interval ends where chi^2 rises by 1 (measured sigma) or by the reduced chi^2 (sigma
    from the residual). An interval that reaches a physical bound is one-sided (``*_limit``).
    A site with fewer than 2 sideband orders above 3 sigma (the measured noise, or the noise
    of the baseline points without a noise region) is ``undetermined``: its span and
    skew are reported as nan with a warning (the data cannot fix a CSA).

    Parameters
    ----------
    ppm, y : ndarray
        Axis in ppm and real spectrum.
    sites : list of dict
        Starting values per site: ``delta_iso`` (ppm, required), ``span`` (ppm), ``skew``,
        ``fwhm`` (ppm), ``amplitude``.
    larmor_hz, mas_hz : float
        |nu0| and nu_r in Hz.
    noise_region : (float, float), optional
        Signal-free ppm range for sigma; otherwise sigma comes from the residual.
    fit_lorentz : bool
        Fit a common Lorentzian fraction (else Gaussian lines).
    n_orientations : int
        Powder orientations of the model.
    n_starts : int
        Starting spans per site and skew sign.
    degeneracy_dchi2 : float
        Chi-square difference below which the skew sign is called undetermined.
    fit_region : (float, float), optional
        Fit only this ppm range.
    profile : {'auto', 'always', 'never'}
        Profile-likelihood intervals for delta_iso, span and skew: 'auto' where the covariance
        cannot be trusted (no covariance; the parameter at, or within 2 % of its range from, a
        bound; a +-1 error interval that crosses a bound; a correlation above 0.995; an error
        above half the physical range).

    Starting widths and site identity. A site without a ``fwhm`` starts at the half-maximum
    width of the line at it, measured on the data
    (:func:`respdor.spectra.deconvolution.measured_start_widths`; a note says which widths were
    used and how they were found). After the fit every site is judged against where it was
    put (:func:`respdor.spectra.deconvolution.site_identity`, tolerance: the measured width of
    its line): status ``moved``, ``merged`` (it ended on another site's line, or another site
    took its line over; both named, with the distances, in a warning) or ``absent`` (zero
    amplitude: its numbers are nan). When any site is so judged, the fit is repeated from the
    measured widths with each site held within that tolerance of where it was put; when that
    careful fit reaches a chi-square no higher than the first, it is reported (a note says so),
    otherwise the first fit is reported with its statuses and a warning giving how much worse the
    held fit is. An error wider than a parameter's whole allowed range is reported as that
    range, ``(undetermined: lo..hi)``, not as a number.

    Returns
    -------
    SpectrumFit
    """
    kw = dict(noise_region=noise_region, fit_lorentz=fit_lorentz, n_orientations=n_orientations, n_starts=n_starts,
              degeneracy_dchi2=degeneracy_dchi2, fit_region=fit_region, profile=profile)
    first = _fit_once(ppm, y, sites, larmor_hz, mas_hz, **kw)
    flagged = [i for i, r in enumerate(first.sites) if r["status"] in IDENTITY_STATUSES]
    if not flagged:
        return first
    held = [dict(st, fwhm=r["fwhm_start_measured"]) for st, r in zip(sites, first.sites)]
    careful = _fit_once(ppm, y, held, larmor_hz, mas_hz, center_bounds_ppm=[r["line_hold"] for r in first.sites],
                        **kw)
    chi_first, chi_careful = (float(np.sum((f.model - f.data) ** 2)) for f in (first, careful))
    scale = first.sigma**2 if first.sigma and first.sigma > 0 else 1.0
    dchi2 = (chi_careful - chi_first) / scale
    names = ", ".join(f"{first.sites[i]['delta_iso_given']:g}" for i in flagged)
    if chi_careful <= chi_first * (1.0 + 1e-9):
        careful.notes[0] = first.notes[0]  # the widths' origin (the held fit was given them)
        for a, b in zip(careful.sites, first.sites):
            a["fwhm_start_source"] = b["fwhm_start_source"]
        careful.notes.insert(1, f"a first fit left its line at site(s) {names} ppm; the fit holding every site within "
                                f"its line width of where it was put reached a lower chi2 (by {-dchi2:.3g} sigma^2) "
                                "and is reported")
        return careful
    first.warnings.append(f"holding every site within its line width of where it was put raises chi2 by {dchi2:.3g} "
                          f"(in sigma^2): the data prefer the fit reported, in which site(s) {names} ppm did not stay "
                          "on their lines (see their status)")
    return first


#: Statuses of a site that did not stay on the line where it was put.
IDENTITY_STATUSES = ("moved", "merged", "absent")


def _fit_once(
    ppm,
    y,
    sites,
    larmor_hz: float,
    mas_hz: float,
    noise_region=None,
    fit_lorentz: bool = False,
    n_orientations: int = 610,
    n_starts: int = 3,
    degeneracy_dchi2: float = 4.0,
    fit_region=None,
    profile: str = "auto",
    center_bounds_ppm=None,
) -> SpectrumFit:
    """One run of :func:`fit_mas_spectrum` (same parameters), without the careful re-fit.

    ``center_bounds_ppm`` (float or one per site): each delta_iso may move at most this far from
    its start (besides the 0.4-spacing bound).
    """
    import lmfit

    from .deconvolution import measured_start_widths, noise_sigma

    x = np.asarray(ppm, float)
    yv = np.asarray(y, float)
    if not sites:
        raise UserError("give at least one site (delta_iso) to fit")
    if not (mas_hz > 0 and larmor_hz > 0):
        raise UserError(f"MAS rate and Larmor frequency must be > 0 Hz, got {mas_hz!r}, {larmor_hz!r}")
    if profile not in ("auto", "always", "never"):
        raise UserError(f"profile must be 'auto', 'always' or 'never', got {profile!r}")
    sigma = noise_sigma(x, yv, noise_region) if noise_region is not None else None
    if fit_region is not None:
        lo, hi = sorted(fit_region)
        sel = (x >= lo) & (x <= hi)
        if sel.sum() < 16:
            raise UserError(f"fit region {lo:g}..{hi:g} ppm holds only {int(sel.sum())} points")
        x, yv = x[sel], yv[sel]
    sites = [dict(st) for st in sites]  # starting values are completed below; leave the caller's alone
    step = mas_hz / larmor_hz * 1e6
    dx = abs(x[1] - x[0])
    window = float(np.ptp(x))
    n = len(sites)
    wmax = max(min(step, window / 2.0), 2 * dx)
    span_max = max(window, 4 * step)
    area_total = abs(np.trapezoid(yv, x))
    starts = []
    for i, st in enumerate(sites):
        if "delta_iso" not in st:
            raise UserError(f"site {i + 1}: delta_iso is required")
        iso = float(st["delta_iso"])
        if not (x.min() <= iso <= x.max()):
            raise UserError(f"site {i + 1}: delta_iso {iso:g} ppm lies outside the fitted window "
                            f"{x.min():.1f}..{x.max():.1f} ppm")
    # The line width at each site, measured on the data: the starting width when none is given
    # (a start wider than the gap between two lines lets one site take both), and in every case
    # the yardstick for "the site stayed on its line".
    measured = measured_start_widths(x, yv, [float(st["delta_iso"]) for st in sites])
    start_notes = _start_width_notes(sites, measured)
    for i, st in enumerate(sites):
        iso = float(st["delta_iso"])
        given = st.get("fwhm")
        fw = float(np.clip(measured[i].fwhm if given is None else given, 1.01 * dx, 0.99 * wmax))
        if "amplitude" not in st:
            # Start from the measured line: height at delta_iso x Gaussian area factor x fwhm
            # (the integral of a real spectrum is dominated by its baseline, not by the lines).
            k0 = int(np.argmin(np.abs(x - iso)))
            h0 = float(np.max(yv[max(0, k0 - 2):k0 + 3]))
            st = dict(st, amplitude=max(h0, 0.0) * 1.0645 * fw * 1.2 or area_total / n)
            sites[i] = st
        if "span" in st and st["span"] is not None:
            s0 = float(st["span"])
        else:
            ks, hk = _measured_manifold(x, yv, iso, step, max(fw, 2 * dx))
            s0 = moment_estimates(ks, hk, larmor_hz, mas_hz)[0] if hk.sum() > 0 else step
        starts.append((iso, float(np.clip(s0, step / 4, 0.9 * span_max)), fw))

    def make_params(factor, skew_sign, fixed_signs=None):
        p = lmfit.Parameters()
        for i, (iso, s0, fw) in enumerate(starts):
            h = min(0.4 * step, max(3.0 * fw, 5 * dx))
            if center_bounds_ppm is not None:
                h = min(h, float(np.broadcast_to(np.asarray(center_bounds_ppm, float), (n,))[i]))
            p.add(f"iso{i}", value=iso, min=max(iso - h, x.min()), max=min(iso + h, x.max()))
            p.add(f"span{i}", value=float(np.clip(s0 * factor, 1e-3, 0.99 * span_max)), min=0.0, max=span_max)
            sgn = skew_sign if fixed_signs is None else fixed_signs[i]
            lo, hi = (-1.0, 1.0) if fixed_signs is None or fixed_signs[i] == 0 else ((0.0, 1.0) if sgn > 0 else (-1.0, 0.0))
            p.add(f"skew{i}", value=0.5 * sgn if sgn else 0.0, min=lo, max=hi)
            p.add(f"amp{i}", value=float(sites[i].get("amplitude", area_total / n)), min=0.0)
            p.add(f"fwhm{i}", value=fw, min=dx, max=wmax)
        p.add("eta_l", value=0.3 if fit_lorentz else 0.0, min=0.0, max=1.0, vary=fit_lorentz)
        # Fractions are derived after the fit (_fractions): as lmfit expressions they would be
        # re-evaluated by asteval at every residual call (15 % of the run time).
        return p

    cache: dict = {}
    # Powder orientations of the model: the screening of the starts uses a coarse powder
    # (the manifolds are most of the cost), everything after it the requested one.
    powder = {"n": n_orientations}

    def site(i, pp):
        # A finite-difference step in one parameter changes one site only: the other sites'
        # components (and their powder manifolds, the costly part) come from the cache.
        key = (i,) + tuple(pp[f"{k}{i}"].value for k in ("iso", "span", "skew", "amp", "fwhm")) + (
            pp["eta_l"].value, powder["n"])
        v = cache.get(key)
        if v is None:
            if len(cache) > 4096:
                cache.clear()
            v = cache[key] = _site_spectrum(x, *key[1:-1], larmor_hz, mas_hz, powder["n"])
        return v

    def comps(pp):
        return np.array([site(i, pp) for i in range(n)])

    def resid(pp):
        r = comps(pp).sum(axis=0) - yv
        return r / sigma if sigma else r

    def run(p, polish=True, max_nfev=None):
        nv = sum(1 for q in p.values() if q.vary and q.expr is None)
        r = lmfit.minimize(resid, p, method="least_squares", max_nfev=max_nfev or 30 * (nv + 1))
        return lmfit.minimize(resid, r.params, method="leastsq") if polish else r

    def refit_sites(p, group, max_nfev=None):
        """Re-optimise only the sites in ``group`` (and eta_l), the others held at ``p``.

        A site whose lines do not overlap those of the group has (near) zero cross-derivatives
        with the group's parameters: re-fitting it would not change chi^2, only cost time.
        """
        q = p.copy()
        frozen = [f"{key}{j}" for j in range(n) if j not in group for key in _SITE_KEYS if q[f"{key}{j}"].vary]
        for nm in frozen:
            q[nm].set(vary=False)
        r = run(q, polish=False, max_nfev=max_nfev)
        for nm in frozen:
            r.params[nm].set(vary=True)
        return r

    def coupled_groups(pp):
        """Per site, the sites whose significant lines lie within 4 (fwhm_i + fwhm_j) of its own."""
        if pp["eta_l"].value > 0:
            return [set(range(n))] * n  # Lorentzian tails reach every line
        lines = []
        for i in range(n):
            iso, fw = pp[f"iso{i}"].value, pp[f"fwhm{i}"].value
            kmax = int(min(max(abs(x.max() - iso), abs(x.min() - iso)) / step + 1, 64))
            orders, inten = _manifold(float(pp[f"span{i}"].value), float(pp[f"skew{i}"].value), float(larmor_hz),
                                      float(mas_hz), kmax, int(n_orientations))
            pos = iso + orders[inten > 1e-3 * inten.max()] * step
            lines.append((pos[(pos >= x.min() - 4 * fw) & (pos <= x.max() + 4 * fw)], fw))
        groups = []
        for i, (pi, fi) in enumerate(lines):
            g = {i}
            for j, (pj, fj) in enumerate(lines):
                if j != i and pi.size and pj.size and np.min(np.abs(pi[:, None] - pj[None, :])) < 4 * (fi + fj):
                    g.add(j)
            groups.append(g)
        return groups

    # Multi-start in two stages: every start (span factor x skew sign) gets a short screening
    # run on a coarse powder (SCREEN_ORIENTATIONS); the two best are carried to convergence. (Running every start to convergence cost
    # 3x more and never changed the winner on the bundled and real spectra; see
    # benchmarks/bench_csa_speed.py.)
    factors = list(START_SPAN_FACTORS[:max(1, n_starts)])
    n_free = 5 * n + int(fit_lorentz)
    powder["n"] = min(n_orientations, SCREEN_ORIENTATIONS)
    screened = sorted((run(make_params(fct, sg), polish=False, max_nfev=8 * (n_free + 1))
                       for fct in factors for sg in (1.0, -1.0)), key=lambda r: r.chisqr)
    powder["n"] = n_orientations
    res = min((run(r.params) for r in screened[:2]), key=lambda r: r.chisqr)
    notes, warns = list(start_notes), []
    # The residual's sigma is reported under another name: ``resid`` reads ``sigma`` at every
    # call, and rebinding it here silently rescaled every later refit (the first pass compared
    # chi2 in data units with chi2 in sigma units, which made every skew-sign test "degenerate").
    sigma_report = sigma
    if sigma is None:
        sigma_report = float(np.sqrt(res.chisqr / max(1, res.ndata - res.nvarys)))
        notes.append("noise sigma from the fit residual")
    chi_scale = 1.0 if noise_region is not None else res.chisqr / max(1, res.ndata - res.nvarys)
    # Evidence for sidebands is judged against the noise of the data (the residual of a
    # many-line fit also holds lineshape misfit, which would hide real sidebands).
    from .processing import spectrum_noise

    noise = sigma if noise_region is not None else spectrum_noise(yv)
    # lmfit scales stderr by sqrt(redchi); with a measured sigma the errors must reflect that sigma.
    err_scale = 1.0 / np.sqrt(res.redchi) if (noise_region is not None and res.redchi > 0) else 1.0

    def summarise(res):
        """Rows of every site, and the opposite-sign refit that beat ``res`` (or None)."""
        better = None
        c = comps(res.params)
        groups = coupled_groups(res.params)
        fractions = _fractions(res, n, err_scale)
        out = []
        for i in range(n):
            row = {}
            for key, name in (("iso", "delta_iso"), ("span", "span"), ("skew", "skew"), ("amp", "amplitude"),
                              ("fwhm", "fwhm")):
                par = res.params[f"{key}{i}"]
                row[name] = float(par.value)
                row[name + "_err"] = float(par.stderr * err_scale) if par.stderr is not None else float("nan")
            row["fraction"], row["fraction_err"] = fractions[0][i], fractions[1][i]
            row["error_method"] = "covariance"
            _, row["zeta"], row["eta"] = csa.maryland_to_haeberlen(0.0, row["span"], row["skew"])
            # Sideband orders of this site standing above 3 sigma (the evidence for its CSA).
            man = sideband_intensities(row["span"], row["skew"], larmor_hz, mas_hz, n_sidebands=16,
                                       n_orientations=n_orientations)
            peak = row["amplitude"] * pseudo_voigt(np.array([0.0]), 0.0, row["fwhm"], float(res.params["eta_l"].value))[0]
            pos = row["delta_iso"] + man.orders * step
            inwin = (pos >= x.min()) & (pos <= x.max()) & (man.orders != 0)
            row["n_sidebands"] = int(np.sum(man.intensities[inwin] * peak > 3.0 * noise))
            row["missing_sidebands"] = _missing_sidebands(x, yv, c[i], pos[inwin & (man.intensities * peak > 3.0 * noise)],
                                                          row["fwhm"], noise)
            row["status"] = "ok"
            row["alternative"] = None
            out.append(row)
        # Degeneracy of each site's skew sign.
        for i, row in enumerate(out):
            if row["n_sidebands"] < 2:
                continue  # refused below: no sidebands, no skew sign to test
            sign = 1.0 if row["skew"] >= 0 else -1.0
            p = res.params.copy()
            p[f"skew{i}"].set(value=-0.5 * sign, min=-1.0 if sign > 0 else 0.0, max=0.0 if sign > 0 else 1.0)
            alt = refit_sites(p, groups[i])
            dchi2 = (alt.chisqr - res.chisqr) / chi_scale
            if dchi2 < 0:
                if better is None or alt.chisqr < better.chisqr:
                    better = alt
            row["alternative"] = dict(span=float(alt.params[f"span{i}"].value), skew=float(alt.params[f"skew{i}"].value),
                                      delta_chisqr=float(dchi2))
            # Mirror solutions only count when they are different tensors: a best skew at ~0
            # and its opposite-sign refit at ~0 are the same tensor, not a degeneracy.
            distinct = (abs(row["alternative"]["skew"] - row["skew"]) > 0.1
                        or abs(row["alternative"]["span"] - row["span"]) > 0.05 * max(row["span"], 1e-9))
            if dchi2 < degeneracy_dchi2 and distinct:
                row["status"] = "degenerate"
                notes.append(f"site {row['delta_iso']:.1f} ppm: span/skew degenerate: skew {row['skew']:+.2f} (span "
                             f"{row['span']:.0f} ppm) and {row['alternative']['skew']:+.2f} (span "
                             f"{row['alternative']['span']:.0f} ppm) fit within delta chi2 = {dchi2:.2g}")
        return c, out, better, groups

    c, out, better, groups = summarise(res)
    if better is not None:
        # A skew of the other sign fitted better than every start: continue from there (bounds
        # released) and summarise again.
        p = better.params.copy()
        for i in range(n):
            p[f"skew{i}"].set(min=-1.0, max=1.0)
        res = run(p)
        notes = [m for m in notes if "degenerate" not in m]
        c, out, better, groups = summarise(res)
        if better is not None:
            warns.append("the fit has several minima of different skew sign; the best one found is reported")
    for i, row in enumerate(out):
        if row["n_sidebands"] >= 2:
            _site_errors(i, row, res, groups[i], refit_sites, chi_scale, err_scale, window, profile, notes, warns)
    for row in out:
        if row["missing_sidebands"] and row["n_sidebands"] >= 2:
            row["status"] = "misfit"
            warns.append(f"site {row['delta_iso']:.1f} ppm: the fitted CSA puts sideband(s) above 3 sigma at "
                         + ", ".join(f"{v:.1f}" for v in row["missing_sidebands"][:6])
                         + " ppm where the data show less than half of it (short by > 5 sigma): the model does not "
                         "describe this line (is the MAS rate right? phase, baseline, line shape?)")
        if not np.isfinite(row["fraction_err"]) and np.isfinite(row["fraction"]):
            notes.append(f"site {row['delta_iso']:.1f} ppm: fraction error not available (the covariance is "
                         "singular there)")
        if row["n_sidebands"] < 2:
            row["status"] = "undetermined"
            warns.append(f"site {row['delta_iso']:.1f} ppm: CSA not determined by the data (only {row['n_sidebands']} "
                         "sideband order(s) above 3 sigma); span and skew not reported")
            for k in ("span", "span_err", "skew", "skew_err", "zeta", "eta"):
                row[k] = float("nan")
    _judge_sites(out, res.params, sites, measured, dx, warns)
    return SpectrumFit(out, float(res.params["eta_l"].value), float(sigma_report), x, yv, c.sum(axis=0), c, notes, warns)


def _start_width_notes(sites, measured):
    """One note saying which starting widths were used and where they came from."""
    given = [st.get("fwhm") for st in sites]
    if all(g is not None for g in given):
        return [f"starting line widths as given: {', '.join(f'{float(g):.2f}' for g in given)} ppm"]
    parts = [f"{m.centre:g}: {m.fwhm:.2f} ppm ({m.how})" if g is None else f"{m.centre:g}: {float(g):.2f} ppm (given)"
             for g, m in zip(given, measured)]
    return ["starting line widths from the data: " + "; ".join(parts)]


def _judge_sites(out, params, sites, measured, dx, warns):
    """Statuses 'moved' / 'merged' / 'absent' for sites that left the line where they were put
    (see :func:`respdor.spectra.deconvolution.site_identity`), and no plain number for a value
    the data do not fix: an absent site's position and width are nan, an error larger than the
    parameter's physical range becomes that range, shown as undetermined."""
    from .deconvolution import site_identity

    given = [float(st["delta_iso"]) for st in sites]
    # Tolerance: the measured width of the site's line (the fitted one where none was measured).
    tol = [max(m.fwhm if m.measured else row["fwhm"], 3.0 * dx) for m, row in zip(measured, out)]
    status, found = site_identity(given, [r["delta_iso"] for r in out], [r["fwhm"] for r in out],
                                  [r["amplitude"] for r in out], tol, [m.peak for m in measured])
    warns.extend(found)
    total = sum(r["amplitude"] for r in out)
    for i, (row, st) in enumerate(zip(out, status)):
        row["delta_iso_given"] = given[i]
        row["fwhm_start"] = float(measured[i].fwhm if sites[i].get("fwhm") is None else sites[i]["fwhm"])
        row["fwhm_start_source"] = "given" if sites[i].get("fwhm") is not None else (
            "measured" if measured[i].measured else "estimated")
        row["moved_ppm"] = float(abs(row["delta_iso"] - given[i]))
        row["fwhm_start_measured"] = float(measured[i].fwhm)
        row["line_tolerance"] = float(tol[i])
        # The careful re-fit holds the site within the tolerance of its line's top.
        row["line_hold"] = float(tol[i] + (abs(measured[i].peak - given[i]) if np.isfinite(measured[i].peak) else 0.0))
        if st:
            row["status"] = st
        if row["amplitude"] <= 1e-6 * total:
            for k in ("delta_iso", "fwhm", "span", "skew", "zeta", "eta", "fraction"):
                row[k] = float("nan")
                if k + "_err" in row:
                    row[k + "_err"] = float("nan")
                    row[k + "_interval"], row[k + "_limit"] = None, None
            continue
        for name, key in (("delta_iso", "iso"), ("fwhm", "fwhm")):
            par = params[f"{key}{i}"]
            lo, hi = float(par.min), float(par.max)
            err = row.get(name + "_err")
            if err is not None and np.isfinite(err) and err > hi - lo:
                # A covariance error wider than the whole allowed range says: not determined.
                row[name + "_err"] = float("nan")
                row[name + "_err_method"] = "range"
                row[name + "_interval"], row[name + "_limit"] = [lo, hi], "both"


_SITE_KEYS = ("iso", "span", "skew", "amp", "fwhm")
#: ZCW orientations of the model while the starts are screened (the final fit uses the
#: requested number): 144 reproduce a 610-orientation manifold to ~1e-3 of the centreband.
SCREEN_ORIENTATIONS = 144


def _missing_sidebands(x, y, comp, positions, fwhm, noise):
    """Positions (ppm) where a site's fitted sideband stands above 3 sigma but the data (all
    sites and noise included) reach less than half of it, short by more than 5 sigma:
    sidebands the data do not have. Positions in the outer 10 % of the window are not judged
    (the digital filter attenuates the edges of a Bruker spectrum)."""
    out = []
    lo, hi = float(np.min(x)), float(np.max(x))
    for pos in positions:
        if min(pos - lo, hi - pos) < 0.1 * (hi - lo):
            continue  # the outer 10 % of a spectral window: digital-filter roll-off, not evidence
        sel = np.abs(x - pos) <= max(0.5 * fwhm, abs(x[1] - x[0]))
        if not sel.any():
            continue
        model, data = np.max(comp[sel]), np.max(y[sel])
        if data < 0.5 * model and model - data > 5.0 * noise:
            out.append(float(pos))
    return out


def _fractions(res, n, err_scale):
    """Site fractions a_i / sum(a) and their errors (linear propagation of the amplitude
    covariance: d f_i / d a_j = (delta_ij - f_i) / A)."""
    amps = np.array([res.params[f"amp{i}"].value for i in range(n)], float)
    total = amps.sum()
    frac = amps / total if total > 0 else np.full(n, np.nan)
    errs = np.full(n, np.nan)
    names = [f"amp{i}" for i in range(n)]
    if res.covar is not None and total > 0 and all(nm in res.var_names for nm in names):
        idx = [res.var_names.index(nm) for nm in names]
        cov = np.asarray(res.covar)[np.ix_(idx, idx)] * err_scale**2
        jac = (np.eye(n) - frac[:, None]) / total
        errs = np.sqrt(np.clip(np.diag(jac @ cov @ jac.T), 0.0, None))
    # An error above the physical range [0, 1] comes from a (near-)singular covariance, e.g. an
    # undetermined CSA's span trading intensity with its amplitude: not an error, say so.
    errs[errs > 0.5] = np.nan
    return [float(v) for v in frac], [float(v) for v in errs]


def _site_errors(i, row, res, group, refit_sites, chi_scale, err_scale, window, profile, notes, warns):
    """Errors of delta_iso, span and skew of site ``i``: covariance, or profile likelihood where
    the covariance cannot be trusted (see ``_covariance_suspect``); fills ``row``."""
    used = []
    for key, name, fmt in (("span", "span", ".0f"), ("skew", "skew", "+.2f"), ("iso", "delta_iso", ".2f")):
        par = res.params[f"{key}{i}"]
        lo, hi = float(par.min), float(par.max)
        cov_err = float(par.stderr * err_scale) if par.stderr is not None else None
        why = "requested" if profile == "always" else _covariance_suspect(par.value, cov_err, lo, hi, par.correl)
        prof = None
        if why and profile != "never":
            step0 = _first_step(par.value, cov_err, lo, hi)

            def refit(pp):
                r = refit_sites(pp, group)
                return r.chisqr, r.params

            prof = _profile(f"{key}{i}", res.params, res.chisqr, refit, chi_scale, lo, hi, step0)
            if prof["dchi2_min"] < -0.01:
                warns.append(f"site {row['delta_iso']:.1f} ppm: the {name} profile reached a chi2 lower than the fit's "
                             f"(by {-prof['dchi2_min']:.3g} x the threshold): the reported fit is not the global minimum")
        e = _error_entry(par.value, cov_err, prof, lo, hi)
        if name == "span" and np.isfinite(e["err"]):
            e["err"] = min(e["err"], window)
        row[name + "_err"] = e["err"]
        row[name + "_err_method"] = e["err_method"]
        row[name + "_interval"] = e["interval"]
        row[name + "_limit"] = e["limit"]
        if prof is not None:
            used.append(f"{name} {format_estimate(par.value, e['err'], e['interval'], e['limit'], fmt)} ({why})")
    if used:
        row["error_method"] = "profile"
        notes.append(f"site {row['delta_iso']:.1f} ppm: 68 % profile-likelihood intervals (Delta chi2 = 1"
                     f"{'' if chi_scale == 1.0 else ' x reduced chi2'}): " + "; ".join(used))


def site_text(row: dict, name: str) -> str:
    """A site's ``delta_iso``, ``span``, ``skew`` or ``fwhm`` as text (see :func:`format_estimate`)."""
    fmt = {"span": ".1f", "skew": "+.3f", "delta_iso": ".2f", "fwhm": ".2f"}[name]
    return format_estimate(row[name], row.get(name + "_err"), row.get(name + "_interval"), row.get(name + "_limit"), fmt)


# --- Uncertainties: covariance where it is valid, profile likelihood where it is not -----------

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
