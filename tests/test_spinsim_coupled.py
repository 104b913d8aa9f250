"""The coupled engine (partner-partner homonuclear couplings, flip-flop terms) against a brute-force
scipy propagation in the full product space, against the other engines where they apply, and
in its limits."""

import numpy as np
import pytest
from scipy.linalg import expm

from spinsim.hamiltonian import N_HARM, full_diagonal, interaction_components, partner_space_terms, spin_operators
from spinsim.powder import Powder, make_powder
from spinsim.sequences import Block, Event, cw_pulse
from spinsim.system import DipolarCoupling, Spin, SpinSystem

pytest.importorskip("spinsim._kernels")
from spinsim.simulate import IdealSaturation, simulate_respdor  # noqa: E402

MAS = 10e3
TR = 1 / MAS


def na2(d_pp=250.0, cq=1.0e6, d1=503.0, d2=300.0):
    """13C with two 23Na (spin 3/2, small Hilbert space), coupled to each other."""
    dips = [DipolarCoupling(0, 1, d1), DipolarCoupling(0, 2, d2, (0.0, np.radians(110), 0.0))]
    if d_pp is not None:
        dips.append(DipolarCoupling(1, 2, d_pp, (0.3, np.radians(55), 0.0)))
    spins = [Spin("13C"), Spin("23Na", cq_hz=cq, eta_q=0.3, q_euler=(0.2, 0.7, 0.1)),
             Spin("23Na", cq_hz=0.8 * cq, q_euler=(1.0, 0.3, 0.0))]
    return SpinSystem(spins, 9.4, dips)


def _one(n_gamma=2):
    return Powder(np.array([0.4]), np.array([1.1]), np.array([1.0]), n_gamma)


# --------------------------------------------------------------------------------------------
# brute force: full product space S x I1 x I2, scipy expm at every step, from scratch per point
# --------------------------------------------------------------------------------------------


def _ops(system):
    dims = [s.multiplicity for s in system.spins]

    def emb(op, n):
        out = np.eye(1)
        for k, d in enumerate(dims):
            out = np.kron(out, op if k == n else np.eye(d))
        return out

    return dims, emb


def _avg(F, t0, dt):
    """Average over [t0, t0 + dt] of sum_k F_k exp(i k wr t) (real), F (9, ...)."""
    wr = 2 * np.pi * MAS
    k = np.arange(-N_HARM, N_HARM + 1)
    fac = np.ones(len(k), complex)
    nz = k != 0
    fac[nz] = (np.exp(1j * k[nz] * wr * (t0 + dt)) - np.exp(1j * k[nz] * wr * t0)) / (1j * k[nz] * wr * dt)
    return np.real(np.tensordot(fac, F, axes=(0, 0)))


