"""respdor.structure: from coordinates to the predicted dephasing curve (issue 13, first part)."""

import sys

import numpy as np
import pytest

ase = pytest.importorskip("ase")
from ase import Atoms  # noqa: E402

from respdor.errors import UserError  # noqa: E402
from respdor.models import respdor_dephasing  # noqa: E402
from respdor.structure import (  # noqa: E402
    Structure,
    apparent_two_spin,
    build_system,
    find_partners,
    powder_product,
    predict_curve,
    select_observed,
)

T = np.arange(0, 21) * 2e-4  # 0..4 ms at 10 kHz MAS, every second rotor period


def _partners(symbols, positions, cutoff=4.0, **kw):
    return find_partners(Structure(Atoms(symbols, positions=positions)), 0, "13C", "27Al", cutoff, **kw)


def test_two_spins_from_coordinates_match_analytical_respdor():
    from spinsim import make_powder

    ps = _partners("CAl", [[0, 0, 0], [0.3, 0.4, 2.9]])
    assert ps[0].distance_angstrom == pytest.approx(np.sqrt(0.25 + 2.9**2))
    y = predict_curve(build_system(ps, "13C", "27Al", 14.1), 1e4, T, powder=make_powder("zcw", 2584, 32))
    # measured 3.3e-5 with this powder (1.8e-2 along z with ZCW 610 x 16: the powder, not the physics)
    assert np.max(np.abs(y - respdor_dephasing(ps[0].d_hz * T, 2.5))) < 1e-4


def _three_spin_pair():
    from spinsim import DipolarCoupling, Spin, SpinSystem, distance_from_coupling, get_isotope

    r1, r2 = distance_from_coupling(503, "13C", "27Al"), distance_from_coupling(300, "13C", "27Al")
    th = np.radians(110)
    ps = _partners("CAlAl", [[0, 0, 0], [0, 0, r1], [r2 * np.sin(th), 0, r2 * np.cos(th)]], 6.0, cq_hz=3e6)
    al = get_isotope("27Al")
    hand = SpinSystem([Spin(get_isotope("13C")), Spin(al, cq_hz=3e6), Spin(al, cq_hz=3e6)], 14.1,
                      [DipolarCoupling(0, 1, 503.0), DipolarCoupling(0, 2, 300.0, (0.0, th, 0.0))])
    return build_system(ps, "13C", "27Al", 14.1), hand, ps


def test_three_spins_from_coordinates_equal_couplings_by_hand_cw_saturation():
    from spinsim import cw_pulse, make_powder, simulate_respdor

    sy, hand, ps = _three_spin_pair()
    assert [p.d_hz for p in ps] == pytest.approx([503.0, 300.0], abs=1e-9)
    sat, pw = cw_pulse("27Al", 30e3, 2e-4), make_powder("zcw", 21, 4)
    a = simulate_respdor(sy, 1e4, T[:6], saturation=sat, powder=pw).dSS0
    b = simulate_respdor(hand, 1e4, T[:6], saturation=sat, powder=pw).dSS0
    assert a[-1] > 0.1
    assert np.max(np.abs(a - b)) < 1e-12


def test_product_per_crystallite_equals_dense_simulation_three_spins():
    """The fast engine multiplies the partners' factors per crystallite; the general engine
    propagates the 1 x 6 x 6 Hilbert space. Measured 6.7e-14 (ZCW 89 x 8, 21 times)."""
    from spinsim import cw_pulse, zcw

    sy, _, _ = _three_spin_pair()
    sat, pw = cw_pulse("27Al", 30e3, 2e-4), zcw(21, 1)
    fast = predict_curve(sy, 1e4, T[:3], saturation=sat, powder=pw, method="fast")
    dense = predict_curve(sy, 1e4, T[:3], saturation=sat, powder=pw, method="general")
    assert fast[-1] > 0.05
    assert np.max(np.abs(fast - dense)) < 1e-10


