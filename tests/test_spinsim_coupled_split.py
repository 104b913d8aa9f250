"""The coupled engine's rf steps as products of one- and two-spin factors (spinsim._coupled_split)
against dense exact steps: term by term, step by step, and over a whole curve."""

import numpy as np
import pytest
from scipy.linalg import expm

from spinsim.hamiltonian import interaction_components, partner_factor_terms, partner_space_terms, spin_operators
from spinsim.powder import Powder
from spinsim.sequences import cw_pulse
from spinsim.system import DipolarCoupling, Spin, SpinSystem

pytest.importorskip("spinsim._kernels")
from spinsim._coupled_split import split_step  # noqa: E402
from spinsim._drivers_coupled import _factor_layout, _partner_rf, _spin_rf, coupled_curve  # noqa: E402

MAS = 10e3
WR = 2 * np.pi * MAS
EULER = np.array([[0.3, 1.1, 0.7]])


def na_chain(n=3, d_pp=600.0, disjoint=False):
    """13C with n 23Na (spin 3/2) and, when ``disjoint``, a 7Li-27Al pair of their own."""
    spins = [Spin("13C")] + [Spin("23Na", cq_hz=(1.0 + 0.3 * k) * 1e6, eta_q=0.2 * k, q_euler=(0.4 * k, 0.7, 0.1))
                             for k in range(n)]
    dips = [DipolarCoupling(0, k + 1, 500.0 - 100 * k, (0.0, 0.5 + 0.4 * k, 0.0)) for k in range(n)]
    if disjoint:  # pairs (1, 2) and (3, 4) share no spin; (3, 4) is heteronuclear (ZZ only)
        spins += [Spin("7Li", cq_hz=0.2e6), Spin("27Al", cq_hz=2e6, q_euler=(0.1, 0.3, 0.0))]
        dips += [DipolarCoupling(0, n + 1, 300.0), DipolarCoupling(1, 2, d_pp, (0.2, 0.9, 0.0)),
                 DipolarCoupling(n + 1, n + 2, 0.8 * d_pp, (0.0, 1.4, 0.0))]
    else:  # a chain and its closing coupling: every pair shares a spin with another
        dips += [DipolarCoupling(a, b, d_pp / (1 + 0.5 * (b - a - 1)), (0.3 * a, 0.6 + 0.2 * b, 0.0))
                 for a in range(1, n + 1) for b in range(a + 1, n + 1)]
    return SpinSystem(spins, 9.4, dips, [])


def _dense(system, t0, dt, sigma, R):
    """Exact piecewise-constant step exp(-i H_sigma dt) from partner_space_terms (scipy)."""
    comps = interaction_components(system, EULER)
    D, Z, V, rows, cols = partner_space_terms(system, comps)
    k = np.arange(-4, 5)
    kk = np.where(k == 0, 1, k) * WR
    fac = np.where(k == 0, dt, (np.exp(1j * k * WR * (t0 + dt)) - np.exp(1j * k * WR * t0)) / (1j * kk))

    def avg(F):
        return np.real(np.tensordot(fac, F[0], axes=(0, 0))) / dt

    H = np.diag(avg(D) + sigma * avg(Z)) + R
    H[rows, cols] += avg(V)
    return expm(-1j * H * dt)


def _rf(system, centre):
    """The partners' rf Hamiltonian (rad/s) in the partner space."""
    return _partner_rf(_spin_rf(system, centre), [s.multiplicity for s in system.spins[1:]])


def _factored(system, centre, t0, dt, sigma, reverse=False, magnus4=False, n_fine=1):
    comps = interaction_components(system, EULER)
    sd, sz, gz, pc, pairs, homo = partner_factor_terms(system, comps)
    layout = _factor_layout(system, _spin_rf(system, centre), pairs, homo)
    U = np.eye(int(np.prod(layout[1])), dtype=complex)
    split_step(U, sd[0], sz[0], gz[0], pc[0], *layout, sigma, t0, dt, WR, reverse, magnus4, n_fine)
    return U


