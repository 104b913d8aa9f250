"""Multi-site CSA fit of a 1D MAS spectrum with lmfit: every site with all its sidebands.

The model is :mod:`respdor.spectra.csa_model`; the errors come from the covariance or, where it
cannot be trusted, the profile likelihood (:mod:`respdor.spectra.csa_uncertainty`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spinsim import csa
from spinsim.sidebands import pseudo_voigt, sideband_intensities

from ..display import ResultDisplay, axes_or_new
from ..errors import UserError
from ..profile import stderr_factor
from .csa_model import manifold, measured_manifold, moment_estimates, site_spectrum
from .csa_uncertainty import _covariance_suspect, _error_entry, _first_step, _profile, format_estimate

__all__ = ["SpectrumFit", "fit_mas_spectrum", "site_text", "IDENTITY_STATUSES", "START_SPAN_FACTORS",
           "SCREEN_ORIENTATIONS"]

#: Starting spans of the multi-start, as factors of the moment estimate: n_starts takes the first n.
START_SPAN_FACTORS = (1.0, 0.5, 2.0, 0.25, 4.0)


@dataclass(repr=False)
class SpectrumFit(ResultDisplay):
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

    def _title(self):
        return f"CSA of {len(self.sites)} site{'s' if len(self.sites) != 1 else ''} in a MAS spectrum"

    def _headline(self):
        return site_headline(self.sites)

    def _rows(self):
        return site_rows(self.sites)

    def to_dict(self) -> dict:
        return dict(sites=self.sites, eta_lorentz=self.eta_lorentz, sigma=self.sigma, notes=list(self.notes),
                    warnings=list(self.warnings))

    @classmethod
    def from_dict(cls, data: dict):
        """The fit from :meth:`to_dict` (the spectrum, model and components are not in it: None)."""
        def num(v):
            return float("nan") if v is None else v

        return cls([{k: num(v) if k in SITE_COLUMNS else v for k, v in s.items()} for s in data.get("sites", [])],
                   num(data.get("eta_lorentz")), num(data.get("sigma")), None, None, None, None,
                   list(data.get("notes", [])), list(data.get("warnings", [])))

    def plot(self, ax=None, resid_ax=None, nucleus=None):
        """Spectrum, fit and each site's sideband family on ``ax`` (new axes when None); the residual
        on ``resid_ax`` when given."""
        from .plot import draw_mas_fit

        if self.ppm is None:
            raise UserError("this fit was read from JSON, which does not hold the spectrum: plot the fit itself")
        return draw_mas_fit(self, axes_or_new(ax), resid_ax, nucleus=nucleus)


#: Columns of a site's table row (those a site has), in the order shown.
SITE_COLUMNS = ("delta_iso", "delta_iso_err", "span", "span_err", "span_interval", "skew", "skew_err", "skew_interval",
                "zeta", "eta", "fwhm", "fwhm_err", "amplitude", "fraction", "fraction_err", "n_sidebands", "status",
                "error_method")


def site_rows(sites) -> list[dict]:
    """The table of a spectrum fit: one row per site (``name`` 'site 1'...), the columns of :data:`SITE_COLUMNS`."""
    return [dict(name=f"site {i + 1}", **{k: s[k] for k in SITE_COLUMNS if k in s}) for i, s in enumerate(sites)]


def site_headline(sites) -> str:
    """Each site's delta_iso, span, skew (and its status unless 'ok') on one line."""
    def num(v, fmt):
        return "nan" if v is None or not np.isfinite(float(v)) else format(float(v), fmt)

    def status(s):
        return "" if s.get("status", "ok") == "ok" else f" ({s['status']})"

    return "; ".join(f"{num(s.get('delta_iso'), '.1f')}: span {num(s.get('span'), '.0f')}, skew "
                     f"{num(s.get('skew'), '+.2f')}{status(s)}" for s in sites)


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
    return _held_refit(first, flagged, ppm, y, sites, larmor_hz, mas_hz, kw)