def test_powder_level_product_is_only_approximate():
    from spinsim import make_powder

    pw = make_powder("zcw", 233, 16)
    d = np.array([[1, 0, 0], [0, 0, 1.0]])
    ps = _partners("CAlAl", np.vstack([[0, 0, 0], 2.9 * d]))
    both = predict_curve(build_system(ps, "13C", "27Al", 14.1), 1e4, T, powder=pw)
    single = [predict_curve(build_system([p], "13C", "27Al", 14.1), 1e4, T, powder=pw) for p in ps]
    err = np.max(np.abs(powder_product(single) - both))
    assert 1e-3 < err < 0.2


def test_periodic_images_nearest_first_and_count():
    at = Atoms("CAl", positions=[[0, 0, 0], [2.9, 0, 0]], cell=[5.0, 20.0, 20.0], pbc=True)
    ps = find_partners(Structure(at), 0, "13C", "27Al", 4.0)
    # the Al at +2.9 A and its image at -2.1 A (through the x boundary): the image is nearer
    assert [round(p.distance_angstrom, 6) for p in ps] == [2.1, 2.9]
    assert ps[0].vector_angstrom[0] == pytest.approx(-2.1)
    assert ps[0].d_hz > ps[1].d_hz
    assert len(find_partners(Structure(at), 0, "13C", "27Al", 4.0, max_partners=1)) == 1
    assert find_partners(Structure(at), 0, "13C", "27Al", 2.0) == []


def test_select_observed_and_mistakes():
    at = Atoms("CAlCO", positions=np.arange(12.0).reshape(4, 3))
    assert select_observed(at, "C") == [0, 2]
    assert select_observed(at, "1,2") == [1, 2]
    with pytest.raises(UserError, match="no N atom"):
        select_observed(at, "N")
    with pytest.raises(UserError, match="outside 0..3"):
        select_observed(at, "7")
    with pytest.raises(UserError, match="no partner"):
        build_system([], "13C", "27Al", 14.1)


def test_apparent_two_spin_distance_of_one_and_two_partners_at_2_9_angstrom():
    from spinsim import make_powder

    pw = make_powder("zcw", 233, 16)
    d = np.array([[1, 0, 0], [np.cos(np.radians(110)), np.sin(np.radians(110)), 0]])
    one = predict_curve(build_system(_partners("CAl", [[0, 0, 0], 2.9 * d[0]]), "13C", "27Al", 14.1), 1e4, T,
                        powder=pw)
    two = predict_curve(build_system(_partners("CAlAl", np.vstack([[0, 0, 0], 2.9 * d])), "13C", "27Al", 14.1),
                        1e4, T, powder=pw)
    r1 = apparent_two_spin(T, one)["distance_angstrom"]
    r2 = apparent_two_spin(T, two)["distance_angstrom"]
    assert r1 == pytest.approx(2.9, abs=0.02)
    assert r2 < 2.5  # two Al at 2.9 A read as one much nearer


def test_missing_ase_is_one_line(monkeypatch):
    from respdor import structure

    monkeypatch.setitem(sys.modules, "ase", None)
    monkeypatch.setitem(sys.modules, "ase.io", None)
    with pytest.raises(UserError, match="needs ASE: pip install"):
        structure._ase()


MAGRES = """#$magres-abinitio-v1.0
[atoms]
units lattice Angstrom
lattice 10.0 0.0 0.0 0.0 10.0 0.0 0.0 0.0 10.0
units atom Angstrom
atom C C 1 0.0 0.0 0.0
atom Al Al 1 2.9 0.0 0.0
[/atoms]
[magres]
units efg au
{c_line}efg Al 1 0.1 0.0 0.0 0.0 0.05 0.0 0.0 0.0 -0.15
[/magres]
"""