def test_factor_terms_rebuild_the_partner_space_hamiltonian():
    """The one- and two-spin terms add up to partner_space_terms' diagonal and flip-flops, including a
    heteronuclear partner pair (ZZ only) and S's own shift."""
    system = na_chain(2, disjoint=True)
    comps = interaction_components(system, EULER)
    D, Z, V, rows, cols = partner_space_terms(system, comps)
    sd, sz, gz, pc, pairs, homo = partner_factor_terms(system, comps)
    dims = [s.multiplicity for s in system.spins[1:]]
    d_rebuilt = sum(_embed_diag(sd[0, k, :, : dims[k]], k, dims) for k in range(len(dims)))
    z_rebuilt = sum(_embed_diag(sz[0, k, :, : dims[k]], k, dims) for k in range(len(dims))) + gz[0]
    ff = np.zeros((9, len(D[0, 0]), len(D[0, 0])), complex)
    for p, (a, b) in enumerate(pairs):
        ma = system.spins[a + 1].spin - np.arange(dims[a])
        mb = system.spins[b + 1].spin - np.arange(dims[b])
        d_rebuilt = d_rebuilt + pc[0, p, :, :] * (2 * _embed_diag(ma[None], a, dims) * _embed_diag(mb[None], b, dims))
        if homo[p]:
            _, pa, ma_, _, _ = spin_operators(system.spins[a + 1].spin)
            _, pb, mb_, _, _ = spin_operators(system.spins[b + 1].spin)
            op = _embed_op(pa, a, dims) @ _embed_op(mb_, b, dims)
            ff += -0.5 * pc[0, p, :, 0][:, None, None] * (op + op.conj().T).real[None]
    assert list(map(tuple, pairs)) == [(0, 1), (2, 3)] and list(homo) == [True, False]
    assert np.max(np.abs(d_rebuilt - D[0])) < 1e-9 * np.max(np.abs(D[0]))
    assert np.max(np.abs(z_rebuilt - Z[0])) < 1e-9 * np.max(np.abs(Z[0]))
    assert np.max(np.abs(ff[:, rows, cols] - V[0])) < 1e-12 * np.max(np.abs(V[0]))


def _embed_diag(v, k, dims):
    out = np.ones(v.shape[:-1] + (1,))
    for j, d in enumerate(dims):
        right = v if j == k else np.ones(v.shape[:-1] + (d,))
        out = (out[..., :, None] * right[..., None, :]).reshape(v.shape[:-1] + (-1,))
    return out


def _embed_op(op, k, dims):
    out = np.ones((1, 1))
    for j, d in enumerate(dims):
        out = np.kron(out, op if j == k else np.eye(d))
    return out


@pytest.mark.parametrize("sigma", [1.0, -1.0])
def test_step_is_exact_when_no_two_pairs_share_a_spin(sigma):
    system = na_chain(2, disjoint=True)
    centre = cw_pulse("23Na", 40e3, 2 / MAS)
    R = _rf(system, centre)
    for t0 in (0.0, 13e-6, 61e-6):
        U = _factored(system, centre, t0, 1e-6, sigma, reverse=t0 > 50e-6)
        # measured 2e-15: the factors are exact exponentials of commuting parts
        assert np.max(np.abs(U - _dense(system, t0, 1e-6, sigma, R))) < 1e-12


def test_step_error_is_second_order_and_small_when_pairs_share_spins():
    """Three 23Na, all coupled (600 Hz): the product of pair factors misses the commutators of pairs
    that share a spin, O((|c| dt)^2) per step: measured 1.1e-5 for a step of 1 us, 3.3e-6 at 0.5 us
    (8.6e-7 at 0.25 us), against |c| dt = 4e-3 at 1 us."""
    system = na_chain(3, d_pp=600.0)
    centre = cw_pulse("23Na", 40e3, 2 / MAS)
    R = _rf(system, centre)
    errs = []
    for dt in (1e-6, 0.5e-6):
        errs.append(np.max(np.abs(_factored(system, centre, 7e-6, dt, 1.0) - _dense(system, 7e-6, dt, 1.0, R))))
    assert 1e-7 < errs[0] < 3e-5
    assert 2.8 < errs[0] / errs[1] < 4.5


def _dense_steps(system, t0, dt, n, sigma, R, magnus4=False):
    """n consecutive exact steps of dt (dense, scipy)."""
    U = np.eye(R.shape[0], dtype=complex)
    for j in range(n):
        U = (_dense_magnus if magnus4 else _dense)(system, t0 + j * dt, dt, sigma, R) @ U
    return U


