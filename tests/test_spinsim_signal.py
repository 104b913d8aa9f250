"""The detected signal (issue 11): S_x after the excitation, complex detection, a large CSA under
SR4 against an independent brute-force scipy propagation, and the S0 phase convention."""

import numpy as np
import pytest

from spinsim.powder import Powder
from spinsim.sequences import Block, Event, cw_pulse, sr4_cycle
from spinsim.system import DipolarCoupling, Spin, SpinSystem

pytest.importorskip("numba")
from spinsim.reference import reference_signals  # noqa: E402
from spinsim.simulate import _general_signals, simulate_respdor  # noqa: E402

MAS = 8e3


def cd_al(span_ppm=300.0):
    cd = Spin.with_maryland_csa("111Cd", 0.0, span_ppm, 0.3, csa_euler=(0.3, 0.9, 0.0))
    al = Spin("27Al", cq_hz=3e6, eta_q=0.3)
    return SpinSystem([cd, al], 9.4, [DipolarCoupling(0, 1, 247.0, (0.0, 0.4, 0.0))])


def test_sr4_with_300ppm_csa_matches_brute_force_scipy_propagation():
    system = cd_al()
    pw = Powder(np.array([0.3]), np.array([0.8]), np.array([1.0]), 2)
    # the same piecewise-constant steps in both methods (tau_R / 128: the rotor grid that the engine
    # shares across gamma angles, and the scipy loop's per-event slicing); keeps the scipy loop short
    dt = 1 / MAS / 128
    cycle = sr4_cycle("111Cd", MAS, "R4R4bar", nu1_hz=2 * MAS)  # nu1 = 16 kHz
    sat = cw_pulse("27Al", 30e3, 2 / MAS)
    ns = np.array([0, 2])
    t = ns * 2 * cycle.duration
    gen = simulate_respdor(system, MAS, t, sat, cycle, powder=pw, max_dt=dt)
    e, w = pw.euler_full()
    ref1 = w @ reference_signals(system, MAS, cycle, sat, ns, e, dt)
    ref0 = w @ reference_signals(system, MAS, cycle, Block([Event(2 / MAS)]), ns, e, dt)
    assert gen.info["shared_gamma_grid"] == 128
    assert np.allclose(gen.S1_complex, ref1, atol=1e-9)
    assert np.allclose(gen.S0_complex, ref0, atol=1e-9)
    assert np.allclose(gen.dSS0, 1 - (ref1 / ref0).real, atol=1e-9)
    # the CSA makes the signal complex and S0 < 1: the check is not vacuous
    assert np.max(np.abs(gen.S0_complex.imag)) > 1e-3 and gen.S0[-1] < 0.99
    # keeping only the S+ pathway (spinsim before issue 11) gives another curve
    plus1, _ = _general_signals(system, MAS, cycle, sat, ns, pw, dt, None, False, 32, initial="plus")
    plus0, _ = _general_signals(system, MAS, cycle, Block([Event(2 / MAS)]), ns, pw, dt, None, False, 32,
                                initial="plus")
    old = 1 - plus1.real / plus0.real
    assert np.max(np.abs(old - gen.dSS0)) > 5e-3


def test_s0_is_the_modulus_and_s1_is_phased_like_s0():
    system = cd_al(100.0)
    pw = Powder(np.array([0.3]), np.array([0.8]), np.array([1.0]), 4)
    cycle = sr4_cycle("111Cd", MAS, "R4R4bar")
    r = simulate_respdor(system, MAS, [0.0, 4 * cycle.duration], cw_pulse("27Al", 30e3, 2 / MAS), cycle, powder=pw)
    assert np.allclose(r.S0, np.abs(r.S0_complex))
    assert np.allclose(r.S1, (r.S1_complex * np.exp(-1j * np.angle(r.S0_complex))).real)
    assert np.allclose(r.dSS0, 1 - (r.S1_complex / r.S0_complex).real)


