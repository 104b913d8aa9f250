"""1D processing a spectroscopist can check: DC offset, apodisation, FT, phase, baseline.

Conventions (checked against TopSpin's own ``1r`` of the spinplots 13C sets, correlation > 0.996
for all four amino acids, see ``tests/test_spectra_processing.py``):

* Spectra are on an ascending frequency axis (index 0 = lowest frequency = rightmost in a
  TopSpin display). TopSpin applies ``phi_j = PHC0 + PHC1 * j / SI`` from the LEFT edge
  (highest frequency, j = 0) and, with nmrglue's FID sign, the correction multiplies the
  spectrum by ``exp(-i phi)``. On our ascending axis point i is j = n - 1 - i, so
  ``phi_i = PHC0 + PHC1 * (n - 1 - i) / n`` and ``S_i -> S_i exp(-i phi_i)``. With this,
  ``phase=(PHC0, PHC1)`` means exactly what the same numbers mean in TopSpin.
* DC offset: the mean of the last eighth of the FID (where the signal has decayed) is taken as
  the receiver offset and subtracted before apodisation; it removes the spike at the carrier.
* Automatic phase: from the phases of the groups of overlapping lines, each fitted with complex
  Lorentzians sharing one phase (see :func:`autophase`), on a copy apodised until the FID decays
  and without the FID's leading transient (:func:`leading_spikes`). PHC1 is fitted only when it
  makes the groups clearly more coherent and only within what the acquisition can leave after
  the group delay is removed (DE and the pulse); every group is made real and positive, so the
  spectrum is never upside down.
  :func:`acme_score` is an independent (entropy/negativity) check of a phase.
* Stored phase: procs PHC0/PHC1 when procs belongs to this FID and leaves the tallest tops
  absorptive; XWIN-NMR's phase is judged in both senses (see ``_judge_stored``).
* Baseline: points are classified as baseline where the smoothed absolute first derivative is
  below 3 robust standard deviations (Dietrich, Ruedel & Hembd, J. Magn. Reson. 91, 1, 1991),
  the signal mask is widened by 1 % of the points on each side, and a polynomial (default order 3)
  fitted to the baseline points only is subtracted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError

__all__ = ["Processed1D", "spectrum_1d", "MAX_LB_GAIN", "apply_phase", "stored_phase", "autophase", "remove_dc", "baseline_mask",
           "baseline_correct", "process_fid", "robust_noise", "spectrum_noise", "phase_quality",
           "phase_difference", "leading_spikes", "acme_score", "backward_lp", "transient_length"]


#: Largest factor by which a negative line broadening may raise the last point of an FID (its noise
#: with it); beyond, the spectrum is noise from the FID's tail.
MAX_LB_GAIN = 1e6


def _check_line_broadening(lb_hz, dwell_s, t_max_s):
    """Refuse a line broadening wider than the spectrum, or a negative one that multiplies the FID's
    tail (and its noise) by more than :data:`MAX_LB_GAIN` (a unit or sign mistake)."""
    sw = 1.0 / dwell_s
    if lb_hz > sw:
        raise UserError(f"line broadening {lb_hz:g} Hz is wider than the whole spectrum ({sw:g} Hz): every line "
                        "would be flattened; give it in Hz (typically 10-500)")
    if lb_hz < 0 and np.pi * -lb_hz * t_max_s > np.log(MAX_LB_GAIN):
        raise UserError(f"line broadening {lb_hz:g} Hz multiplies the end of the {t_max_s * 1e3:.3g} ms FID by "
                        f"{np.exp(min(np.pi * -lb_hz * t_max_s, 700)):.3g}: the spectrum would be its amplified "
                        "noise; use a positive line broadening")


def spectrum_1d(fid, dwell_s: float, lb_hz: float = 0.0, zero_fill: int = 1, phase0_deg: float | None = 0.0):
    """Fourier transform of a Bruker-ordered FID onto an ascending frequency axis.

    Parameters
    ----------
    fid : ndarray
        Complex FID(s) as read by :func:`respdor.spectra.bruker.read_bruker` (last axis is time).
    dwell_s : float
        Dwell time in s.
    lb_hz : float
        Exponential line broadening in Hz.
    zero_fill : int
        Zero-fill factor (>= 1).
    phase0_deg : float or None
        Zero-order phase in degrees; None finds it from the total integral (maximum absorption).

    Returns
    -------
    freq_hz : ndarray
        Ascending offsets from the carrier in Hz.
    spectrum : ndarray
        Complex spectrum (phased); first point of the FID halved to avoid a baseline offset.
    """
    fid = np.array(fid, dtype=complex, copy=True)
    n = fid.shape[-1]
    t = np.arange(n) * dwell_s
    if lb_hz:
        _check_line_broadening(lb_hz, dwell_s, t[-1])
        fid *= np.exp(-np.pi * lb_hz * t)
    fid[..., 0] *= 0.5
    m = n * max(1, int(zero_fill))
    # With nmrglue's reading of TopSpin data, + offset precesses as e^{+i 2 pi nu t}: a plain FFT
    # gives ascending frequency (checked against TopSpin's own 1r of the spinplots glycine set).
    spec = np.fft.fftshift(np.fft.fft(fid, n=m, axis=-1), axes=-1)
    freq = np.fft.fftshift(np.fft.fftfreq(m, dwell_s))
    if phase0_deg is None:
        total = spec.sum(axis=tuple(range(spec.ndim)))
        phase0_deg = -np.degrees(np.angle(total))
    spec *= np.exp(1j * np.radians(phase0_deg))
    return freq, spec


def apply_phase(spec, phc0_deg: float, phc1_deg: float = 0.0):
    """Phase an ascending-axis spectrum (last axis) with TopSpin's PHC0/PHC1 (degrees)."""
    spec = np.asarray(spec, complex)
    n = spec.shape[-1]
    phi = np.radians(phc0_deg + phc1_deg * (n - 1 - np.arange(n)) / n)
    return spec * np.exp(-1j * phi)


