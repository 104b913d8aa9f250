"""The general engine's steps shared by the gamma angles, against its per-crystallite stepping.

Where both paths take the same steps (every rf event a whole number of grid cells of tau_R /
n_grid, and that cell the per-event slice), they compute the same products in another order: they
agree to rounding. The signal kernel for a unitary centre is checked against the general one on
random unitaries.
"""

import numpy as np
import pytest

from spinsim.powder import Powder
from spinsim.sequences import Block, Event, adiabatic_sr4_cycle, cw_pulse, redor_cycle, sr4_cycle
from spinsim.system import DipolarCoupling, Spin, SpinSystem

pytest.importorskip("numba")
import spinsim._drivers_general as G  # noqa: E402
from spinsim import _gamma_kernels as SG  # noqa: E402
from spinsim import _kernels as K  # noqa: E402
from spinsim.hamiltonian import spin_operators  # noqa: E402

MAS = 1e4
TR = 1 / MAS


def cd_al():
    cd = Spin.with_maryland_csa("111Cd", 0.0, 300.0, 0.3, csa_euler=(0.3, 0.9, 0.0))
    al = Spin("27Al", cq_hz=3e6, eta_q=0.3, q_euler=(0.2, 0.5, 0.0))
    return SpinSystem([cd, al], 9.4, [DipolarCoupling(0, 1, 247.0, (0.0, 0.4, 0.0))])


def c_two_al():
    al = dict(cq_hz=2e6, eta_q=0.3)
    return SpinSystem([Spin("13C", csa_zeta_ppm=60, csa_eta=0.5), Spin("27Al", **al, q_euler=(0.1, 0.4, 0)),
                       Spin("27Al", **al, q_euler=(0.7, 1.2, 0))], 9.4,
                      [DipolarCoupling(0, 1, 503.0, (0.0, 0.5, 0.0)), DipolarCoupling(0, 2, 300.0, (0.4, 1.9, 0.0))])


def both(system, cycle, centre, ns, powder, max_dt, **kw):
    """(shared, per-crystallite) signals and the shared run's info."""
    args = (system, MAS, cycle, centre, np.asarray(ns), powder, max_dt, None, False, 64)
    shared, info = G.general_signals(*args, shared_gamma=True, **kw)
    alone, info0 = G.general_signals(*args, shared_gamma=False, **kw)
    assert "shared_gamma_grid" in info and "shared_gamma_grid" not in info0
    return shared, alone, info


def powder(n_gamma):
    return Powder(np.array([0.3, 1.9]), np.array([0.8, 2.2]), np.array([0.6, 0.4]), n_gamma)


@pytest.mark.parametrize("n_gamma, sets", [(1, 1), (8, 1), (32, 4)])
def test_sr4_with_csa_and_cw_saturation_equals_per_crystallite_stepping(n_gamma, sets):
    # 200 cells of 0.5 us: 32 gamma angles (6.25 cells apart) fall into 4 sets of 8, 25 cells apart
    shared, alone, info = both(cd_al(), sr4_cycle("111Cd", MAS, "R4R4bar"), cw_pulse("27Al", 30e3, 2 * TR),
                               [0, 1, 3, 5], powder(n_gamma), TR / 200)
    assert info["shared_gamma_grid"] == 200 and info["step_s"] == pytest.approx(0.5e-6)
    assert info["gamma_sets"] == sets
    assert np.max(np.abs(shared - alone)) < 1e-12
    assert abs(shared[-1] - shared[0]) > 0.05  # the curve moves: the check is not vacuous


def test_finite_pulses_on_three_spins_equal_per_crystallite_stepping():
    # xy-8 pulses of 5 us centred at tau_R/4 and 3 tau_R/4: edges at 22.5 us, on a 0.5 us grid
    cycle = redor_cycle("13C", MAS, 5e-6, "xy8", placement="centred")
    shared, alone, info = both(c_two_al(), cycle, cw_pulse("27Al", 30e3, 2 * TR), [0, 1, 2],
                               Powder(np.array([0.4]), np.array([0.9]), np.array([1.0]), 4), 0.5e-6)
    assert info["dim"] == 72 and info["shared_gamma_grid"] == 200
    assert np.max(np.abs(shared - alone)) < 1e-12
    assert abs(shared[-1] - shared[0]) > 0.02


@pytest.mark.parametrize("mode", ["truncate", "continue"])
def test_cycles_taken_period_by_period_equal_per_crystallite_stepping(mode):
    cycle = redor_cycle("13C", MAS, 5e-6, "xy8", placement="centred")
    system = SpinSystem([Spin("13C", csa_zeta_ppm=60, csa_eta=0.5), Spin("27Al", cq_hz=1e6, eta_q=0.3)], 9.4,
                        [DipolarCoupling(0, 1, 503.0, (0.0, 0.5, 0.0))])
    shared, alone, _ = both(system, cycle, cw_pulse("27Al", 30e3, 1.5 * TR), [1, 3, 6], powder(4), 0.5e-6,
                            cycle_mode=mode)
    assert np.max(np.abs(shared - alone)) < 1e-12


