"""Two partners: the per-crystallite product model against closed forms and spinsim, the two-partner
fit on exact curves, the model comparison, and the ``respdor partners`` command."""

import json
import math

import numpy as np
import pytest

from respdor import CurveModel, DephasingCurve
from respdor.models import redor_dephasing, respdor_dephasing, transfer_matrix, transfer_weights
from respdor.multipartner import pair_geometry, partners_dephasing, powder_for, vector_geometry
from respdor.comparison import compare_models
from respdor.partnerfit import fit_two_partners, information_criteria

W_AL = transfer_weights(transfer_matrix(2.5, "saturation"))
W_HALF = np.array([0.0, 1.0])  # REDOR, spin-1/2 partner: every crystallite dephases by cos(phase)
DR3 = CurveModel("13C", "27Al").dr3
T = np.linspace(3e-3 / 16, 3e-3, 16)


def _two(t, d1, d2, angle, weights=W_AL, factor=1.0):
    powder = powder_for((weights.size - 1) * max(d1, d2) * t.max(), factor)
    return partners_dephasing(t, [d1, d2], *pair_geometry(angle, powder), weights)


@pytest.mark.parametrize("which", [0, 1])
def test_one_partner_alone_is_the_closed_form_respdor_curve(which):
    d = [0.0, 0.0]
    d[which] = 503.0
    got = partners_dephasing(T, d, *pair_geometry(110.0, powder_for(5 * 503 * 3e-3)), W_AL)
    assert np.max(np.abs(got - respdor_dephasing(503.0 * T, 2.5))) < 1.5e-3


def test_two_spin_half_partners_along_one_line_are_the_redor_curve_at_twice_the_phase():
    """theta = 0, D1 = D2: cos^2(phase) per crystallite, so dS/S0 = F_REDOR(2 lambda) / 2 exactly."""
    got = _two(T, 400.0, 400.0, 0.0, W_HALF, factor=2.0)
    assert np.max(np.abs(got - 0.5 * redor_dephasing(2 * 400.0 * T))) < 3e-4


def test_the_angle_and_its_supplement_give_one_curve():
    a, b = _two(T, 503.0, 300.0, 70.0, factor=2.0), _two(T, 503.0, 300.0, 110.0, factor=2.0)
    assert np.max(np.abs(a - b)) < 2e-4
    # ...while the angle itself matters, beyond the quadrature error
    assert np.max(np.abs(_two(T, 503.0, 503.0, 0.0, factor=2.0) - _two(T, 503.0, 503.0, 90.0, factor=2.0))) > 0.02


def test_two_al27_agree_with_spinsim_fast_engine():
    """Second method: spinsim's exact per-crystallite product for 13C with two 27Al (ideal saturation)."""
    from spinsim import Spin, SpinSystem, distance_from_coupling, get_isotope, simulate_respdor
    from spinsim.powder import zcw

    mas, t = 10000.0, np.arange(2, 32, 4) / 10000.0
    r1, r2, theta = distance_from_coupling(503.0, "13C", "27Al"), distance_from_coupling(300.0, "13C", "27Al"), 1.92
    xyz = np.array([[0, 0, 0], [0, 0, r1], [r2 * math.sin(theta), 0, r2 * math.cos(theta)]])
    system = SpinSystem.from_coordinates([Spin(get_isotope(s)) for s in ("13C", "27Al", "27Al")], xyz, 14.1,
                                         homonuclear=False)
    reference = simulate_respdor(system, mas, t, powder=zcw(987, 32), method="fast").dSS0
    mine = partners_dephasing(t, [503.0, 300.0], *vector_geometry(xyz[1:], powder_for(15.0, 2.0)), W_AL)
    assert np.max(np.abs(mine - reference)) < 3e-4