def _held_refit(first, flagged, ppm, y, sites, larmor_hz, mas_hz, kw):
    """Repeat a fit whose sites left their lines, each held within its line width of where it was
    put; report the held fit when its chi2 is no higher (a note says so), else ``first`` (a warning)."""
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
    from .deconvolution import measured_start_widths
    from .processing import spectrum_noise

    x, yv, sigma = _fit_data(ppm, y, sites, larmor_hz, mas_hz, profile, noise_region, fit_region)
    sites = [dict(st) for st in sites]  # starting values are completed below; leave the caller's alone
    w = _Window(x, larmor_hz, mas_hz)
    # The line width at each site, measured on the data: the starting width when none is given
    # (a start wider than the gap between two lines lets one site take both), and in every case
    # the yardstick for "the site stayed on its line".
    measured = measured_start_widths(x, yv, [float(st["delta_iso"]) for st in sites])
    starts = _starting_values(x, yv, sites, measured, w, larmor_hz, mas_hz)
    m = _SpectrumModel(x, yv, sigma, len(sites), larmor_hz, mas_hz, n_orientations)
    res = _multistart(m, w, starts, sites, fit_lorentz, center_bounds_ppm, n_starts)
    notes, warns = _start_width_notes(sites, measured), []
    # The residual's sigma is reported under another name: the model's residual reads ``sigma`` at
    # every call, and rebinding it silently rescaled every later refit (the first pass compared
    # chi2 in data units with chi2 in sigma units, which made every skew-sign test "degenerate").
    sigma_report = sigma
    if sigma is None:
        sigma_report = float(np.sqrt(res.chisqr / max(1, res.ndata - res.nvarys)))
        notes.append("noise sigma from the fit residual")
    s = _Scales(chi=1.0 if noise_region is not None else res.chisqr / max(1, res.ndata - res.nvarys),
                err=stderr_factor(res, sigma_known=noise_region is not None),
                # Evidence for sidebands is judged against the noise of the data (the residual of a
                # many-line fit also holds lineshape misfit, which would hide real sidebands).
                noise=sigma if noise_region is not None else spectrum_noise(yv))
    res, c, out, groups = _settle(m, res, s, degeneracy_dchi2, notes, warns)
    for i, row in enumerate(out):
        if row["n_sidebands"] >= 2:
            _site_errors(i, row, res, groups[i], m.refit_sites, s.chi, s.err, w.window, profile, notes, warns)
    _flag_sites(out, notes, warns)
    _judge_sites(out, res.params, sites, measured, w.dx, warns)
    return SpectrumFit(out, float(res.params["eta_l"].value), float(sigma_report), x, yv, c.sum(axis=0), c, notes, warns)


def _fit_data(ppm, y, sites, larmor_hz, mas_hz, profile, noise_region, fit_region):
    """The fitted axis and spectrum (within ``fit_region``) and the measured noise (or None), checked."""
    from .deconvolution import noise_sigma

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
    for i, st in enumerate(sites):
        if "delta_iso" not in st:
            raise UserError(f"site {i + 1}: delta_iso is required")
        iso = float(st["delta_iso"])
        if not (x.min() <= iso <= x.max()):
            raise UserError(f"site {i + 1}: delta_iso {iso:g} ppm lies outside the fitted window "
                            f"{x.min():.1f}..{x.max():.1f} ppm")
    return x, yv, sigma


class _Window:
    """The fitted window: sideband spacing ``step`` (ppm), point spacing ``dx``, width ``window``, and
    the physical bounds of a line width (``wmax``) and a span (``span_max``)."""

    def __init__(self, x, larmor_hz, mas_hz):
        self.x = x
        self.step = mas_hz / larmor_hz * 1e6
        self.dx = abs(x[1] - x[0])
        self.window = float(np.ptp(x))
        self.wmax = max(min(self.step, self.window / 2.0), 2 * self.dx)
        self.span_max = max(self.window, 4 * self.step)


class _Scales:
    """chi^2 per unit of Delta chi^2 (``chi``), the factor on lmfit's errors (``err``) and the noise
    the sidebands are judged against (``noise``)."""

    def __init__(self, chi, err, noise):
        self.chi, self.err, self.noise = chi, err, noise


