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

__all__ = ["ManifoldFit", "fit_manifold", "SpectrumFit", "fit_mas_spectrum", "moment_estimates"]


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
        Standard errors (nan when not estimable).
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

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in (
            "span", "span_err", "skew", "skew_err", "zeta", "zeta_err", "eta", "eta_err",
            "amplitude", "amplitude_err", "chisqr", "degenerate")}
        d["alternative"] = self.alternative
        d["notes"] = list(self.notes)
        return d


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


def fit_manifold(
    orders,
    intensities,
    larmor_hz: float,
    mas_hz: float,
    sigma=None,
    span0: float | None = None,
    n_orientations: int = 987,
    degeneracy_dchi2: float = 4.0,
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
    kmax = int(np.max(np.abs(k)))
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
    degenerate = bool(dchi2 < degeneracy_dchi2)
    alt = dict(span=float(other.params["span"].value), skew=float(other.params["skew"].value),
               chisqr=float(other.chisqr), delta_chisqr=float(dchi2))
    if degenerate:
        notes.append(
            f"span/skew degenerate: skew {best.params['skew'].value:+.2f} (span {best.params['span'].value:.0f} ppm) and "
            f"{alt['skew']:+.2f} (span {alt['span']:.0f} ppm) fit within delta chi2 = {dchi2:.2g} < {degeneracy_dchi2:g}"
        )
    # A bounded skew at +-1 or 0 has no meaningful stderr from the Hessian; report nan there.
    p = best.params
    cov = None
    if best.covar is not None:
        names = best.var_names
        c = np.array(best.covar) * (1.0 if not have_sigma else 1.0 / max(best.redchi, 1e-300))
        # lmfit scales covar by redchi; with a known sigma we undo it.
        idx = [names.index("span"), names.index("skew")]
        cov = c[np.ix_(idx, idx)]
        errs = {n: float(np.sqrt(c[names.index(n), names.index(n)])) for n in ("span", "skew", "amp")}
    else:
        # Singular covariance: profile likelihood (Delta chi2 = 1, amplitude and the other
        # parameter re-fitted) for span and skew.
        def refit(pp, polish=False, max_nfev=None):
            return lmfit.minimize(resid, pp, method="least_squares", max_nfev=max_nfev)

        scale_chi = 1.0 if have_sigma else max(best.chisqr / dof, 1e-300)
        errs = dict(amp=float("nan"))
        for name in ("span", "skew"):
            lo, hi = _profile_interval(best, refit, name, scale_chi)
            errs[name] = 0.5 * (hi - lo)
        notes.append(f"covariance singular: span/skew errors from the profile likelihood (span {errs['span']:.2g} ppm, "
                     f"skew {errs['skew']:.2g})")
    zeta, eta, zeta_err, eta_err = _haeberlen_with_errors(p["span"].value, p["skew"].value, cov)
    # The data may also fail to pin the skew (or the span) even where one sign is preferred.
    if not degenerate and (not np.isfinite(errs["skew"]) or errs["skew"] > 0.5
                           or not np.isfinite(errs["span"]) or errs["span"] > 0.5 * p["span"].value):
        degenerate = True
        notes.append(
            f"span/skew degenerate (not resolved): skew {p['skew'].value:+.2f} +- {errs['skew']:.2g}, span "
            f"{p['span'].value:.0f} +- {errs['span']:.2g} ppm (too few or too weak sidebands)"
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
    )


@dataclass
class SpectrumFit:
    """Result of a multi-site CSA fit to a 1D MAS spectrum.

    Attributes
    ----------
    sites : list of dict
        Per site: delta_iso, span, skew, amplitude, fwhm (+ ``*_err``), zeta, eta, fraction,
        ``status`` ('ok', 'degenerate' or 'undetermined'), ``n_sidebands`` (orders k != 0 whose
        fitted height exceeds 3 sigma), ``error_method`` ('covariance' or 'profile') and, for a
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
    out = np.zeros_like(x)
    asc = x[-1] > x[0]
    for kk, ik in zip(orders, inten):
        if ik <= 1e-7:
            continue
        c = iso + kk * step
        if eta_l == 0.0 and asc:
            # A Gaussian is below 1e-40 of its peak beyond 8 FWHM: evaluate only there (the
            # spectra of real data sets have 10^4 points and lines a few points wide).
            a, b = np.searchsorted(x, [c - 8 * fwhm, c + 8 * fwhm])
            if b > a:
                out[a:b] += ik * pseudo_voigt(x[a:b], c, fwhm, 0.0)
        else:
            out += ik * pseudo_voigt(x, c, fwhm, eta_l)
    return amp * out


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
) -> SpectrumFit:
    """Fit several CSA sites (with all their sidebands) to a 1D MAS spectrum, robustly.

    Physical bounds: each isotropic shift stays within 0.4 sideband spacings (and the window)
    of its start, 0 < fwhm <= min(sideband spacing, window / 2), 0 <= span <= max(window, 4
    spacings), skew in [-1, 1]. ``n_starts`` starting spans per site (0.5, 1, 2 x the moment
    estimate from the measured sideband heights) are tried, each with both skew signs; the best
    chi-square wins. Then, per site, the fit is repeated with that site's skew restricted to the
    opposite sign: a chi-square difference below ``degeneracy_dchi2`` flags the site
    ``degenerate``. Where the covariance is singular or an error is not finite, span and skew
    errors come from the profile likelihood (Delta chi2 = 1, the other parameters re-fitted).
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

    Returns
    -------
    SpectrumFit
    """
    import lmfit

    from .deconvolution import noise_sigma

    x = np.asarray(ppm, float)
    yv = np.asarray(y, float)
    if not sites:
        raise UserError("give at least one site (delta_iso) to fit")
    if not (mas_hz > 0 and larmor_hz > 0):
        raise UserError(f"MAS rate and Larmor frequency must be > 0 Hz, got {mas_hz!r}, {larmor_hz!r}")
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
        fw = float(np.clip(st.get("fwhm", 10.0), 1.01 * dx, 0.99 * wmax))
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
            p.add(f"iso{i}", value=iso, min=max(iso - h, x.min()), max=min(iso + h, x.max()))
            p.add(f"span{i}", value=float(np.clip(s0 * factor, 1e-3, 0.99 * span_max)), min=0.0, max=span_max)
            sgn = skew_sign if fixed_signs is None else fixed_signs[i]
            lo, hi = (-1.0, 1.0) if fixed_signs is None or fixed_signs[i] == 0 else ((0.0, 1.0) if sgn > 0 else (-1.0, 0.0))
            p.add(f"skew{i}", value=0.5 * sgn if sgn else 0.0, min=lo, max=hi)
            p.add(f"amp{i}", value=float(sites[i].get("amplitude", area_total / n)), min=0.0)
            p.add(f"fwhm{i}", value=fw, min=dx, max=wmax)
        p.add("eta_l", value=0.3 if fit_lorentz else 0.0, min=0.0, max=1.0, vary=fit_lorentz)
        tot = " + ".join(f"amp{i}" for i in range(n))
        for i in range(n):
            p.add(f"frac{i}", expr=f"amp{i} / ({tot})")
        return p

    cache: dict = {}

    def site(i, pp):
        # A finite-difference step in one parameter changes one site only: the other sites'
        # components (and their powder manifolds, the costly part) come from the cache.
        key = (i,) + tuple(pp[f"{k}{i}"].value for k in ("iso", "span", "skew", "amp", "fwhm")) + (pp["eta_l"].value,)
        v = cache.get(key)
        if v is None:
            if len(cache) > 4096:
                cache.clear()
            v = cache[key] = _site_spectrum(x, *key[1:], larmor_hz, mas_hz, n_orientations)
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

    factors = [1.0, 0.5, 2.0, 0.25, 4.0][:max(1, n_starts)]
    best = None
    for fct in factors:
        for sg in (1.0, -1.0):
            r = run(make_params(fct, sg), polish=False)
            if best is None or r.chisqr < best.chisqr:
                best = r
    res = run(best.params)
    notes, warns = [], []
    if sigma is None:
        sigma = float(np.sqrt(res.chisqr / max(1, res.ndata - res.nvarys)))
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
        out = []
        for i in range(n):
            row = {}
            for key, name in (("iso", "delta_iso"), ("span", "span"), ("skew", "skew"), ("amp", "amplitude"),
                              ("fwhm", "fwhm"), ("frac", "fraction")):
                par = res.params[f"{key}{i}"]
                row[name] = float(par.value)
                row[name + "_err"] = float(par.stderr * err_scale) if par.stderr is not None else float("nan")
            row["error_method"] = "covariance"
            _, row["zeta"], row["eta"] = csa.maryland_to_haeberlen(0.0, row["span"], row["skew"])
            # Sideband orders of this site standing above 3 sigma (the evidence for its CSA).
            man = sideband_intensities(row["span"], row["skew"], larmor_hz, mas_hz, n_sidebands=16,
                                       n_orientations=n_orientations)
            peak = row["amplitude"] * pseudo_voigt(np.array([0.0]), 0.0, row["fwhm"], float(res.params["eta_l"].value))[0]
            pos = row["delta_iso"] + man.orders * step
            inwin = (pos >= x.min()) & (pos <= x.max()) & (man.orders != 0)
            row["n_sidebands"] = int(np.sum(man.intensities[inwin] * peak > 3.0 * noise))
            row["status"] = "ok"
            row["alternative"] = None
            out.append(row)
        # Degeneracy of each site's skew sign.
        for i, row in enumerate(out):
            if row["n_sidebands"] < 2:
                continue  # refused below: no sidebands, no skew sign to test
            sign = 1.0 if row["skew"] >= 0 else -1.0
            signs = [0] * n
            signs[i] = -sign
            p = res.params.copy()
            p[f"skew{i}"].set(value=-0.5 * sign, min=-1.0 if sign > 0 else 0.0, max=0.0 if sign > 0 else 1.0)
            alt = run(p, polish=False)
            dchi2 = (alt.chisqr - res.chisqr) / chi_scale
            if dchi2 < 0:
                if better is None or alt.chisqr < better.chisqr:
                    better = alt
            row["alternative"] = dict(span=float(alt.params[f"span{i}"].value), skew=float(alt.params[f"skew{i}"].value),
                                      delta_chisqr=float(dchi2))
            if dchi2 < degeneracy_dchi2:
                row["status"] = "degenerate"
                notes.append(f"site {row['delta_iso']:.1f} ppm: span/skew degenerate: skew {row['skew']:+.2f} (span "
                             f"{row['span']:.0f} ppm) and {row['alternative']['skew']:+.2f} (span "
                             f"{row['alternative']['span']:.0f} ppm) fit within delta chi2 = {dchi2:.2g}")
        return c, out, better

    c, out, better = summarise(res)
    if better is not None:
        # A skew of the other sign fitted better than every start: continue from there (bounds
        # released) and summarise again.
        p = better.params.copy()
        for i in range(n):
            p[f"skew{i}"].set(min=-1.0, max=1.0)
        res = run(p)
        notes = [m for m in notes if "degenerate" not in m]
        c, out, better = summarise(res)
        if better is not None:
            warns.append("the fit has several minima of different skew sign; the best one found is reported")
    # Profile likelihood where the covariance cannot give an error.
    for i, row in enumerate(out):
        if all(np.isfinite(row[k]) for k in ("span_err", "skew_err")) or row["n_sidebands"] < 2:
            continue
        for key, name in (("span", "span"), ("skew", "skew")):
            lo, hi = _profile_interval(res, run, f"{key}{i}", chi_scale)
            row[name + "_err"] = 0.5 * (hi - lo)
            row[name + "_interval"] = [lo, hi]
        row["error_method"] = "profile"
        notes.append(f"site {row['delta_iso']:.1f} ppm: covariance singular; span/skew errors from the profile "
                     f"likelihood (delta chi2 = 1): span {row['span_interval'][0]:.0f}..{row['span_interval'][1]:.0f} "
                     f"ppm, skew {row['skew_interval'][0]:+.2f}..{row['skew_interval'][1]:+.2f}")
    for row in out:
        if row["n_sidebands"] < 2:
            row["status"] = "undetermined"
            warns.append(f"site {row['delta_iso']:.1f} ppm: CSA not determined by the data (only {row['n_sidebands']} "
                         "sideband order(s) above 3 sigma); span and skew not reported")
            for k in ("span", "span_err", "skew", "skew_err", "zeta", "eta"):
                row[k] = float("nan")
    return SpectrumFit(out, float(res.params["eta_l"].value), float(sigma), x, yv, c.sum(axis=0), c, notes, warns)


def _profile_interval(res, run, name, chi_scale, max_steps: int = 6):
    """(lo, hi) where chi2 rises by 1 x chi_scale with ``name`` fixed and the rest re-fitted."""
    par = res.params[name]
    best = float(par.value)
    lo_b, hi_b = par.min, par.max
    width = max(abs(best) * 0.05, 0.02 if "skew" in name else 1.0)

    def dchi(v):
        p = res.params.copy()
        p[name].set(value=v, vary=False)
        return (run(p, polish=False, max_nfev=10 * len(p)).chisqr - res.chisqr) / chi_scale

    out = []
    for direction, bound in ((-1, lo_b), (1, hi_b)):
        inner, step = best, width
        outer = None
        for _ in range(max_steps):
            v = best + direction * step
            if (direction < 0 and v <= bound) or (direction > 0 and v >= bound):
                v = bound
                outer = v if dchi(v) > 1.0 else None
                if outer is None:
                    inner = v
                break
            if dchi(v) > 1.0:
                outer = v
                break
            inner, step = v, step * 2
        if outer is None:
            out.append(inner)
            continue
        for _ in range(3):
            mid = 0.5 * (inner + outer)
            if dchi(mid) > 1.0:
                outer = mid
            else:
                inner = mid
        out.append(0.5 * (inner + outer))
    return out[0], out[1]
