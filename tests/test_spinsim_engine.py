"""The numba engine against closed forms, a brute-force scipy propagation, and itself.

Reference formulas are written here from the papers (physics.md sections 2 and 3.1), not imported
from respdor, so that these tests stand on their own.
"""

import subprocess
import sys

import numpy as np
import pytest
from scipy.linalg import expm
from scipy.special import jv

from spinsim.powder import Powder, make_powder
from spinsim.sequences import Block, Event, cw_pulse, redor_cycle, redor_finite_pulse_kappa, sr4_cycle, wurst_pulse
from spinsim.system import DipolarCoupling, Spin, SpinSystem

K = pytest.importorskip("spinsim._kernels")
from spinsim.simulate import IdealSaturation, simulate_redor, simulate_respdor, transfer_matrix  # noqa: E402

MAS = 10e3


def redor_universal(lam):
    """Mueller et al., CPL 242, 535 (1995): dS/S0 = 1 - (sqrt2 pi/4) J_1/4(sqrt2 lam) J_-1/4(sqrt2 lam)."""
    x = np.sqrt(2) * np.maximum(np.asarray(lam, float), 1e-12)
    return 1 - np.sqrt(2) * np.pi / 4 * jv(0.25, x) * jv(-0.25, x)


def respdor_full(lam, spin):
    """Chen et al., JMR 206, 269 (2010), complete saturation of a spin I."""
    lam = np.maximum(np.asarray(lam, float), 1e-12)
    tot = 0.0
    for k in range(1, int(round(2 * spin)) + 1):
        x = k * np.sqrt(2) * lam
        tot = tot + (4 * spin + 2 - 2 * k) * jv(0.25, x) * jv(-0.25, x)
    return (2 * spin - np.sqrt(2) * np.pi / (4 * (2 * spin + 1)) * tot) / (2 * spin + 1)


def pair(partner="27Al", d=500.0, **kw):
    return SpinSystem([Spin("13C"), Spin(partner, **kw)], 9.4, [DipolarCoupling(0, 1, d)])


# --------------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 6])
@pytest.mark.parametrize("real", [True, False])
def test_expm_herm_unitary_and_equal_to_scipy(n, real):
    rng = np.random.default_rng(n)
    a = rng.normal(size=(n, n)) + (0 if real else 1j * rng.normal(size=(n, n)))
    h = (a + a.conj().T) * 1e5
    u = K.expm_herm(np.ascontiguousarray(h, dtype=complex), 3e-6)
    assert np.allclose(u, expm(-1j * h * 3e-6), atol=1e-12)
    assert np.allclose(u @ u.conj().T, np.eye(n), atol=1e-12)


def test_segment_propagators_unitary_trace_and_vs_scipy():
    from spinsim.hamiltonian import full_diagonal, interaction_components
    from spinsim.reference import _propagator
    from spinsim.simulate import _Slicer
    from spinsim.hamiltonian import channel_operators

    system = pair(cq_hz=2e6, eta_q=0.2)
    events = list(redor_cycle("13C", MAS, 6e-6, "xy4").events) + list(cw_pulse("27Al", 40e3, 50e-6).events)
    sl = _Slicer(system, 0.5e-6)
    sl.segment(events, 0.0)
    arrs = sl.arrays()
    comps = interaction_components(system, np.array([[0.4, 0.9, 1.7]]))
    F = np.ascontiguousarray(full_diagonal(system, comps))
    U = K.propagate_segments(F, 2 * np.pi * MAS, *arrs)[0, 0]
    assert np.allclose(U @ U.conj().T, np.eye(12), atol=1e-10)
    assert abs(abs(np.linalg.det(U)) - 1) < 1e-10
    ref = _propagator(events, F[0], channel_operators(system), 2 * np.pi * MAS, 0.5e-6, 12)
    assert np.trace(U) == pytest.approx(np.trace(ref), abs=1e-9)
    assert np.allclose(U, ref, atol=1e-9)


# --------------------------------------------------------------------------------------------
# closed forms
# --------------------------------------------------------------------------------------------