def stored_phase(ds):
    """TopSpin's PHC0/PHC1 from procs when they can be trusted.

    Returns
    -------
    (phc0, phc1) in degrees, or None; and a sentence saying why.
    """
    procs = ds.procs
    if procs is None:
        return None, "no procs file"
    if not getattr(ds, "procs_trusted", False):
        return None, "procs disagrees with acqus (not processed from this FID)"
    try:
        p0, p1 = float(procs.get("PHC0", 0.0)), float(procs.get("PHC1", 0.0))
    except (TypeError, ValueError):
        return None, "PHC0/PHC1 in procs are not numbers"
    if not (np.isfinite(p0) and np.isfinite(p1)):
        return None, "PHC0/PHC1 in procs are not finite"
    if p0 == 0.0 and p1 == 0.0:
        return None, "procs PHC0 = PHC1 = 0 (never phased)"
    return (p0, p1), "stored TopSpin phase (procs PHC0/PHC1)"


def robust_noise(y):
    """Noise standard deviation from the median absolute point-to-point difference (baseline-robust)."""
    y = np.asarray(y, float)
    return float(1.4826 * np.median(np.abs(np.diff(y))) / np.sqrt(2.0))


PENALTY = 0.005


def _peak_tops(spec, snr: float = 8.0, max_peaks: int = 60, noise: float | None = None):
    """Indices of the significant maxima of |spec| (local maxima above ``snr`` noise levels)."""
    from scipy.signal import find_peaks

    mag = np.abs(spec)
    if noise is None:
        noise = _point_noise(spec)
    idx, prop = find_peaks(mag, height=snr * noise, prominence=0.5 * snr * noise)
    if idx.size > max_peaks:
        idx = idx[np.argsort(-prop["peak_heights"])[:max_peaks]]
    return np.sort(idx)


def _point_noise(spec, step: int = 4):
    """Noise per point of a complex spectrum from every ``step``-th point.

    Neighbouring points of a zero-filled, apodised (or interpolated) spectrum are correlated, so
    point-to-point differences underestimate the noise (by 5-10 x on the 4x-interpolated phasing
    spectrum, which made every noise wiggle a 'significant' peak); points ``step`` apart are
    nearly independent.
    """
    s = np.asarray(spec, complex)[::step] if np.size(spec) >= 64 * step else np.asarray(spec, complex)
    return max(robust_noise(s.real), robust_noise(s.imag), 1e-300)


def spectrum_noise(y):
    """Noise standard deviation of a real spectrum from its baseline points.

    Scaled median absolute deviation of the baseline points (:func:`baseline_mask`) about an
    11-point running median (/0.9: the median itself carries ~ 1/sqrt(11) of the noise):
    insensitive to lines, to a rolling baseline and to the point-to-point correlation that
    apodisation and zero filling introduce (which fool a point-difference estimate).
    """
    from scipy.ndimage import median_filter

    y = np.asarray(y, float)
    m = baseline_mask(y)
    if m.sum() < 16:
        return robust_noise(y)
    # Residual about a running median (11 points): follows broad humps and low wings of lines
    # that the derivative test counted as baseline, keeps the (possibly correlated) noise.
    r = (y - median_filter(y, size=11, mode="nearest"))[m]
    return float(1.4826 * np.median(np.abs(r - np.median(r))) / 0.9)


