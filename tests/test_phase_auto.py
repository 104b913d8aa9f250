"""Automatic phase and group-delay removal on synthetic FIDs with known answers (always run)."""

import numpy as np
import pytest

from respdor.spectra.bruker import group_delay_points, remove_group_delay
from respdor.spectra.processing import spectrum_1d
from respdor.spectra.processing import _phasing_spectrum, apply_phase, autophase, leading_spikes, phase_difference

SW = 100_000.0


def _fid(lines, n=4096, delay_pts=0.0, p0=30.0, noise=0.002, seed=3, spike=None):
    """Lorentzian lines (Hz, amplitude) sampled from t = -delay (a first-order phase of 360 deg x delay)."""
    rng = np.random.default_rng(seed)
    t = (np.arange(n) - delay_pts) / SW
    fid = sum(a * np.exp(2j * np.pi * nu * t) for nu, a in lines) * np.exp(-np.abs(t) * np.pi * 80.0)
    fid = fid * np.exp(1j * np.radians(p0)) + noise * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    if spike is not None:
        fid[: len(spike)] += spike
    return fid


def _true_phase_error(s, f, p_found, p0, delay_pts, lines):
    """Residual phase (deg) at each line after the found correction."""
    n = s.size
    out = []
    for nu, _ in lines:
        i = int(np.argmin(np.abs(f - nu)))
        u = (n - 1 - i) / n
        # the FID phase at the line: p0 - 360 nu delay / SW; the correction removes p_found[0] + p_found[1] u
        true = p0 - 360.0 * nu * delay_pts / SW
        out.append(((true - (p_found[0] + p_found[1] * u)) + 180) % 360 - 180)
    return np.array(out)


def test_three_clustered_lines_get_no_phc1():
    lines = [(3000.0, 1.0), (6500.0, 0.1), (-500.0, 0.1)]  # a tall line and two satellites, as the 113Cd set
    f, s = spectrum_1d(_fid(lines), 1 / SW, lb_hz=20)
    info = {}
    p = autophase(s, details=info)
    assert p[1] == 0.0 and not info["p1_kept"]
    assert np.all(np.abs(_true_phase_error(s, f, p, 30.0, 0.0, lines)) < 3)


def test_a_real_delay_is_fitted_within_its_range():
    # 0.6 dwell of delay left: PHC1 = +216 deg across the window (TopSpin sense), lines spread over it
    lines = [(nu, 1.0 - 0.015 * k) for k, nu in enumerate(np.arange(-45000.0, 45001.0, 7500.0))]
    f, s = spectrum_1d(_fid(lines, delay_pts=0.6), 1 / SW, lb_hz=20)
    p = autophase(s, p1_range=360.0)
    assert np.all(np.abs(_true_phase_error(s, f, p, 30.0, 0.6, lines)) < 3)
    assert p[1] == pytest.approx(216.0, abs=6)


def test_leading_transient_left_out_of_the_phase():
    # a 3-point receiver transient 40x the signal (the 113Cd set): broad, phase-twisted background
    lines = [(3000.0, 1.0), (-8000.0, 0.5)]
    fid = _fid(lines, spike=np.array([40.0 - 15j, 18.0 + 10j, 5.0 - 4j]))
    assert leading_spikes(fid) == 3
    s_plain = _phasing_spectrum(fid, 1 / SW, 20.0, 2)
    s_skip = _phasing_spectrum(fid, 1 / SW, 20.0, 2, skip=3)
    f = np.fft.fftshift(np.fft.fftfreq(s_skip.size, 1 / SW))
    err_skip = _true_phase_error(s_skip, f, autophase(s_skip), 30.0, 0.0, lines)
    err_plain = _true_phase_error(s_plain, f, autophase(s_plain), 30.0, 0.0, lines)
    assert np.all(np.abs(err_skip) < 3) and np.max(np.abs(err_plain)) > 3 * np.max(np.abs(err_skip))
    assert leading_spikes(_fid(lines)) == 0


def test_fractional_group_delay_removed_exactly():
    lines = [(12000.0, 1.0), (-30000.0, 0.7)]
    raw = _fid(lines, delay_pts=67.982, p0=0.0, noise=0.0)
    fid = remove_group_delay(raw, 67.982)
    assert fid.size == 4096 - 68
    ref = _fid(lines, delay_pts=0.0, p0=0.0, noise=0.0)[: fid.size]
    # away from the first points (the filter's edge in this unfiltered test) the FIDs coincide
    assert np.max(np.abs(fid[20:-50] - ref[20:-50])) < 2e-3 * np.max(np.abs(ref))
    f, s = spectrum_1d(fid, 1 / SW, lb_hz=20)
    p = autophase(s)
    assert abs(p[1]) < 10  # nmrglue's default (truncated to 67 points) leaves 353 deg here