@pytest.mark.parametrize("magnus4", [False, True], ids=["piecewise", "magnus4"])
def test_a_factor_step_of_fine_steps_is_exact_when_no_two_pairs_share_a_spin(magnus4):
    """A factor step of six fine steps (each spin's and each pair's propagator a product of fine steps
    on its own space, the factors applied once) equals the six exact fine steps."""
    system = na_chain(2, disjoint=True)
    centre = cw_pulse("23Na", 40e3, 2 / MAS)
    R = _rf(system, centre)
    U = _factored(system, centre, 5e-6, 1e-6, 1.0, magnus4=magnus4, n_fine=6)
    # measured 7e-15 (piecewise and Magnus)
    assert np.max(np.abs(U - _dense_steps(system, 5e-6, 1e-6, 6, 1.0, R, magnus4))) < 1e-11


def test_factor_step_error_stays_below_its_coupling_phase_squared():
    """Three 23Na, all coupled (600 Hz): a factor step of n fine steps misses the commutators of pairs
    that share a spin; measured 2.8e-5 for n = 2 and 1.7e-4 for n = 8 (1 us fine steps), against
    (2 pi 600 Hz n dt)^2 = 5.7e-5 and 9.1e-4."""
    system = na_chain(3, d_pp=600.0)
    centre = cw_pulse("23Na", 40e3, 2 / MAS)
    R = _rf(system, centre)
    errs = {}
    for n in (2, 8):
        U = _factored(system, centre, 7e-6, 1e-6, 1.0, n_fine=n)
        errs[n] = np.max(np.abs(U - _dense_steps(system, 7e-6, 1e-6, n, 1.0, R)))
        assert errs[n] < (2 * np.pi * 600.0 * n * 1e-6) ** 2
    assert 1e-6 < errs[2] < errs[8]


def test_long_factor_steps_change_a_curve_by_millionths_and_shrink_with_the_step():
    """Three coupled 23Na, Magnus steps: factor steps of up to 8 fine steps (0.01 rad of coupling
    phase) against factors applied every fine step. Measured 4.1e-6 at 0.25 us (8 fine steps per
    factor step) and 5.8e-7 at 0.125 us: a step convergence check sees the difference."""
    system = na_chain(3, d_pp=600.0)
    centre = cw_pulse("23Na", 40e3, 2 / MAS)
    pw = Powder(np.array([0.4, 1.9]), np.array([1.1, 0.5]), np.array([0.5, 0.5]), 4)
    ns = np.array([0, 3, 8])
    diff = {}
    for dt in (0.25e-6, 0.125e-6):
        runs = [coupled_curve(system, MAS, ns, centre, pw, dt, None, None, integrator="magnus4", factor_phase=ph)
                for ph in (0.0, 0.01)]
        assert runs[0][2]["max_fine_steps_per_factor"] == 1 and runs[1][2]["max_fine_steps_per_factor"] == 8
        diff[dt] = np.max(np.abs(runs[1][1] - runs[0][1]))
    assert 1e-8 < diff[0.25e-6] < 1e-5
    assert diff[0.125e-6] < diff[0.25e-6] / 2


def test_factored_curve_agrees_with_dense_steps_far_below_their_step_error():
    """Three coupled 23Na, CW saturation, a whole curve: factored and dense rf steps differ by far less
    than the dense steps' own error (against steps four times shorter)."""
    system = na_chain(3, d_pp=600.0)
    centre = cw_pulse("23Na", 40e3, 2 / MAS)
    pw = Powder(np.array([0.4, 1.9]), np.array([1.1, 0.5]), np.array([0.5, 0.5]), 4)
    ns = np.array([0, 3, 8])

    def run(dt, factored):
        s0, s1, info = coupled_curve(system, MAS, ns, centre, pw, dt, None, None, factored=factored)
        assert info["rf_steps"] == ("factored" if factored else "exact")
        return s1

    fac, dense, fine = run(1e-6, True), run(1e-6, False), run(0.25e-6, False)
    step_error = np.max(np.abs(dense - fine))
    split_error = np.max(np.abs(fac - dense))
    # measured: step error 8.3e-3 (1 us against 0.25 us), factored - dense 6.2e-7
    assert step_error > 1e-3  # the comparison below is not trivially small
    assert split_error < 1e-3 * step_error


# --------------------------------------------------------------------------------------------
# fourth-order Magnus steps
# --------------------------------------------------------------------------------------------