def test_shaped_pulses_are_stepped_from_stored_steps_and_agree():
    # adiabatic elements change rf every step: those rf states are stepped, not prefix-multiplied
    cycle = adiabatic_sr4_cycle("111Cd", MAS, "R4R4bar", 80e3, 80e3, step_s=0.5e-6)
    shared, alone, info = both(cd_al(), cycle, cw_pulse("27Al", 30e3, 2 * TR), [0, 1, 2], powder(4), 0.5e-6)
    assert info["stepped_rf_states"] > 50
    assert np.max(np.abs(shared - alone)) < 1e-12


def test_a_sequence_off_every_grid_is_refused_when_sharing_is_required_and_stepped_otherwise():
    # a pulse starting at 0.31371 tau_R fits no grid of up to 8192 cells: the per-crystallite path runs it
    a = 0.31371 * TR
    pulse = Event(10e-6, {"13C": (50e3, 0.0)})
    cycle = Block([Event(a), pulse, Event(TR - a - 20e-6), pulse])
    system = SpinSystem([Spin("13C"), Spin("27Al", cq_hz=1e6)], 9.4, [DipolarCoupling(0, 1, 500.0)])
    args = (system, MAS, cycle, cw_pulse("27Al", 30e3, 2 * TR), np.array([0, 1]), powder(4), 0.5e-6, None, False,
            64)
    with pytest.raises(ValueError, match="do not fit a grid"):
        G.general_signals(*args, shared_gamma=True)
    _, info = G.general_signals(*args)
    assert "shared_gamma_grid" not in info


def test_auto_takes_the_shared_path_when_it_costs_less():
    _, info = G.general_signals(cd_al(), MAS, sr4_cycle("111Cd", MAS, "R4R4bar"), cw_pulse("27Al", 30e3, 2 * TR),
                                np.array([0, 2]), powder(16), 0.5e-6, None, False, 64)
    assert info["shared_gamma_grid"] == 200 and info["gamma_sets"] == 2  # 16 gamma angles, 8 per set of 25 cells


@pytest.mark.parametrize("initial", ["x", "plus"])
def test_unitary_signal_kernel_equals_the_general_signal_kernel(initial):
    rng = np.random.default_rng(7)
    dim = 12

    def unitary():
        q, r = np.linalg.qr(rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim)))
        return q * (np.diag(r) / np.abs(np.diag(r)))

    U = np.array([[unitary() for _ in range(3)] for _ in range(3)])
    _, ip, im, sx, _ = spin_operators(0.5)
    rho0 = np.kron(sx if initial == "x" else ip, np.eye(dim // 2)).astype(complex)
    ns = np.array([0, 1, 4, 5, 9])
    dets = np.ascontiguousarray([np.kron(im, np.eye(dim // 2)) + 0.1 * k * np.kron(ip, np.eye(dim // 2))
                                 for k in range(len(ns))])
    parts = [np.ascontiguousarray(U[:, k]) for k in range(3)]
    ref = K.general_signal(*parts, ns, rho0, dets, np.zeros((0, 0)), 2)
    got = SG.unitary_signals(*parts, ns, *G._as_permutation(rho0), dets)
    assert np.max(np.abs(got - ref)) < 1e-13
    assert np.min(np.abs(ref)) > 0.01


def test_threads_give_the_same_signals_and_progress_counts_every_crystallite(monkeypatch):
    pw = Powder(np.linspace(0.1, 5.9, 7), np.linspace(0.2, 2.9, 7), np.full(7, 1 / 7), 8)
    seen = {}
    for threads in (1, 2, 3):
        monkeypatch.setattr(G, "engine_threads", lambda: threads)
        calls = []
        sig, info = G.general_signals(cd_al(), MAS, sr4_cycle("111Cd", MAS, "R4R4bar"), cw_pulse("27Al", 30e3, 2 * TR),
                                      np.array([0, 1, 3]), pw, 0.5e-6, None,
                                      lambda done, total, label: calls.append((done, total)), 2)
        assert info["threads"] == threads
        # chunks of 2 orientations x 8 gamma angles, the last of 1; progress counts finished chunks
        assert [d for d, _ in calls] == [16, 32, 48, 56] and {t for _, t in calls} == {56}
        seen[threads] = sig
    assert np.array_equal(seen[2], seen[1]) and np.array_equal(seen[3], seen[1])
