"""A 1D spectrum for the fitting commands, from a text file or a processed Bruker FID.

Everything the data carry is used and reported: the observe frequency (SFO1) and the reference
(procs SF or BF1), the nucleus, the stored phase, the recorded MAS rate; the processing applied
(DC offset, apodisation, phase and its source, baseline) is listed in ``notes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataFileError, UserError

__all__ = ["Spectrum1D", "load_spectrum", "resolve_larmor", "check_nucleus", "check_noise_region", "REFUSE_FRACTION",
           "WARN_FRACTION", "NOISE_SPREAD_REFUSE"]


@dataclass
class Spectrum1D:
    """A real 1D spectrum on an ascending ppm axis.

    Attributes
    ----------
    ppm, y : ndarray
        Axis (ppm, ascending) and real spectrum.
    freq_hz : ndarray or None
        Offsets from the carrier in Hz (Bruker data only).
    larmor_hz : float or None
        Observe frequency SFO1 in Hz (Bruker data only).
    nucleus : str or None
        From the data (NUC1 or inferred from BF1).
    mas_recorded_hz : float or None
        acqus MASR (not trusted; see :mod:`respdor.spectra.mas`).
    processing : Processed1D or None
    notes : list of str
    nucleus_inferred : bool
        ``nucleus`` was inferred from BF1 (NUC1 empty), not read.
    """

    ppm: np.ndarray
    y: np.ndarray
    freq_hz: np.ndarray | None
    larmor_hz: float | None
    nucleus: str | None
    mas_recorded_hz: float | None
    processing: object = None
    notes: list = field(default_factory=list)
    nucleus_inferred: bool = False

    def freq_axis(self, larmor_hz: float) -> np.ndarray:
        """Frequency axis in Hz (from the data, or ppm x larmor for text spectra)."""
        if self.freq_hz is not None:
            return self.freq_hz
        return self.ppm * larmor_hz * 1e-6


def load_spectrum(path, lb_hz: float = 0.0, phase="stored", baseline_order=None, dc: bool = True,
                  zero_fill: int = 2, lp_first: int | None = None) -> Spectrum1D:
    """Read a text spectrum (ppm, intensity) or process a Bruker 1D FID.

    Parameters
    ----------
    path : str or Path
        Text file or Bruker experiment directory.
    lb_hz : float
        Exponential line broadening in Hz (Bruker data).
    phase : 'stored', 'auto' or (PHC0, PHC1)
        See :func:`respdor.spectra.processing.process_fid`.
    baseline_order : int or None
        Polynomial baseline correction order (None: none).
    dc : bool
        Remove the receiver DC offset.
    zero_fill : int
        Zero-fill factor.
    lp_first : int or None
        Leading FID points replaced by backward linear prediction (None: automatic, 0: none;
        see :func:`respdor.spectra.processing.process_fid`).

    Returns
    -------
    Spectrum1D
    """
    p = Path(path)
    if p.is_dir():
        from .bruker import read_bruker
        from .processing import process_fid

        ds = read_bruker(p)
        if ds.data.ndim != 1:
            raise UserError(f"{p}: a 2D data set (ser, {ds.data.shape[0]} rows); this command needs a 1D fid "
                            "(use pass-process or integrate for 2D data)")
        pr = process_fid(ds, lb_hz=lb_hz, zero_fill=zero_fill, phase=phase, dc=dc, baseline_order=baseline_order,
                         lp_first=lp_first)
        _check_not_constant(p, pr.real, "processed spectrum", " (a fid of zeros, or a lb_hz that flattened every line?)")
        return Spectrum1D(pr.ppm, pr.real, pr.freq_hz, ds.larmor_hz, ds.nucleus, ds.mas_hz_recorded, pr,
                          list(ds.notes) + pr.notes, ds.nucleus_inferred)
    from .textio import read_spectrum_text

    x, y = read_spectrum_text(p)
    _check_not_constant(p, y, "intensity column")
    notes = [f"{p}: read as columns ppm, intensity"]
    if baseline_order is not None:
        from .processing import baseline_correct

        y, _, m = baseline_correct(y, baseline_order)
        notes.append(f"baseline: order-{baseline_order} polynomial through {int(m.sum())} signal-free points subtracted")
    return Spectrum1D(np.asarray(x, float), np.asarray(y, float), None, None, None, None, None, notes)


def _check_not_constant(path, y, what, hint=""):
    """Refuse a spectrum without any variation: every fit to it would only fit its baseline."""
    y = np.asarray(y, float)
    if not np.all(np.isfinite(y)):
        raise DataFileError(path, f"the {what} holds non-finite values")
    if np.ptp(y) <= 1e-12 * max(np.max(np.abs(y)), 1e-300):
        raise DataFileError(path, f"the {what} is constant ({y[0]:g} everywhere): no line to fit{hint}")


#: A larmor_hz / field_t that differs from another source of the observe frequency by more than
#: WARN_FRACTION is a warning, by more than REFUSE_FRACTION a contradiction (refused). Carrier
#: offsets (SFO1 - BF1) stay within a spectral width, well under 2 % of the frequency.
WARN_FRACTION, REFUSE_FRACTION = 1e-3, 2e-2

#: 1H frequencies (MHz) a magnet can have: no NMR magnet is below 40 MHz or above 1.3 GHz of 1H.
PROTON_MHZ_RANGE = (40.0, 1300.0)


def _compare(a_hz, a_how, b_hz, b_how, warn, using):
    """Two values of the same observe frequency: refuse a contradiction, warn on a small difference."""
    rel = a_hz / b_hz - 1.0
    text = f"{a_how} gives {a_hz / 1e6:.4f} MHz but {b_how} is {b_hz / 1e6:.4f} MHz ({rel * 100:+.2f} %)"
    if abs(rel) > REFUSE_FRACTION:
        raise UserError(f"{text}: they contradict each other; give one of them, or correct the other")
    if abs(rel) > WARN_FRACTION:
        warn.append(f"{text}: using {using}")


def _check_nucleus_frequency(hz, how, nucleus, warn):
    """A frequency given with ``nucleus`` must be that nucleus on some magnet; name the nucleus it
    fits instead when it fits none of the usual magnets (the 1H frequency a multiple of 50 MHz)."""
    from spinsim.isotopes import get_isotope

    from .referencing import infer_nucleus

    try:
        iso = get_isotope(nucleus)
    except ValueError as exc:
        raise UserError(f"observed_nucleus: {exc}") from None
    if not iso.frequency_ratio:
        return
    h = hz / 1e6 / iso.frequency_ratio
    lo, hi = PROTON_MHZ_RANGE
    others = [(s, hh) for s, hh in infer_nucleus(hz / 1e6) if s != iso.symbol]
    alt = f"; it is {others[0][0]} on a {others[0][1]:.1f} MHz magnet" if others else ""
    if not lo <= h <= hi:
        raise UserError(f"{how} ({hz / 1e6:.4f} MHz) and observed_nucleus {iso.symbol} contradict each other: they would "
                        f"need a {h:.1f} MHz 1H magnet (magnets lie between {lo:g} and {hi:g} MHz){alt}")
    if others and all(s != iso.symbol for s, _ in infer_nucleus(hz / 1e6)):
        warn.append(f"{how} ({hz / 1e6:.4f} MHz) is {iso.symbol} on a {h:.1f} MHz 1H magnet, not a usual one"
                    f"{alt}: check larmor_hz and observed_nucleus")


def check_nucleus(nucleus, data_nucleus, data_nucleus_inferred=False):
    """A ``nucleus`` that differs from the data set's: refused against NUC1, a warning (the data
    used) when the data set's nucleus was only inferred from BF1. Returns the warnings."""
    if not (nucleus and data_nucleus):
        return []
    from spinsim.isotopes import get_isotope

    try:
        same = get_isotope(nucleus).symbol == data_nucleus
    except ValueError as exc:
        raise UserError(f"observed_nucleus: {exc}") from None
    if same:
        return []
    text = f"observed_nucleus {nucleus} but the data set observes {data_nucleus}"
    if not data_nucleus_inferred:
        raise UserError(f"{text} (acqus NUC1): they contradict each other; drop observed_nucleus or check the data set")
    return [f"{text} (inferred from BF1); using the data"]