def test_redor_spin_half_pair_equals_universal_curve():
    d = 500.0
    t = 2 * np.arange(16) / MAS * 2  # 0 .. 6 ms, lambda up to 3
    r = simulate_redor(pair("15N", d), MAS, t, powder=make_powder("zcw", 987, 16))
    assert r.info["engine"] == "fast"
    assert np.max(np.abs(r.dSS0 - redor_universal(d * t))) < 1e-3
    assert np.allclose(r.S0, 1.0)


@pytest.mark.parametrize(
    "partner, spin, expected",
    [
        ("23Na", 1.5, [0.026086, 0.145532, 0.400960, 0.552399, 0.629976, 0.721173, 0.751877, 0.701115]),
        ("27Al", 2.5, [0.059059, 0.284636, 0.557895, 0.668444, 0.731662, 0.802282, 0.834619, 0.792688]),
        ("93Nb", 4.5, [0.152002, 0.499903, 0.697019, 0.777463, 0.822040, 0.870442, 0.894747, 0.869594]),
    ],
)
def test_respdor_ideal_saturation_cq0_equals_chen_test_vectors(partner, spin, expected):
    # lambda = D t = 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3 with D = 125 Hz, t = 2 n tau_R
    d = 125.0
    lam = np.array([0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0])
    # the gamma average must resolve phases up to 2 sqrt2 (2I) lambda: many gamma angles
    n_gamma = 64 if spin < 4 else 128
    r = simulate_respdor(pair(partner, d), MAS, lam / d, IdealSaturation("full"),
                         powder=make_powder("zcw", 987, n_gamma))
    assert np.max(np.abs(r.dSS0 - np.array(expected))) < 2e-3
    assert np.max(np.abs(r.dSS0 - respdor_full(lam, spin))) < 2e-3


def test_ideal_partial_saturation_models():
    d = 125.0
    lam = np.array([0.25, 1.0, 3.0])
    pw = make_powder("zcw", 610, 64)
    eps = simulate_respdor(pair(d=d), MAS, lam / d, IdealSaturation("full", 0.6), powder=pw)
    assert np.allclose(eps.dSS0, 0.6 * respdor_full(lam, 2.5), atol=2e-3)
    # CT-only inversion: only m = +-1/2 (2 of 6 states) change, by Delta m = 1 -> (2/6) REDOR
    ct = simulate_respdor(pair(d=d), MAS, lam / d, IdealSaturation("ct"), powder=pw)
    assert np.allclose(ct.dSS0, redor_universal(lam) / 3, atol=2e-3)
    with pytest.raises(ValueError, match="columns"):
        transfer_matrix(1.5, np.ones((4, 4)))


def test_cq0_cw_pulse_is_a_rotation_not_a_saturation():
    # 30 kHz for 200 us is six full turns of an unperturbed spin 5/2: nothing happens
    r = simulate_respdor(pair(d=503.0), MAS, 2 * np.arange(0, 16, 5) / MAS, cw_pulse("27Al", 30e3, 200e-6),
                         powder=make_powder("zcw", 55, 8))
    assert np.max(np.abs(r.dSS0)) < 1e-4


# --------------------------------------------------------------------------------------------
# fast path == general path == brute force
# --------------------------------------------------------------------------------------------


def _few_crystallites(n_gamma=2):
    return Powder(np.array([0.3, 1.2]), np.array([0.7, 1.3]), np.array([0.5, 0.5]), n_gamma)


