"""rf inhomogeneity, phase-modulated saturation and adiabatic SR4 (issue 11)."""

import numpy as np
import pytest

from spinsim.powder import make_powder
from spinsim.sequences import cw_pulse, gaussian_rf_profile, scale_rf
from spinsim.system import DipolarCoupling, Spin, SpinSystem

pytest.importorskip("numba")
from spinsim.simulate import RfInhomogeneity, simulate_respdor  # noqa: E402

MAS = 10e3


def pair(cq=0.0, d=500.0):
    return SpinSystem([Spin("13C"), Spin("27Al", cq_hz=cq)], 9.4, [DipolarCoupling(0, 1, d)])


def test_rf_inhomogeneity_averages_the_complex_signals_of_scaled_runs():
    pw = make_powder("zcw", 21, 4)
    t = 2e-4 * np.arange(0, 8, 3)
    sat = cw_pulse("27Al", 30e3, 200e-6)
    dist = RfInhomogeneity([0.9, 1.0, 1.1], [1, 2, 1])
    r = simulate_respdor(pair(), MAS, t, sat, powder=pw, rf_inhomogeneity=dist)
    parts = [simulate_respdor(pair(), MAS, t, scale_rf(sat, ("27Al",), f), powder=pw) for f in (0.9, 1.0, 1.1)]
    s1 = (parts[0].S1_complex + 2 * parts[1].S1_complex + parts[2].S1_complex) / 4
    s0 = (parts[0].S0_complex + 2 * parts[1].S0_complex + parts[2].S0_complex) / 4
    assert np.allclose(r.dSS0, 1 - (s1 / s0).real, atol=1e-12)
    assert "rf inhomogeneity: 3 nu1 scale factors on 27Al" in r.info["experiment"][-2]
    # CQ = 0: 30 kHz x 200 us is six full turns (no dephasing); at 0.9 nu1 it is 5.4 turns, an
    # inversion of part of the spins, so the inhomogeneous curve must dephase
    assert np.max(np.abs(parts[1].dSS0)) < 1e-4
    assert r.dSS0[-1] > 0.05


def test_rf_inhomogeneity_refuses_channels_without_finite_rf():
    dist = RfInhomogeneity([0.9, 1.1], [1, 1], ("13C",))
    with pytest.raises(ValueError, match="rf inhomogeneity on 13C: no finite rf"):
        simulate_respdor(pair(), MAS, [0.0], cw_pulse("27Al", 30e3, 200e-6), powder=make_powder("zcw", 21, 2),
                         rf_inhomogeneity=dist)


def test_gaussian_profile():
    s, w = gaussian_rf_profile(0.1, 7)
    assert w.sum() == pytest.approx(1.0) and np.dot(s, w) == pytest.approx(1.0)
    fwhm = 2 * np.sqrt(2 * np.log(2)) * np.sqrt(np.dot(w, (s - 1) ** 2))
    assert 0.07 < fwhm < 0.1  # a 7-point grid on +-2 sigma truncates the tails
