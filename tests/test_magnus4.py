"""The fourth-order Magnus step of the fast engine (``integrator="magnus4"``).

Checked against: scipy's expm of the Magnus exponent built by hand, Gauss-Legendre quadrature of
the first moments, the brute-force scipy reference with Magnus slices (whole curves, to 1e-9),
and its order of convergence (the error falls ~16x per halved step where the piecewise-constant
step's falls ~4x).
"""

import numpy as np
import pytest
from numba import njit
from scipy.linalg import expm

from spinsim.powder import Powder
from spinsim.sequences import Block, Event, cw_pulse, redor_cycle, wurst_pulse
from spinsim.system import DipolarCoupling, Spin, SpinSystem

K = pytest.importorskip("spinsim._kernels")
from spinsim import _drivers_fast  # noqa: E402
from spinsim.reference import reference_signals  # noqa: E402
from spinsim.simulate import simulate_respdor  # noqa: E402

MAS = 10e3


@njit
def _apply_steps(U, diag, mu, off, dt, zph, phased):
    k, n = diag.shape
    return K._apply_steps(U, diag, mu, off, dt, zph, phased, np.empty((k, n)), np.empty((k, n)), np.empty((k, n, n)),
                          np.empty((n, n), np.complex128), np.empty((k, n), np.complex128), np.empty((12, k)))


def _seed_pair():
    return SpinSystem(
        [Spin("13C", csa_zeta_ppm=60, csa_eta=0.5), Spin("27Al", cq_hz=3e6, eta_q=0.3, q_euler=(0.2, 0.5, 0.1))],
        9.4, [DipolarCoupling(0, 1, 503.0, (0.0, 0.3, 0.0))])


def _two_crystallites(n_gamma=2):
    return Powder(np.array([0.3, 1.2]), np.array([0.7, 1.3]), np.array([0.5, 0.5]), n_gamma)


@pytest.mark.parametrize("phase", [0.0, 0.7])
def test_magnus_step_is_expm_of_the_magnus_exponent(phase):
    spin = 2.5
    m = spin - np.arange(6)
    ip = np.diag(np.sqrt(spin * (spin + 1) - m[1:] * (m[1:] + 1)), 1)
    ix, iy = (ip + ip.T) / 2, (ip - ip.T) / 2j
    rng = np.random.default_rng(8)
    w1, dt = 2 * np.pi * 40e3, 0.5e-6
    diag = rng.normal(size=6) * 2 * np.pi * 5e5
    mu = rng.normal(size=6) * 0.3  # rad: large, so that the correction is far from negligible
    off = np.append(np.diagonal(w1 * ix, 1), 0.0)
    U0 = expm(-1j * np.diag(np.arange(6.0)))
    U = U0.copy()
    assert _apply_steps(U[None], diag[None], mu[None], off, dt, np.exp(-1j * phase * m), phase != 0)
    M0 = (np.diag(diag) + w1 * (np.cos(phase) * ix + np.sin(phase) * iy)) * dt
    M1 = np.diag(mu)
    want = expm(-1j * (M0 - 1j * (M1 @ M0 - M0 @ M1))) @ U0
    assert np.allclose(U, want, rtol=0, atol=1e-13)
    assert np.abs(want - expm(-1j * M0) @ U0).max() > 0.05  # the moment term matters here


@pytest.mark.parametrize("dt", [0.5e-6, 1e-8, 1e-11])  # the last two take the series of sin x - x cos x
def test_moment_factors_equal_quadrature(dt):
    wr = 2 * np.pi * 12.5e3
    t0 = np.array([0.0, 3.3e-5, 7.1e-5])
    got = _drivers_fast._moment_factors(t0, dt, wr)
    x, w = np.polynomial.legendre.leggauss(12)
    for i, a in enumerate(t0):
        u = x * dt / 2
        for k in range(1, 5):
            # the mid-step phase factored out, so that the sum over nodes does not cancel in rounding
            want = np.exp(1j * k * wr * (a + dt / 2)) * ((w * u) @ np.exp(1j * k * wr * u)) / 2
            # below ~1e-8 s the quadrature's own rounding (nodes symmetric to 1 ulp) is ~1e-10 relative
            assert abs(got[i, k - 1] - want) <= (1e-12 if dt > 1e-7 else 1e-9) * abs(want), (i, k)


def _reference(system, sat, ns, pw, max_dt, magnus4):
    e, w = pw.euler_full()
    cycle = redor_cycle("13C", MAS, 0.0, "x")
    ref1 = w @ reference_signals(system, MAS, cycle, sat, ns, e, max_dt, magnus4=magnus4)
    ref0 = w @ reference_signals(system, MAS, cycle, Block([Event(sat.duration)]), ns, e, max_dt, magnus4=magnus4)
    return ref1, ref0