def test_group_delay_sources():
    assert group_delay_points({"GRPDLY": 76, "DSPFVS": 21, "DECIM": 200})[0] == 76
    assert group_delay_points({"GRPDLY": 0, "DSPFVS": 20, "DECIM": 1})[0] == 0.0
    g, how = group_delay_points({"DSPFVS": 10, "DECIM": 4})
    assert g == 66.625 and "table" in how
    assert group_delay_points({"DSPFVS": 0, "DECIM": 2, "GRPDLY": -1})[0] is None


def test_phase_difference_is_zero_for_equal_corrections_and_sees_phc1():
    f, s = spectrum_1d(_fid([(3000.0, 1.0), (-30000.0, 0.8)]), 1 / SW, lb_hz=20)
    assert phase_difference(s, (10.0, 100.0), (10.0, 100.0)) == 0.0
    assert phase_difference(s, (10.0, 100.0), (10.0, 0.0)) == pytest.approx(100 * 0.8, abs=3)  # the -30 kHz line
    y = apply_phase(s, *autophase(s)).real
    assert y[np.argmax(np.abs(y))] > 0


def test_acme_score_prefers_the_right_phase():
    from respdor.spectra.processing import acme_score

    lines = [(3000.0, 1.0), (-30000.0, 0.8), (20000.0, 0.5)]
    f, s = spectrum_1d(_fid(lines, p0=30.0), 1 / SW, lb_hz=20)
    right = acme_score(s, (30.0, 0.0))
    assert right < acme_score(s, (0.0, 0.0)) and right < acme_score(s, (30.0, 60.0))
    assert right < acme_score(s, (210.0, 0.0))  # upside down: the negativity term


def test_overlapped_lines_phased_by_the_group_fit_not_the_tops():
    # Arginine-like: each tall line carries an unresolved partner 0.6 line widths away, so the top
    # of every group is pulled by its partner's dispersion; the shared-phase fit of each group is not.
    from respdor.spectra.processing import _point_noise, _region_phases, _top_phases

    lines = []
    for k, nu in enumerate((-30000.0, -12000.0, 4000.0, 21000.0, 38000.0)):
        lines += [(nu, 1.0), (nu + (1 if k % 2 else -1) * 60.0, 0.45)]
    f, s = spectrum_1d(_fid(lines, n=4096, delay_pts=0.4, p0=30.0, noise=0.001), 1 / SW, lb_hz=20)
    n = s.size
    noise = _point_noise(s)
    th, w, c = _region_phases(s, noise)
    assert th.size == 5  # one group per pair
    truth = lambda x: 30.0 - 360.0 * 0.4 * np.interp(x, np.arange(n), f) / SW  # the FID phase at x
    err_groups = (np.degrees(th) - truth(c) + 180) % 360 - 180
    tt, tw, tu = _top_phases(s, noise, 8.0)
    big = tw > 0.5 * tw.max()
    x_top = n - 1 - tu[big] * n
    err_tops = (np.degrees(tt[big]) - truth(x_top) + 180) % 360 - 180
    assert np.max(np.abs(err_groups)) < 2.0
    assert np.max(np.abs(err_tops)) > 3 * np.max(np.abs(err_groups))
    p = autophase(s, p1_range=360.0)
    assert np.all(np.abs(_true_phase_error(s, f, p, 30.0, 0.4, lines[::2])) < 2.0)


def test_gaussian_lines_fitted_as_lorentzians_keep_their_phase():
    # The group model is Lorentzian; a Gaussian line's misfit is even about its centre and the
    # phase (which rotates the odd dispersion into it) stays unbiased: measured < 0.3 deg.
    rng = np.random.default_rng(7)
    n, fw = 4096, 300.0
    t = (np.arange(n) - 0.3) / SW
    lines = [(nu, 1.0 - 0.1 * k) for k, nu in enumerate((-35000.0, -15000.0, 2000.0, 18000.0, 33000.0))]
    fid = sum(a * np.exp(2j * np.pi * nu * t) for nu, a in lines) * np.exp(-(np.pi * fw * t) ** 2 / (4 * np.log(2)))
    fid = fid * np.exp(-1j * np.radians(50.0)) + 0.002 * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    f, s = spectrum_1d(fid, 1 / SW)
    info = {}
    p = autophase(s, p1_range=360.0, details=info)
    assert info["measured_on"] == "groups" and info["p1_kept"]
    assert np.all(np.abs(_true_phase_error(s, f, p, -50.0, 0.3, lines)) < 1.0)