def _starting_values(x, yv, sites, measured, w, larmor_hz, mas_hz):
    """Per site (delta_iso, starting span, starting fwhm); completes each site's starting amplitude."""
    area_total = abs(np.trapezoid(yv, x))
    starts = []
    for i, st in enumerate(sites):
        iso = float(st["delta_iso"])
        given = st.get("fwhm")
        fw = float(np.clip(measured[i].fwhm if given is None else given, 1.01 * w.dx, 0.99 * w.wmax))
        if "amplitude" not in st:
            # Start from the measured line: height at delta_iso x Gaussian area factor x fwhm
            # (the integral of a real spectrum is dominated by its baseline, not by the lines).
            k0 = int(np.argmin(np.abs(x - iso)))
            h0 = float(np.max(yv[max(0, k0 - 2):k0 + 3]))
            st = dict(st, amplitude=max(h0, 0.0) * 1.0645 * fw * 1.2 or area_total / len(sites))
            sites[i] = st
        if "span" in st and st["span"] is not None:
            s0 = float(st["span"])
        else:
            ks, hk = measured_manifold(x, yv, iso, w.step, max(fw, 2 * w.dx))
            s0 = moment_estimates(ks, hk, larmor_hz, mas_hz)[0] if hk.sum() > 0 else w.step
        starts.append((iso, float(np.clip(s0, w.step / 4, 0.9 * w.span_max)), fw))
    return starts


def _make_params(w, starts, sites, factor, skew_sign, fit_lorentz, center_bounds_ppm, fixed_signs=None):
    """lmfit parameters of every site (iso, span, skew, amp, fwhm) and the common eta_l."""
    import lmfit

    x, n = w.x, len(starts)
    p = lmfit.Parameters()
    for i, (iso, s0, fw) in enumerate(starts):
        h = min(0.4 * w.step, max(3.0 * fw, 5 * w.dx))
        if center_bounds_ppm is not None:
            h = min(h, float(np.broadcast_to(np.asarray(center_bounds_ppm, float), (n,))[i]))
        p.add(f"iso{i}", value=iso, min=max(iso - h, x.min()), max=min(iso + h, x.max()))
        p.add(f"span{i}", value=float(np.clip(s0 * factor, 1e-3, 0.99 * w.span_max)), min=0.0, max=w.span_max)
        sgn = skew_sign if fixed_signs is None else fixed_signs[i]
        lo, hi = (-1.0, 1.0) if fixed_signs is None or fixed_signs[i] == 0 else ((0.0, 1.0) if sgn > 0 else (-1.0, 0.0))
        p.add(f"skew{i}", value=0.5 * sgn if sgn else 0.0, min=lo, max=hi)
        p.add(f"amp{i}", value=float(sites[i]["amplitude"]), min=0.0)
        p.add(f"fwhm{i}", value=fw, min=w.dx, max=w.wmax)
    p.add("eta_l", value=0.3 if fit_lorentz else 0.0, min=0.0, max=1.0, vary=fit_lorentz)
    # Fractions are derived after the fit (_fractions): as lmfit expressions they would be
    # re-evaluated by asteval at every residual call (15 % of the run time).
    return p