def _unfolded_dephasing(t, couplings, vectors, powder, weights):
    """The product model summed over every crystallite of the powder, one cosine per time point: the
    plain sum the fast paths (rotor phases folded, phases turned step by step) must reproduce."""
    from respdor.multipartner import _BODY_TURN, _rotations

    v = np.asarray(vectors, float) / np.linalg.norm(vectors, axis=1, keepdims=True)
    v = v @ _rotations(*(np.array([x]) for x in _BODY_TURN))[0].T
    euler, w = powder.euler_full()
    u = np.einsum("cij,kj->cki", _rotations(euler[:, 0], euler[:, 1], euler[:, 2]), v)
    g = 4.0 * math.sqrt(2.0) * u[..., 2] * u[..., 1]
    total = np.zeros(t.size)
    for k_t, time in enumerate(t):
        per_partner = [np.tensordot(np.cos(np.outer(g[:, k] * d * time, np.arange(weights.size))), weights, 1)
                       for k, d in enumerate(couplings)]
        total[k_t] = w @ np.prod(per_partner, axis=0)
    return 1.0 - total


@pytest.mark.parametrize("times", [np.arange(1, 42) * 2e-4,  # rotor-synchronised: phases turned step by step
                                   np.array([0.0, 1.3e-4, 7.77e-4, 3.1e-3])])  # no common step: a cosine each
def test_fast_product_paths_equal_the_plain_sum_over_every_crystallite(times):
    from spinsim.powder import zcw

    powder = zcw(144, 16)
    vectors = [[0.0, 0.0, 1.0], [0.9, 0.1, -0.3], [0.2, -0.8, 0.4]]
    got = partners_dephasing(times, [420.0, 260.0, 150.0], *vector_geometry(vectors, powder), W_AL)
    assert np.max(np.abs(got - _unfolded_dephasing(times, [420.0, 260.0, 150.0], vectors, powder, W_AL))) < 1e-12


def test_rotor_phases_half_a_turn_apart_give_opposite_phases_and_are_folded():
    from spinsim.powder import zcw

    g, w = vector_geometry([[0.3, 0.1, 0.9]], zcw(89, 8))
    assert g.shape == (89 * 4, 1) and w.sum() == pytest.approx(1.0, abs=1e-14)
    g_odd, w_odd = vector_geometry([[0.3, 0.1, 0.9]], zcw(89, 7))  # no pairs: every rotor phase kept
    assert g_odd.shape == (89 * 7, 1)


def test_common_step_of_rotor_synchronised_times_and_none_otherwise():
    from respdor.multipartner import _common_step

    step, steps = _common_step(np.array([0.375, 0.75, 1.5, 3.0]) * 1e-3)
    assert step == pytest.approx(0.375e-3) and steps.tolist() == [1, 2, 4, 8]
    step, steps = _common_step(np.array([0.0, 2.0, 3.0]) * 1e-4)  # 2 and 3 tau_R: step tau_R
    assert step == pytest.approx(1e-4) and steps.tolist() == [0, 2, 3]
    assert _common_step(np.array([1.3e-4, 7.77e-4])) is None
    assert _common_step(np.array([1e-4, 1e-4 * (1 + 1e-9)])) is None  # close to a multiple is not one


def test_information_criteria_with_and_without_measured_errors():
    ic = information_criteria(10.0, 16, 2, True)
    assert ic["aic"] == pytest.approx(14.0) and ic["bic"] == pytest.approx(10.0 + 2 * math.log(16))
    assert ic["aicc"] == pytest.approx(14.0 + 12 / 13)
    assert information_criteria(0.16, 16, 2, False)["aic"] == pytest.approx(16 * math.log(0.01) + 4)


def _exact_curve(t, d1, d2, angle, fraction, sigma):
    y = fraction * _two(t, d1, d2, angle, factor=2.0)
    return DephasingCurve(t, y, sigma=np.full(t.size, sigma))