def brute_force(system, euler, ns, centre, dt=2e-6):
    """Complex signal Tr(S+ rho) / (same without interactions) of one crystallite (full angles)."""
    dims, emb = _ops(system)
    comps = interaction_components(system, np.atleast_2d(euler))
    Fd = full_diagonal(system, comps)[0]  # (9, dim): every diagonal term, tested elsewhere
    # the flip-flop, written here from the operators: c(t) (3 IzJz - I.J) minus its ZZ part
    hom = []
    for a, b in system.homonuclear_pairs():
        iz, ip, im, ix, iy = spin_operators(system.spins[a].spin)
        jz, jp, jm, jx, jy = spin_operators(system.spins[b].spin)
        full = 3 * emb(iz, a) @ emb(jz, b) - (emb(ix, a) @ emb(jx, b) + emb(iy, a) @ emb(jy, b)
                                              + emb(iz, a) @ emb(jz, b))
        hom.append((comps.pair[(a, b)][0], full - 2 * emb(iz, a) @ emb(jz, b)))
    _, sp, sm, sx, _ = spin_operators(0.5)
    Sx = emb(sx, 0)
    pulse = expm(-1j * np.pi * Sx)
    rf = np.zeros_like(Sx)
    T = 0.0
    if not isinstance(centre, IdealSaturation):
        T = centre.duration
        amp = centre.events[0].rf.get("23Na", (0.0, 0.0))[0]
        for n in range(1, system.n_spins):
            rf = rf + 2 * np.pi * amp * emb(spin_operators(system.spins[n].spin)[3], n)

    def run(U, t0, t1, with_rf):
        n = int(round((t1 - t0) / dt))
        for k in range(n):
            t = t0 + k * dt
            H = np.diag(_avg(Fd, t, dt)) + (rf if with_rf else 0)
            for c, op in hom:
                H = H + _avg(c[:, None], t, dt)[0] * op
            U = expm(-1j * H * dt) @ U
        return U

    def half(U, t_start, n):
        for p in range(n):
            t = t_start + p * TR
            U = run(U, t, t + TR / 2, False)
            U = pulse @ U
            U = run(U, t + TR / 2, t + TR, False)
            U = pulse @ U
        return U

    rest = Sx.shape[0] // 2
    rho0 = np.kron(sx, np.eye(rest))
    det = np.kron(sm, np.eye(rest))
    out = []
    for n in ns:
        U = half(np.eye(Sx.shape[0], dtype=complex), 0.0, n)
        t_c = n * TR
        if isinstance(centre, IdealSaturation):
            rho = U @ rho0 @ U.conj().T
            if centre.efficiency > 0:
                P = np.ones((1, 1))
                for s in system.spins[1:]:
                    P = np.kron(P, centre.matrix(s.spin))
                new = np.zeros_like(rho)
                for s1 in range(2):
                    for s2 in range(2):
                        blk = np.diag(rho[s1 * rest:(s1 + 1) * rest, s2 * rest:(s2 + 1) * rest])
                        new[s1 * rest:(s1 + 1) * rest, s2 * rest:(s2 + 1) * rest] = np.diag(P @ blk)
                rho = new
            rho = pulse @ rho @ pulse.conj().T
            V = half(np.eye(Sx.shape[0], dtype=complex), t_c, n)
        else:
            U = run(U, t_c, t_c + T / 2, True)
            U = pulse @ U
            U = run(U, t_c + T / 2, t_c + T, True)
            V = half(U, t_c + T, n)
            rho = rho0
        rho = V @ rho @ V.conj().T
        ideal = np.linalg.matrix_power(pulse, 4 * n + 1)
        norm = np.sum(np.conj(det) * (ideal @ rho0 @ ideal.conj().T))
        out.append(np.sum(np.conj(det) * rho) / norm)
    return np.array(out)


@pytest.mark.parametrize("centre", [IdealSaturation("full"), cw_pulse("23Na", 40e3, 2 * TR),
                                    cw_pulse("23Na", 40e3, 1.4 * TR)],
                         ids=["ideal", "cw", "cw-not-whole-periods-per-half"])
def test_coupled_engine_equals_brute_force_scipy(centre):
    system = na2()
    pw = _one(2)
    ns = [0, 2]
    r = simulate_respdor(system, MAS, 2 * np.array(ns) * TR, centre, powder=pw, max_dt=2e-6)
    assert r.info["engine"] == "coupled"
    euler, w = pw.euler_full()
    ref = sum(wi * brute_force(system, e, ns, centre) for e, wi in zip(euler, w))
    off = IdealSaturation("full", 0.0) if isinstance(centre, IdealSaturation) else Block([Event(centre.duration)])
    ref0 = sum(wi * brute_force(system, e, ns, off) for e, wi in zip(euler, w))
    # measured 3e-16 .. 1.4e-14: the same piecewise-constant propagation, computed two ways
    assert np.max(np.abs(r.S1_complex - ref)) < 1e-10
    assert np.max(np.abs(r.S0_complex - ref0)) < 1e-10
    # the flip-flop does change the curve, by far more than the agreement above (measured 5.4e-6
    # ideal, 1.9e-4 CW at 0.4 ms: short times, kept short for the brute force)
    r0 = simulate_respdor(na2(None), MAS, 2 * np.array(ns) * TR, centre, powder=pw, max_dt=2e-6)
    assert np.max(np.abs(r.dSS0 - r0.dSS0)) > 2e-6


# --------------------------------------------------------------------------------------------
# Hamiltonian and propagators
# --------------------------------------------------------------------------------------------