@pytest.mark.parametrize("placement", ["mid-end", "centred"])
def test_fast_general_and_scipy_reference_agree_with_quadrupole_and_csa(placement):
    from spinsim.reference import reference_signals

    system = SpinSystem(
        [Spin("13C", csa_zeta_ppm=60, csa_eta=0.5), Spin("27Al", cq_hz=3e6, eta_q=0.3, q_euler=(0.2, 0.5, 0.1))],
        9.4,
        [DipolarCoupling(0, 1, 503.0, (0.0, 0.3, 0.0))],
    )
    pw = _few_crystallites()
    ns = np.array([0, 1, 6])
    t = ns * 2 / MAS
    sat = cw_pulse("27Al", 30e3, 200e-6)
    fast = simulate_respdor(system, MAS, t, sat, powder=pw, method="fast", placement=placement)
    gen = simulate_respdor(system, MAS, t, sat, powder=pw, method="general", placement=placement)
    e, w = pw.euler_full()
    cycle = redor_cycle("13C", MAS, 0.0, "x", placement=placement)
    ref1 = w @ reference_signals(system, MAS, cycle, sat, ns, e)
    ref0 = w @ reference_signals(system, MAS, cycle, Block([Event(200e-6)]), ns, e)
    assert np.allclose(fast.S1_complex, ref1, atol=1e-9)
    assert np.allclose(gen.S1_complex, ref1, atol=1e-9)
    assert np.allclose(fast.S0_complex, ref0, atol=1e-9)
    assert np.allclose(gen.S0_complex, ref0, atol=1e-9)
    assert np.allclose(fast.dSS0, 1 - (ref1 / ref0).real, atol=1e-9)
    assert np.ptp(fast.S1) > 0.04  # the check is not vacuous (0.041 for mid-end here)


def test_fast_and_general_agree_for_a_shaped_pulse_and_a_second_partner():
    system = SpinSystem(
        [Spin("13C"), Spin("27Al", cq_hz=1e6, eta_q=0.1), Spin("27Al", cq_hz=2e6, q_euler=(0.0, 1.0, 0.0))],
        9.4,
        [DipolarCoupling(0, 1, 503.0), DipolarCoupling(0, 2, 300.0, (1.0, 1.2, 0.0))],
    )
    pw = Powder(np.array([0.3]), np.array([0.9]), np.array([1.0]), 2)
    t = np.array([0, 2, 6]) * 2 / MAS
    sat = wurst_pulse("27Al", 40e3, 100e-6, 600e3, step_s=1e-6)
    offs = {"27Al": 20e3, "13C": 300.0}
    fast = simulate_respdor(system, MAS, t, sat, powder=pw, method="fast", max_dt=0.5e-6, offsets=offs)
    gen = simulate_respdor(system, MAS, t, sat, powder=pw, method="general", max_dt=0.5e-6, offsets=offs)
    assert fast.info["engine"] == "fast" and gen.info["engine"] == "general"
    assert np.allclose(fast.S1, gen.S1, atol=1e-8)
    assert np.allclose(fast.S0, gen.S0, atol=1e-8)


@pytest.mark.slow
def test_time_step_convergence_cq3mhz_cw():
    system = pair(d=503.0, cq_hz=3e6, eta_q=0.3)
    t = 2 * np.arange(0, 16, 3) / MAS
    pw = make_powder("zcw", 55, 8)
    sat = cw_pulse("27Al", 30e3, 200e-6)
    curves = [simulate_respdor(system, MAS, t, sat, powder=pw, max_dt=dt).dSS0 for dt in (0.5e-6, 0.25e-6, 0.1e-6)]
    # stated tolerance: 0.5 us steps are converged to 1e-3 in dS/S0, 0.25 us to 3e-4
    assert np.max(np.abs(curves[0] - curves[2])) < 1e-3
    assert np.max(np.abs(curves[1] - curves[2])) < 3e-4


# --------------------------------------------------------------------------------------------
# finite pulses and SR4 (general path)
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_finite_pulse_redor_is_ideal_redor_with_kappa_scaled_coupling():
    d = 300.0
    phi = 0.5
    t = 8 / MAS * np.arange(0, 9)  # multiples of 2 x (xy-8 cycle = 4 tau_R)
    pw = make_powder("zcw", 89, 16)
    fin = simulate_redor(pair("15N", d), MAS, t, pulse_length=phi / (2 * MAS), phases="xy8", powder=pw)
    kap = float(redor_finite_pulse_kappa(phi))
    ideal = simulate_redor(pair("15N", kap * d), MAS, t, powder=pw)
    unscaled = simulate_redor(pair("15N", d), MAS, t, powder=pw)
    assert fin.info["engine"] == "general"
    assert np.max(np.abs(fin.dSS0 - ideal.dSS0)) < 3e-3
    assert np.max(np.abs(fin.dSS0 - unscaled.dSS0)) > 2e-2  # the finite-pulse effect is resolved