@pytest.mark.parametrize("c_line", ["efg C 1 0 0 0 0 0 0 0 0 0\n", ""])  # "" : ASE refuses, own reader
def test_magres_efg_gives_cq_eta_and_orientation(tmp_path, c_line):
    from respdor.structure import read_structure

    path = tmp_path / "m.magres"
    path.write_text(MAGRES.format(c_line=c_line))
    (p,) = find_partners(read_structure(path), 0, "13C", "27Al", 4.0, cq_hz=1e6)
    assert p.from_tensor and p.distance_angstrom == pytest.approx(2.9)
    # C_Q = e Q V_zz / h: Q(27Al) = 146.6 mb, V_zz = -0.15 au x 9.7174e21 V/m^2 -> -5.167 MHz
    assert p.cq_hz == pytest.approx(-5.167e6, rel=1e-3)
    assert p.eta_q == pytest.approx(1 / 3)
    assert abs(p.q_euler[1]) < 1e-12  # V_zz along the crystal z axis


def test_cutoff_convergence_counts_shells_and_changes():
    from respdor.structure import cutoff_convergence
    from spinsim import make_powder

    # Al at 2.9 A and a second one at 6 A (D = 35 Hz): the far one changes the curve a little
    at = Atoms("CAlAl", positions=[[0, 0, 0], [2.9, 0, 0], [0, 0, 6.0]])
    rows = cutoff_convergence(Structure(at), [0], "13C", "27Al", [2.0, 4.0, 7.0], 1e4, T,
                              powder=make_powder("zcw", 144, 8))
    assert [r["n_partners"] for r in rows] == [0, 1, 2]
    assert rows[0]["dss0"] is None and rows[1]["max_change"] is None
    assert 0.005 < rows[2]["max_change"] < 0.1


MODEL = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "al_carboxylate_model.xyz"


def test_bonding_selection_on_the_model():
    from ase.io import read

    at = read(MODEL)
    assert select_observed(at, "C[O2]") == [0]  # the carboxylate C, not the methyl C
    assert select_observed(at, "C[H3]") == [1]
    assert select_observed(at, "C[C1,O2]") == [0]
    assert select_observed(at, "O[Al1+]") == [2, 4]
    with pytest.raises(UserError, match="bonded to: C1, H3; C1, O2"):
        select_observed(at, "C[O3]")
    with pytest.raises(UserError, match="cannot read 'o2'"):
        select_observed(at, "C[o2]")


def test_bonding_selection_sees_periodic_images():
    # a C at the cell origin with one O at +1.25 A along x and the other O reached only through
    # the x boundary (at 3.75 A inside the cell, i.e. -1.25 A through the face)
    at = Atoms("COO", positions=[[0, 0, 0], [1.25, 0, 0], [3.75, 0, 0]], cell=[5.0, 8.0, 8.0], pbc=True)
    assert select_observed(at, "C[O2]") == [0]
    mol = at.copy()
    mol.pbc = False  # without images the second O is 3.75 A away: not bonded
    assert select_observed(mol, "C[O1]") == [0]


def _al_partners(n, r=2.9):
    d = np.array([[1, 0, 0], [np.cos(np.radians(110)), np.sin(np.radians(110)), 0], [-0.3, -0.4, 0.866]])[:n]
    d /= np.linalg.norm(d, axis=1)[:, None]
    return _partners("C" + "Al" * n, np.vstack([[0, 0, 0], r * d]), 6.0)


def test_dilution_one_partner_is_p_times_the_two_spin_curve():
    from respdor.structure import site_curve
    from spinsim import make_powder

    pw = make_powder("zcw", 89, 8)
    ps = _al_partners(1)
    full, _ = site_curve(ps, "13C", "27Al", 14.1, 1e4, T, powder=pw)
    y, info = site_curve(ps, "13C", "27Al", 14.1, 1e4, T, powder=pw, abundance=0.0468)
    assert full[-1] > 0.5
    assert np.max(np.abs(y - 0.0468 * full)) < 1e-15
    assert info["occupancy"]["method"] == "exact enumeration" and info["occupancy"]["omitted_probability"] == 0