def _local_tops(s, idx, reach: float = 3.0):
    """Complex height of each peak above its local background.

    The background is the mean of the complex spectrum at ``reach`` half-widths on either side
    of the top: a line's own dispersion is odd about its centre and cancels in that mean, while a
    broad hump or another line's tail under the peak is removed, so the phase of
    ``S_top - background`` is the instrument phase at that frequency.
    """
    mag = np.abs(s)
    out = np.empty(idx.size, complex)
    for j, i in enumerate(idx):
        lo, hi = _half_max_crossings(mag, i)
        hw = max(1, (hi - lo) // 2)
        a, b = max(0, i - int(reach * hw)), min(s.size - 1, i + int(reach * hw))
        # The sampled maximum can sit up to half a point off the true centre, where the line's
        # dispersion is not zero: interpolate the complex spectrum at the parabolic-fit centre.
        top = s[i]
        if 0 < i < s.size - 1:
            ya, yb, yc = mag[i - 1], mag[i], mag[i + 1]
            den = ya - 2 * yb + yc
            d = float(np.clip(0.5 * (ya - yc) / den, -0.5, 0.5)) if den != 0 else 0.0
            top = s[i] + d * (s[i + 1] - s[i]) if d >= 0 else s[i] - d * (s[i - 1] - s[i])
        out[j] = top - 0.5 * (s[a] + s[b])
    return out


def _half_max_crossings(mag, i):
    """Indices (lo, hi) where ``mag`` first falls to half of ``mag[i]`` on either side of ``i``
    (or the ends of the array)."""
    half = 0.5 * mag[i]
    lo = i
    while lo > 0 and mag[lo] > half:
        lo -= 1
    hi = i
    while hi < mag.size - 1 and mag[hi] > half:
        hi += 1
    return lo, hi


def _half_width(mag, i) -> float:
    """Half width (points) of the peak at ``i``: distance to the nearer half-maximum crossing
    (the nearer side, so a neighbour or a hump on the other side does not widen it)."""
    lo, hi = _half_max_crossings(mag, i)
    return float(max(1, min(i - lo, hi - i)))


def _region_design(x, x0, g, phi):
    """Columns of the region model: lines e^{i phi} / (g + i (x - x0)) (absorptive Lorentzians in
    this FT's sign convention) and a complex linear background."""
    lines = np.exp(1j * phi) / (g[None, :] + 1j * (x[:, None] - x0[None, :]))
    xc = (x - x.mean()) / max(float(np.ptp(x)), 1.0)
    one = np.ones_like(xc)
    back = np.stack([one, 1j * one, xc, 1j * xc], 1)
    return lines, back


def _region_solve(x, d, x0, g, phi):
    """Non-negative line amplitudes and a free complex background for fixed centres, widths and
    phase (least squares over real and imaginary parts); returns (model, amplitudes)."""
    from scipy.optimize import nnls

    lines, back = _region_design(x, x0, g, phi)
    cols = np.concatenate([lines, back, -back], 1)
    c, _ = nnls(np.concatenate([cols.real, cols.imag]), np.concatenate([d.real, d.imag]))
    k = x0.size
    amp, bg = c[:k], c[k:k + 4] - c[k + 4:]
    return lines @ amp + back @ bg, amp


def _fit_region(s, lo, hi, tops, hws, noise, max_extra: int = 2):
    """One phase for a group of overlapping lines: complex Lorentzians sharing that phase,
    non-negative amplitudes, complex linear background; a line is added where the residual
    exceeds 8 noise levels (an unresolved shoulder), at most ``max_extra`` times.

    Returns (phase in rad, amplitude-weighted centre in points, summed line height)."""
    from scipy.optimize import least_squares

    # At most ~400 points per group: a broad group is smooth, and the cost of each model
    # evaluation (a non-negative least-squares solve) grows with the points.
    step = max(1, int(np.ceil((hi - lo + 1) / 400)))
    x = np.arange(lo, hi + 1, step, dtype=float)
    d = s[lo:hi + 1:step]
    x0, g = [float(t) for t in tops], [float(h) for h in hws]
    phi = float(np.angle(s[tops[int(np.argmax(np.abs(s[tops])))]]))
    for extra in range(max_extra + 1):
        k = len(x0)

        def res(p):
            r = d - _region_solve(x, d, p[1:1 + k], np.exp(p[1 + k:]), p[0])[0]
            return np.concatenate([r.real, r.imag]) / noise

        lb = np.r_[-np.inf, np.array(x0) - 3 * np.array(g) - 2, np.full(k, np.log(0.3))]
        ub = np.r_[np.inf, np.array(x0) + 3 * np.array(g) + 2, np.full(k, np.log(hi - lo + 1.0))]
        p0 = np.clip(np.r_[phi, x0, np.log(g)], lb + 1e-9, ub - 1e-9)
        sol = least_squares(res, p0, bounds=(lb, ub), x_scale="jac", max_nfev=40)
        phi, x0, g = float(sol.x[0]), list(sol.x[1:1 + k]), list(np.exp(sol.x[1 + k:]))
        model, amp = _region_solve(x, d, np.array(x0), np.array(g), phi)
        r = np.abs(d - model)
        if extra == max_extra or r.max() < 8.0 * noise:
            break
        x0.append(float(x[int(np.argmax(r))]))
        g.append(float(np.median(g)))
    h = amp / np.array(g)
    if h.sum() <= 0:
        return phi, float(np.mean(x0)), 0.0
    return phi, float(np.average(x0, weights=h)), float(h.sum())


def _region_phases(s, noise, snr: float = 8.0, reach: float = 4.0, max_lines: int = 6):
    """Phases of the groups of overlapping lines (see :func:`autophase`).

    Each significant top gets a window of ``reach`` half-widths (half-widths capped at 3 x the
    median of the 5 tallest tops: a top on a broad hump is not a broad line); overlapping
    windows merge into one group. Returns arrays (phase rad, weight = summed line height,
    centre in points) for the groups whose lines reach ``snr`` noise levels.
    """
    mag = np.abs(s)
    idx = _peak_tops(s, snr, noise=noise)
    if idx.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    hws = np.array([_half_width(mag, i) for i in idx])
    hws = np.minimum(hws, 3.0 * np.median(hws[np.argsort(-mag[idx])[:5]]))
    groups = []
    for i, h in zip(idx, hws):  # idx ascending
        a, b = max(0, int(i - reach * h)), min(s.size - 1, int(i + reach * h))
        if groups and a <= groups[-1][1]:
            groups[-1][1] = max(groups[-1][1], b)
            groups[-1][2].append(i)
            groups[-1][3].append(h)
        else:
            groups.append([a, b, [i], [h]])
    out = []
    for a, b, t, h in groups:
        t, h = np.array(t), np.array(h)
        keep = np.argsort(-mag[t])[:max_lines]
        phi, centre, height = _fit_region(s, a, b, t[keep], h[keep], noise)
        if height >= snr * noise:
            out.append((phi, height, centre))
    if not out:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    return tuple(np.array(v) for v in zip(*out))


def autophase(spec, fit_p1: bool = True, p1_range: float = 360.0, snr: float = 8.0, min_gain: float = 0.1,
              details: dict | None = None, min_groups: int = 3):
    """Zero- and first-order phase (TopSpin PHC0, PHC1 in degrees) from the phases of the lines.

    Each group of overlapping lines (every significant top, |S| above ``snr`` noise levels, with
    a window of 4 half-widths; overlapping windows merge) is fitted with complex Lorentzians that
    share ONE phase, non-negative amplitudes and a complex linear background, adding a line where
    an unresolved shoulder leaves a residual (``_fit_region``). Each group is one measurement
    theta_k of PHC0 + PHC1 u_k (u = fractional position from the high-frequency edge), weighted
    by its summed line height. Reading the phase at a single top instead is biased by the
    dispersion of any unresolved partner: arginine's aliphatic tops scatter by +-25 deg, the group
    fits by +-4 deg. A symmetric misfit of the line shape (Gaussian lines fitted as Lorentzians)
    leaves the fitted phase unbiased. With fewer than ``min_groups`` groups (one broad hump) the
    phases are read at the tops (``_top_phases``).

    PHC0 alone is fitted first (weighted circular mean, Tukey re-weighting so outlying groups
    lose their vote); PHC1 is then searched over +-``p1_range`` (0.5 deg steps, which also
    unwraps the phases) and kept only when it raises the robust coherence (1 = every group
    absorptive) by at least ``min_gain``. 0.1 is about 10 deg rms of phase error removed at the
    lines: the real first-order phases gain 0.15-0.19 (alanine, arginine, Ba2P2O7), the 113Cd
    solution spectrum (three close lines, stored PHC1 = 0) 0.04. A first-order phase is a
    property of the acquisition (a remaining group delay or dead time), not something to fit
    whenever it helps. Every group ends real and positive, so the spectrum cannot come out upside
    down.

    Parameters
    ----------
    spec : ndarray
        Complex ascending-axis spectrum (1D).
    fit_p1 : bool
        Allow a first-order phase.
    p1_range : float
        Search range of |PHC1| in degrees: 360 (one dwell) once the digital-filter delay is removed
        (what dead time and pulse timing can leave); more only when the delay is unknown.
    snr : float
        Peaks below this signal-to-noise ratio are not used.
    min_gain : float
        Improvement of the robust coherence (0..1) a PHC1 must bring to be kept.
    details : dict, optional
        Filled with the coherence with and without PHC1, the number of groups (or tops) used,
        ``measured_on`` ('groups' or 'tops') and the choice.
    min_groups : int
        Fewest line groups for the group fits to be used (else the peak tops).

    Returns
    -------
    (phc0, phc1) : tuple of float
    """
    s = np.asarray(spec, complex)
    if s.ndim != 1 or s.size < 16:
        raise UserError("automatic phase needs a 1D spectrum of at least 16 points")
    noise = _point_noise(s)
    theta, w, centre = _region_phases(s, noise, snr)
    if theta.size >= min_groups:
        u = (s.size - 1 - centre) / s.size
        how = "groups"
    else:
        theta, w, u = _top_phases(s, noise, snr)
        how = "tops"
    # PHC0 alone: start from the weighted circular mean and from each of the 5 tallest tops (a
    # broad hump or many weak tops can pull the mean away from the phase of the tall lines).
    starts = [_phase_grid(theta, w, u, np.array([0.0]))[0]] + [float(np.degrees(t)) for t in theta[np.argsort(-w)[:5]]]
    best0 = max((_robust_refine(theta, w, u, p0, 0.0, False) for p0 in starts), key=lambda r: r[2])
    best = best0
    best1 = None
    if fit_p1 and theta.size >= 3:
        best1 = _fit_p1(theta, w, u, p1_range)
        if best1[2] - best0[2] >= min_gain:
            best = best1
    if details is not None:
        details.update(n_tops=int(theta.size), measured_on=how, coherence_p0=best0[2],
                       coherence_p1=None if best1 is None else best1[2],
                       p1_candidate=None if best1 is None else best1[1], p1_kept=best is best1)
    return float((best[0] + 180.0) % 360.0 - 180.0), float(best[1])


def _top_phases(s, noise, snr):
    """Phases, weights and positions u of the significant peak tops read one by one
    (``_local_tops``) on a 4x interpolated spectrum (a sampled top can sit half a point off
    the line centre, where the dispersion is not zero)."""
    up = 4 if s.size <= 16384 else 1
    if up > 1:
        s = _upsample(s, up)
    n = s.size
    idx = _peak_tops(s, snr, noise=noise)
    if idx.size == 0:
        idx = np.array([int(np.argmax(np.abs(s)))])
    tops = _local_tops(s, idx)
    keep = np.abs(tops) > 0.5 * snr * noise
    if keep.any():
        idx, tops = idx[keep], tops[keep]
    return np.angle(tops), np.abs(tops), (n - 1 - idx) / n


def _fit_p1(theta, w, u, p1_range):
    """Best (PHC0, PHC1, coherence) with |PHC1| <= p1_range: the best few PHC1 values of a coarse
    grid, each refined with robust weights; the most coherent wins."""
    from scipy.signal import argrelmax

    grid = np.arange(-p1_range, p1_range + 0.25, 0.5)
    z = np.exp(1j * (theta[None, :] - np.radians(grid)[:, None] * u[None, :]))
    res = np.abs(z @ w) / w.sum()
    loc = argrelmax(np.concatenate([[-1.0], res, [-1.0]]))[0] - 1
    best = None
    for p1 in [float(grid[i]) for i in loc[np.argsort(-res[loc])][:6]]:
        p0, p1 = _phase_grid(theta, w, u, np.array([p1]))
        p0, p1, score = _robust_refine(theta, w, u, p0, p1, True, p1_range=p1_range)
        if best is None or score - PENALTY * abs(p1) / 360.0 > best[2] - PENALTY * abs(best[1]) / 360.0:
            best = (p0, p1, score)
    return best if best is not None else (0.0, 0.0, -1.0)


def _robust_refine(theta, w, u, p0, p1, fit1, c_deg=45.0, p1_range=np.inf):
    """Tukey-biweight re-weighting (45 deg): tops of truncation wiggles, shoulders and overlapped
    lines carry phases unrelated to the instrument phase and lose their vote. Returns the robust
    coherence sum(w_k rho(r_k)) / sum(w_k) as the score."""
    c = np.radians(c_deg)
    for _ in range(5):
        r = np.angle(np.exp(1j * (theta - np.radians(p0 + p1 * u))))
        wr = w * np.where(np.abs(r) < c, (1 - (r / c) ** 2) ** 2, 0.0)
        if wr.sum() <= 0:
            break
        g2 = np.arange(max(p1 - 45.0, -p1_range), min(p1 + 45.0, p1_range) + 0.1, 0.25) if fit1 else np.array([0.0])
        p0, p1 = _phase_grid(theta, wr, u, g2)
    r = np.angle(np.exp(1j * (theta - np.radians(p0 + p1 * u))))
    score = float(np.sum(w * np.where(np.abs(r) < c, (1 - (r / c) ** 2) ** 2, 0.0)) / w.sum())
    return p0, p1, score


def _upsample(s, up):
    """Spectrum on an up-times finer grid over the same span: its FID (the inverse transform,
    starting at t = 0) zero-filled, i.e. exact interpolation; point up * k stays at frequency k."""
    n = s.size
    fid = np.fft.ifft(np.fft.ifftshift(s))
    pad = np.zeros(up * n, complex)
    pad[:n] = fid
    return np.fft.fftshift(np.fft.fft(pad))


def _phase_grid(theta, w, u, grid):
    """Best (PHC0, PHC1) on a PHC1 grid: maximise |sum_k w_k exp(i(theta_k - PHC1 u_k))|."""
    z = np.exp(1j * (theta[None, :] - np.radians(grid)[:, None] * u[None, :]))
    res = np.abs(z @ w) / w.sum()
    # A mild preference for small |PHC1| (PENALTY per 360 deg): with peaks clustered in one part
    # of the window, very different PHC1 values fit almost equally well; take the plainest one.
    g = int(np.argmax(res - PENALTY * np.abs(grid) / 360.0))
    return float(np.degrees(np.angle(z[g] @ w))), float(grid[g])


def phase_quality(spec, phc0: float, phc1: float, snr: float = 8.0, n_peaks: int = 10) -> float:
    """Weighted mean cos(phase error) at the tallest peak tops after (PHC0, PHC1): 1 = absorptive.

    Used to accept or reject a stored phase: below 0.7 (mean error beyond ~45 deg) the stored
    numbers do not fit the FID as this reader processes it (e.g. another digital-filter handling).
    """
    s = np.asarray(spec, complex)
    idx = _peak_tops(s, snr)
    if idx.size == 0:
        return float("nan")
    tops = _local_tops(apply_phase(s, phc0, phc1), idx)
    order = np.argsort(-np.abs(tops))[:n_peaks]
    ph = tops[order]
    w = np.abs(ph) ** 2
    return float(np.sum(w * np.cos(np.angle(ph))) / w.sum())


def phase_difference(spec, phase_a, phase_b, n_peaks: int = 10, snr: float = 8.0) -> float:
    """Largest difference (deg) of two (PHC0, PHC1) corrections at the ``n_peaks`` tallest peaks.

    The measure used to compare the automatic phase with TopSpin's stored one: what matters is
    the phase at the lines, not the PHC0/PHC1 numbers (which trade off against each other).
    """
    s = np.asarray(spec, complex)
    idx = _peak_tops(s, snr)
    if idx.size == 0:
        return float("nan")
    idx = idx[np.argsort(-np.abs(s[idx]))[:n_peaks]]
    u = (s.size - 1 - idx) / s.size
    d = (phase_a[0] + phase_a[1] * u) - (phase_b[0] + phase_b[1] * u)
    return float(np.max(np.abs((d + 180.0) % 360.0 - 180.0)))


def acme_score(spec, phase, snr: float = 5.0) -> float:
    """ACME-style phase criterion over the signal points (lower = better phased).

    Entropy of the normalised |first derivative| of the real spectrum plus 10 x the fraction of
    its power that is negative (after Chen, Weng, Goh & Garland, J. Magn. Reson. 158, 164 (2002)),
    restricted to points where |S| exceeds ``snr`` noise levels (widened by 4 points) so the
    noise-only baseline, most of a MAS spectrum, does not decide. Used as an independent check of
    :func:`autophase` (which reads phases at the peak tops) against the stored phase.
    """
    s = np.asarray(spec, complex)
    m = np.abs(s) > snr * _point_noise(s)
    m = np.convolve(m, np.ones(9), mode="same") > 0
    if m.sum() < 8:
        return float("nan")
    y = apply_phase(s, *phase).real
    d = np.abs(np.gradient(y))[m]
    h = d / max(d.sum(), 1e-300)
    h = h[h > 0]
    ym = y[m]
    return float(-np.sum(h * np.log(h)) + 10.0 * np.sum(ym[ym < 0] ** 2) / max(np.sum(ym ** 2), 1e-300))


def remove_dc(fid, tail_fraction: float = 0.125):
    """Subtract the receiver DC offset (mean of the last ``tail_fraction`` of each FID).

    Returns
    -------
    fid : ndarray
        Corrected copy.
    offset : complex or ndarray
        What was subtracted.
    """
    fid = np.array(fid, dtype=complex, copy=True)
    n = fid.shape[-1]
    k = max(8, int(n * tail_fraction))
    if k >= n:
        return fid, 0.0
    off = fid[..., -k:].mean(axis=-1, keepdims=True)
    return fid - off, np.squeeze(off)


def baseline_mask(y, threshold: float = 3.0, smooth: int = 5, widen: float = 0.01):
    """Boolean mask of baseline (signal-free) points from the smoothed |first derivative|."""
    y = np.asarray(y, float)
    d = np.abs(np.gradient(y))
    if smooth > 1:
        d = np.convolve(d, np.ones(smooth) / smooth, mode="same")
    # Robust scale of the derivative: iterate a median/MAD clip so strong lines do not inflate it.
    keep = np.ones(d.size, bool)
    for _ in range(10):
        med = np.median(d[keep])
        mad = 1.4826 * np.median(np.abs(d[keep] - med))
        new = d < med + threshold * max(mad, 1e-300)
        if np.array_equal(new, keep):
            break
        keep = new
    signal = ~keep
    w = max(1, int(widen * y.size))
    if signal.any():
        signal = np.convolve(signal.astype(float), np.ones(2 * w + 1), mode="same") > 0
    return ~signal


def baseline_correct(y, order: int = 3, mask=None):
    """Subtract a polynomial fitted to the baseline points only (see module docstring).

    Returns
    -------
    corrected : ndarray
    baseline : ndarray
    mask : ndarray of bool
        Points used as baseline.
    """
    y = np.asarray(y, float)
    if order < 0:
        raise UserError(f"baseline order must be >= 0, got {order}")
    m = baseline_mask(y) if mask is None else np.asarray(mask, bool)
    if m.sum() < order + 8:
        return y.copy(), np.zeros_like(y), m
    x = np.linspace(-1.0, 1.0, y.size)
    coef = np.polynomial.legendre.legfit(x[m], y[m], order)
    base = np.polynomial.legendre.legval(x, coef)
    return y - base, base, m


def leading_spikes(fid, factor: float = 2.5, look: int = 8, max_points: int = 8) -> int:
    """Number of leading FID points that are not part of a smooth decay.

    Point i counts when |x_i| exceeds ``factor`` x the median of the next ``look`` points (and so
    do all points before it): a line narrower than SW / ``look`` changes far less than that over
    ``look`` dwells, so such a point is a receiver/filter transient or probe ringing (the 113Cd
    set: points 0-2 at 42, 19 and 5 x the signal that follows), whose transform is a broad,
    rolling, phase-twisted background under every line.
    """
    a = np.abs(np.asarray(fid))
    k = 0
    while k < min(max_points, a.size - look - 1) and a[k] > factor * np.median(a[k + 1: k + 1 + look]):
        k += 1
    return k


LP_FIT_POINTS = 512
LP_RANK_FACTOR = 2.5


def backward_lp(fid, n_points: int, order: int | None = None, fit_points: int | None = None,
                details: dict | None = None):
    """Replace the first ``n_points`` FID points by backward linear prediction.

    The standard repair of corrupted first points (receiver or filter transient, probe ringing):
    a sum of damped complex exponentials obeys x_n = sum_{k=1..M} b_k x_{n+k} exactly for any
    order M at least the number of lines, so the coefficients b fitted on the good points predict
    the points before them, one at a time from the last bad point back to point 0.

    Fit: the rows [x_{n+1} .. x_{n+M}] -> x_n for n = N .. N + K - M - 1 (N = ``n_points``,
    K = ``fit_points`` points starting at N), solved by a rank-truncated SVD (Kumaresan & Tufts,
    IEEE Trans. ASSP 30, 833 (1982)): singular values above ``LP_RANK_FACTOR`` (2.5) x their
    median are signal, the rest noise. With M = K/3 the pure-noise singular values of the
    (K - M) x M matrix lie within about 1.9 x their median (Marchenko-Pastur, aspect ratio 1/2),
    so 2.5 keeps every line whose singular value stands out of the noise and drops directions
    that would only feed noise into the prediction (a floor of 1e-10 x the largest keeps
    round-off out for noiseless data). The median is a noise estimate only while fewer than M/2
    lines are significant (fewer than 85 with the defaults).

    Choices: K = min(512, points after N) (the first, strongest part of the FID, which is what
    the missing points resemble most; more points cost SVD time for little gain); M = K // 3
    (large against the number of lines of a 1D spectrum, and leaves 2M rows to average the
    noise). On 3 damped exponentials with points 0-2 corrupted the predicted points are exact to
    2e-15 relative without noise and within one noise standard deviation at S/N 100
    (``tests/test_spectra_processing.py``).

    Parameters
    ----------
    fid : ndarray
        Complex 1D FID (group delay removed: point 0 is the start of the decay).
    n_points : int
        Number of leading points to replace (>= 0).
    order : int, optional
        Prediction order M (default K // 3).
    fit_points : int, optional
        Number of points K after the replaced ones used for the fit (default min(512, available)).
    details : dict, optional
        Filled with ``order``, ``fit_points``, ``rank`` and ``replaced`` (the original points).

    Returns
    -------
    ndarray
        Copy of the FID with points 0 .. n_points - 1 predicted (same units as the FID).
    """
    x = np.array(fid, dtype=complex, copy=True)
    if x.ndim != 1:
        raise UserError("backward linear prediction needs a 1D FID")
    n = int(n_points)
    if n < 0:
        raise UserError(f"number of points to predict must be >= 0, got {n_points}")
    if n == 0:
        return x
    avail = x.size - n
    k = min(LP_FIT_POINTS, avail) if fit_points is None else int(fit_points)
    m = max(2, k // 3) if order is None else int(order)
    if k > avail or k < max(32, 2 * n) or m < 1 or k - m < m:
        raise UserError(f"backward linear prediction of {n} points: {avail} points remain after them, too few to fit "
                        f"order {m} over {k} points (needs at least 32 points, twice the points predicted and twice "
                        "the order)")
    seg = x[n:n + k]
    rows = k - m
    a = seg[np.arange(rows)[:, None] + 1 + np.arange(m)[None, :]]
    u, sv, vh = np.linalg.svd(a, full_matrices=False)
    rank = int(np.sum(sv > max(LP_RANK_FACTOR * np.median(sv), 1e-10 * sv[0])))
    b = (vh[:rank].conj().T / sv[:rank]) @ (u[:, :rank].conj().T @ seg[:rows])
    replaced = x[:n].copy()
    for i in range(n - 1, -1, -1):
        x[i] = x[i + 1:i + 1 + m] @ b
    if details is not None:
        resid = seg[:rows] - a @ b
        details.update(order=m, fit_points=k, rank=rank, replaced=replaced,
                       residual_rms=float(np.sqrt(np.mean(np.abs(resid) ** 2))))
    return x


def transient_length(fid, max_points: int = 12, k: float = 5.0) -> int:
    """Number of leading FID points to replace: the :func:`leading_spikes` transient, extended
    while the next point differs from its backward prediction (from the points after it) by
    more than ``k`` (5) x the rms residual of that prediction fit (the noise of one point).

    The magnitude test alone misses a transient point whose magnitude happens to look ordinary:
    on the 113Cd set point 3 is only 1.8 x the median of the next 8, but 16 x the noise away
    from its prediction (points 4-8: 1-2 x); replacing it as well takes the baseline rms outside
    the lines from 1.4 to 1.1 x the white noise. Returns 0 when there is no magnitude transient
    (the prediction test is not run on FIDs that start cleanly).
    """
    x = np.asarray(fid, complex)
    n = leading_spikes(x)
    while 0 < n < max_points:
        info = {}
        pred = backward_lp(x, n + 1, details=info)[n]
        if abs(x[n] - pred) <= k * info["residual_rms"]:
            break
        n += 1
    return n


def _phasing_spectrum(fid, dwell_s, lb_hz, zero_fill, skip: int = 0):
    """Spectrum used only to find or judge the phase.

    Broadened so the FID decays to 5 % at its end: truncation wiggles (sinc side lobes of an FID
    cut before it decays) are peaks with phases near +-90 deg; line broadening does not change the
    phase. The first ``skip`` points (see :func:`leading_spikes`) are set to zero with the time
    origin kept, so the lines keep their phase at their tops while the broad background those
    points make disappears.
    """
    aq = np.shape(fid)[-1] * dwell_s
    lb = max(float(lb_hz), np.log(20.0) / (np.pi * aq))
    x = np.array(fid, complex, copy=True)
    if skip:
        x[..., :skip] = 0.0
    return spectrum_1d(x, dwell_s, lb_hz=lb, zero_fill=zero_fill, phase0_deg=0.0)[1]


def _p1_range(ds) -> float:
    """Largest |PHC1| (deg) the acquisition can leave once the digital-filter delay is removed.

    What remains is the time between the nominal start of the FID and its first point: the
    pre-acquisition delay DE plus up to 2/pi of the excitation pulse (TopSpin's acqt0), i.e.
    360 deg x (DE + 20 us) / dwell (Ba2P2O7: DE 10 us, P1 10 us, dwell 8 us; the automatic PHC1
    is -620 deg = 13.8 us). Without a usable DE: one dwell (360 deg) when the delay is removed,
    four when it is unknown.
    """
    dwell_us = ds.dwell_s * 1e6
    try:
        de = float(ds.acqus.get("DE"))
    except (TypeError, ValueError):
        de = None
    if not ds.group_delay_removed:
        return 1440.0
    if de is not None and 0 <= de < 100:  # DE of hundreds of us is not a dead time (converted data)
        return 360.0 * max(1.0, (de + 20.0) / dwell_us)
    return 360.0


def _judge_stored(ds, s_ph, stored, why, notes, threshold: float = 0.7):
    """Accept the stored phase when it leaves the tallest tops absorptive (quality >= 0.7).

    XWIN-NMR (acqus title "XWIN-NMR") stored its phase in the opposite sense for the data as read
    here: on both alginate sets (XWIN-NMR 3.5, DSPFVS 10) (PHC0, PHC1) leaves the lines
    dispersive after the exact group-delay removal, while (-PHC0, -PHC1) makes them absorptive.
    So for XWIN-NMR data both senses are judged and the absorptive one is used (said in a note).
    Returns (phase or None, quality, reason).
    """
    if stored is None:
        return None, float("nan"), why
    q = phase_quality(s_ph, *stored)
    if q >= threshold:
        return stored, q, why
    if "XWIN-NMR" in str(ds.acqus.get("_coreheader", "")) + str(ds.acqus.get("TITLE", "")):
        flipped = (-stored[0], -stored[1])
        qf = phase_quality(s_ph, *flipped)
        if qf >= threshold:
            notes.append(f"XWIN-NMR data: the stored PHC0 = {stored[0]:.1f}, PHC1 = {stored[1]:.1f} apply in the "
                         f"opposite sense here ({-stored[0]:.1f}, {-stored[1]:.1f}; absorption quality {qf:.2f}, "
                         f"{q:.2f} as stored)")
            return flipped, qf, why
    return None, q, (f"stored PHC0 = {stored[0]:.1f}, PHC1 = {stored[1]:.1f} leave the peak tops dispersive here "
                     f"(absorption quality {q:.2f} < {threshold})")


def _repair_leading(data, lp_first, notes):
    """The FID with its leading transient replaced by backward linear prediction (see
    :func:`process_fid`), and a note saying what was done."""
    if lp_first is None:
        n, why = transient_length(data), ("a transient (larger than 2.5 x the median of the next 8 points, or more "
                                          "than 5 noise levels from their backward prediction)")
    else:
        n, why = int(lp_first), "as asked (lp_first)"
    if n < 0:
        raise UserError(f"lp_first must be >= 0, got {lp_first}")
    if n == 0:
        return data
    info = {}
    try:
        out = backward_lp(data, n, details=info)
    except UserError as e:
        raise UserError(f"lp_first {n}: {e}") from None
    ratio = np.abs(info["replaced"]) / np.maximum(np.abs(out[:n]), 1e-300)
    notes.append(f"first {n} FID point(s) are {why}: replaced by backward linear prediction (order {info['order']}, "
                 f"fitted on points {n}-{n + info['fit_points'] - 1}, {info['rank']} signal components; they were "
                 + ", ".join(f"{r:.3g}" for r in ratio) + " x the prediction)"
                 + ("; lp_first 0 keeps them" if lp_first is None else ""))
    return out


@dataclass
class Processed1D:
    """A processed 1D spectrum and how it was made.

    Attributes
    ----------
    freq_hz : ndarray
        Ascending offsets from the carrier in Hz.
    ppm : ndarray
        Ascending shift axis in ppm.
    spectrum : ndarray
        Complex phased spectrum.
    real : ndarray
        Real part after baseline correction (if any).
    phase : (float, float)
        PHC0, PHC1 applied (TopSpin convention, degrees).
    phase_source : str
        'stored', 'auto' or 'user'.
    stored : (float, float) or None
        The phase TopSpin stored in procs (when trusted).
    notes : list of str
    """

    freq_hz: np.ndarray
    ppm: np.ndarray
    spectrum: np.ndarray
    real: np.ndarray
    phase: tuple
    phase_source: str
    stored: tuple | None
    notes: list = field(default_factory=list)


def process_fid(ds, lb_hz: float = 0.0, zero_fill: int = 2, phase="stored", dc: bool = True,
                baseline_order: int | None = None, fid=None, lp_first: int | None = None) -> Processed1D:
    """Process a 1D Bruker FID: DC offset, leading-point repair, apodisation, zero filling, FT, phase, baseline.

    Parameters
    ----------
    ds : BrukerDataset
        From :func:`respdor.spectra.bruker.read_bruker`.
    lb_hz : float
        Exponential line broadening in Hz.
    zero_fill : int
        Zero-fill factor (>= 1).
    phase : 'stored', 'auto' or (PHC0, PHC1)
        'stored' uses procs PHC0/PHC1 when trusted and falls back to 'auto'; a pair is used as given
        (degrees, TopSpin convention).
    dc : bool
        Remove the receiver DC offset.
    baseline_order : int or None
        Polynomial order of the baseline correction (None: no correction).
    fid : ndarray, optional
        Use this FID instead of ``ds.data`` (e.g. summed CPMG echoes).
    lp_first : int or None
        Replace this many leading FID points by backward linear prediction (:func:`backward_lp`);
        None (default): as many as :func:`leading_spikes` finds a transient in (usually 0, then
        nothing changes); 0: never.

    Returns
    -------
    Processed1D
    """
    data = ds.data if fid is None else fid
    if np.ndim(data) != 1:
        raise UserError(f"{ds.path}: a 2D data set; this command needs a 1D FID")
    notes = []
    if dc:
        data, off = remove_dc(data)
        notes.append(f"DC offset removed ({abs(off) / max(np.max(np.abs(data)), 1e-300) * 100:.2g} % of the FID maximum)")
    data = _repair_leading(data, lp_first, notes)
    f, s = spectrum_1d(data, ds.dwell_s, lb_hz=lb_hz, zero_fill=zero_fill, phase0_deg=0.0)
    stored, why = stored_phase(ds)
    if isinstance(phase, str):
        if phase not in ("stored", "auto"):
            raise UserError(f"phase must be 'stored', 'auto' or two numbers, got {phase!r}")
        # Judge and find the phase on the apodised spectrum without the leading-point transient
        # (truncation wiggles and broad backgrounds have no phase to judge).
        skip = leading_spikes(data)
        if skip:
            notes.append(f"first {skip} FID point(s) are a transient (each > 2.5 x the median of the next 8) kept in "
                         "the spectrum: left out when the phase is found")
        s_ph = _phasing_spectrum(data, ds.dwell_s, lb_hz, min(zero_fill, 2), skip)
        stored, q, why = _judge_stored(ds, s_ph, stored, why, notes)
        if phase == "stored" and stored is not None:
            p, source = stored, "stored"
        else:
            if phase == "stored":
                notes.append(f"no usable stored phase ({why}): automatic phase")
            info = {}
            p = autophase(s_ph, p1_range=_p1_range(ds), details=info)
            if info.get("p1_candidate") is not None and not info["p1_kept"]:
                notes.append(f"automatic phase: PHC1 = {info['p1_candidate']:.0f} deg would raise the coherence of the "
                             f"{info['n_tops']} {'line groups' if info['measured_on'] == 'groups' else 'peak tops'} only from "
                             f"{info['coherence_p0']:.2f} to "
                             f"{info['coherence_p1']:.2f}: PHC1 = 0 kept")
            source = "auto"
    else:
        p0, p1 = (float(v) for v in phase)
        p, source = (p0, p1), "user"
    s = apply_phase(s, *p)
    notes.append(f"phase PHC0 = {p[0]:.1f} deg, PHC1 = {p[1]:.1f} deg ({source}"
                 + (f"; TopSpin stored {stored[0]:.1f}, {stored[1]:.1f}" if stored and source != "stored" else "") + ")")
    y = s.real
    if baseline_order is not None:
        y, _, m = baseline_correct(y, baseline_order)
        notes.append(f"baseline: order-{baseline_order} polynomial through {int(m.sum())} signal-free points subtracted")
    return Processed1D(f, ds.ppm_axis(f.size), s, y, tuple(float(v) for v in p), source, stored, notes)