def test_finite_centre_pulse_tends_to_the_ideal_one_and_is_resolved():
    from spinsim.powder import make_powder

    system = SpinSystem([Spin("13C", csa_zeta_ppm=60, csa_eta=0.5), Spin("27Al", cq_hz=3e6, eta_q=0.3)], 9.4,
                        [DipolarCoupling(0, 1, 503.0)])
    pw = make_powder("zcw", 21, 4)
    t = 2e-4 * np.array([0, 3, 6])
    sat = cw_pulse("27Al", 30e3, 200e-6)
    ideal = simulate_respdor(system, 1e4, t, sat, powder=pw, method="general")
    short = simulate_respdor(system, 1e4, t, sat, powder=pw, centre_pulse=0.05e-6, max_dt=0.05e-6)
    ideal_fine = simulate_respdor(system, 1e4, t, sat, powder=pw, method="general", max_dt=0.05e-6)
    real = simulate_respdor(system, 1e4, t, sat, powder=pw, centre_pulse=10e-6)
    assert short.info["engine"] == "general"
    assert np.max(np.abs(short.dSS0 - ideal_fine.dSS0)) < 2e-4
    # a 10 us pulse under a 60 ppm CSA: S0 loses 0.8 %, dS/S0 moves by 4e-4 only (it cancels in S1/S0)
    assert np.min(real.S0) < 0.995
    assert 1e-4 < np.max(np.abs(real.dSS0 - ideal.dSS0)) < 1e-3
    assert "a 10 us 13C pi pulse (phase x, 50 kHz) centred at its middle" in real.info["experiment"][1]


@pytest.mark.parametrize("mode", ["truncate", "continue"])
def test_any_even_number_of_rotor_periods_and_a_cycle_continuing_across_the_centre(mode):
    """xy-8 finite pulses (a 4 tau_R cycle) at t_rec = 2 and 6 tau_R, against the scipy propagation of
    the same explicit halves."""
    from spinsim.sequences import redor_cycle
    from spinsim.simulate import _periods

    system = SpinSystem([Spin("13C", csa_zeta_ppm=60, csa_eta=0.5), Spin("27Al", cq_hz=1e6, eta_q=0.3)], 9.4,
                        [DipolarCoupling(0, 1, 503.0, (0.0, 0.5, 0.0))])
    pw = Powder(np.array([0.4]), np.array([0.9]), np.array([1.0]), 2)
    cycle = redor_cycle("13C", 1e4, 5e-6, "xy8", placement="centred")
    sat = cw_pulse("27Al", 30e3, 200e-6)
    dt = 0.5e-6  # the pulses start at 22.5 us: the rotor grid (shared across gamma) and the scipy slicing agree
    r = simulate_respdor(system, 1e4, [2e-4, 6e-4], sat, cycle, powder=pw, max_dt=dt, cycle_mode=mode)
    assert r.info["shared_gamma_grid"] == 200
    p = [ev for ev in _periods(cycle, 1e-4)]
    if mode == "truncate":
        halves = [(p[0], p[0]), (p[0] + p[1] + p[2], p[0] + p[1] + p[2])]
    else:
        halves = [(p[0], p[1]), (p[0] + p[1] + p[2], p[3] + p[0] + p[1])]
    e, w = pw.euler_full()
    for i, (first, second) in enumerate(halves):
        ref1 = w @ reference_signals(system, 1e4, Block(first), sat, [1], e, dt, cycle_after=Block(second))
        ref0 = w @ reference_signals(system, 1e4, Block(first), Block([Event(200e-6)]), [1], e, dt,
                                     cycle_after=Block(second))
        assert r.S1_complex[i] == pytest.approx(ref1[0], abs=1e-9)
        assert r.S0_complex[i] == pytest.approx(ref0[0], abs=1e-9)
    assert "t_rec = 2 m tau_R" in r.info["experiment"][0]
    other = simulate_respdor(system, 1e4, [6e-4], sat, cycle, powder=pw, max_dt=dt,
                             cycle_mode="continue" if mode == "truncate" else "truncate")
    assert abs(other.S1_complex[0] - r.S1_complex[1]) > 1e-4  # the two modes are different experiments