def test_dilution_two_partners_closed_form_mixture_and_monte_carlo():
    from respdor.structure import site_curve
    from spinsim import make_powder

    pw, p = make_powder("zcw", 89, 8), 0.128
    ps = _al_partners(2)
    c12, _ = site_curve(ps, "13C", "27Al", 14.1, 1e4, T, powder=pw)
    c1, _ = site_curve(ps[:1], "13C", "27Al", 14.1, 1e4, T, powder=pw)
    c2, _ = site_curve(ps[1:], "13C", "27Al", 14.1, 1e4, T, powder=pw)
    closed = p * p * c12 + p * (1 - p) * (c1 + c2)
    y, _ = site_curve(ps, "13C", "27Al", 14.1, 1e4, T, powder=pw, abundance=p)
    assert np.max(np.abs(y - closed)) < 1e-14
    # Monte Carlo (forced with max_exact=1): fixed seed, the stated standard error covers the miss
    mc, info = site_curve(ps, "13C", "27Al", 14.1, 1e4, T, powder=pw, abundance=p, max_exact=1, n_samples=400,
                          seed=3)
    se = info["occupancy"]["max_standard_error"]
    assert info["occupancy"]["method"] == "Monte Carlo" and 0.005 < se < 0.05
    assert 1e-4 < np.max(np.abs(mc - closed)) < 4 * se


def test_dilution_equals_ideal_saturation_efficiency_per_crystallite():
    """Independent truth: with ideal saturation the occupancy average of independent partners is
    prod_k (1 - p + p f_k) per crystallite, which is spinsim's ideal saturation of efficiency p."""
    from respdor.structure import site_curve
    from spinsim import IdealSaturation, make_powder

    pw, p = make_powder("zcw", 89, 8), 0.3
    ps = _al_partners(3)
    y, info = site_curve(ps, "13C", "27Al", 14.1, 1e4, T, powder=pw, abundance=p, tol=0.0)
    ref = predict_curve(build_system(ps, "13C", "27Al", 14.1), 1e4, T, saturation=IdealSaturation("full", p),
                        powder=pw)
    assert info["occupancy"]["n_patterns"] == 8 and info["occupancy"]["n_simulated"] == 7
    assert ref[-1] > 0.2
    assert np.max(np.abs(y - ref)) < 1e-12


def test_partner_abundance_choices():
    from respdor.structure import partner_abundance

    assert partner_abundance("27Al") == 1.0
    assert partner_abundance("29Si") == pytest.approx(0.046832)
    assert partner_abundance("13C") == pytest.approx(0.0107)
    assert partner_abundance("111Cd") == pytest.approx(0.128)
    assert partner_abundance("15N") == pytest.approx(0.00368)
    assert partner_abundance("29Si", "1") == 1.0 and partner_abundance("29Si", 0.5) == 0.5
    with pytest.raises(UserError, match="a fraction, not a percentage"):
        partner_abundance("29Si", "50")


MAGRES_MS = """#$magres-abinitio-v1.0
[atoms]
units lattice Angstrom
lattice 12.0 0.0 0.0 0.0 12.0 0.0 0.0 0.0 12.0
units atom Angstrom
atom C C 1 0.0 0.0 0.0
atom Al Al 1 2.9 0.0 0.0
atom Al Al 2 -1.0 2.72 0.0
[/atoms]
[magres]
units ms ppm
units efg au
ms C 1 -60.0 0.0 0.0 0.0 10.0 0.0 0.0 0.0 50.0
efg Al 1 0.1 0.0 0.0 0.0 0.05 0.0 0.0 0.0 -0.15
[/magres]
"""