def test_partner_space_flip_flop_is_the_secular_homonuclear_form():
    """ZZ (in D) plus flip-flop (V) = c(t) (3 IzJz - I.J), c(t) the coefficient of 2 IzJz."""
    system = na2(d_pp=400.0, cq=0.0, d1=0.0, d2=0.0)
    comps = interaction_components(system, np.array([[0.3, 0.8, 1.1]]))
    D, Z, V, rows, cols = partner_space_terms(system, comps)
    t = 0.37 * TR
    ph = np.exp(1j * np.arange(-N_HARM, N_HARM + 1) * 2 * np.pi * MAS * t)
    H = np.diag(np.real(ph @ D[0])).astype(complex)
    H[rows, cols] += np.real(ph @ V[0])
    c = np.real(ph @ comps.pair[(1, 2)][0])
    iz, _, _, ix, iy = spin_operators(1.5)
    dot = np.kron(ix, ix) + np.kron(iy, iy) + np.kron(iz, iz)
    assert abs(c) > 100
    assert np.allclose(H, c * (3 * np.kron(iz, iz) - dot), atol=1e-9 * abs(c))
    assert np.allclose(Z, 0)  # no S couplings, no S shift


def test_free_period_propagators_unitary_and_conserve_total_m():
    from spinsim import _coupled as KC
    from spinsim._coupled_blocks import bd_to_dense
    from spinsim.simulate import _blocks

    system = na2()
    comps = interaction_components(system, np.array([[0.0, 0.9, 0.2]]))
    D, Z, V, rows, cols = partner_space_terms(system, comps)
    off, idx = _blocks(16, rows, cols)
    smap = np.full(201, -1, np.int64)
    smap[200] = 0
    wr = 2 * np.pi * MAS
    packed = KC.free_prefix_products(D[0], Z[0], V[0], rows, cols, 1.0, wr, TR / 200, 200, off, idx, smap, 1,
                                     False)[0]
    U = bd_to_dense(packed, off, idx, 16)
    assert np.allclose(U @ U.conj().T, np.eye(16), atol=1e-12)
    iz = spin_operators(1.5)[0]
    mtot = np.kron(iz, np.eye(4)) + np.kron(np.eye(4), iz)
    assert np.allclose(U @ mtot, mtot @ U, atol=1e-12)
    assert np.max(np.abs(U - np.diag(np.diag(U)))) > 1e-3  # the flip-flop mixed states
    R = 2 * np.pi * 40e3 * (np.kron(spin_operators(1.5)[3], np.eye(4)) + np.kron(np.eye(4), spin_operators(1.5)[3]))
    roff, ridx = _blocks(16, rows, cols, R)
    W = KC.prefix_products(D[0], Z[0], V[0], rows, cols, R.astype(complex), -1.0, wr, TR / 200, 200, roff, ridx,
                           smap, 1)[0]
    assert np.allclose(W @ W.conj().T, np.eye(16), atol=1e-12)
    assert abs(abs(np.linalg.det(W)) - 1) < 1e-12


# --------------------------------------------------------------------------------------------
# limits and the other engines
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("centre", [IdealSaturation("full"), cw_pulse("23Na", 40e3, 2 * TR)], ids=["ideal", "cw"])
def test_without_flip_flop_coupled_equals_fast_and_vanishing_coupling_is_continuous(centre):
    pw = make_powder("zcw", 5, 4)
    t = np.arange(0, 9, 2) * 2 * TR
    fast = simulate_respdor(na2(None), MAS, t, centre, powder=pw, method="fast")
    same = simulate_respdor(na2(None), MAS, t, centre, powder=pw, method="coupled")
    tiny = simulate_respdor(na2(1e-6), MAS, t, centre, powder=pw)
    assert tiny.info["engine"] == "coupled" and fast.info["engine"] == "fast"
    assert np.max(np.abs(fast.S1_complex - same.S1_complex)) < 1e-12
    assert np.max(np.abs(fast.S0_complex - same.S0_complex)) < 1e-12
    assert np.max(np.abs(fast.dSS0 - tiny.dSS0)) < 1e-9


