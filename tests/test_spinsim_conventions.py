"""Tensor conventions against an independent construction: the lab-frame tensor built by hand.

Each test takes a Cartesian tensor in the crystal frame (as a CASTEP magres file gives it), turns
it into spinsim parameters (C_Q, eta_Q, Euler angles; or zeta, eta, Euler angles) with
spinsim.conventions, builds the Hamiltonian the engine uses, and compares its frequency at
several rotor phases with the one computed by hand: the crystal tensor rotated into the rotor
frame with scipy's Rotation (not spinsim's rotation code) and projected on B0.
"""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from spinsim import conventions as cv
from spinsim.hamiltonian import N_HARM, interaction_components
from spinsim.isotopes import get_isotope
from spinsim.system import DipolarCoupling, Spin, SpinSystem

TH = np.arccos(1 / np.sqrt(3))
WR = 2 * np.pi * 1e4
CRYSTALLITES = np.array([[0.3, 1.1, 2.2], [5.0, 0.4, 1.0], [2.0, 2.9, 4.1]])  # (alpha, beta, gamma)


def _eval(F, t):
    k = np.arange(-N_HARM, N_HARM + 1)
    return np.real(np.exp(1j * k * WR * t) @ F)


def _b0(t):
    return np.array([np.sin(TH) * np.cos(WR * t), -np.sin(TH) * np.sin(WR * t), np.cos(TH)])


def _by_hand(tensor, crystallite, t):
    """b0(t) . R T R^T . b0(t) with R = Rz(gamma) Ry(beta) Rz(alpha), crystal -> rotor."""
    a, b, g = crystallite
    r = Rotation.from_euler("ZYZ", [g, b, a]).as_matrix()  # intrinsic ZYZ = Rz(g) Ry(b) Rz(a)
    return _b0(t) @ r @ tensor @ r.T @ _b0(t)


def _sym(seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(3, 3))
    return a + a.T


def _engine_euler(c):
    a, b, g = c
    return np.array([[g, b, a]])  # the order of Powder.euler_full


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_efg_from_cartesian_tensor_matches_hand_built_lab_frame(seed):
    v_au = 0.3 * _sym(seed)  # a CASTEP-like EFG in atomic units, any orientation, any trace
    cq, eta, euler = cv.quadrupolar_from_efg(v_au, "27Al")
    assert 0 <= eta <= 1
    spin = Spin("27Al", cq_hz=cq, eta_q=eta, q_euler=euler)
    system = SpinSystem([Spin("13C"), spin], 9.4)
    I = 2.5
    q = get_isotope("27Al").quadrupole_moment
    v_si = (v_au - np.trace(v_au) / 3 * np.eye(3)) * cv.EFG_AU_V_PER_M2
    m = I - np.arange(6)
    for c in CRYSTALLITES:
        f = interaction_components(system, _engine_euler(c)).single[1][0]
        for t in (0.0, 1.7e-5, 6.1e-5):
            w = _eval(f, t)
            # the second-order shift is odd in m: w_m + w_-m is twice the first order
            first = 0.5 * (w + w[::-1])
            vlab = _by_hand(v_si, c, t)
            hand = 2 * np.pi * 1.602176634e-19 * q * vlab / 6.62607015e-34 / (2 * I * (2 * I - 1)) * (
                3 * m**2 - I * (I + 1)) / 2
            assert np.allclose(first, hand, rtol=1e-10, atol=1e-6 * np.abs(hand).max())


@pytest.mark.parametrize("seed", [3, 4])
def test_csa_from_shielding_tensor_matches_hand_built_lab_frame(seed):
    rng = np.random.default_rng(seed)
    sigma = 40 * _sym(seed) + rng.normal(size=(3, 3))  # non-symmetric part: no first-order effect
    ref = 170.0
    iso, zeta, eta, euler = cv.csa_from_shielding(sigma, ref)
    spin = Spin("13C", shift_ppm=iso, csa_zeta_ppm=zeta, csa_eta=eta, csa_euler=euler)
    system = SpinSystem([spin, Spin("27Al")], 9.4)
    w0 = -get_isotope("13C").gamma * 9.4
    delta = ref * np.eye(3) - 0.5 * (sigma + sigma.T)
    for c in CRYSTALLITES:
        f = interaction_components(system, _engine_euler(c)).single[0][0]
        for t in (0.0, 2.3e-5, 8.0e-5):
            w_s = _eval(f, t)[0] - _eval(f, t)[1]  # coefficient of S_z
            assert w_s == pytest.approx(w0 * 1e-6 * _by_hand(delta, c, t), rel=1e-10)