def test_observed_csa_from_shielding_is_refocused_by_ideal_redor_pulses(tmp_path):
    from respdor.structure import observed_csa, read_structure, site_curve
    from spinsim import cw_pulse, make_powder

    path = tmp_path / "m.magres"
    path.write_text(MAGRES_MS)
    st = read_structure(path)
    zeta, eta, euler = observed_csa(st, 0)
    # shift = sigma_iso - sigma: principal shifts (60, -10, -50) about 0: zeta = 60 ppm, eta = 40/60
    assert zeta == pytest.approx(60.0) and eta == pytest.approx(2 / 3)
    assert observed_csa(st, 1) is None
    ps = find_partners(st, 0, "13C", "27Al", 4.0, cq_hz=3e6, eta_q=0.5)
    assert [p.from_tensor for p in ps] == [False, True]  # Al 2 (2.898 A, no EFG) is nearer than Al 1
    pw, sat = make_powder("zcw", 55, 4), cw_pulse("27Al", 30e3, 2e-4)
    with_csa, _ = site_curve(ps, "13C", "27Al", 14.1, 1e4, T[:8], sat, pw, csa=(zeta, eta, euler))
    without, _ = site_curve(ps, "13C", "27Al", 14.1, 1e4, T[:8], sat, pw)
    assert with_csa[-1] > 0.2
    assert np.max(np.abs(with_csa - without)) < 1e-12


def _d_by_hand(r_angstrom):
    """13C-27Al dipolar coupling (Hz) from mu0/4pi hbar gamma_C gamma_Al / (2 pi r^3), typed out."""
    g_c, g_al = 6.728284e7, 6.9762715e7  # rad s^-1 T^-1 (IUPAC 2001)
    return 1e-7 * 1.054571817e-34 * g_c * g_al / (2 * np.pi * (r_angstrom * 1e-10) ** 3)


POSCAR = """C and Al, simple cubic a = 4 A
1.0
4.0 0.0 0.0
0.0 4.0 0.0
0.0 0.0 4.0
C Al
1 1
Direct
0.0 0.0 0.0
0.5 0.0 0.0
"""

CIF = """data_test
_cell_length_a 4.0
_cell_length_b 5.0
_cell_length_c 6.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
C1 C 0.0 0.0 0.0
Al1 Al 0.5 0.5 0.0
"""


def test_poscar_periodic_images_counted_and_distances_by_hand(tmp_path):
    from respdor.structure import read_structure

    path = tmp_path / "POSCAR"
    path.write_text(POSCAR)
    ps = find_partners(read_structure(path), 0, "13C", "27Al", 4.5)
    # one Al per cell at (2, 0, 0): images at x = +-2 (2 at 2.0 A), and (+-2, +-4, 0), (+-2, 0, +-4)
    # (8 at sqrt(20) = 4.472 A); (+-2, +-4, +-4) are 6 A away
    r = [p.distance_angstrom for p in ps]
    assert len(ps) == 10
    assert r[:2] == pytest.approx([2.0, 2.0]) and r[2:] == pytest.approx([np.sqrt(20)] * 8)
    assert {p.index for p in ps} == {1}
    assert ps[0].d_hz == pytest.approx(_d_by_hand(2.0), rel=1e-6)
    assert ps[-1].d_hz == pytest.approx(_d_by_hand(np.sqrt(20)), rel=1e-6)
    assert sorted(round(p.vector_angstrom[0], 9) for p in ps[:2]) == [-2.0, 2.0]


def test_cif_periodic_images_counted_and_distances_by_hand(tmp_path):
    from respdor.structure import read_structure

    path = tmp_path / "p1.cif"
    path.write_text(CIF)
    st = read_structure(path)
    ps = find_partners(st, 0, "13C", "27Al", 4.0)
    # Al at (2, 2.5, 0) in a 4 x 5 x 6 cell: 4 images at (+-2, +-2.5, 0), sqrt(10.25) = 3.2016 A
    assert len(ps) == 4
    assert [p.distance_angstrom for p in ps] == pytest.approx([np.sqrt(10.25)] * 4)
    assert ps[0].d_hz == pytest.approx(_d_by_hand(np.sqrt(10.25)), rel=1e-6)
    # next shell: (+-2, +-2.5, +-6) at 6.80 A and (+-6, +-2.5, 0) at 6.50 A
    assert len(find_partners(st, 0, "13C", "27Al", 6.6)) == 8
    assert len(find_partners(st, 0, "13C", "27Al", 6.9)) == 16


