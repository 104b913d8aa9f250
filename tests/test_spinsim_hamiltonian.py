"""Spin systems, tensors and the Fourier-coefficient Hamiltonian (numpy only, no numba)."""

import numpy as np
import pytest

from spinsim.hamiltonian import (
    N_HARM,
    _fourier,
    interaction_components,
    lab_tensors,
    rank2_operators,
    rotation_matrices,
    spherical_rank2,
    spin_operators,
)
from spinsim.powder import make_powder, powder_convergence, repulsion, zcw
from spinsim.system import DipolarCoupling, JCoupling, Spin, SpinSystem


def _eval(F, t, wr):
    k = np.arange(-N_HARM, N_HARM + 1)
    return np.real(np.exp(1j * k * wr * t) @ F)


def test_spin_operators_commutation():
    for spin in (0.5, 1.5, 2.5, 4.5):
        iz, ip, im, ix, iy = spin_operators(spin)
        assert np.allclose(ix @ iy - iy @ ix, 1j * iz)
        i2 = ix @ ix + iy @ iy + iz @ iz
        assert np.allclose(i2, spin * (spin + 1) * np.eye(len(iz)))


def test_spherical_components_rebuild_cartesian_quadratic_form():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(3, 3))
    a = a + a.T
    a -= np.trace(a) / 3 * np.eye(3)
    iz, ip, im, ix, iy = spin_operators(2.5)
    ops = [ix, iy, iz]
    cart = sum(a[p, q] * ops[p] @ ops[q] for p in range(3) for q in range(3))
    sph = spherical_rank2(a)
    t = rank2_operators(2.5)
    assert np.allclose(cart, sum((-1) ** m * sph[2 - m] * t[2 + m] for m in range(-2, 3)), atol=1e-12)


def test_rotation_matrices_are_rz_ry_rz_products():
    """The closed-form ZYZ matrices against the product of the three elementary (active) rotations,
    for a batch of angles of both signs and beyond 2 pi; proper rotations."""
    def rz(x):
        return np.array([[np.cos(x), -np.sin(x), 0.0], [np.sin(x), np.cos(x), 0.0], [0.0, 0.0, 1.0]])

    def ry(x):
        return np.array([[np.cos(x), 0.0, np.sin(x)], [0.0, 1.0, 0.0], [-np.sin(x), 0.0, np.cos(x)]])

    euler = np.random.default_rng(5).uniform(-8, 8, size=(4, 5, 3))
    r = rotation_matrices(euler)
    assert r.shape == (4, 5, 3, 3)
    want = np.array([[rz(a) @ ry(b) @ rz(g) for a, b, g in row] for row in euler])
    assert np.allclose(r, want, rtol=0, atol=1e-15)
    assert np.allclose(r @ np.swapaxes(r, -1, -2), np.eye(3), atol=1e-15)
    assert np.allclose(np.linalg.det(r), 1.0, atol=1e-14)
    assert np.allclose(rotation_matrices([0.0, np.pi / 2, 0.0]) @ [0, 0, 1.0], [1.0, 0, 0], atol=1e-16)


def test_lab_frame_zz_matches_b0_direction_formula():
    # physics.md 5.1: B0 in the rotor frame is b(t) = (sin th cos wt, -sin th sin wt, cos th)
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 3))
    a = a + a.T
    a -= np.trace(a) / 3 * np.eye(3)
    euler = np.array([[0.4, 1.1, 2.0]])
    lab = lab_tensors(a, euler)
    coef = np.sqrt(2 / 3) * _fourier(lab[:, :, 2])[0]
    r = rotation_matrices(euler[0])
    ar = r @ a @ r.T
    th = np.arccos(1 / np.sqrt(3))
    wr = 2 * np.pi * 1e4
    for t in rng.uniform(0, 1e-4, 7):
        b = np.array([np.sin(th) * np.cos(wr * t), -np.sin(th) * np.sin(wr * t), np.cos(th)])
        assert _eval(coef, t, wr) == pytest.approx(b @ ar @ b, abs=1e-12)
    assert abs(coef[N_HARM]) < 1e-12  # the magic angle removes the static rank-2 part


def test_gamma_is_a_rotor_phase_shift():
    system = SpinSystem(
        [Spin("13C", csa_zeta_ppm=80, csa_eta=0.4), Spin("27Al", cq_hz=4e6, eta_q=0.5, q_euler=(0.3, 0.9, 1.4))],
        9.4,
        [DipolarCoupling(0, 1, 600.0, (0.2, 0.7, 0.0))],
    )
    g = 0.7
    c0 = interaction_components(system, np.array([[0.0, 0.8, 0.5]]))
    cg = interaction_components(system, np.array([[g, 0.8, 0.5]]))
    k = np.arange(-N_HARM, N_HARM + 1)
    for f0, fg in zip(c0.single, cg.single):
        assert np.allclose(fg[0], f0[0] * np.exp(1j * k * g)[:, None], atol=1e-9 * np.abs(f0).max() + 1e-12)
    assert np.allclose(cg.pair[(0, 1)][0], c0.pair[(0, 1)][0] * np.exp(1j * k * g))