def _check_field(field_t):
    """B0 in (0, 100] T; a number of 100-1500 is a 1H frequency in MHz typed as a field (said)."""
    if field_t is None or 0 < field_t <= 100:
        return
    from .referencing import GAMMA_PROTON_SHIELDED_HZ_PER_T

    hint = (f"; {field_t:g} looks like a 1H frequency in MHz: that magnet is field_t "
            f"{field_t * 1e6 / GAMMA_PROTON_SHIELDED_HZ_PER_T:.2f}" if 100 < field_t <= 1500 else "")
    raise UserError(f"field_t {field_t:g}: B0 must lie in (0, 100] T{hint}")


def resolve_larmor(data_hz, larmor_hz=None, field_t=None, nucleus=None, data_nucleus=None,
                   data_nucleus_inferred=False):
    """The observe frequency to use, from the data when they carry it; contradictions refused.

    Every source given is compared with every other: ``larmor_hz`` with ``field_t`` (x the
    nucleus's Xi), each with the data set's SFO1, and ``larmor_hz`` with ``nucleus`` (it must be
    that nucleus on a magnet of 40-1300 MHz 1H). A field outside (0, 100] T is refused. A difference above :data:`REFUSE_FRACTION` is refused naming
    both values, above :data:`WARN_FRACTION` it is a warning.

    Parameters
    ----------
    data_hz : float or None
        SFO1 of the data set (Hz).
    larmor_hz, field_t : float or None
        The observe frequency (Hz) and B0 (T) given by the user.
    nucleus, data_nucleus : str or None
        The observed isotope given by the user, and the data set's.
    data_nucleus_inferred : bool
        The data set's nucleus was inferred from BF1 (NUC1 empty): a different ``nucleus`` is then a
        warning, otherwise it contradicts NUC1 and is refused.

    Returns
    -------
    larmor_hz : float
    source : str
    warnings : list of str
    """
    from .referencing import larmor_from_field

    _check_field(field_t)
    warn = check_nucleus(nucleus, data_nucleus, data_nucleus_inferred)
    nuc = data_nucleus or nucleus
    from_field = None
    if field_t:
        if not nuc:
            raise UserError("field_t needs observed_nucleus (the observed isotope, e.g. 113Cd)")
        try:
            from_field = larmor_from_field(nuc, field_t)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    field_how = f"field_t {field_t:g} T for {nuc}" if from_field else ""
    if larmor_hz and from_field:
        _compare(float(larmor_hz), "larmor_hz", from_field, field_how + " (Xi x 1H frequency)", warn,
                 "SFO1" if data_hz else "larmor_hz")
    if larmor_hz and nuc:
        _check_nucleus_frequency(float(larmor_hz), "larmor_hz", nuc, warn)
    given, how = (float(larmor_hz), "larmor_hz") if larmor_hz else (from_field, field_how) if from_field else (None, "")
    if data_hz:
        if larmor_hz:
            _compare(float(larmor_hz), "larmor_hz", data_hz, "the data set's SFO1", warn, "SFO1")
        elif from_field:
            _compare(from_field, field_how, data_hz, "the data set's SFO1", warn, "SFO1")
        return float(data_hz), "SFO1 from acqus", warn
    if given is None:
        raise UserError("give the observe frequency: larmor_hz 88.75MHz, or observed_nucleus 113Cd field_t 9.4")
    if how == field_how:
        how = f"{field_how} (Xi x 1H frequency)"
    return given, how, warn