class _SpectrumModel:
    """The multi-site model of one spectrum: each site's component (cached), the residual, lmfit runs.

    ``n_orient`` is the powder of the model now: the screening of the starts uses a coarse one
    (the manifolds are most of the cost), everything after it the requested ``n_orientations``.
    """

    def __init__(self, x, yv, sigma, n, larmor_hz, mas_hz, n_orientations):
        self.x, self.yv, self.sigma, self.n = x, yv, sigma, n
        self.larmor_hz, self.mas_hz = larmor_hz, mas_hz
        self.step = mas_hz / larmor_hz * 1e6
        self.n_orientations = self.n_orient = n_orientations
        self.cache: dict = {}

    def site(self, i, pp):
        # A finite-difference step in one parameter changes one site only: the other sites'
        # components (and their powder manifolds, the costly part) come from the cache.
        key = (i,) + tuple(pp[f"{k}{i}"].value for k in _SITE_KEYS) + (pp["eta_l"].value, self.n_orient)
        v = self.cache.get(key)
        if v is None:
            if len(self.cache) > 4096:
                self.cache.clear()
            v = self.cache[key] = site_spectrum(self.x, *key[1:-1], self.larmor_hz, self.mas_hz, self.n_orient)
        return v

    def comps(self, pp):
        return np.array([self.site(i, pp) for i in range(self.n)])

    def resid(self, pp):
        r = self.comps(pp).sum(axis=0) - self.yv
        return r / self.sigma if self.sigma else r

    def run(self, p, polish=True, max_nfev=None):
        import lmfit

        nv = sum(1 for q in p.values() if q.vary and q.expr is None)
        r = lmfit.minimize(self.resid, p, method="least_squares", max_nfev=max_nfev or 30 * (nv + 1))
        return lmfit.minimize(self.resid, r.params, method="leastsq") if polish else r

    def refit_sites(self, p, group, max_nfev=None):
        """Re-optimise only the sites in ``group`` (and eta_l), the others held at ``p``.

        A site whose lines do not overlap those of the group has (near) zero cross-derivatives
        with the group's parameters: re-fitting it would not change chi^2, only cost time.
        """
        q = p.copy()
        frozen = [f"{key}{j}" for j in range(self.n) if j not in group for key in _SITE_KEYS if q[f"{key}{j}"].vary]
        for nm in frozen:
            q[nm].set(vary=False)
        r = self.run(q, polish=False, max_nfev=max_nfev)
        for nm in frozen:
            r.params[nm].set(vary=True)
        return r

    def coupled_groups(self, pp):
        """Per site, the sites whose significant lines lie within 4 (fwhm_i + fwhm_j) of its own."""
        n, x = self.n, self.x
        if pp["eta_l"].value > 0:
            return [set(range(n))] * n  # Lorentzian tails reach every line
        lines = []
        for i in range(n):
            iso, fw = pp[f"iso{i}"].value, pp[f"fwhm{i}"].value
            kmax = int(min(max(abs(x.max() - iso), abs(x.min() - iso)) / self.step + 1, 64))
            orders, inten = manifold(float(pp[f"span{i}"].value), float(pp[f"skew{i}"].value), float(self.larmor_hz),
                                     float(self.mas_hz), kmax, int(self.n_orientations))
            pos = iso + orders[inten > 1e-3 * inten.max()] * self.step
            lines.append((pos[(pos >= x.min() - 4 * fw) & (pos <= x.max() + 4 * fw)], fw))
        groups = []
        for i, (pi, fi) in enumerate(lines):
            g = {i}
            for j, (pj, fj) in enumerate(lines):
                if j != i and pi.size and pj.size and np.min(np.abs(pi[:, None] - pj[None, :])) < 4 * (fi + fj):
                    g.add(j)
            groups.append(g)
        return groups


def _multistart(m, w, starts, sites, fit_lorentz, center_bounds_ppm, n_starts):
    """The best fit of the multi-start, in two stages.

    Every start (span factor x skew sign) gets a short screening run on a coarse powder
    (:data:`SCREEN_ORIENTATIONS`); the two best are carried to convergence. (Running every start to
    convergence cost 3x more and never changed the winner on the bundled and real spectra; see
    benchmarks/bench_csa_speed.py.)
    """
    factors = list(START_SPAN_FACTORS[:max(1, n_starts)])
    n_free = 5 * len(starts) + int(fit_lorentz)
    m.n_orient = min(m.n_orientations, SCREEN_ORIENTATIONS)
    screened = sorted((m.run(_make_params(w, starts, sites, fct, sg, fit_lorentz, center_bounds_ppm), polish=False,
                             max_nfev=8 * (n_free + 1))
                       for fct in factors for sg in (1.0, -1.0)), key=lambda r: r.chisqr)
    m.n_orient = m.n_orientations
    return min((m.run(r.params) for r in screened[:2]), key=lambda r: r.chisqr)


