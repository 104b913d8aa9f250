"""The MAS rate of a spectrum: checked against the sidebands, never assumed.

A spinning sideband pair is a significant peak with two significant peaks at +m nu_r and
-m nu_r (m = 1, 2, 3), placed symmetrically within ``tol_hz`` (the middle one need not be the
tallest: with a large anisotropy a sideband outgrows the centreband). The rate is
inferred from the data only when at least ``min_pairs`` such pairs agree AND they are not one
arithmetic chain of peaks (two independent sideband families, or one centreband with orders 1
and 2); otherwise the data do not show a rate and nothing is inferred.

:func:`check_mas_rate` reconciles the three sources a user meets: the rate given on the command
line, acqus MASR (often stale: the spinplots glycine set says 5000 Hz and was spun at 10 kHz),
and the sideband spacing. Any disagreement beyond 1 % is a warning naming all three.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from .processing import spectrum_noise

__all__ = ["SidebandPair", "MasCheck", "sideband_pairs", "measure_mas_rate", "check_mas_rate", "infer_mas_rate"]


@dataclass(frozen=True)
class SidebandPair:
    """One centreband with its +-m sidebands (Hz offsets from the carrier; S/N of each partner)."""

    centre_hz: float
    order: int
    low_hz: float
    high_hz: float
    snr_low: float
    snr_high: float

    @property
    def spacing_hz(self) -> float:
        return (self.high_hz - self.low_hz) / (2 * self.order)


@dataclass
class MasCheck:
    """Outcome of :func:`check_mas_rate`.

    Attributes
    ----------
    rate_hz : float
        The rate to use (Hz).
    source : str
        'given', 'sidebands' or 'MASR (confirmed by sidebands)'.
    measured_hz : float or None
        Rate from the sideband spacing (None: not enough pairs).
    pairs : list of SidebandPair
        Evidence at ``rate_hz``.
    recorded_hz, given_hz : float or None
    warnings, notes : list of str
    """

    rate_hz: float
    source: str
    measured_hz: float | None
    pairs: list
    recorded_hz: float | None
    given_hz: float | None
    warnings: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def evidence(self) -> str:
        """One line: how many pairs at which spacing."""
        if not self.pairs:
            return "no sideband pair at this rate"
        snr = min(min(p.snr_low, p.snr_high) for p in self.pairs)
        cen = sorted({round(p.centre_hz) for p in self.pairs})
        return (f"{len(self.pairs)} sideband pair(s) around {len(cen)} centreband(s), spacing "
                f"{np.mean([p.spacing_hz for p in self.pairs]):.0f} Hz, weakest partner S/N {snr:.0f}")


def _peaks(freq, y, snr):
    from scipy.signal import find_peaks

    noise = max(spectrum_noise(y), 1e-300)
    idx, _ = find_peaks(y, height=snr * noise, prominence=snr * noise)
    if idx.size > 40:  # the 40 tallest carry the evidence; the rest would only slow the search
        idx = np.sort(idx[np.argsort(-y[idx])[:40]])
    pos = []
    df = freq[1] - freq[0]
    for i in idx:  # parabolic interpolation of the top
        if 0 < i < y.size - 1:
            a, b, c = y[i - 1], y[i], y[i + 1]
            den = a - 2 * b + c
            pos.append(freq[i] + (0.5 * (a - c) / den * df if den != 0 else 0.0))
        else:
            pos.append(freq[i])
    return np.array(pos), y[idx] / noise


def sideband_pairs(freq_hz, spectrum, rate_hz, snr: float = 5.0, tol_hz: float | None = None, max_order: int = 3):
    """Sideband pairs (orders 1..max_order) supporting ``rate_hz`` in a phased real spectrum.

    Parameters
    ----------
    freq_hz : ndarray
        Ascending frequency axis in Hz.
    spectrum : ndarray
        Real spectrum (absorptive lines positive).
    rate_hz : float
        Trial spinning rate in Hz.
    snr : float
        Minimum signal-to-noise ratio of every peak involved.
    tol_hz : float, optional
        Position tolerance (default: larger of 3 points and 0.2 % of the rate).

    Returns
    -------
    list of SidebandPair
    """
    x = np.asarray(freq_hz, float)
    y = np.asarray(spectrum, float)
    pos, s = _peaks(x, y, snr)
    return _pairs_at(pos, s, rate_hz, tol_hz if tol_hz is not None else max(3 * abs(x[1] - x[0]), 0.002 * rate_hz),
                     max_order)


def _pairs_at(pos, s, d, tol, max_order):
    out = []
    if pos.size < 3:
        return out
    for i in range(pos.size):
        for m in range(1, max_order + 1):
            lo = np.argmin(np.abs(pos - (pos[i] - m * d)))
            hi = np.argmin(np.abs(pos - (pos[i] + m * d)))
            # Orders count only consecutively from m = 1: an m = 2 pair alone is the m = 1 pair of
            # twice the rate, not evidence for this one.
            if abs(pos[lo] - (pos[i] - m * d)) > tol or abs(pos[hi] - (pos[i] + m * d)) > tol:
                break
            if abs((pos[hi] - pos[i]) - (pos[i] - pos[lo])) > tol:
                break
            out.append(SidebandPair(float(pos[i]), m, float(pos[lo]), float(pos[hi]), float(s[lo]), float(s[hi])))
    return out


def measure_mas_rate(freq_hz, spectrum, min_hz: float = 1000.0, max_hz: float = 80000.0, snr: float = 8.0,
                     min_pairs: int = 2):
    """Spinning rate from the sideband spacing, or None when the data do not show one.

    Every distance between two significant peaks in [min_hz, max_hz] is a trial rate; the one
    supported by the most sideband pairs (ties: larger summed partner S/N) wins if it has at
    least ``min_pairs`` pairs; the rate is then the mean pair spacing.

    Returns
    -------
    rate_hz : float or None
    pairs : list of SidebandPair
        Evidence for the best trial rate (also when it is rejected).
    """
    x = np.asarray(freq_hz, float)
    y = np.asarray(spectrum, float)
    pos, s = _peaks(x, y, snr)
    if pos.size < 3:
        return None, []
    df = abs(x[1] - x[0])
    cands = {round(abs(pos[j] - pos[i]), 1) for i in range(pos.size) for j in range(i + 1, pos.size)
             if min_hz <= abs(pos[j] - pos[i]) <= max_hz}
    best, best_key = [], (0, 0.0)
    for d in sorted(cands):
        pairs = _pairs_at(pos, s, d, max(3 * df, 0.002 * d), 3)
        if not pairs:
            continue
        key = (len(pairs), sum(min(p.snr_low, p.snr_high) for p in pairs))
        if key > best_key:
            best, best_key = pairs, key
    if len(best) < min_pairs or not _independent(best, df):
        return None, best
    return float(np.mean([p.spacing_hz for p in best])), best


def _independent(pairs, df):
    """True when the pairs are more than one arithmetic chain of peaks.

    Four equally spaced lines (a chain) make two 'pairs' at their spacing, and real spectra
    have such coincidences (the 113Cd solution lines, noise bumps of a weak CP spectrum). A
    spinning rate is accepted only with two families whose centres are not a multiple of the
    spacing apart, or one centreband with both its first- and second-order pairs (5 peaks).
    """
    if any(p.order >= 2 for p in pairs):
        return True
    d = float(np.mean([p.spacing_hz for p in pairs]))
    tol = max(3 * abs(df), 0.004 * d)
    cen = sorted({p.centre_hz for p in pairs})
    for a in cen[1:]:
        q = (a - cen[0]) / d
        if abs(q - round(q)) * d > tol:
            return True
    return False


def check_mas_rate(freq_hz, spectrum, given_hz=None, recorded_hz=None, rel_tol: float = 0.01, min_pairs: int = 2,
                   snr: float = 8.0, what: str = "spectrum") -> MasCheck:
    """Choose and check the MAS rate of a spectrum (see module docstring).

    Parameters
    ----------
    freq_hz, spectrum : ndarray
        Ascending frequency axis (Hz) and phased real spectrum.
    given_hz : float, optional
        Rate given by the user: used, but checked.
    recorded_hz : float, optional
        acqus MASR.
    rel_tol : float
        Relative disagreement that triggers a warning.
    min_pairs : int
        Sideband pairs needed to infer a rate.

    Returns
    -------
    MasCheck

    Raises
    ------
    UserError
        No rate given and the data do not show one (MASR alone is never trusted).
    """
    measured, pairs = measure_mas_rate(freq_hz, spectrum, snr=snr, min_pairs=min_pairs)
    warn, notes = [], []

    def differs(a, b):
        return a is not None and b is not None and abs(a - b) > rel_tol * max(a, b)

    if measured is not None:
        notes.append(f"sideband spacing {measured:.0f} Hz ({len(pairs)} pairs)")
    elif pairs:
        notes.append(f"only {len(pairs)} sideband pair(s) at spacing {pairs[0].spacing_hz:.0f} Hz, one chain of equally "
                     f"spaced peaks at most: not enough to infer a rate (need {min_pairs} pairs from two sideband "
                     "families, or orders 1 and 2 of one line)")
    else:
        notes.append("no spinning-sideband pairs found in the spectrum")
    if given_hz is not None:
        rate, source = float(given_hz), "given"
        if differs(given_hz, measured):
            warn.append(f"mas_rate_hz {given_hz:g} Hz disagrees with the sideband spacing {measured:.0f} Hz of the {what} "
                        f"({len(pairs)} pairs)")
    elif measured is not None:
        rate, source = measured, "sidebands"
    else:
        at_masr = _support(freq_hz, spectrum, recorded_hz, snr) if recorded_hz else []
        if recorded_hz and at_masr:
            rate, source = float(recorded_hz), "MASR (confirmed by sidebands)"
        else:
            rec = f"acqus MASR = {recorded_hz:g} Hz is not supported by any sideband pair; " if recorded_hz else ""
            raise UserError(f"cannot determine the MAS rate of the {what}: {notes[-1]}; {rec}give mas_rate_hz")
    if recorded_hz is not None and differs(recorded_hz, rate):
        warn.append(f"acqus MASR = {recorded_hz:g} Hz disagrees with the rate used, {rate:g} Hz ({source}"
                    + (f"; sidebands say {measured:.0f} Hz" if measured is not None else "") + "): MASR is stale")
    if given_hz is not None and differs(given_hz, recorded_hz) and measured is None:
        notes.append("the data cannot arbitrate between mas_rate_hz and MASR (too few sidebands)")
    used_pairs = _support(freq_hz, spectrum, rate, snr)
    if source == "given" and not used_pairs and pairs and measured is None:
        sp = float(np.mean([p.spacing_hz for p in pairs]))
        if abs(sp - rate) > rel_tol * max(sp, rate):
            warn.append(f"no sideband pair of the {what} supports mas_rate_hz {given_hz:g} Hz; the pair(s) it has are "
                        f"{sp:.0f} Hz apart")
    return MasCheck(rate, source, measured, used_pairs, recorded_hz, given_hz, warn, notes)


def _support(freq_hz, spectrum, rate, snr):
    return sideband_pairs(freq_hz, spectrum, rate, snr=snr) if rate else []


def infer_mas_rate(freq_hz, spectrum, min_hz: float = 1000.0, max_hz: float = 80000.0, snr: float = 8.0):
    """Spinning rate from the sideband spacing, or None when the data do not show it.

    Kept for compatibility; see :func:`measure_mas_rate` (which also returns
    the evidence) and :func:`check_mas_rate`. A rate is returned only when
    at least two significant sideband pairs that are not one chain of equally spaced peaks agree
    (earlier versions returned a confident rate from any three peaks).

    Parameters
    ----------
    freq_hz : ndarray
        Ascending frequency axis in Hz.
    spectrum : ndarray
        Real (phased or magnitude) spectrum.
    min_hz, max_hz : float
        Search range for the rate in Hz.
    snr : float
        Minimum signal-to-noise ratio of the peaks used.

    Returns
    -------
    float or None
    """
    return measure_mas_rate(freq_hz, np.asarray(spectrum, float), min_hz=min_hz, max_hz=max_hz, snr=snr)[0]