def test_partner_channel_redor_matches_observed_channel_and_kappa():
    d = 300.0
    t = 8 / MAS * np.arange(0, 9)
    pw = make_powder("zcw", 144, 32)
    fast = simulate_redor(pair("15N", d), MAS, t, powder=pw)
    ideal_i = simulate_redor(pair("15N", d), MAS, t, channel="partner", powder=pw)
    assert ideal_i.info["engine"] == "general"
    assert np.allclose(ideal_i.dSS0, fast.dSS0, atol=1e-10)
    phi = 0.1
    fin = simulate_redor(pair("15N", d), MAS, t, pulse_length=phi / (2 * MAS), channel="partner", powder=pw)
    kap = simulate_redor(pair("15N", float(redor_finite_pulse_kappa(phi)) * d), MAS, t, powder=pw)
    assert np.max(np.abs(fin.dSS0 - kap.dSS0)) < 1e-3


@pytest.mark.slow
def test_sr4_respdor_ideal_saturation_equals_kappa_scaled_chen_curve():
    d = 300.0
    kap = np.pi / (4 * np.sqrt(2))
    t = 4 / MAS * np.arange(0, 9)
    r = simulate_respdor(pair("27Al", d), MAS, t, IdealSaturation("full"),
                         recoupling=sr4_cycle("13C", MAS, "R4R4bar"), powder=make_powder("zcw", 89, 32))
    assert np.max(np.abs(r.dSS0 - respdor_full(kap * d * t, 2.5))) < 7e-3
    assert np.allclose(r.S0, 1.0, atol=1e-4)


# --------------------------------------------------------------------------------------------
# API behaviour
# --------------------------------------------------------------------------------------------


def test_bad_api_input():
    system = pair()
    with pytest.raises(ValueError, match="multiple of 2"):
        simulate_respdor(system, MAS, [1.5e-4])
    with pytest.raises(ValueError, match="MAS rate"):
        simulate_respdor(system, 0.0, [0.0])
    with pytest.raises(ValueError, match="observed channel"):
        simulate_respdor(system, MAS, [0.0], cw_pulse("13C", 1e4, 1e-4))
    with pytest.raises(ValueError, match="efficiency"):
        IdealSaturation("full", 1.5)
    with pytest.raises(ValueError, match="partner"):
        simulate_respdor(SpinSystem([Spin("13C")], 9.4), MAS, [0.0])


def test_progress_bar_goes_to_stderr(capsys):
    simulate_respdor(pair(), MAS, [0.0, 2e-4], powder=make_powder("zcw", 21, 2), progress=True, chunk=8)
    err = capsys.readouterr().err
    assert "spinsim" in err and "21/21" not in err and "42/42" in err


def test_importing_spinsim_and_respdor_does_not_import_numba():
    code = "import sys, spinsim, respdor; spinsim.SpinSystem; assert 'numba' not in sys.modules, 'numba imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ctrl_c_between_chunks_is_clean():
    from spinsim.progress import Progress

    class InterruptSecondChunk(Progress):
        def __init__(self):
            self.advanced, self.closed = [], []

        def advance(self, n=1):
            self.advanced.append(n)
            if len(self.advanced) == 2:
                raise KeyboardInterrupt

        def close(self, interrupted=False):
            self.closed.append(interrupted)

    seen = InterruptSecondChunk()
    with pytest.raises(KeyboardInterrupt):
        simulate_respdor(pair(), MAS, [0.0, 2e-4], powder=make_powder("zcw", 55, 2), progress=seen, chunk=8)
    # progress in crystallites (8 orientations x 2 gamma per chunk); the stage closed as interrupted
    assert seen.advanced == [16, 16] and seen.closed == [True]


def test_progress_true_draws_a_bar_on_stderr_and_a_callable_sees_every_crystallite(capsys):
    calls = []
    simulate_respdor(pair(), MAS, [0.0, 2e-4], powder=make_powder("zcw", 55, 2), progress=True, chunk=8)
    assert "spinsim" in capsys.readouterr().err
    simulate_respdor(pair(), MAS, [0.0, 2e-4], powder=make_powder("zcw", 55, 2), chunk=8,
                     progress=lambda done, total, label: calls.append((done, total, label)))
    assert calls[-1] == (110, 110, "spinsim") and len(calls) == 7
