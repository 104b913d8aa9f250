"""CPMG echo trains: echo period from the pulse program, echo summation, spikelet spectra.

A CPMG acquisition digitises one FID and then echoes at multiples of the echo period tau
(the 180-degree pulses refocus the shift evolution between them). Summing the echoes
coherently before the Fourier transform gives the spectrum of one echo with the signal of all
of them: with echo amplitudes a_m (decaying with T2) and independent noise per echo, the
signal-to-noise ratio grows by sum(a_m) / sqrt(sum(a_m^2) ...) ~ sqrt(number of echoes within
T2). The Fourier transform of the whole train instead gives a spikelet spectrum (lines
every 1/tau Hz under the static/MAS envelope).

Layout (as the fixture's pulse program ``respdor_cpmg`` defines it): sampling is continuous;
echo m (m = 0 is the FID) has its top at t = m tau, so echo m occupies points
[m N, m N + N) with N = tau / dwell; the half echo from each top, of N/2 points, is summed.

Known pulse programs (echo period and echo count from acqus arrays):

* ``respdor_cpmg`` (synthetic fixture): tau = P2 + 2 D3 + 2 D6, echoes = L22 + 1.

Other pulse programs: give ``echo_period_s`` (and ``n_echoes``) yourself.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataFileError, UserError

__all__ = ["KNOWN_PROGRAMS", "echo_parameters", "sum_echoes", "spikelet_fid"]


def _arr(acqus, key, idx, path):
    vals = acqus.get(key)
    try:
        return float(vals[idx])
    except (TypeError, IndexError, ValueError):
        raise DataFileError(path, f"acqus {key}{idx} is missing; give --echo-period") from None


def _respdor_cpmg(acqus, path):
    tau = _arr(acqus, "P", 2, path) * 1e-6 + 2 * _arr(acqus, "D", 3, path) + 2 * _arr(acqus, "D", 6, path)
    return tau, int(_arr(acqus, "L", 22, path)) + 1


KNOWN_PROGRAMS = {"respdor_cpmg": _respdor_cpmg}


def echo_parameters(ds, echo_period_s=None, n_echoes=None):
    """Echo period (s), points per echo and number of echoes of a CPMG data set.

    Parameters
    ----------
    ds : BrukerDataset
    echo_period_s : float, optional
        Overrides the pulse program.
    n_echoes : int, optional
        Overrides the pulse program (default there: as many as fit in the FID).

    Returns
    -------
    tau_s : float
    n_per_echo : int
    n_echoes : int
    notes : list of str
    """
    prog = str(ds.acqus.get("PULPROG", "")).strip("<>")
    notes = []
    n_total = ds.data.shape[-1]
    if echo_period_s is None:
        if prog not in KNOWN_PROGRAMS:
            raise DataFileError(ds.path / "acqus", f"PULPROG {prog!r}: the echo period is not known for this pulse "
                                f"program (known: {', '.join(KNOWN_PROGRAMS)}); give --echo-period")
        tau, n_prog = KNOWN_PROGRAMS[prog](ds.acqus, ds.path / "acqus")
        notes.append(f"echo period {tau * 1e6:.1f} us and {n_prog} echoes from the pulse program {prog}")
        n_echoes = n_echoes or n_prog
    else:
        tau = float(echo_period_s)
        notes.append(f"echo period {tau * 1e6:.1f} us as given")
    if not tau > 0:
        raise UserError(f"echo period must be > 0, got {tau!r} s")
    npe = tau / ds.dwell_s
    if abs(npe - round(npe)) > 1e-3 * npe:
        raise UserError(f"echo period {tau * 1e6:.3f} us is {npe:.3f} dwell times, not a whole number: the echoes "
                        "cannot be summed point by point (check --echo-period or SW)")
    npe = int(round(npe))
    fit = n_total // npe
    if n_echoes is None:
        n_echoes = fit
    if n_echoes > fit:
        raise DataFileError(ds.path, f"{n_echoes} echoes of {npe} points need {n_echoes * npe} points; the FID has {n_total}")
    if n_echoes < 1 or npe < 4:
        raise UserError(f"echo train too short: {n_echoes} echoes of {npe} points")
    return tau, npe, int(n_echoes), notes


def sum_echoes(fid, n_per_echo: int, n_echoes: int, first: int = 0):
    """Coherent sum of the half echoes (each from its top, n_per_echo // 2 points) of a train.

    Parameters
    ----------
    fid : ndarray
        Complex echo train(s), time on the last axis.
    n_per_echo, n_echoes : int
    first : int
        First echo used (0 = the FID).

    Returns
    -------
    ndarray
        Summed half echo(es), n_per_echo // 2 points.
    """
    fid = np.asarray(fid, complex)
    half = n_per_echo // 2
    out = np.zeros(fid.shape[:-1] + (half,), complex)
    for m in range(first, n_echoes):
        out += fid[..., m * n_per_echo: m * n_per_echo + half]
    return out


def spikelet_fid(fid, n_per_echo: int, n_echoes: int):
    """The whole train (n_echoes x n_per_echo points) for a spikelet spectrum."""
    return np.asarray(fid, complex)[..., : n_per_echo * n_echoes]
