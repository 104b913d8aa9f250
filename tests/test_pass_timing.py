"""PASS five-pi-pulse timings (spinsim.pass_timing) and an exact PASS block simulation."""

import numpy as np
import pytest

from spinsim.pass_timing import pass_equations_residual, pass_timings
from spinsim.sidebands import pass_sideband_amplitudes, sideband_intensities

# physics.md section 5, N = 16, pulse centres t_q / tau_r [checked there].
TABLE16 = np.array([
    [0.1667, 0.3333, 0.5000, 0.6667, 0.8333],
    [0.1487, 0.3034, 0.4796, 0.6350, 0.8101],
    [0.1376, 0.2782, 0.4619, 0.6046, 0.7833],
    [0.1350, 0.2616, 0.4510, 0.5800, 0.7555],
    [0.1430, 0.2581, 0.4542, 0.5699, 0.7309],
    [0.1607, 0.2686, 0.4787, 0.5892, 0.7185],
    [0.1801, 0.2811, 0.5091, 0.6407, 0.7327],
    [0.1947, 0.2854, 0.5138, 0.6884, 0.7653],
    [0.2098, 0.2902, 0.5000, 0.7098, 0.7902],
    [0.2347, 0.3116, 0.4862, 0.7146, 0.8053],
    [0.2673, 0.3593, 0.4909, 0.7189, 0.8199],
    [0.2815, 0.4108, 0.5213, 0.7314, 0.8393],
    [0.2691, 0.4301, 0.5458, 0.7419, 0.8570],
    [0.2445, 0.4200, 0.5490, 0.7384, 0.8650],
    [0.2167, 0.3954, 0.5381, 0.7218, 0.8624],
    [0.1899, 0.3650, 0.5204, 0.6966, 0.8513],
])


@pytest.fixture(scope="module")
def timings16():
    return pass_timings(16)


def test_table_physics_md(timings16):
    np.testing.assert_allclose(timings16.fractions, TABLE16, atol=6e-5)
    assert timings16.residual.max() < 1e-9


def test_constraints_hold(timings16):
    for p, f in zip(timings16.pitch, timings16.fractions):
        assert np.all(np.diff(f) > 0) and f[0] > 0 and f[-1] < 1
        np.testing.assert_allclose(pass_equations_residual(2 * np.pi * f, p), 0.0, atol=1e-9)
    assert timings16.min_gap.min() > 0.07


@pytest.mark.parametrize("n", [8, 12])
def test_other_pitch_counts(n):
    t = pass_timings(n)
    np.testing.assert_allclose(t.pitch, 2 * np.pi * np.arange(n) / n)
    assert t.residual.max() < 1e-9
    np.testing.assert_allclose(t.fractions[0], np.arange(1, 6) / 6, atol=1e-9)


def test_pulse_length_check(timings16):
    timings16.check_pulse_length(8000.0, 5e-6)
    with pytest.raises(ValueError, match="does not fit"):
        timings16.check_pulse_length(8000.0, 12e-6)


def test_exact_pass_block_gives_pure_sideband_phases(timings16):
    # Each crystallite propagated through the five ideal pi pulses: the powder signal must be
    # sum_k I_k exp(+i k Theta) e^{i k w_r t} (convention of physics.md 5), purity > 0.999.
    nu0, mas = 88.75e6, 8000.0
    amp = pass_sideband_amplitudes(450.0, -0.3, nu0, mas, timings16.fractions, n_sidebands=7)
    inten = sideband_intensities(450.0, -0.3, nu0, mas, n_sidebands=7).intensities
    k = np.arange(-7, 8)
    pred = inten[None, :] * np.exp(1j * np.outer(timings16.pitch, k))
    assert np.max(np.abs(amp - pred)) < 1e-10
    rows = np.fft.fft(amp, axis=0) / 16  # row n holds order n only
    for col, kk in enumerate(k):
        purity = np.abs(rows[kk % 16, col]) / np.abs(rows[:, col]).sum()
        assert purity > 0.999


def test_wrong_timing_is_detected():
    # Equal spacing (pitch 0) used for every row: no sideband separation, phases all zero.
    nu0, mas = 88.75e6, 8000.0
    frac = np.tile(np.arange(1, 6) / 6, (4, 1))
    amp = pass_sideband_amplitudes(450.0, -0.3, nu0, mas, frac, n_sidebands=5)
    assert np.allclose(amp[1], amp[0]) and np.abs(amp[0].imag).max() < 1e-10


def test_bad_n():
    with pytest.raises(ValueError, match=">= 1"):
        pass_timings(0)