def test_heteronuclear_partner_zz_coupling_equals_general_engine():
    """A 23Na-27Al coupling is ZZ only: the dense general engine handles it, and must agree."""
    spins = [Spin("13C"), Spin("23Na", cq_hz=1e6), Spin("27Al", cq_hz=2e6, q_euler=(0.3, 0.2, 0.0))]
    dips = [DipolarCoupling(0, 1, 400.0), DipolarCoupling(0, 2, 250.0, (0.0, 1.2, 0.0)),
            DipolarCoupling(1, 2, 300.0, (0.5, 0.7, 0.0))]
    system = SpinSystem(spins, 9.4, dips)
    pw = make_powder("zcw", 5, 2)
    t = np.array([0, 2, 6]) * 2 * TR
    gen = simulate_respdor(system, MAS, t, powder=pw, method="general")
    cou = simulate_respdor(system, MAS, t, powder=pw, method="coupled")
    assert gen.info["engine"] == "general"
    assert np.max(np.abs(gen.S1_complex - cou.S1_complex)) < 1e-12
    assert np.max(np.abs(gen.S0_complex - cou.S0_complex)) < 1e-12


def test_no_observed_coupling_no_dephasing_even_with_partner_couplings():
    system = na2(d_pp=500.0, d1=0.0, d2=0.0)
    r = simulate_respdor(system, MAS, np.arange(0, 9, 4) * 2 * TR, powder=make_powder("zcw", 5, 2))
    assert np.max(np.abs(r.dSS0)) < 1e-12
    assert np.allclose(r.S0, 1.0, atol=1e-12)


def test_equivalent_spin_half_partners_flip_flop_has_no_effect():
    """Two 15N with identical couplings to 13C: I1.I2 commutes with every other term (Iz1 + Iz2
    only), so the homonuclear coupling cannot change the REDOR curve - but it does once the
    two couplings to 13C differ."""
    def sys(d2, dpp):
        dips = [DipolarCoupling(0, 1, 400.0, (0.0, 0.6, 0.0)), DipolarCoupling(0, 2, d2, (0.0, 0.6, 0.0))]
        if dpp:
            dips.append(DipolarCoupling(1, 2, dpp, (0.0, 1.3, 0.0)))
        return SpinSystem([Spin("13C"), Spin("15N"), Spin("15N")], 9.4, dips)

    pw = make_powder("zcw", 21, 4)
    t = np.arange(0, 21, 5) * 2 * TR
    inv = IdealSaturation("inversion")
    a = simulate_respdor(sys(400.0, 0.0), MAS, t, inv, powder=pw, method="coupled")
    b = simulate_respdor(sys(400.0, 300.0), MAS, t, inv, powder=pw)
    assert np.max(np.abs(a.S1_complex - b.S1_complex)) < 1e-10
    c = simulate_respdor(sys(150.0, 0.0), MAS, t, inv, powder=pw, method="coupled")
    d = simulate_respdor(sys(150.0, 300.0), MAS, t, inv, powder=pw)
    assert np.max(np.abs(c.dSS0 - d.dSS0)) > 1e-5  # measured 5.0e-5: truncated by the coupling difference


def test_coupled_engine_refuses_what_it_cannot_do():
    from spinsim.sequences import redor_cycle

    with pytest.raises(ValueError, match="coupled"):
        simulate_respdor(na2(), MAS, [0.0], powder=_one(), method="general")
    with pytest.raises(ValueError, match="ideal REDOR"):
        simulate_respdor(na2(), MAS, [0.0], recoupling=redor_cycle("13C", MAS, 5e-6), powder=_one())


def test_step_size_converged_for_two_27al():
    """Free evolution is stepped too: halving max_dt changes a 2 x 27Al curve (C_Q 3 MHz, Al-Al
    3.4 A) by little (measured 3.0e-6 for 1 -> 0.5 us, 7e-7 for 0.5 -> 0.25 us; one crystallite, 4 ms)."""
    al = [Spin("27Al", cq_hz=3e6), Spin("27Al", cq_hz=3e6)]
    xyz = [[0, 0, 0], [-1.7, 2.6, 0], [1.7, 2.6, 0]]
    system = SpinSystem.from_coordinates([Spin("13C")] + al, xyz, 14.1, homonuclear=True)
    assert len(system.homonuclear_pairs()) == 1
    t = np.arange(0, 21, 5) * 4 * TR
    a = simulate_respdor(system, MAS, t, powder=_one(2), max_dt=1e-6)
    b = simulate_respdor(system, MAS, t, powder=_one(2), max_dt=0.5e-6)
    assert a.dSS0[-1] > 0.3
    assert np.max(np.abs(a.dSS0 - b.dSS0)) < 3e-5