def _settle(m, res, s, degeneracy_dchi2, notes, warns):
    """Summarise the fit; where a skew of the other sign fitted better than every start, continue
    from there (bounds released) and summarise again. Returns (res, components, rows, groups)."""
    c, out, better, groups = _summarise(m, res, s, degeneracy_dchi2, notes)
    if better is not None:
        p = better.params.copy()
        for i in range(m.n):
            p[f"skew{i}"].set(min=-1.0, max=1.0)
        res = m.run(p)
        notes[:] = [t for t in notes if "degenerate" not in t]
        c, out, better, groups = _summarise(m, res, s, degeneracy_dchi2, notes)
        if better is not None:
            warns.append("the fit has several minima of different skew sign; the best one found is reported")
    return res, c, out, groups


def _summarise(m, res, s, degeneracy_dchi2, notes):
    """Rows of every site, and the opposite-sign refit that beat ``res`` (or None)."""
    c = m.comps(res.params)
    groups = m.coupled_groups(res.params)
    fractions = _fractions(res, m.n, s.err)
    out = [_site_row(m, res, i, c[i], fractions, s) for i in range(m.n)]
    better = None
    for i, row in enumerate(out):
        if row["n_sidebands"] < 2:
            continue  # refused later: no sidebands, no skew sign to test
        alt = _opposite_sign(m, res, i, row, groups[i], s.chi, degeneracy_dchi2, notes)
        if alt is not None and (better is None or alt.chisqr < better.chisqr):
            better = alt
    return c, out, better, groups


def _site_row(m, res, i, comp, fractions, s):
    """The table row of site ``i``: values, covariance errors, fraction, Haeberlen, sideband evidence."""
    x, yv = m.x, m.yv
    row = {}
    for key, name in (("iso", "delta_iso"), ("span", "span"), ("skew", "skew"), ("amp", "amplitude"), ("fwhm", "fwhm")):
        par = res.params[f"{key}{i}"]
        row[name] = float(par.value)
        row[name + "_err"] = float(par.stderr * s.err) if par.stderr is not None else float("nan")
    row["fraction"], row["fraction_err"] = fractions[0][i], fractions[1][i]
    row["error_method"] = "covariance"
    _, row["zeta"], row["eta"] = csa.maryland_to_haeberlen(0.0, row["span"], row["skew"])
    # Sideband orders of this site standing above 3 sigma (the evidence for its CSA).
    man = sideband_intensities(row["span"], row["skew"], m.larmor_hz, m.mas_hz, n_sidebands=16,
                               n_orientations=m.n_orientations)
    peak = row["amplitude"] * pseudo_voigt(np.array([0.0]), 0.0, row["fwhm"], float(res.params["eta_l"].value))[0]
    pos = row["delta_iso"] + man.orders * m.step
    inwin = (pos >= x.min()) & (pos <= x.max()) & (man.orders != 0)
    row["n_sidebands"] = int(np.sum(man.intensities[inwin] * peak > 3.0 * s.noise))
    row["missing_sidebands"] = _missing_sidebands(x, yv, comp, pos[inwin & (man.intensities * peak > 3.0 * s.noise)],
                                                  row["fwhm"], s.noise)
    row["status"] = "ok"
    row["alternative"] = None
    return row


def _opposite_sign(m, res, i, row, group, chi_scale, degeneracy_dchi2, notes):
    """Refit site ``i`` with the skew of the other sign: a degeneracy (status, note) when it fits
    within ``degeneracy_dchi2``; returns the refit when it is better than ``res``, else None."""
    sign = 1.0 if row["skew"] >= 0 else -1.0
    p = res.params.copy()
    p[f"skew{i}"].set(value=-0.5 * sign, min=-1.0 if sign > 0 else 0.0, max=0.0 if sign > 0 else 1.0)
    alt = m.refit_sites(p, group)
    dchi2 = (alt.chisqr - res.chisqr) / chi_scale
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
    return alt if dchi2 < 0 else None


def _flag_sites(out, notes, warns):
    """Status 'misfit' (sidebands the data do not show) and 'undetermined' (fewer than 2 sideband
    orders above 3 sigma: span and skew not reported), each with a warning."""
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