#: A noise region whose spread exceeds the spectrum's baseline noise by more than this factor
#: holds signal: the errors measured there would be that many times too large (refused).
NOISE_SPREAD_REFUSE = 3.0
#: Above these (spread, or a single point) it holds some signal: a warning.
NOISE_SPREAD_WARN, NOISE_PEAK_WARN = 1.5, 6.0


def check_noise_region(ppm, y, region, sites=(), option="noise_region_ppm", where="the spectrum"):
    """Refuse a noise region that lies on signal; return a warning when it holds a little.

    The region's spread (standard deviation after removing a straight line, as the noise
    estimates use it) is compared with the baseline noise of the whole spectrum
    (:func:`respdor.spectra.processing.spectrum_noise`, a robust estimate from its signal-free
    points): on a line or a spinning sideband it is many times larger (the errors would be as
    many times too large). A site given by the user inside the region is refused too.

    Parameters
    ----------
    ppm, y : ndarray
        Axis (ppm) and real spectrum.
    region : (float, float)
        The noise region (ppm).
    sites : sequence of float
        Line positions the user gave (ppm).
    option, where : str
        How the region and the spectrum are named in the messages.

    Returns
    -------
    list of str
        Warnings (empty when the region is clean).

    Raises
    ------
    UserError
        The region contains a site, or its spread is more than :data:`NOISE_SPREAD_REFUSE` x the
        baseline noise.
    """
    from .processing import spectrum_noise

    lo, hi = sorted(float(v) for v in region)
    name = f"{option} {region[0]:g} {region[1]:g}"
    inside = [s for s in sites if lo <= s <= hi]
    if inside:
        raise UserError(f"{name}: contains the site at {inside[0]:g} ppm: a noise region must be free of signal")
    ppm, y = np.asarray(ppm, float), np.asarray(y, float)
    sel = (ppm >= lo) & (ppm <= hi)
    if sel.sum() < 8:
        return []  # too few points: the noise estimate itself says so
    x, v = ppm[sel], y[sel]
    r = v - np.polyval(np.polyfit(x, v, 1), x)
    ref = spectrum_noise(y)
    if not ref > 0:
        return []
    spread, k = float(np.std(r, ddof=2)) / ref, int(np.argmax(np.abs(r)))
    peak = abs(float(r[k])) / ref
    text = (f"{name}: the region's spread is {spread:.1f} x the baseline noise of {where}, with a peak "
            f"{peak:.0f} x the noise at {x[k]:.1f} ppm")
    if spread > NOISE_SPREAD_REFUSE:
        raise UserError(f"{text}: it lies on signal (a line or a spinning sideband) and every error would be "
                        f"~{spread:.0f} x too large; choose a signal-free range")
    if spread > NOISE_SPREAD_WARN or peak > NOISE_PEAK_WARN:
        return [f"{text}: it holds some signal (a weak line or sideband?); the errors may be too large"]
    return []