def test_two_partner_fit_recovers_an_exact_curve():
    d = DR3 / 2.9**3
    curve = _exact_curve(np.linspace(8e-3 / 24, 8e-3, 24), 1.3 * d, d, 60.0, 0.3, 0.01)
    fit = fit_two_partners(curve, "13C", "27Al", intervals=False, progress=False)
    assert fit.chisqr < 0.05  # noiseless: only the quadrature error of the working powder remains
    assert fit.value("coupling_1_hz") == pytest.approx(1.3 * d, rel=0.03)
    assert fit.value("coupling_2_hz") == pytest.approx(d, rel=0.05)
    assert fit.value("fraction") == pytest.approx(0.3, abs=0.01)
    assert fit.parameters["angle_deg"].determined is None  # no intervals asked for
    assert fit.powder_error < 1e-3


def test_comparison_prefers_two_partners_when_the_curve_shows_them():
    """Two 27Al at 2.9 A, 110 deg, f 0.3, 41 points to 8 ms at sigma 0.01: a two-spin fit is worse."""
    d = DR3 / 2.9**3
    t = np.linspace(8e-3 / 41, 8e-3, 41)
    rng = np.random.default_rng(7)
    exact = _exact_curve(t, d, d, 110.0, 0.30, 0.01)
    noisy = DephasingCurve(t, exact.dss0 + rng.normal(0, 0.01, t.size), sigma=exact.sigma)
    result = compare_models(noisy, "13C", "27Al", progress=False, candidates={"truth": exact.dss0 / 0.30},
                            uncorrelated=0, distribution=False)
    one, two, truth = result.rows
    assert two["chi2"] < one["chi2"] - 8
    # the true structure with only f fitted: one parameter, f back, chi2 about the 41 points' noise
    assert truth["parameters"] == 1 and float(truth["summary"].split("= ")[1]) == pytest.approx(0.30, abs=0.01)
    assert truth["chi2"] < one["chi2"] and truth["akaike_weight"] > 0.5
    assert result.preferred in ("candidate truth", "two partners + angle + fraction")
    assert result.lrt_p < 0.02
    assert result.distinguishable
    back = type(result).from_json(result.to_json())
    assert back.preferred == result.preferred and back.two_partners.value("fraction") == pytest.approx(
        result.two_partners.value("fraction"))


