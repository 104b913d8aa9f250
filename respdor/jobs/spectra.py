"""The spectra jobs, one Python call each: what ``respdor csa-fit``, ``deconvolve``, ``integrate``,
``pass-process`` and ``pass-timings`` do.

Each call checks its values (a line width, a range, a repeated site, a rate no rotor reaches),
reconciles the observe frequency from every source given (the data set's SFO1, ``larmor_hz``,
``field_t`` with ``observed_nucleus``) and the MAS rate with the sideband spacing and acqus MASR, checks
that a noise region is free of signal, fits, and returns a result object whose ``warnings`` hold
every warning it raised (:class:`respdor.errors.DataWarning` for the data,
:class:`respdor.errors.FitWarning` for the fit). Nothing is written unless a path is passed to
the result's ``to_json`` / ``to_csv``; errors name the Python parameters (``mas_rate_hz``,
``noise_region_ppm``), which the command line shows as its options.

Units: shifts, widths and ranges in ppm; frequencies in Hz; times in s; fields in T.

Examples
--------
>>> import respdor
>>> r = respdor.csa_fit("data/pass_113Cd_synthetic/mas1d_8kHz.txt", spectrum=True,
...                     mas_rate_hz=8000, larmor_hz=88.8016e6, sites_ppm=[-50, -320, -440, -630],
...                     span_ppm=[100, 400, 400, 200], fwhm_ppm=30, noise_region_ppm=(100, 200))
... # doctest: +SKIP
>>> r.to_dataframe()[["delta_iso", "span", "skew"]]  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from ..errors import DataWarning, FitWarning, UserError, warn
from .spectra_results import (CsaFitResult, DeconvolveResult, IntegrateResult, ManifoldCsaResult, PassResult,
                              PassTimingsResult, SpectrumCsaResult)

__all__ = ["csa_fit", "deconvolve", "integrate", "process_pass", "pass_timings", "check_values",
           "CsaFitResult", "ManifoldCsaResult", "SpectrumCsaResult", "DeconvolveResult", "IntegrateResult",
           "PassResult", "PassTimingsResult", "MAX_PASS_PITCH"]

#: Pitch increments a PASS timing table is solved for at most (experiments use 8-64).
MAX_PASS_PITCH = 1024


# --- checks shared by the jobs -----------------------------------------------------------------

def check_values(fwhm_ppm=None, region_ppm=None, noise_region_ppm=None, fit_region_ppm=None, sites_ppm=None,
                 periods_per_count=None, zero_fill=None, lp_first=None):
    """Refuse values no experiment can have, before any work.

    A line width <= 0, an empty range (both ends equal), a site given twice (two lines started
    on one place fit one line twice), rotor periods per count <= 0, a zero-fill factor below 1
    and a negative number of predicted points.

    Raises
    ------
    UserError
        Naming the parameter and the value.
    """
    if fwhm_ppm is not None and not np.all(np.asarray(fwhm_ppm, float) > 0):
        raise UserError(f"fwhm_ppm {_g(fwhm_ppm)}: a line width must be > 0 ppm")
    for name, rng in (("region_ppm", region_ppm), ("noise_region_ppm", noise_region_ppm),
                      ("fit_region_ppm", fit_region_ppm)):
        if rng is not None:
            if len(rng) != 2:
                raise UserError(f"{name}: give two ppm values (lo, hi), got {len(rng)}")
            if rng[0] == rng[1]:
                raise UserError(f"{name} {rng[0]:g} {rng[1]:g}: an empty range; give two different ppm values")
    sites = [float(s) for s in (sites_ppm or [])]
    repeated = sorted({s for s in sites if sites.count(s) > 1})
    if repeated:
        raise UserError(f"sites_ppm: {', '.join(f'{s:g}' for s in repeated)} ppm given twice; give each site once")
    if periods_per_count is not None and not periods_per_count > 0:
        raise UserError(f"periods_per_count {periods_per_count:g}: must be > 0 (rotor periods of recoupling per "
                        "vclist count)")
    if zero_fill is not None and zero_fill < 1:
        raise UserError(f"zero_fill must be >= 1, got {zero_fill}")
    if lp_first is not None and lp_first < 0:
        raise UserError(f"lp_first must be >= 0, got {lp_first}")


def _g(value):
    return " ".join(f"{v:g}" for v in np.atleast_1d(np.asarray(value, float)))


def _check_rate(mas_rate_hz, required=False):
    """A spinning rate in Hz: > 0 and one a rotor reaches (a kHz/Hz slip is refused)."""
    if mas_rate_hz is None:
        if required:
            raise UserError("mas_rate_hz is required for a sideband manifold (the manifold carries no rate)")
        return None
    from spinsim.plausibility import check

    rate = float(mas_rate_hz)
    if not rate > 0:
        raise UserError(f"mas_rate_hz must be > 0, got {mas_rate_hz!r}")
    try:
        check("mas_rate", rate, "mas_rate_hz")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return rate


def _warn_all(texts, category, into):
    for text in texts:
        warn(text, category, into=into, stacklevel=3)


def _observe_frequency(data_hz=None, larmor_hz=None, field_t=None, nucleus=None, data_nucleus=None,
                       inferred=False, into=None):
    """The observe frequency (Hz) and where it came from (see :func:`respdor.spectra.inputs.resolve_larmor`)."""
    from ..spectra.inputs import resolve_larmor

    hz, source, found = resolve_larmor(data_hz, larmor_hz, field_t, nucleus, data_nucleus, inferred)
    _warn_all(found, DataWarning, into)
    return hz, source


def _mas_check(freq_hz, y, given_hz, recorded_hz, what, into):
    """The MAS rate checked against MASR and the sideband spacing (:func:`respdor.spectra.mas.check_mas_rate`)."""
    from ..spectra.mas import check_mas_rate

    c = check_mas_rate(freq_hz, y, given_hz=given_hz, recorded_hz=recorded_hz, what=what)
    _warn_all(c.warnings, DataWarning, into)
    return c


def _noise_check(ppm, y, region, sites, where, into):
    """A noise region on signal is refused; a little signal is a warning."""
    from ..spectra.inputs import check_noise_region

    if region is not None:
        _warn_all(check_noise_region(ppm, y, region, sites=sites or (), where=where), DataWarning, into)


def _load(source, lb_hz, phase, baseline_order, dc, zero_fill, lp_first):
    from ..spectra.inputs import Spectrum1D, load_spectrum

    if isinstance(source, Spectrum1D):
        return source
    if isinstance(source, tuple):  # (ppm, intensity) arrays, as a notebook holds them
        return _arrays(source, baseline_order)
    return load_spectrum(source, lb_hz=lb_hz, phase=phase, baseline_order=baseline_order, dc=dc,
                         zero_fill=zero_fill, lp_first=lp_first)


def _arrays(source, baseline_order):
    """A Spectrum1D from (ppm, intensity) arrays: evenly spaced, finite, sorted ascending."""
    from ..spectra.inputs import Spectrum1D

    if len(source) != 2:
        raise UserError(f"a spectrum as arrays is (ppm, intensity), got {len(source)} arrays")
    x, y = (np.asarray(v, float).ravel() for v in source)
    if x.size != y.size or x.size < 8:
        raise UserError(f"ppm and intensity must have the same length (>= 8 points), got {x.size} and {y.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise UserError("the spectrum arrays hold non-finite values")
    order = np.argsort(x)
    x, y = x[order], y[order]
    dx = np.diff(x)
    if np.any(dx == 0) or np.max(dx) / np.min(dx) > 1.01:
        raise UserError("the ppm array must be evenly spaced without repeated values")
    notes = ["spectrum given as arrays (ppm, intensity)"]
    if baseline_order is not None:
        from ..spectra.processing import baseline_correct

        y, _, m = baseline_correct(y, baseline_order)
        notes.append(f"baseline: order-{baseline_order} polynomial through {int(m.sum())} signal-free points subtracted")
    return Spectrum1D(x, y, None, None, None, None, None, notes)


def _name(source) -> str:
    """How a spectrum is named in messages: its path, or 'the spectrum' for one given as data."""
    from ..spectra.inputs import Spectrum1D

    return "the spectrum given" if isinstance(source, (Spectrum1D, tuple)) else str(source)


# --- csa-fit -----------------------------------------------------------------------------------

def csa_fit(source, *, spectrum: bool = False, mas_rate_hz: float | None = None, larmor_hz: float | None = None,
            observed_nucleus: str | None = None, field_t: float | None = None, sites_ppm=None, span_ppm=None,
            fwhm_ppm: float | None = None, noise_region_ppm=None, n_starts: int = 3, lb_hz: float = 0.0,
            phase="stored", baseline_order: int | None = None, dc: bool = True, zero_fill: int = 2,
            lp_first: int | None = None, progress=None) -> CsaFitResult:
    """Fit the chemical shift anisotropy (span, skew) to a sideband manifold or a 1D MAS spectrum.

    What ``respdor csa-fit`` does. A manifold (``spectrum=False``): a CSV file with columns
    ``order,intensity[,sigma]``, fitted with one tensor (both skew signs tried, the span/skew
    degeneracy flagged). A spectrum (``spectrum=True``): a text file (ppm, intensity), a Bruker
    experiment directory or a :class:`respdor.spectra.inputs.Spectrum1D`, fitted with one CSA
    site per ``sites_ppm`` value, every sideband included.

    Parameters
    ----------
    source : str, Path, Spectrum1D or (ppm, intensity)
        The manifold CSV, or the spectrum (a file, a Bruker directory, or arrays: ppm evenly spaced).
    spectrum : bool
        ``source`` is a 1D MAS spectrum, not a manifold.
    mas_rate_hz : float, optional
        Spinning rate (Hz). Required for a manifold. For a spectrum: used, and checked against the
        sideband spacing and acqus MASR (a disagreement above 1 % is a warning); without it the
        rate is measured from the sidebands (refused when they do not show it).
    larmor_hz, observed_nucleus, field_t : optional
        The observe frequency (Hz), the observed isotope (``"113Cd"``) and B0 (T): needed when the
        data do not carry the frequency (text files, manifolds); for Bruker data SFO1 is used and
        a value that disagrees is a warning, one that contradicts it (> 2 %) is refused.
    sites_ppm : sequence of float
        Isotropic shifts of the sites (spectrum only; required there).
    span_ppm : sequence of float, optional
        Starting spans (ppm), one per site (a manifold: the first one).
    fwhm_ppm : float, optional
        Starting line width (ppm; default: measured at each site).
    noise_region_ppm : (float, float), optional
        Signal-free ppm range (spectrum): the noise of the errors; refused when it holds signal.
    n_starts : int
        Starting spans per site and skew sign, 1-5.
    lb_hz, phase, baseline_order, dc, zero_fill, lp_first
        Processing of a Bruker FID (see :func:`respdor.spectra.inputs.load_spectrum`);
        ``baseline_order`` also acts on a text spectrum.
    progress : optional
        See :mod:`spinsim.progress` (one step per stage).

    Returns
    -------
    ManifoldCsaResult or SpectrumCsaResult

    Raises
    ------
    UserError
        A value no experiment has, contradicting observe frequencies, no rate the data show, a
        noise region on signal, a file that cannot be read.

    Examples
    --------
    >>> r = respdor.csa_fit("manifold.csv", mas_rate_hz=8000, larmor_hz=88.8e6)  # doctest: +SKIP
    >>> r.fit.span, r.fit.skew  # doctest: +SKIP
    """
    check_values(fwhm_ppm=fwhm_ppm, noise_region_ppm=noise_region_ppm, sites_ppm=sites_ppm, zero_fill=zero_fill,
                 lp_first=lp_first)
    if not spectrum:
        return _csa_manifold(source, mas_rate_hz, larmor_hz, observed_nucleus, field_t, span_ppm, progress)
    return _csa_spectrum(source, mas_rate_hz, larmor_hz, observed_nucleus, field_t, sites_ppm, span_ppm, fwhm_ppm,
                         noise_region_ppm, n_starts, (lb_hz, phase, baseline_order, dc, zero_fill, lp_first), progress)


def _csa_manifold(source, mas_rate_hz, larmor_hz, nucleus, field_t, span_ppm, progress):
    from spinsim.progress import tracking

    from ..spectra.csa_fit import fit_manifold
    from ..spectra.textio import read_manifold_csv

    mas = _check_rate(mas_rate_hz, required=True)
    k, y, s = read_manifold_csv(source)
    warnings: list = []
    larmor, larmor_source = _observe_frequency(None, larmor_hz, field_t, nucleus, into=warnings)
    notes = [] if s is not None else ["no sigma column: uncertainties from the fit residual"]
    with tracking(progress, 1, "csa-fit (manifold)", "fit") as p:
        fit = fit_manifold(k, y, larmor, mas, sigma=s, span0=span_ppm[0] if span_ppm else None)
        p.advance()
    return ManifoldCsaResult(input=str(source), mas_rate_hz=mas, larmor_hz=larmor, larmor_source=larmor_source,
                             fit=fit, orders=k, intensities=y, sigma=s, notes=notes, warnings=warnings)


def _csa_spectrum(source, mas_rate_hz, larmor_hz, nucleus, field_t, sites_ppm, span_ppm, fwhm_ppm,
                  noise_region_ppm, n_starts, processing, progress):
    from spinsim.progress import tracking

    from ..spectra.csa_fit import START_SPAN_FACTORS, fit_mas_spectrum

    if not sites_ppm:
        raise UserError("a spectrum needs sites_ppm (isotropic shifts in ppm)")
    if not 1 <= n_starts <= len(START_SPAN_FACTORS):  # more would silently be the same run
        raise UserError(f"n_starts must lie in 1..{len(START_SPAN_FACTORS)} (starting spans "
                        f"{', '.join(f'{f:g}' for f in START_SPAN_FACTORS)} x the moment estimate), got {n_starts}")
    given = _check_rate(mas_rate_hz)
    sp = _load(source, *processing)
    warnings: list = []
    larmor, larmor_source = _observe_frequency(sp.larmor_hz, larmor_hz, field_t, nucleus, sp.nucleus,
                                               sp.nucleus_inferred, warnings)
    mc = _mas_check(sp.freq_axis(larmor), sp.y, given, sp.mas_recorded_hz, f"spectrum {_name(source)}", warnings)
    _noise_check(sp.ppm, sp.y, noise_region_ppm, sites_ppm, f"spectrum {_name(source)}", warnings)
    spans = list(span_ppm) if span_ppm else [None] * len(sites_ppm)
    if len(spans) != len(sites_ppm):
        raise UserError(f"span_ppm has {len(spans)} values for {len(sites_ppm)} sites")
    sites = [dict(delta_iso=float(c), **({"fwhm": float(fwhm_ppm)} if fwhm_ppm is not None else {}),
                  **({"span": float(s)} if s is not None else {})) for c, s in zip(sites_ppm, spans)]
    n_checks = len(warnings)
    with tracking(progress, 1, "csa-fit (spectrum)", "fit") as p:
        fit = fit_mas_spectrum(sp.ppm, sp.y, sites, larmor, mc.rate_hz,
                               noise_region=tuple(noise_region_ppm) if noise_region_ppm is not None else None,
                               n_starts=n_starts)
        p.advance()
    _warn_all(fit.warnings, FitWarning, warnings)
    return SpectrumCsaResult(input=_name(source), mas_rate_hz=mc.rate_hz, larmor_hz=larmor, larmor_source=larmor_source,
                             fit=fit, mas_check=mc, nucleus=sp.nucleus or nucleus, input_notes=list(sp.notes),
                             warnings=warnings, n_check_warnings=n_checks)


# --- deconvolve --------------------------------------------------------------------------------

def deconvolve(source, sites_ppm, *, shape: str = "gaussian", fwhm_ppm: float | None = None, noise_region_ppm=None,
               fit_region_ppm=None, baseline: str = "none", compare_path=None, reference_ppm: float = -50.0,
               observed_nucleus: str | None = None, lb_hz: float = 0.0, phase="stored",
               baseline_order: int | None = None, dc: bool = True, zero_fill: int = 2, lp_first: int | None = None,
               allow_long: bool = False,
               progress=None) -> DeconvolveResult:
    """Deconvolve a 1D (isotropic) spectrum into one line per site; optionally compare a second sample.

    What ``respdor deconvolve`` does: centres, widths, areas and relative populations with
    errors (Gaussian, Lorentzian or pseudo-Voigt lines, see
    :func:`respdor.spectra.deconvolution.deconvolve`). With ``compare_path`` the second sample
    is fitted with the same sites and each site's area is normalised to the site at
    ``reference_ppm`` in both.

    Parameters
    ----------
    source : str, Path, Spectrum1D or (ppm, intensity)
        Text file (ppm, intensity), Bruker experiment directory, or the arrays themselves.
    sites_ppm : sequence of float
        Starting centres (ppm), one per site.
    shape : {'gaussian', 'lorentzian', 'voigt'}
    fwhm_ppm : float, optional
        Starting width (ppm; default: measured at each site).
    noise_region_ppm, fit_region_ppm : (float, float), optional
        Signal-free range (the errors' noise; refused on signal) and the fitted range (ppm).
    baseline : {'none', 'constant', 'linear'}
    compare_path : str or Path, optional
        Second sample (same format).
    reference_ppm : float
        Reference site of the comparison (ppm).
    observed_nucleus : str, optional
        Observed isotope (text spectra: the axis label; Bruker data: checked against NUC1).
    lb_hz, phase, baseline_order, dc, zero_fill, lp_first
        Processing of a Bruker FID (see :func:`respdor.spectra.inputs.load_spectrum`).
    allow_long : bool
        Run a fit whose estimated work is beyond the stated limit.
    progress : optional
        See :mod:`spinsim.progress` (one step per sample).

    Returns
    -------
    DeconvolveResult

    Examples
    --------
    >>> r = respdor.deconvolve("data/pass_113Cd_synthetic/isotropic_1cycle.txt", [-50, -320, -440, -630],
    ...                        noise_region_ppm=(100, 200))  # doctest: +SKIP
    >>> r.to_dataframe()["fraction"]  # doctest: +SKIP
    """
    from spinsim.progress import tracking

    check_values(fwhm_ppm=fwhm_ppm, noise_region_ppm=noise_region_ppm, fit_region_ppm=fit_region_ppm,
                 sites_ppm=sites_ppm, zero_fill=zero_fill, lp_first=lp_first)
    processing = (lb_hz, phase, baseline_order, dc, zero_fill, lp_first)
    warnings: list = []
    samples = [source] + ([compare_path] if compare_path is not None else [])
    fits, nuclei, notes = [], [], []
    with tracking(progress, len(samples), "deconvolve", "sample") as p:
        for path in samples:
            fit, nuc, sample_notes = _deconvolve_one(path, sites_ppm, shape, fwhm_ppm, noise_region_ppm,
                                                     fit_region_ppm, baseline, observed_nucleus, processing, allow_long,
                                                     warnings)
            fits.append(fit)
            nuclei.append(nuc)
            notes.append(sample_notes)
            p.advance()
    comparison = None
    if compare_path is not None:
        from ..spectra.deconvolution import compare_samples

        comparison = compare_samples(fits[0], fits[1], reference_ppm=reference_ppm)
    return DeconvolveResult(input=_name(source), fit=fits[0], nucleus=nuclei[0] or observed_nucleus, shape=shape,
                            input_notes=notes, compare=None if compare_path is None else _name(compare_path),
                            compare_fit=fits[1] if compare_path is not None else None, comparison=comparison,
                            reference_ppm=float(reference_ppm), warnings=warnings)


def _deconvolve_one(path, sites_ppm, shape, fwhm_ppm, noise_region_ppm, fit_region_ppm, baseline, nucleus,
                    processing, allow_long, warnings):
    from ..spectra.deconvolution import deconvolve as fit_lines
    from ..spectra.inputs import check_nucleus

    sp = _load(path, *processing)
    _warn_all(check_nucleus(nucleus, sp.nucleus, sp.nucleus_inferred), DataWarning, warnings)
    _noise_check(sp.ppm, sp.y, noise_region_ppm, sites_ppm, f"spectrum {_name(path)}", warnings)
    try:
        fit = fit_lines(sp.ppm, sp.y, list(sites_ppm), fwhm=fwhm_ppm, shape=shape,
                        noise_region=tuple(noise_region_ppm) if noise_region_ppm is not None else None,
                        fit_region=tuple(fit_region_ppm) if fit_region_ppm is not None else None, baseline=baseline,
                        allow_long=allow_long)
    except ZeroDivisionError:  # the populations a_i / sum(a) with every fitted area zero
        raise UserError(f"{_name(path)}: every fitted area is zero: no signal at sites_ppm "
                        f"{' '.join(f'{c:g}' for c in sites_ppm)} ppm") from None
    _warn_all(fit.warnings, FitWarning, warnings)
    return fit, sp.nucleus, list(sp.notes)


# --- pass-process ------------------------------------------------------------------------------

def process_pass(path, noise_region_ppm, *, sites_ppm=None, fit_region_ppm=None, mas_rate_hz: float | None = None,
                 fwhm_ppm: float | None = None, shape: str = "gaussian", lb_hz: float = 0.0,
                 max_order: int | None = None, sign: int | None = None, progress=None) -> PassResult:
    """Process a 2D PASS data set: separate the sideband orders, deconvolve the isotropic spectrum
    into sites and fit each site's sideband manifold with a CSA.

    What ``respdor pass-process`` does (pitch FT, shear, t2 FT, isotropic spectrum = sum of the
    orders; see :func:`respdor.spectra.pass_processing.analyse_pass`). The MAS rate is checked
    on the pitch-0 row, an ordinary MAS spectrum with all its sidebands.

    Parameters
    ----------
    path : str or Path
        Bruker experiment directory (ser, acqus, acqu2s).
    noise_region_ppm : (float, float)
        Signal-free ppm range (refused when it holds signal or a given site).
    sites_ppm : sequence of float, optional
        Starting isotropic shifts (default: peak picking on the isotropic spectrum).
    fit_region_ppm : (float, float), optional
        ppm range of the deconvolution.
    mas_rate_hz : float, optional
        Spinning rate (Hz; default: acqus MASR when the sidebands confirm it, else the sideband
        spacing).
    fwhm_ppm, shape, lb_hz
        Starting width (ppm), line shape and line broadening (Hz) of the isotropic deconvolution.
    max_order : int, optional
        Highest |k| used in the CSA fits.
    sign : {1, -1}, optional
        Order sign (default: detected from the data).
    progress : optional
        See :mod:`spinsim.progress`.

    Returns
    -------
    PassResult

    Examples
    --------
    >>> r = respdor.process_pass("data/pass_113Cd_synthetic/pass2d", (100, 200), sites_ppm=[-50, -320, -440, -630],
    ...                          fit_region_ppm=(-800, 100), mas_rate_hz=8000)  # doctest: +SKIP
    >>> r.to_dataframe()[["delta_iso", "population", "span", "skew"]]  # doctest: +SKIP
    """
    from spinsim.progress import tracking

    from ..spectra.bruker import check_pass_dataset, read_bruker
    from ..spectra.pass_processing import analyse_pass

    check_values(fwhm_ppm=fwhm_ppm, noise_region_ppm=noise_region_ppm, fit_region_ppm=fit_region_ppm,
                 sites_ppm=sites_ppm)
    given = _check_rate(mas_rate_hz)
    ds = read_bruker(path)
    check_pass_dataset(ds)
    warnings: list = []
    _noise_check([], [], noise_region_ppm, sites_ppm, "", warnings)  # a given site inside the region: before the work
    mc = _mas_check(*_pitch0_spectrum(ds, lb_hz), given, ds.mas_hz_recorded, "first PASS row (pitch 0)", warnings)
    ref_hz = ds.reference_mhz * 1e6
    carrier_ppm = (ds.sfo1_mhz - ds.reference_mhz) / ds.reference_mhz * 1e6
    picked = None
    sites = list(sites_ppm) if sites_ppm else None
    with tracking(progress, 1, "pass-process", "analysis") as p:
        if not sites:
            sites = picked = _pick_pass_sites(ds, mc.rate_hz, ref_hz, carrier_ppm, lb_hz, sign)
        a = analyse_pass(ds.data, ds.sw_hz, mc.rate_hz, ref_hz, carrier_ppm, sites, tuple(noise_region_ppm),
                         fwhm=fwhm_ppm, shape=shape, lb_hz=lb_hz,
                         fit_region=tuple(fit_region_ppm) if fit_region_ppm is not None else None,
                         max_order=max_order, sign=sign)
        p.advance()
    n_checks = len(warnings)
    # The noise is measured on the order spectra, whose lines sit at the isotropic shifts.
    _noise_check(a.spectra.ppm, a.spectra.isotropic, noise_region_ppm, sites, "the isotropic spectrum", warnings)
    # What the isotropic deconvolution found (a site refused, moved or merged) holds for every manifold.
    _warn_all([f"isotropic spectrum: {w}" for w in a.deconvolution.warnings], FitWarning, warnings)
    return PassResult(input=str(path), nucleus=ds.nucleus, mas_rate_hz=mc.rate_hz, mas_check=mc, analysis=a,
                      n_pitch=int(ds.data.shape[0]), picked_sites=picked, data_notes=list(ds.notes),
                      warnings=warnings, n_check_warnings=n_checks)


def _pitch0_spectrum(ds, lb_hz):
    """Frequency axis (Hz) and phased real spectrum of the pitch-0 row."""
    from ..spectra.processing import apply_phase, autophase, spectrum_1d

    f0, s0 = spectrum_1d(ds.data[0], ds.dwell_s, lb_hz=max(lb_hz, 0.0), zero_fill=2, phase0_deg=0.0)
    return f0, apply_phase(s0, *autophase(s0)).real


def _pick_pass_sites(ds, mas_hz, ref_hz, carrier_ppm, lb_hz, sign):
    """Isotropic shifts (ppm) of the peaks of the isotropic PASS spectrum."""
    from scipy.signal import find_peaks

    from ..spectra.pass_processing import process_pass as separate_orders

    sp = separate_orders(ds.data, ds.sw_hz, mas_hz, ref_hz, carrier_ppm, lb_hz, 1, sign)
    idx, _ = find_peaks(sp.isotropic, prominence=0.05 * sp.isotropic.max(), distance=5)
    return [float(v) for v in sp.ppm[idx]]


# --- pass-timings ------------------------------------------------------------------------------

def pass_timings(n_pitch: int = 16, *, mas_rate_hz: float | None = None, pulse_s: float | None = None,
                 progress=None) -> PassTimingsResult:
    """Five-pi-pulse PASS timings for ``n_pitch`` pitch increments (Antzutkin, Shekar & Levitt 1995).

    What ``respdor pass-timings`` does: solve the PASS timing equations for each pitch
    Theta_j = 2 pi j / N and give the pulse centres as fractions of the rotor period (and in s at
    ``mas_rate_hz``); with ``pulse_s`` check that pi pulses of that length fit between the closest
    centres.

    Parameters
    ----------
    n_pitch : int
        Pitch increments N, 1..:data:`MAX_PASS_PITCH`.
    mas_rate_hz : float, optional
        Spinning rate (Hz) for the times.
    pulse_s : float, optional
        pi-pulse length (s); needs ``mas_rate_hz``.
    progress : optional
        See :mod:`spinsim.progress`.

    Returns
    -------
    PassTimingsResult

    Raises
    ------
    UserError
        ``n_pitch`` outside 1..1024, a rate no rotor reaches, a pulse without a rate or one that
        does not fit.

    Examples
    --------
    >>> t = respdor.pass_timings(16, mas_rate_hz=8000)  # doctest: +SKIP
    >>> t.to_dataframe()["t1_us"]  # doctest: +SKIP
    """
    from spinsim.pass_timing import pass_timings as solve
    from spinsim.progress import tracking

    if not 1 <= int(n_pitch) <= MAX_PASS_PITCH:  # PASS uses 8-64 increments; 1e8 would run for hours
        raise UserError(f"n_pitch must lie in 1..{MAX_PASS_PITCH}, got {n_pitch}")
    mas = _check_rate(mas_rate_hz)
    if pulse_s is not None and mas is None:
        raise UserError("pulse_s needs mas_rate_hz")
    if pulse_s is not None and not pulse_s > 0:
        raise UserError(f"pulse_s must be > 0 s, got {pulse_s!r}")
    with tracking(progress, 1, "pass-timings", "table") as p:
        t = solve(int(n_pitch))
        p.advance()
    if pulse_s is not None:
        try:
            t.check_pulse_length(mas, pulse_s)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    return PassTimingsResult(timings=t, mas_rate_hz=mas, pulse_s=pulse_s, warnings=[])


# --- integrate ---------------------------------------------------------------------------------

def integrate(path, region_ppm, noise_region_ppm, mas_rate_hz: float, periods_per_count: float, *,
              vclist_path=None, row_order: str = "s0s1", lb_hz: float = 0.0, cpmg: str | None = None,
              echo_period_s: float | None = None, n_echoes: int | None = None, progress=None) -> IntegrateResult:
    """Integrate an interleaved S0/S1 pseudo-2D REDOR/RESPDOR series into a dephasing curve.

    What ``respdor integrate`` does (see :func:`respdor.spectra.series.integrate_series`): each
    row integrated over ``region_ppm``, its noise from ``noise_region_ppm``, the recoupling time
    t = vclist count x ``periods_per_count`` / ``mas_rate_hz``. acqus MASR is not trusted; when it
    disagrees with ``mas_rate_hz`` by more than 1 % that is a warning.

    Parameters
    ----------
    path : str or Path
        Bruker experiment directory (ser, acqus, acqu2s, vclist).
    region_ppm, noise_region_ppm : (float, float)
        Integration and signal-free ranges (ppm).
    mas_rate_hz : float
        Spinning rate (Hz).
    periods_per_count : float
        Rotor periods of recoupling per vclist count (from the pulse program; a whole number).
    vclist_path : str or Path, optional
        Default: ``vclist`` in the data set.
    row_order : {'s0s1', 's1s0'}
        Which of a pair of rows comes first.
    lb_hz : float
        Line broadening (Hz).
    cpmg : {None, 'sum', 'spikelet'}
        The rows are CPMG echo trains: sum the echoes before the FT, or make spikelet spectra.
    echo_period_s, n_echoes : optional
        CPMG echo period (s) and echo count (default: from the pulse program; need ``cpmg``).
    progress : optional
        See :mod:`spinsim.progress`.

    Returns
    -------
    IntegrateResult
        ``curve`` is the :class:`respdor.curve.DephasingCurve` (``respdor.fit`` takes it);
        ``to_csv(path)`` writes the curve file ``respdor fit`` reads.

    Examples
    --------
    >>> r = respdor.integrate("data/cpmg_111Cd_synthetic/respdor", (-80, -10), (100, 200), 10000, 2,
    ...                       cpmg="sum")  # doctest: +SKIP
    >>> r.curve.dss0  # doctest: +SKIP
    """
    from spinsim.progress import tracking

    from ..spectra.bruker import read_bruker
    from ..spectra.series import integrate_series, series_nuclei

    check_values(region_ppm=region_ppm, noise_region_ppm=noise_region_ppm, periods_per_count=periods_per_count)
    mas = _check_rate(mas_rate_hz)
    if mas is None:
        raise UserError("mas_rate_hz is required (acqus MASR is not trusted)")
    if (echo_period_s is not None or n_echoes is not None) and not cpmg:
        raise UserError(f"{'echo_period_s' if echo_period_s is not None else 'n_echoes'} needs cpmg=sum or "
                        "cpmg=spikelet")
    warnings: list = []
    found: list = []
    with tracking(progress, 1, "integrate", "series") as p:
        curve, notes = integrate_series(path, tuple(region_ppm), tuple(noise_region_ppm), mas,
                                        periods_per_count=periods_per_count, vclist_path=vclist_path,
                                        order=row_order, lb_hz=lb_hz, cpmg=cpmg, echo_period_s=echo_period_s,
                                        n_echoes=n_echoes, warnings=found)
        p.advance()
    ds = read_bruker(path)
    rec = ds.mas_hz_recorded
    if rec and abs(rec - mas) > 0.01 * mas:
        warn(f"mas_rate_hz {mas:g} Hz disagrees with acqus MASR = {rec:g} Hz ({path}); the recoupling times use "
             "mas_rate_hz (a pseudo-2D series has no sidebands to arbitrate: check the spinning rate)", DataWarning,
             into=warnings)
    _warn_all(found, DataWarning, warnings)
    observe, partner = series_nuclei(ds)
    return IntegrateResult(input=str(path), curve=curve, observe=observe, partner=partner, mas_rate_hz=mas,
                           notes=list(notes), warnings=warnings)
