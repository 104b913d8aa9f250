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


def test_pm_pulse_has_constant_amplitude_and_jumps_between_plus_and_minus_offset():
    from spinsim.sequences import pm_pulse

    p = pm_pulse("27Al", 30e3, 100e-6, 200e3, 50e3, step_s=0.25e-6)
    amps = {e.rf["27Al"][0] for e in p.events}
    assert amps == {30e3} and p.duration == pytest.approx(100e-6)
    ph = np.unwrap(np.radians([e.rf["27Al"][1] for e in p.events]))
    freq = np.diff(ph) / (2 * np.pi * 0.25e-6)
    jumps = np.abs(freq) < 1e3  # step centres straddling a jump see no net phase change
    assert np.allclose(np.abs(freq[~jumps]), 200e3, rtol=1e-6) and jumps.sum() == 9  # a jump every 10 us
    # +offset for the first 10 us (half a period of 50 kHz), then -offset
    assert np.all(freq[:39] > 0) and np.all(freq[40:79] < 0)


def test_adiabatic_sr4_and_pm_specs_run():
    from spinsim.spec import load_spec

    raw = {
        "experiment": {"field_T": 9.4, "mas_rate_hz": 10000, "recoupling_times_ms": [0.0, 0.4]},
        "spins": [{"isotope": "111Cd"}, {"isotope": "27Al", "cq_mhz": 1.0}],
        "dipolar": [{"spins": [0, 1], "d_hz": 300.0}],
        "recoupling": {"scheme": "adiabatic_sr4", "supercycle": "R4R4bar", "step_us": 1.0},
        "saturation": {"type": "pm", "nu1_khz": 30, "length_us": 100, "offset_khz": 200, "modulation_khz": 50,
                       "step_us": 1.0},
        "powder": {"n": 21, "n_gamma": 2},
        "simulation": {"max_dt_us": 1.0},
    }
    r = load_spec(raw).run()
    assert "adiabatic (HS) R4R4bar on 111Cd" in r.info["experiment"][0]
    assert "PM 30000 Hz" in r.info["experiment"][1]
    assert abs(r.S0[0] - 1) < 1e-9 and 0.0 < r.dSS0[1] < 0.5


def test_adiabatic_sr4_with_pm_saturation_matches_the_scipy_propagation():
    from spinsim.powder import Powder
    from spinsim.reference import reference_signals
    from spinsim.sequences import Block, Event, adiabatic_sr4_cycle, pm_pulse

    system = SpinSystem([Spin("111Cd", csa_zeta_ppm=80, csa_eta=0.4), Spin("27Al", cq_hz=2e6, eta_q=0.3)], 9.4,
                        [DipolarCoupling(0, 1, 300.0, (0.0, 0.6, 0.0))])
    pw = Powder(np.array([0.5]), np.array([1.0]), np.array([1.0]), 2)
    cycle = adiabatic_sr4_cycle("111Cd", MAS, "R4R4bar", step_s=1e-6)
    sat = pm_pulse("27Al", 30e3, 100e-6, 200e3, 50e3, step_s=1e-6)
    dt = 1e-6
    r = simulate_respdor(system, MAS, [0.0, 2 * cycle.duration], sat, cycle, powder=pw, max_dt=dt)
    e, w = pw.euler_full()
    ref1 = w @ reference_signals(system, MAS, cycle, sat, [0, 1], e, dt)
    ref0 = w @ reference_signals(system, MAS, cycle, Block([Event(100e-6)]), [0, 1], e, dt)
    assert np.allclose(r.S1_complex, ref1, atol=1e-9) and np.allclose(r.S0_complex, ref0, atol=1e-9)
    assert r.dSS0[1] > 0.01
