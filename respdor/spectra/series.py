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

from ..curve import DephasingCurve
from ..errors import DataFileError, UserError
from .bruker import read_bruker, read_vclist, spectrum_1d

__all__ = ["integrate_series", "write_curve_csv", "curve_csv_text"]


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

    Returns
    -------
    curve : DephasingCurve
        Built with :meth:`DephasingCurve.from_signals` (S0, S1 and their noise).
    notes : list of str
    """
    if order not in ("s0s1", "s1s0"):
        raise UserError(f"order must be 's0s1' or 's1s0', got {order!r}")
    if not mas_hz > 0:
        raise UserError(f"MAS rate must be > 0 Hz, got {mas_hz!r}")
    ds = read_bruker(path)
    notes = list(ds.notes)
    if ds.data.ndim != 2:
        raise DataFileError(ds.path, "not a pseudo-2D data set (no ser file)")
    vpath = Path(vclist_path) if vclist_path else ds.path / "vclist"
    vc = read_vclist(vpath)
    n_rows = ds.data.shape[0]
    if 2 * vc.size != n_rows:
        raise DataFileError(
            vpath, f"{vc.size} loop counters need {2 * vc.size} interleaved S0/S1 rows, but the ser has {n_rows}"
        )
    data = ds.data
    if cpmg is not None:
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
    freq, spec = spectrum_1d(data, ds.dwell_s, lb_hz=lb_hz, zero_fill=1, phase0_deg=0.0)
    ppm = ds.ppm_axis(freq.size)
    i0 = 0 if order == "s0s1" else 1
    s0_rows, s1_rows = spec[i0::2], spec[1 - i0::2]
    lo, hi = sorted(region_ppm)
    sel = (ppm >= lo) & (ppm <= hi)
    if sel.sum() < 2:
        raise UserError(f"integration region {lo:g}..{hi:g} ppm holds {int(sel.sum())} points "
                        f"(spectrum covers {ppm.min():.1f}..{ppm.max():.1f} ppm)")
    nlo, nhi = sorted(noise_ppm)
    nsel = (ppm >= nlo) & (ppm <= nhi)
    if nsel.sum() < 8:
        raise UserError(f"noise region {nlo:g}..{nhi:g} ppm holds only {int(nsel.sum())} points")
    if np.any(sel & nsel):
        raise UserError("the noise region overlaps the integration region")
    if phase0_deg is None:
        phase0_deg = float(-np.degrees(np.angle(np.sum(s0_rows[:, sel]))))
        notes.append(f"zero-order phase {phase0_deg:.1f} deg from the summed S0 rows")
    rot = np.exp(1j * np.radians(phase0_deg))
    step = abs(ppm[1] - ppm[0])

    def integral(rows):
        re = (rows * rot).real
        val = re[:, sel].sum(axis=1) * step
        noise = re[:, nsel]
        # Remove a straight baseline from the noise points before taking their spread.
        x = ppm[nsel]
        sig = np.array([np.std(r - np.polyval(np.polyfit(x, r, 1), x), ddof=2) for r in noise])
        return val, sig * np.sqrt(sel.sum()) * step

    s0, sig0 = integral(s0_rows)
    s1, sig1 = integral(s1_rows)
    t = vc * float(periods_per_count) / mas_hz
    notes.append(f"t = vclist count x {periods_per_count:g} rotor period(s) at {mas_hz:g} Hz MAS")
    curve = DephasingCurve.from_signals(t, s0, s1, sig0, sig1, source=str(ds.path), notes=notes)
    return curve, notes


def curve_csv_text(curve: DephasingCurve) -> str:
    """``t_s,S0,S1,sigma_S0,sigma_S1`` (time in s) as CSV text, for ``respdor fit``."""
    lines = ["t_s,S0,S1,sigma_S0,sigma_S1"]
    for row in zip(curve.time_s, curve.s0, curve.s1, curve.sigma_s0, curve.sigma_s1):
        lines.append(",".join(f"{v:.9g}" for v in row))
    return "\n".join(lines) + "\n"


def write_curve_csv(path, curve: DephasingCurve, inputs=()):
    """Write ``t_s,S0,S1,sigma_S0,sigma_S1`` (time in s) for ``respdor fit``, never over one of
    ``inputs`` (files or data-set directories), atomically."""
    from ..files import write_output

    write_output(path, curve_csv_text(curve), inputs)