@pytest.mark.parametrize("partner", ["13C", "111Cd"])
def test_dipolar_coupling_has_the_physical_sign(partner):
    """The coefficient of 2 S_z I_z is -(mu0/4pi) hbar gamma_S gamma_I / (2 r^3) (3 cos^2 theta - 1):
    it changes sign with gamma_S gamma_I (111Cd has gamma < 0). Built by hand from the bond vector;
    spinsim used |D| with the positive-gamma sign until the SIMPSON cross-check (SR4 + CSA)."""
    hbar, mu0_4pi, r = 1.054571817e-34, 1e-7, 3.0e-10
    g_s, g_i = get_isotope(partner).gamma, get_isotope("27Al").gamma
    d_hz = mu0_4pi * hbar * abs(g_s * g_i) / (2 * np.pi * r**3)
    bond = (0.7, 1.1, 0.0)
    system = SpinSystem([Spin(partner), Spin("27Al")], 9.4, [DipolarCoupling(0, 1, d_hz, bond)])
    u = Rotation.from_euler("ZYZ", bond).as_matrix()[:, 2]  # bond direction, crystal frame
    for c in CRYSTALLITES:
        f = interaction_components(system, _engine_euler(c)).pair[(0, 1)][0]
        for t in (0.0, 2.9e-5, 7.3e-5):
            cos_t = _by_hand(np.outer(u, u), c, t)  # (b0 . u)^2
            hand = -mu0_4pi * hbar * g_s * g_i / r**3 * (3 * cos_t - 1) / 2
            assert _eval(f, t) == pytest.approx(hand, rel=1e-9)


def test_principal_axis_orders():
    v = np.diag([0.2, -1.0, 0.8])  # |zz|: -1.0 ; EFG order |yy| >= |xx|
    vals, frame = cv.principal_frame(v, "efg")
    assert np.allclose(vals, [0.2, 0.8, -1.0])
    assert np.linalg.det(frame) == pytest.approx(1.0)
    vals, _ = cv.principal_frame(v, "haeberlen")
    assert np.allclose(vals, [0.8, 0.2, -1.0])
    iso, zeta, eta, _ = cv.csa_from_shift_tensor(np.diag([10.0, 20.0, 60.0]))
    assert (iso, zeta, eta) == pytest.approx((30.0, 30.0, 1 / 3))


def test_euler_round_trip_including_gimbal_lock():
    rng = np.random.default_rng(7)
    for e in list(rng.uniform(0, np.pi, (5, 3))) + [np.array([0.7, 0.0, 0.4]), np.array([0.7, np.pi, 0.4])]:
        r = cv.rotation_zyz(*e)
        assert np.allclose(cv.rotation_zyz(*cv.euler_from_rotation(r)), r, atol=1e-12)


def _simpson_lab_zz(a_pas, euler, cryst, t):
    """SIMPSON's lab-frame zz component, built from SIMPSON's definitions by hand.

    Every SIMPSON Euler triple rotates one frame into the next (PAS -> crystal -> rotor -> lab,
    the last (omega_R t, theta_m, 0)); a tensor's coordinates in the new frame are R^T A R. (These
    semantics were checked against a SIMPSON 4.2.3 build crystallite by crystallite, see
    docs/simulation.md.)
    """
    m = Rotation.from_euler("ZYZ", euler).as_matrix()
    c = Rotation.from_euler("ZYZ", cryst).as_matrix()
    lab = Rotation.from_euler("ZYZ", [WR * t, TH, 0.0]).as_matrix()
    a_rot = c.T @ m.T @ a_pas @ m @ c
    b0 = lab[:, 2]  # the lab z axis in rotor coordinates
    return b0 @ a_rot @ b0