def _dense_magnus(system, t0, dt, sigma, R):
    """exp(-i (M0 - i [M1, M0])) of the whole partner space, moments by quadrature (scipy)."""
    comps = interaction_components(system, EULER)
    D, Z, V, rows, cols = partner_space_terms(system, comps)
    k = np.arange(-4, 5)
    x, w = np.polynomial.legendre.leggauss(24)
    ts = t0 + dt * (x + 1) / 2
    M0 = np.zeros((D.shape[2],) * 2, complex)
    M1 = np.zeros_like(M0)
    for t, wi in zip(ts, w * dt / 2):
        e = np.exp(1j * k * WR * t)
        H = np.diag(np.real(e @ D[0]) + sigma * np.real(e @ Z[0])) + R
        H[rows, cols] += np.real(e @ V[0])
        M0 += wi * H
        M1 += wi * (t - t0 - dt / 2) / dt * H
    return expm(-1j * (M0 - 1j * (M1 @ M0 - M0 @ M1)))


def test_magnus_factors_are_the_magnus_step_when_no_two_pairs_share_a_spin():
    system = na_chain(2, disjoint=True)
    centre = cw_pulse("23Na", 40e3, 2 / MAS)
    R = _rf(system, centre)
    for t0, sigma in ((3e-6, 1.0), (47e-6, -1.0)):
        U = _factored(system, centre, t0, 1e-6, sigma, magnus4=True)
        # measured 4e-15: each factor is its part's Magnus step, and the parts commute
        assert np.max(np.abs(U - _dense_magnus(system, t0, 1e-6, sigma, R))) < 1e-11
        assert np.max(np.abs(U - _dense(system, t0, 1e-6, sigma, R))) > 1e-6  # not the piecewise step


@pytest.mark.parametrize("cw", [True, False], ids=["cw", "ideal"])
def test_magnus_curve_converges_at_fourth_order(cw):
    """Three coupled 23Na: halving a Magnus step cuts its error by about 2^4 (the free evolution's
    block steps under an ideal saturation, and the factored rf steps under CW), far more than a
    piecewise step's 2^2."""
    from spinsim.simulate import IdealSaturation

    system = na_chain(3, d_pp=600.0)
    centre = cw_pulse("23Na", 40e3, 2 / MAS) if cw else IdealSaturation("full")
    pw = Powder(np.array([0.4]), np.array([1.1]), np.array([1.0]), 2)
    ns = np.array([2, 6])

    def run(dt, integrator):
        return coupled_curve(system, MAS, ns, centre, pw, dt, None, None, integrator=integrator)[1]

    truth = run(0.0625e-6, "magnus4")
    err = {(i, dt): np.max(np.abs(run(dt, i) - truth)) for i in ("piecewise", "magnus4") for dt in (1e-6, 0.5e-6)}
    # measured, CW: Magnus 1.7e-5 -> 1.2e-6 (14.5x), piecewise 3.0e-3 -> 7.0e-4 (4.3x);
    # ideal: Magnus 6.2e-8 -> 3.9e-9 (16x), piecewise 3.2e-6 -> 8.0e-7 (4.0x)
    assert 10 < err["magnus4", 1e-6] / err["magnus4", 0.5e-6] < 40
    assert 2.5 < err["piecewise", 1e-6] / err["piecewise", 0.5e-6] < 5.5
    assert err["magnus4", 1e-6] < err["piecewise", 0.5e-6] / 10


def test_first_moments_per_step_agree_with_the_fast_engines_factors():
    """spinsim._kernels.fourier_moment (coupled engine, one step at a time) and
    spinsim._drivers_fast._moment_factors (fast engine, every step at once) are the same integral."""
    from spinsim._drivers_fast import _moment_factors
    from spinsim._kernels import fourier_moment

    rng = np.random.default_rng(5)
    F = rng.normal(size=(9, 3)) + 1j * rng.normal(size=(9, 3))
    for t0, dt in ((0.0, 1e-6), (37e-6, 0.25e-6), (61e-6, 1e-9)):  # the last on the small-x series
        out = np.empty(3)
        fourier_moment(F, t0, t0 + dt, WR, out)
        G1 = _moment_factors(np.array([t0]), dt, WR)[0]
        ref = np.real(G1 @ F[5:] + np.conj(G1) @ F[3::-1])
        assert np.allclose(out, ref, rtol=1e-12, atol=1e-12 * np.max(np.abs(F)) * dt)