def test_partners_command_on_the_bundled_curve(tmp_path, capsys):
    from respdor.cli import main
    from respdor.examples import example_path

    out = tmp_path / "cmp.json"
    assert main(["partners", str(example_path("respdor_13C27Al_synthetic.csv")), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "one partner + fraction" in text and "cannot tell them apart" in text
    data = json.loads(out.read_text())
    rows = {r["name"]: r for r in data["models"]}
    # one 27Al made this curve: no partner model beats it by AICc; a broad distribution of distances
    # comes as close (within the AICc tie of 2), and the verdict says AICc cannot single one out
    assert all(r["aicc"] >= rows["one partner + fraction"]["aicc"] for n, r in rows.items() if "partners" in n)
    assert rows["one partner + fraction"]["delta_aicc"] < 2.0 and "does not single out" in text
    assert [rows[n]["parameters"] for n in ("3 uncorrelated partners + fraction",
                                            "3 equivalent uncorrelated partners + fraction")] == [4, 2]
    gauss = rows.get("Gaussian distribution + fraction")  # present with DeerLab installed
    if gauss is not None:  # a distribution is not what the curve shows: weight below one half
        assert gauss["parameters"] == 3 and gauss["akaike_weight"] < 0.5
        assert rows["one partner + fraction"]["separation_chi2"] < 5.99  # within the noise of the preferred curve
    assert rows["one partner + fraction"]["summary"].startswith("r = 2.54 A")  # as respdor fit finds
    assert data["max_difference"] < 2 * data["noise"]


@pytest.mark.parametrize("argv, words", [
    (["partners", "missing.csv"], "missing.csv"),
    (["partners", "{curve}", "--json", "{curve}"], "--json"),
    (["partners", "{curve}", "--mas", "-3k"], "--mas"),
])
def test_partners_command_mistakes_exit_2_with_one_line(argv, words, tmp_path, capsys):
    from respdor.cli import main

    curve = tmp_path / "c.csv"
    curve.write_text("t_ms,dSS0,sigma\n" + "".join(f"{t},{0.1 * t},0.01\n" for t in range(1, 9)))
    before = curve.read_bytes()
    status = main([a.replace("{curve}", str(curve)) for a in argv])
    err = capsys.readouterr().err
    assert status == 2
    assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert curve.read_bytes() == before


def test_too_few_points_for_four_parameters_is_refused():
    from respdor.errors import UserError

    curve = DephasingCurve(T[:4], 0.1 * np.arange(4), sigma=np.full(4, 0.01))
    with pytest.raises(UserError, match="4 points cannot"):
        fit_two_partners(curve, "13C", "27Al", progress=False)


def test_a_curve_no_partner_model_follows_is_said_to_be_so():
    """The bundled curve with its errors claimed 20 times smaller than they are: chi2 says so."""
    from respdor.examples import example_path
    from respdor.io import read_curve

    c = read_curve(example_path("respdor_13C27Al_synthetic.csv"))
    fit = fit_two_partners(DephasingCurve(c.time_s, c.dss0, sigma=c.sigma / 20), "13C", "27Al", intervals=False,
                           progress=False)
    assert fit.p_value < 1e-3
    assert any("two partners do not describe the data" in w for w in fit.warnings)


def test_intervals_of_the_bundled_one_partner_curve_name_the_undetermined_angle():
    """The bundled curve was made with one 27Al (D = 503 Hz, f = 0.24): the two-partner fit's D1
    interval holds 503 Hz and the angle of a second partner is not determined."""
    from respdor.examples import example_path
    from respdor.io import read_curve

    fit = fit_two_partners(read_curve(example_path("respdor_13C27Al_synthetic.csv")), "13C", "27Al",
                           progress=lambda done, total, label: None)
    d1 = fit.parameters["coupling_1_hz"]
    assert d1.determined and d1.ci95[0] < 503.0 < d1.ci95[1]
    assert fit.parameters["angle_deg"].determined is False
    assert any("does not determine" in w and "angle_deg" in w for w in fit.warnings)
    lo, hi = fit.parameters["distance_1_angstrom"].ci95
    assert lo < 2.5 < hi


def test_nuclei_given_against_the_file_are_refused(tmp_path, capsys):
    from respdor.cli import main

    curve = tmp_path / "cd.csv"
    curve.write_text("# observe = 111Cd\n# partner = 27Al\nt_ms,dSS0,sigma\n"
                     + "".join(f"{t},{0.05 * t},0.01\n" for t in range(1, 9)))
    before = curve.read_bytes()
    assert main(["partners", str(curve), "--observe", "13C"]) == 2
    err = capsys.readouterr().err
    assert "--observe 13C" in err and "contradict" in err and len(err.strip().splitlines()) == 1
    assert curve.read_bytes() == before


@pytest.mark.parametrize("d1_ci, d2_ci, said", [
    ((324.0, 420.0), (250.0, 330.0), True),    # overlap: D1 and D2 may be equal
    ((324.0, 420.0), (250.0, None), True),     # D2 open above
    ((400.0, 520.0), (150.0, 330.0), False),   # apart
    ((None, 420.0), (150.0, 330.0), False),    # D1 open below: the determination line covers it
])
def test_overlapping_intervals_of_d1_and_d2_are_said_to_be_uncalibrated(d1_ci, d2_ci, said):
    from respdor.partnerfit import Estimate, _determination_warnings

    est = {"coupling_1_hz": Estimate("coupling_1_hz", 380.0, "Hz", d1_ci, d1_ci, True),
           "coupling_2_hz": Estimate("coupling_2_hz", 290.0, "Hz", d2_ci, d2_ci, True),
           "angle_deg": Estimate("angle_deg", 50.0, "deg", (0.0, 90.0), (0.0, 90.0), False),
           "fraction": Estimate("fraction", 0.3, "", (0.28, 0.32), (0.27, 0.33), True)}
    warns = []
    with pytest.warns(Warning):
        _determination_warnings(est, warns)
    assert any("D1 and D2 may be equal" in w and "report D1 and D2 together" in w for w in warns) is said