def _spinsim_lab_zz(a_pas, euler, cryst, t):
    """spinsim's: active PAS -> crystal, crystal -> rotor Rz(gamma) Ry(beta) Rz(alpha), B0 = _b0."""
    p = Rotation.from_euler("ZYZ", euler).as_matrix()
    al, be, ga = cryst
    c = Rotation.from_euler("ZYZ", [ga, be, al]).as_matrix()
    a_rot = c @ p @ a_pas @ p.T @ c.T
    return _b0(t) @ a_rot @ _b0(t)


def test_simpson_mapping_gives_the_same_lab_frame_tensor():
    """CSA/dipole (a, b, c) -> SIMPSON (-c, -b, -a); EFG adds the in-plane swap (SIMPSON's PAS has
    |V_xx| >= |V_yy|); crystallite (alpha, beta, gamma) -> SIMPSON (-alpha, pi - beta, gamma)."""
    rng = np.random.default_rng(3)
    eta = 0.6
    csa_pas = np.diag([-(1 + eta) / 2, -(1 - eta) / 2, 1.0])  # Haeberlen, both programs
    efg_spinsim = np.diag([-(1 - eta) / 2, -(1 + eta) / 2, 1.0])
    efg_simpson = csa_pas
    for _ in range(4):
        e = rng.uniform(-np.pi, np.pi, 3)
        cr = rng.uniform(0, np.pi, 3)
        cr_s = cv.crystallites_to_simpson(*cr)
        old = []
        for t in (0.0, 13e-6, 61e-6):
            ref = _spinsim_lab_zz(csa_pas, e, cr, t)
            assert _simpson_lab_zz(csa_pas, cv.euler_to_simpson(e), cr_s, t) == pytest.approx(ref, abs=1e-12)
            # the mapping assumed before the SIMPSON build (same angles, beta -> -beta) fails here
            old.append(abs(_simpson_lab_zz(csa_pas, e, (cr[0], -cr[1], cr[2]), t) - ref))
            ref = _spinsim_lab_zz(efg_spinsim, e, cr, t)
            assert _simpson_lab_zz(efg_simpson, cv.efg_euler_to_simpson(e), cr_s, t) == pytest.approx(ref, abs=1e-12)
        assert max(old) > 1e-2
        assert np.allclose(cv.efg_euler_from_simpson(cv.efg_euler_to_simpson(e)), e)
        assert np.allclose(cv.euler_from_simpson(cv.euler_to_simpson(e)), e)
        assert np.allclose(cv.crystallites_from_simpson(*cv.crystallites_to_simpson(*cr)), cr)


def test_read_magres(tmp_path):
    p = tmp_path / "x.magres"
    p.write_text(
        "#$magres-abinitio-v1.0\n[atoms]\nunits atom Angstrom\natom Al Al 1 0 0 0\n[/atoms]\n"
        "[magres]\nunits ms ppm\nunits efg au\n"
        "ms Al 1 500 1 0 1 510 0 0 0 520\nefg Al 1 -0.1 0 0 0 -0.2 0 0 0 0.3\n[/magres]\n"
    )
    t = cv.read_magres(p)
    assert t[("Al", 1)]["efg"][2, 2] == 0.3
    cq, eta, _ = cv.quadrupolar_from_efg(t[("Al", 1)]["efg"], "27Al")
    # C_Q = e Q V_zz / h with Q(27Al) = 146.6 mb and V_zz = 0.3 au
    assert cq == pytest.approx(1.602176634e-19 * 146.6e-31 * 0.3 * 9.7173624292e21 / 6.62607015e-34, rel=1e-3)
    assert eta == pytest.approx(1 / 3)
    bad = tmp_path / "bad.magres"
    bad.write_text("[magres]\nefg Al 1 0 0\n[/magres]\n")
    with pytest.raises(ValueError, match="bad.magres:2"):
        cv.read_magres(bad)