def test_bundled_model_magres_gives_the_chosen_tensors():
    from respdor.structure import observed_csa, read_structure

    st = read_structure(MODEL.with_suffix(".magres"))
    assert select_observed(st.atoms, "C[O2]") == [0]
    ps = find_partners(st, 0, "13C", "27Al", 4.0)
    assert [p.index for p in ps] == [3, 5] and all(p.from_tensor for p in ps)
    assert [p.cq_hz for p in ps] == pytest.approx([3.5e6, 5.5e6], rel=1e-6)
    assert [p.eta_q for p in ps] == pytest.approx([0.4, 0.2], abs=1e-6)
    # Al 1: V_zz along its Al-O bond (independent check: the PAS z axis from the Euler angles)
    from spinsim.conventions import rotation_zyz

    pos = st.atoms.get_positions()
    bond = (pos[2] - pos[3]) / np.linalg.norm(pos[2] - pos[3])
    assert abs(rotation_zyz(*ps[0].q_euler)[:, 2] @ bond) == pytest.approx(1.0, abs=1e-9)
    z2 = rotation_zyz(*ps[1].q_euler)[:, 2]
    bond2 = (pos[4] - pos[5]) / np.linalg.norm(pos[4] - pos[5])
    assert np.degrees(np.arccos(abs(z2 @ bond2))) == pytest.approx(30.0, abs=1e-6)
    zeta, eta, _ = observed_csa(st, 0)
    # principal shifts 245, 180, 110 ppm: iso 178.33, zeta = 110 - 178.33, eta = (245 - 180) / 68.33
    assert zeta == pytest.approx(-68.3333, abs=1e-3) and eta == pytest.approx(65 / 68.3333, abs=1e-4)


def _ase_partners(atoms, observed, element, cutoff):
    """Second method: ASE's neighbour list over every pair, kept for the observed atom and the element,
    as sorted (index, rounded vector) rows."""
    from ase.neighborlist import neighbor_list

    i, j, vec = neighbor_list("ijD", atoms, cutoff, self_interaction=False)
    keep = (i == observed) & (np.array(atoms.get_chemical_symbols())[j] == element)
    return sorted((int(a), tuple(np.round(v, 9))) for a, v in zip(j[keep], vec[keep]))


@pytest.mark.parametrize("seed, pbc", [(1, True), (2, True), (3, (True, True, False)), (4, (False, True, False))])
def test_periodic_partner_search_equals_ase_neighbour_list(seed, pbc):
    """Triclinic cells, atoms outside the cell, images of the observed atom's own element, slabs: the search
    around one atom finds exactly the partners and vectors of ASE's all-pairs neighbour list."""
    rng = np.random.default_rng(seed)
    cell = np.diag(rng.uniform(3.0, 6.0, 3)) + np.triu(rng.uniform(-1.5, 1.5, (3, 3)), 1)
    symbols = ["C", "Al", "Al", "O", "C", "Al"]
    at = Atoms(symbols, positions=rng.uniform(-4.0, 9.0, (6, 3)), cell=cell, pbc=pbc)
    for observed in (0, 4):
        ps = find_partners(Structure(at), observed, "13C", "27Al", 9.0)
        mine = sorted((p.index, tuple(np.round(p.vector_angstrom, 9))) for p in ps)
        assert mine == _ase_partners(at, observed, "Al", 9.0) and len(mine) >= 5  # images found, not only atoms
        r = [p.distance_angstrom for p in ps]
        assert r == sorted(r) and max(r) <= 9.0
    same_element = find_partners(Structure(at), 0, "13C", "13C", 9.0)  # the observed atom's own images count
    assert sorted((p.index, tuple(np.round(p.vector_angstrom, 9))) for p in same_element) == _ase_partners(
        at, 0, "C", 9.0)


def test_zcw_size_is_the_size_zcw_builds_without_building_it():
    from spinsim.powder import zcw, zcw_size

    for n in (1, 2, 100, 233, 234, 987):
        assert zcw_size(n) == zcw(n).n_ab
    assert zcw_size(100_000_000) == 102_334_155  # the next Fibonacci number, no array of that size made
    with pytest.raises(ValueError):
        zcw_size(0)