@pytest.mark.parametrize("field", [9.4, 18.8])
def test_second_order_quadrupolar_matches_exact_diagonalisation(field):
    """Zeeman + full quadrupolar Hamiltonian diagonalised exactly vs first + second order."""
    spin = Spin("27Al", cq_hz=3e6, eta_q=0.4, q_euler=(0.3, 1.0, 0.7))
    system = SpinSystem([Spin("13C"), spin], field)
    c = interaction_components(system, np.zeros((1, 3)))
    i = 2.5
    wq = 2 * np.pi * 3e6 / (2 * i * (2 * i - 1))
    from spinsim.hamiltonian import _pas_tensor

    a = _pas_tensor(-(1 - 0.4) / 2, -(1 + 0.4) / 2, 1.0, (0.3, 1.0, 0.7))
    lab = lab_tensors(a, np.zeros((1, 3)))[0, 0]  # rotor phase 0
    t2 = rank2_operators(i)
    hq = wq * sum((-1) ** m * lab[2 - m] * t2[2 + m] for m in range(-2, 3))
    iz = spin_operators(i)[0]
    w0 = c.omega0[1]
    exact = np.sort(np.linalg.eigvalsh(w0 * iz + hq))
    ours = np.sort(np.real(w0 * np.diag(iz) + c.single[1][0].sum(axis=0)))
    first = np.sort(np.real(w0 * np.diag(iz) + wq * lab[2] * np.diag(t2[2])))
    second_order_size = np.abs(exact - first).max()
    assert second_order_size > 500  # rad/s: the second-order shift is there and large
    # the residual is third order, ~ wq^3 / w0^2: < 1 % of the second-order term at 9.4 T
    assert np.abs(exact - ours).max() < 0.01 * second_order_size * (9.4 / field)


def test_dipolar_static_splitting_and_coordinates():
    # along the field the S line splits by 2D: omega_D(beta = 0) = -2 pi D (coefficient of 2 SzIz)
    from spinsim.hamiltonian import MAGIC_ANGLE

    system = SpinSystem([Spin("13C"), Spin("27Al")], 9.4, [DipolarCoupling(0, 1, 500.0)])
    # tilt the crystal so that the bond is along B0 at rotor phase 0
    comps = interaction_components(system, np.array([[0.0, MAGIC_ANGLE, 0.0]]))
    assert _eval(comps.pair[(0, 1)][0], 0.0, 2 * np.pi * 1e4) == pytest.approx(-2 * np.pi * 500.0, rel=1e-9)
    s = SpinSystem.from_coordinates([Spin("13C"), Spin("27Al")], [[0, 0, 0], [0, 0, 2.5]], 9.4)
    assert s.dipolar[0].d_hz == pytest.approx(504.2, abs=0.1)
    j = SpinSystem([Spin("13C"), Spin("27Al")], 9.4, [], [JCoupling(0, 1, 20.0)])
    cj = interaction_components(j, np.zeros((1, 3)))
    assert cj.pair[(0, 1)][0, N_HARM] == pytest.approx(np.pi * 20.0)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: Spin("99Xx"), "unknown isotope"),
        (lambda: Spin("13C", csa_zeta_ppm=10, csa_eta=1.5), "eta"),
        (lambda: Spin("27Al", cq_hz=1e6, eta_q=-0.1), "eta_q"),
        (lambda: Spin("13C", cq_hz=1e6), "spin 1/2"),
        (lambda: DipolarCoupling(0, 1, -5.0), ">= 0 Hz"),
        (lambda: SpinSystem([Spin("27Al"), Spin("13C")], 9.4), "spin 1/2"),
        (lambda: SpinSystem([Spin("13C"), Spin("13C")], 9.4), "homonuclear"),
        (lambda: SpinSystem([Spin("13C"), Spin("27Al")], -1.0), "field"),
        (lambda: SpinSystem([Spin("13C"), Spin("27Al")], 9.4, [DipolarCoupling(0, 3, 5.0)]), "indices"),
        (lambda: SpinSystem.from_coordinates([Spin("13C"), Spin("27Al")], [[0, 0, 0], [0, 0, 0]], 9.4), "same position"),
    ],
)
def test_bad_specifications_raise_clear_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_maryland_csa_input():
    s = Spin.with_maryland_csa("113Cd", 0.0, 100.0, 0.5)
    assert s.csa_eta == pytest.approx(3 * (1 - 0.5) / 3.5)
    with pytest.raises(ValueError, match="skew"):
        Spin.with_maryland_csa("113Cd", 0.0, 100.0, 1.5)


@pytest.mark.parametrize("powder", [zcw(987), repulsion(300)])
def test_powder_sets_are_uniform(powder):
    assert powder.weights.sum() == pytest.approx(1.0)
    cb = np.cos(powder.beta)
    # second and fourth moments of cos(beta) over the sphere: 1/3 and 1/5
    assert np.sum(powder.weights * cb**2) == pytest.approx(1 / 3, abs=2e-3)
    assert np.sum(powder.weights * cb**4) == pytest.approx(1 / 5, abs=2e-3)


def test_zcw_sizes_and_convergence_helper():
    assert zcw(200).n_ab == 233
    assert make_powder("zcw", 55, 8).size == 55 * 8

    def curve(p):  # <P2(cos beta)^2> converges to 1/5
        return np.array([np.sum(p.weights * (1.5 * np.cos(p.beta) ** 2 - 0.5) ** 2)])

    out = powder_convergence(curve, sizes=(21, 55, 144, 987), tol=3e-3)
    assert out["size"] == 144
    assert out["errors"][21] > out["errors"][144]
    with pytest.raises(ValueError, match="unknown powder"):
        make_powder("lebedev")
