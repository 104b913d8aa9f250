"""Pseudo-2D REDOR/RESPDOR series (S0 and S1 interleaved in a ser file) -> dephasing curve.

Layout assumed (and checked): the ser file holds 2 n rows for n loop counters in ``vclist``;
rows alternate S0, S1 (``order='s0s1'``, the default) or S1, S0 (``'s1s0'``) for increasing
vclist index. The recoupling time of point i is ``t_i = vc_i * periods_per_count / nu_r``
(periods_per_count = rotor periods per loop count of the pulse program: state it, it is not in
the data set). Each row is Fourier transformed with one common zero-order phase (from the sum
of the S0 rows), its real part integrated over the signal region (ppm), and the noise of that
integral estimated from a signal-free region: sigma = std(points) * sqrt(n_points in region) *
|ppm step|, valid for white noise without zero filling.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spinsim.isotopes import get_isotope

from ..curve import DephasingCurve
from ..errors import DataFileError, UserError
from .bruker import read_bruker, read_vclist
from .processing import spectrum_1d

__all__ = ["integrate_series", "write_curve_csv", "curve_csv_text", "series_nuclei", "cpmg_program", "spikelet_comb"]

#: S1 above S0 by more than this many standard deviations over the whole series (and at most
#: points) cannot be dephasing: the rows are the other way round (``order``).
SWAPPED_SIGMA = 5.0


def integrate_series(
    path,
    region_ppm,
    noise_ppm,
    mas_hz: float,
    periods_per_count: float = 1.0,
    vclist_path=None,
    order: str = "s0s1",
    lb_hz: float = 0.0,
    phase0_deg: float | None = None,
    cpmg: str | None = None,
    echo_period_s: float | None = None,
    n_echoes: int | None = None,
    warnings: list | None = None,
):
    """Integrate an interleaved S0/S1 pseudo-2D Bruker series into a dephasing curve.

    Parameters
    ----------
    path : str or Path
        Experiment directory with ``ser`` and ``acqus``/``acqu2s``.
    region_ppm : (float, float)
        Integration region in ppm.
    noise_ppm : (float, float)
        Signal-free region in ppm for the noise estimate.
    mas_hz : float
        Spinning rate in Hz (not taken from MASR, which is often stale).
    periods_per_count : float
        Rotor periods of recoupling per vclist count.
    vclist_path : str or Path, optional
        Default: ``vclist`` in the experiment directory.
    order : {'s0s1', 's1s0'}
        Which of the pair comes first.
    lb_hz : float
        Exponential line broadening in Hz.
    phase0_deg : float, optional
        Zero-order phase; default from the summed S0 rows.
    cpmg : {None, 'sum', 'spikelet'}
        CPMG-detected rows: sum the half echoes of each row before the Fourier transform
        ('sum'), or transform the whole train into a spikelet spectrum ('spikelet'); see
        :mod:`respdor.spectra.cpmg`.
    echo_period_s, n_echoes : optional
        Override the pulse program's echo period (s) and echo count.
    warnings : list, optional
        Receives what the user must not miss (a noise region holding a little signal; S0 rows
        that look like CPMG spikelets, :func:`spikelet_comb`); default: ``notes``.

    Returns
    -------
    curve : DephasingCurve
        Built with :meth:`DephasingCurve.from_signals` (S0, S1 and their noise).
    notes : list of str

    Raises
    ------
    UserError
        A non-integer ``periods_per_count``; CPMG-acquired rows (pulse program) without ``cpmg``;
        a noise region on signal (:func:`respdor.spectra.inputs.check_noise_region`); S1 above S0
        beyond the noise over the series (the rows are the other way round: ``order``).
    """
    if order not in ("s0s1", "s1s0"):
        raise UserError(f"order must be 's0s1' or 's1s0', got {order!r}")
    if not mas_hz > 0:
        raise UserError(f"MAS rate must be > 0 Hz, got {mas_hz!r}")
    if not (periods_per_count > 0 and float(periods_per_count).is_integer()):
        raise UserError(f"periods_per_count {periods_per_count:g}: must be a whole number > 0 (rotor periods of "
                        "recoupling per vclist count: the pulse program repeats whole rotor cycles)")
    ds = read_bruker(path)
    notes = list(ds.notes)
    vc = _loop_counters(ds, vclist_path)
    sink = warnings if warnings is not None else notes
    data = _rows_to_transform(ds, order, mas_hz, cpmg, echo_period_s, n_echoes, notes, sink)
    freq, spec = spectrum_1d(data, ds.dwell_s, lb_hz=lb_hz, zero_fill=1, phase0_deg=0.0)
    ppm = ds.ppm_axis(freq.size)
    i0 = 0 if order == "s0s1" else 1
    s0_rows, s1_rows = spec[i0::2], spec[1 - i0::2]
    sel, nsel = _regions(ppm, region_ppm, noise_ppm)
    if phase0_deg is None:
        phase0_deg = float(-np.degrees(np.angle(np.sum(s0_rows[:, sel]))))
        notes.append(f"zero-order phase {phase0_deg:.1f} deg from the summed S0 rows")
    rot = np.exp(1j * np.radians(phase0_deg))
    from .inputs import check_noise_region

    sink += check_noise_region(ppm, (s0_rows.sum(axis=0) * rot).real, noise_ppm, where="the summed S0 rows")
    s0, sig0 = _integrals(s0_rows * rot, ppm, sel, nsel)
    s1, sig1 = _integrals(s1_rows * rot, ppm, sel, nsel)
    _check_order(s0, s1, sig0, sig1, order)
    t = vc * float(periods_per_count) / mas_hz
    notes.append(f"t = vclist count x {periods_per_count:g} rotor period(s) at {mas_hz:g} Hz MAS")
    curve = DephasingCurve.from_signals(t, s0, s1, sig0, sig1, source=str(ds.path), notes=notes)
    return curve, notes


def _loop_counters(ds, vclist_path):
    """The vclist of a pseudo-2D data set, one counter per S0/S1 pair of rows (checked)."""
    if ds.data.ndim != 2:
        raise DataFileError(ds.path, "not a pseudo-2D data set (no ser file)")
    vpath = Path(vclist_path) if vclist_path else ds.path / "vclist"
    vc = read_vclist(vpath)
    n_rows = ds.data.shape[0]
    if 2 * vc.size != n_rows:
        raise DataFileError(
            vpath, f"{vc.size} loop counters need {2 * vc.size} interleaved S0/S1 rows, but the ser has {n_rows}"
        )
    return vc


def _rows_to_transform(ds, order, mas_hz, cpmg, echo_period_s, n_echoes, notes, sink):
    """The rows as FIDs to transform: as acquired (refused when the pulse program says they are
    CPMG echo trains; a spikelet comb is said in ``sink``), or their CPMG echoes summed / kept whole."""
    data = ds.data
    if cpmg is None:
        prog = cpmg_program(ds)
        if prog:
            raise UserError(f"{ds.path}: {prog}: the rows are CPMG echo trains; give cpmg=sum (echoes summed "
                            "before the FT) or cpmg=spikelet")
        comb = spikelet_comb(*spectrum_1d(data[0::2] if order == "s0s1" else data[1::2], ds.dwell_s), mas_hz)
        if comb:
            sink.append(f"{ds.path}: {comb}")
        return data
    from .cpmg import echo_parameters, echo_top_offset, spikelet_fid, sum_echoes

    if cpmg not in ("sum", "spikelet"):
        raise UserError(f"cpmg must be 'sum' or 'spikelet', got {cpmg!r}")
    tau, npe, ne, cn = echo_parameters(ds, echo_period_s, n_echoes)
    notes += cn
    off = echo_top_offset(data, npe, ne) if cpmg == "sum" else 0
    if off:
        notes.append(f"CPMG: echo tops {off} points after each period start (from the data)")
    data = sum_echoes(data, npe, ne, offset=off) if cpmg == "sum" else spikelet_fid(data, npe, ne)
    notes.append(f"CPMG: {ne} echoes of {npe} points " + ("summed (half echoes) before FT" if cpmg == "sum"
                                                          else "transformed together (spikelet spectrum)"))
    return data


def _regions(ppm, region_ppm, noise_ppm):
    """Point masks of the integration and noise regions, checked (enough points, no overlap)."""
    lo, hi = sorted(region_ppm)
    sel = (ppm >= lo) & (ppm <= hi)
    if sel.sum() < 2:
        raise UserError(f"integration region {lo:g}..{hi:g} ppm holds {int(sel.sum())} points "
                        f"(spectrum covers {ppm.min():.1f}..{ppm.max():.1f} ppm)")
    nlo, nhi = sorted(noise_ppm)
    step_ppm = abs(ppm[1] - ppm[0])
    nsel = (ppm >= nlo) & (ppm <= nhi)
    if nsel.sum() < 8:
        raise UserError(f"noise_region_ppm {noise_ppm[0]:g} {noise_ppm[1]:g}: holds only {int(nsel.sum())} points "
                        f"(at least 8 needed; the points are {step_ppm:.2g} ppm apart): widen it")
    if np.any(sel & nsel):
        raise UserError(f"noise_region_ppm {noise_ppm[0]:g} {noise_ppm[1]:g} overlaps the integration region "
                        f"region_ppm {region_ppm[0]:g} {region_ppm[1]:g}")
    return sel, nsel


def _integrals(rows, ppm, sel, nsel):
    """Integral of each phased row over ``sel`` and its noise from the points in ``nsel``."""
    step = abs(ppm[1] - ppm[0])
    re = rows.real
    val = re[:, sel].sum(axis=1) * step
    # Remove a straight baseline from the noise points before taking their spread.
    x = ppm[nsel]
    sig = np.array([np.std(r - np.polyval(np.polyfit(x, r, 1), x), ddof=2) for r in re[:, nsel]])
    return val, sig * np.sqrt(sel.sum()) * step


def _check_order(s0, s1, sig0, sig1, order):
    """Refuse a series whose S1 exceeds S0 beyond the noise: dephasing only lowers S1, so the
    pair order within the rows is the other way round."""
    d = s0 - s1
    z = float(d.sum() / np.sqrt(np.sum(sig0 ** 2 + sig1 ** 2)))
    if z < -SWAPPED_SIGMA and np.mean(d < 0) > 0.5:
        other = "s0s1" if order == "s1s0" else "s1s0"
        raise UserError(f"row_order={order}: S1 exceeds S0 at {int(np.sum(d < 0))} of {d.size} points ({-z:.0f} sigma "
                        f"over the series): dephasing cannot raise S1, so the rows are the other way round; "
                        f"use row_order={other}")


def cpmg_program(ds) -> str | None:
    """What says the data set's rows are CPMG echo trains (its pulse program), or None.

    A program :mod:`respdor.spectra.cpmg` knows, or a ``pulseprogram`` file with a pulse loop
    inside the acquisition (:func:`respdor.spectra.cpmg.echo_loop_from_pulseprogram`).
    """
    from ..files import read_text
    from .cpmg import KNOWN_PROGRAMS, echo_loop_from_pulseprogram

    prog = str(ds.acqus.get("PULPROG", "")).strip("<> ")
    if prog in KNOWN_PROGRAMS:
        tau, n = KNOWN_PROGRAMS[prog](ds.acqus, ds.path / "acqus")
        return f"pulse program {prog} acquires {n} echoes of {tau * 1e6:.1f} us"
    path = ds.path / "pulseprogram"
    if not path.is_file():
        return None
    try:
        tau, n, formula = echo_loop_from_pulseprogram(read_text(path, "pulseprogram"), ds.acqus)
    except ValueError as exc:
        if "pulse loops inside the acquisition" in str(exc) or "cannot time" in str(exc):
            return f"pulseprogram ({prog}) loops pulses inside the acquisition ({exc})"
        return None
    return f"pulse program {prog} acquires {n} echoes of {tau * 1e6:.1f} us ({formula})"


def spikelet_comb(freq_hz, spectra, mas_hz=None, min_lines=7):
    """Say so when a spectrum is a comb of equally spaced narrow lines not at the MAS rate: the
    spikelets of a CPMG echo train transformed whole (rows acquired as echo trains, their
    pulse program unknown). None otherwise.

    Lines: maxima of the summed magnitude above 5 % of the tallest; a comb: at least
    ``min_lines`` of them, every gap within 5 % of a whole multiple of the median gap, and that
    gap not within 2 % of k x or 1/k x the MAS rate (k = 1..4: spinning sidebands). On the
    bundled CPMG trains every gap fits; on every measured MAS spectrum at most 40 % do.
    """
    from scipy.signal import find_peaks

    mag = np.abs(np.atleast_2d(spectra)).sum(axis=0)
    idx, _ = find_peaks(mag, height=0.05 * mag.max(), prominence=0.03 * mag.max())
    if idx.size < min_lines:
        return None
    gaps = np.diff(np.sort(np.asarray(freq_hz)[idx]))
    step = float(np.median(gaps))
    rel = gaps / step
    if not np.all((np.abs(rel - np.round(rel)) < 0.05) & (np.round(rel) >= 1)):
        return None
    if mas_hz and any(abs(step / (mas_hz * f) - 1) < 0.02 for k in range(1, 5) for f in (k, 1.0 / k)):
        return None
    return (f"the S0 spectrum is a comb of {idx.size} narrow lines every {step:.1f} Hz (not the MAS rate): the "
            f"spikelets of CPMG echo trains? If the rows are echo trains give cpmg=sum (echo period "
            f"{1e3 / step:.4g} ms: echo_period_s={1e3 / step:.4g}ms)")


def series_nuclei(ds):
    """Observed nucleus of a series and its recoupled partner when the data set says which.

    The partner is the one channel (NUC2...NUC8) that is neither the observed nucleus nor 1H
    (the decoupler); None when there is none or more than one.
    """
    others = set()
    for ch in range(2, 9):
        raw = str(ds.acqus.get(f"NUC{ch}", "") or "").strip("<> ")
        if raw.lower() in ("", "none", "off"):
            continue
        try:
            sym = get_isotope(raw).symbol
        except ValueError:
            continue
        if sym not in ("1H", ds.nucleus):
            others.add(sym)
    return ds.nucleus, (others.pop() if len(others) == 1 else None)


def curve_csv_text(curve: DephasingCurve, observe: str | None = None, partner: str | None = None) -> str:
    """``t_s,S0,S1,sigma_S0,sigma_S1`` (time in s) as CSV text, for ``respdor fit``.

    ``observe`` / ``partner`` are written as comment lines ``# observe = 111Cd`` before the
    header, which :func:`respdor.io.read_curve` reads into ``DephasingCurve.metadata``.
    """
    lines = [f"# {k} = {v}" for k, v in (("observe", observe), ("partner", partner)) if v]
    lines += ["t_s,S0,S1,sigma_S0,sigma_S1"]
    for row in zip(curve.time_s, curve.s0, curve.s1, curve.sigma_s0, curve.sigma_s1):
        lines.append(",".join(f"{v:.9g}" for v in row))
    return "\n".join(lines) + "\n"


def write_curve_csv(path, curve: DephasingCurve, inputs=(), observe=None, partner=None):
    """Write ``t_s,S0,S1,sigma_S0,sigma_S1`` (time in s) for ``respdor fit``, never over one of
    ``inputs`` (files or data-set directories), atomically; ``observe``/``partner`` as in
    :func:`curve_csv_text`."""
    from ..files import write_output

    write_output(path, curve_csv_text(curve, observe, partner), inputs)