def test_shared_gamma_path_equals_the_scipy_reference_with_magnus_slices():
    system, pw = _seed_pair(), _two_crystallites()
    ns = np.array([0, 1, 6])
    sat = cw_pulse("27Al", 30e3, 200e-6)
    m4 = simulate_respdor(system, MAS, ns * 2 / MAS, sat, powder=pw, method="fast", integrator="magnus4")
    pc = simulate_respdor(system, MAS, ns * 2 / MAS, sat, powder=pw, method="fast")
    ref1, ref0 = _reference(system, sat, ns, pw, 0.5e-6, True)
    assert m4.info["shared_gamma_steps"] and m4.info["integrator"] == "magnus4"
    assert np.allclose(m4.S1_complex, ref1, rtol=0, atol=1e-9)
    assert np.allclose(m4.S0_complex, ref0, rtol=0, atol=1e-9)
    assert np.abs(m4.S1_complex - pc.S1_complex).max() > 1e-5  # not the piecewise-constant curve


def test_stepped_path_with_a_phase_modulated_pulse_equals_the_reference():
    system = SpinSystem([Spin("13C"), Spin("27Al", cq_hz=1e6, eta_q=0.1)], 9.4, [DipolarCoupling(0, 1, 503.0)])
    pw = Powder(np.array([0.3]), np.array([0.9]), np.array([1.0]), 2)
    ns = np.array([0, 2])
    sat = wurst_pulse("27Al", 40e3, 100e-6, 600e3, step_s=1e-6)
    m4 = simulate_respdor(system, MAS, ns * 2 / MAS, sat, powder=pw, method="fast", integrator="magnus4")
    pc = simulate_respdor(system, MAS, ns * 2 / MAS, sat, powder=pw, method="fast")
    ref1, ref0 = _reference(system, sat, ns, pw, 0.5e-6, True)
    assert not m4.info["shared_gamma_steps"]
    assert np.allclose(m4.S1_complex, ref1, rtol=0, atol=1e-9)
    assert np.allclose(m4.S0_complex, ref0, rtol=0, atol=1e-9)
    assert np.abs(m4.S1_complex - pc.S1_complex).max() > 1e-6


def test_fourth_order_convergence_where_the_piecewise_step_is_second_order():
    system, pw = _seed_pair(), _two_crystallites(4)
    t = np.array([0, 4, 12]) * 2 / MAS
    sat = cw_pulse("27Al", 30e3, 200e-6)

    def curve(dt, integrator):
        return simulate_respdor(system, MAS, t, sat, powder=pw, max_dt=dt, integrator=integrator).S1_complex

    truth = curve(0.03125e-6, "magnus4")
    err = {(i, dt): np.abs(curve(dt, i) - truth).max() for i in ("piecewise", "magnus4") for dt in (0.5e-6, 0.25e-6)}
    ratio_m4 = err["magnus4", 0.5e-6] / err["magnus4", 0.25e-6]
    ratio_pc = err["piecewise", 0.5e-6] / err["piecewise", 0.25e-6]
    assert 10 < ratio_m4 < 24, ratio_m4  # 2^4 = 16
    assert 3 < ratio_pc < 5.5, ratio_pc  # 2^2 = 4
    assert err["magnus4", 0.5e-6] < err["piecewise", 0.25e-6] / 10


def test_integrator_is_refused_off_the_fast_engine_and_when_unknown():
    system, pw = _seed_pair(), _two_crystallites()
    sat = cw_pulse("27Al", 30e3, 200e-6)
    with pytest.raises(ValueError, match="fast and coupled engines only.*general engine"):
        simulate_respdor(system, MAS, [0.0], sat, powder=pw, method="general", integrator="magnus4")
    with pytest.raises(ValueError, match="integrator must be one of 'piecewise', 'magnus4', got 'rk4'"):
        simulate_respdor(system, MAS, [0.0], sat, powder=pw, integrator="rk4")


def test_spec_takes_the_integrator_and_names_a_wrong_one():
    from spinsim.spec import SpecError, load_spec

    base = {"experiment": {"type": "respdor", "field_T": 9.4, "mas_rate_hz": 10000, "t_max_ms": 1.0},
            "spins": [{"isotope": "13C"}, {"isotope": "27Al", "cq_mhz": 3.0}],
            "dipolar": [{"spins": [0, 1], "d_hz": 503.0}],
            "saturation": {"type": "cw", "nu1_khz": 30.0, "length_rotor_periods": 2}}
    assert load_spec({**base, "simulation": {"integrator": "magnus4"}}).integrator == "magnus4"
    assert load_spec(base).integrator == "piecewise"
    with pytest.raises(SpecError, match=r"\[simulation\] integrator must be one of"):
        load_spec({**base, "simulation": {"integrator": "Magnus4"}})
    redor = {**base, "experiment": {**base["experiment"], "type": "redor"}, "simulation": {"integrator": "magnus4"}}
    redor.pop("saturation")
    with pytest.raises(SpecError, match="is for RESPDOR specs"):
        load_spec(redor)
