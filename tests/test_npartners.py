"""n partners: the n-partner fit (rigid geometry, uncorrelated and equivalent directions) against exact
curves, closed forms and a second method; the distance distribution as a row of the model comparison;
mistaken inputs to ``respdor.fit_partners`` and ``respdor partners``."""

import math

import numpy as np
import pytest

from respdor import CurveModel, DephasingCurve
from respdor.comparison import compare_models
from respdor.errors import UserError
from respdor.models import respdor_dephasing, transfer_matrix, transfer_weights
from respdor.multipartner import partners_dephasing, powder_for, vector_geometry
from respdor.npartnerfit import PartnersFit, angle_names, fit_partners, partner_vectors, uncorrelated_dephasing
from respdor.partnerfit import fit_two_partners

W_AL = transfer_weights(transfer_matrix(2.5, "saturation"))
T = np.linspace(3e-3 / 16, 3e-3, 16)


def _bundled():
    from respdor.examples import example_path
    from respdor.io import read_curve

    return read_curve(example_path("respdor_13C27Al_synthetic.csv"))


def test_angles_of_n_vectors_and_their_folded_ranges():
    assert [a for a, _ in angle_names(3)] == ["angle_12_deg", "polar_3_deg", "azimuth_3_deg"]
    assert [top for _, top in angle_names(4)] == [90.0, 90.0, 180.0, 90.0, 360.0]  # 2n - 3 = 5 angles
    v = partner_vectors([110.0, 60.0, 90.0])
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0)
    assert math.degrees(math.acos(v[0] @ v[1])) == pytest.approx(110.0)
    assert math.degrees(math.acos(v[0] @ v[2])) == pytest.approx(60.0)
    assert v[2][0] == pytest.approx(0.0, abs=1e-12) and v[2][1] > 0  # azimuth 90: along y


def test_mirror_and_inversion_give_the_same_curve_beyond_the_folded_range():
    """The symmetries the ranges fold: inverting vector 3 (polar a -> 180 - a, azimuth + 180) and
    mirroring in the xz plane (azimuth -> -azimuth) leave the curve as it is; a different geometry does not."""
    powder = powder_for(5 * 500 * 3e-3, 1.0)

    def curve(angles):
        return partners_dephasing(T, [500.0, 400.0, 300.0], *vector_geometry(partner_vectors(angles), powder), W_AL)

    base = curve([70.0, 50.0, 40.0])
    assert np.max(np.abs(curve([70.0, 130.0, 220.0]) - base)) < 3e-4  # vector 3 inverted
    assert np.max(np.abs(curve([70.0, 50.0, -40.0]) - base)) < 3e-4  # mirrored
    assert np.max(np.abs(curve([70.0, 50.0, 160.0]) - base)) > 3e-3  # another geometry


def test_with_two_couplings_zero_the_three_partner_model_is_the_one_partner_closed_form():
    powder = powder_for(5 * 503 * 3e-3)
    got = partners_dephasing(T, [503.0, 0.0, 0.0], *vector_geometry(partner_vectors([110.0, 70.0, 100.0]), powder),
                             W_AL)
    assert np.max(np.abs(got - respdor_dephasing(503.0 * T, 2.5))) < 1.5e-3
    model = CurveModel("13C", "27Al")
    assert np.allclose(uncorrelated_dephasing(T, [503.0, 0.0, 0.0], model, 1.0), respdor_dephasing(503.0 * T, 2.5),
                       atol=1e-12)


def test_uncorrelated_partners_are_the_average_over_random_geometries():
    """Second method: the exact product averaged over rigid geometries whose vectors point in random
    independent directions equals the product of the one-partner powder curves."""
    from spinsim.powder import zcw

    couplings, powder = [500.0, 350.0, 250.0], zcw(144, 16)
    rng = np.random.default_rng(3)
    curves = []
    for _ in range(300):
        v = rng.normal(size=(3, 3))
        curves.append(partners_dephasing(T, couplings, *vector_geometry(v, powder), W_AL))
    curves = np.array(curves)
    mean, err = curves.mean(0), curves.std(0) / math.sqrt(len(curves))
    exact = uncorrelated_dephasing(T, couplings, CurveModel("13C", "27Al"), 1.0)
    assert np.all(np.abs(mean - exact) < 4 * err + 1e-3)  # Monte Carlo error + quadrature of zcw 144 x 16
    assert np.max(np.abs(mean - exact)) < 4e-3
    # ...while a rigid geometry is not the uncorrelated curve: three vectors along one line differ by ~0.19
    line = partners_dephasing(T, couplings, *vector_geometry(np.tile([0.0, 0.0, 1.0], (3, 1)), powder), W_AL)
    assert np.max(np.abs(line - exact)) > 0.1


def test_fit_partners_with_two_is_the_two_partner_fit():
    full = _bundled()
    curve = DephasingCurve(full.time_s[:8], full.dss0[:8], sigma=full.sigma[:8])
    a = fit_partners(curve, "13C", "27Al", 2, intervals=False, progress=False)
    b = fit_two_partners(curve, "13C", "27Al", intervals=False, progress=False)
    assert a.to_dict() == b.to_dict()


def test_three_partner_fit_reproduces_an_exact_curve():
    """13C{31P} REDOR, three 31P at 2.54, 2.86 and 3.33 A (747, 523, 331 Hz), f 0.3, noise-free, 24 points
    to 6 ms. The fit reproduces the curve (chi2 ~ 0 at sigma 0.01), the fraction and the sum of D^2
    (the initial rise); the single couplings are not identifiable even without noise: other sets
    with another geometry give the same curve to within the powder's quadrature error."""
    model = CurveModel("13C", "31P", experiment="redor")
    t = np.linspace(6e-3 / 24, 6e-3, 24)
    d = np.array([model.dr3 / r**3 for r in (2.54, 2.86, 3.33)])
    powder = powder_for(d.max() * t.max(), 2.0)
    exact = 0.3 * partners_dephasing(t, d, *vector_geometry(partner_vectors([70.0, 70.0, 95.0]), powder),
                                     model._weights)
    fit = fit_partners(DephasingCurve(t, exact, sigma=np.full(t.size, 0.01)), "13C", "31P", 3, experiment="redor",
                       intervals=False, progress=False)
    assert isinstance(fit, PartnersFit) and fit.n_free_parameters == 7
    assert fit.chisqr < 0.05  # the quadrature error of the working powder (< 2e-3 here) is all that remains
    assert fit.value("fraction") == pytest.approx(0.3, abs=0.005)
    found = np.array([fit.value(f"coupling_{k}_hz") for k in (1, 2, 3)])
    assert np.sum(found**2) == pytest.approx(np.sum(d**2), rel=0.01)
    assert np.all(np.diff(found) <= 0) and found.max() == pytest.approx(d.max(), rel=0.2)
    back = PartnersFit.from_json(fit.to_json())
    assert back.n_partners == 3 and back.summary() == fit.summary()


def test_three_partner_fit_of_a_one_partner_curve_names_what_it_cannot_determine():
    """13C{31P} REDOR made with one 31P at 2.6 A (f 0.3, sigma 0.01, 16 points to 6 ms): the
    three-partner fit finds D1 and f, says in one line that partners 2 and 3 are not needed and in
    one line that no angle is determined."""
    model = CurveModel("13C", "31P", experiment="redor")
    t = np.linspace(6e-3 / 16, 6e-3, 16)
    d = model.dr3 / 2.6**3
    y = 0.3 * model.normalised(t, d) + np.random.default_rng(2).normal(0, 0.01, t.size)
    fit = fit_partners(DephasingCurve(t, y, sigma=np.full(t.size, 0.01)), "13C", "31P", 3, experiment="redor",
                       progress=False)
    d1 = fit.parameters["coupling_1_hz"]
    assert d1.determined and d1.ci95[0] < d < d1.ci95[1] and d1.ci95[1] - d1.ci95[0] < 0.2 * d
    assert fit.parameters["fraction"].ci95[0] < 0.3 < fit.parameters["fraction"].ci95[1]
    for k in (2, 3):  # no lower bound: zero coupling (no partner) is inside the interval
        assert fit.parameters[f"coupling_{k}_hz"].ci95[0] is None
        assert fit.parameters[f"distance_{k}_angstrom"].ci95[1] is None
    assert all(fit.parameters[a].determined is False for a in ("angle_12_deg", "polar_3_deg", "azimuth_3_deg"))
    needed = [w for w in fit.warnings if "does not need partners 2, 3" in w]
    angles = [w for w in fit.warnings if "angle" in w]
    assert len(needed) == 1 and "r2 > " in needed[0] and "r3 > " in needed[0]
    assert angles == ["the curve does not determine any of the angles (geometry): each 95 % profile interval "
                      "spans the whole allowed range"]


def test_uncorrelated_partners_of_the_bundled_curve_with_intervals():
    """The bundled curve (one 27Al, D = 503 Hz): two uncorrelated partners, D1 near 503 Hz, the second
    not needed."""
    fit = fit_partners(_bundled(), "13C", "27Al", 2, geometry="uncorrelated", progress=False)
    d1 = fit.parameters["coupling_1_hz"]
    assert d1.determined and d1.ci95[0] < 503.0 < d1.ci95[1]
    assert fit.parameters["coupling_2_hz"].ci95[0] is None
    assert fit.n_free_parameters == 3 and fit.powder == "closed form"
    assert any("does not need partner 2: its coupling may be zero" in w for w in fit.warnings)


def test_equivalent_partners_have_one_coupling():
    fit = fit_partners(_bundled(), "13C", "27Al", 3, geometry="equivalent", intervals=False, progress=False)
    assert fit.n_free_parameters == 2 and "coupling_2_hz" not in fit.parameters
    # three equivalent partners at r dephase as one at r / 3^(1/6) at short times: r is longer than one partner's
    assert fit.value("distance_1_angstrom") > 2.6
    assert fit.summary().startswith("3 x r = ")


def _gaussian_curve(t, sigma):
    from respdor import distribution as dist

    model = CurveModel("13C", "27Al")
    r = np.linspace(1.8, 4.2, 241)
    w = np.exp(-0.5 * ((r - 3.0) / 0.3) ** 2)
    y = 0.5 * dist.distance_kernel(t, r * dist.ANGSTROM, model, model.partner_isotope.abundance) @ (w / w.sum())
    return DephasingCurve(t, y + np.random.default_rng(5).normal(0, sigma, t.size), sigma=np.full(t.size, sigma))


def test_a_broad_gaussian_distribution_is_ranked_best_as_the_distribution():
    pytest.importorskip("deerlab")
    result = compare_models(_gaussian_curve(np.linspace(8e-3 / 24, 8e-3, 24), 0.01), "13C", "27Al", progress=False)
    rows = {r["name"]: r for r in result.rows}
    assert result.preferred == "Gaussian distribution + fraction"
    gauss = rows["Gaussian distribution + fraction"]
    assert gauss["parameters"] == 3
    assert float(gauss["summary"].split("mean r = ")[1].split(" A")[0]) == pytest.approx(3.0, abs=0.05)
    assert float(gauss["summary"].split("width = ")[1].split(" A")[0]) == pytest.approx(0.3, abs=0.08)
    assert rows["one partner + fraction"]["delta_aicc"] > 6  # one distance: Akaike weight below 5 %
    assert rows["one partner + fraction"]["separation_chi2"] > 5.99
    assert "one partner + fraction" not in result.indistinguishable()
    back = type(result).from_json(result.to_json())
    assert back.preferred == result.preferred and back.indistinguishable() == result.indistinguishable()
    assert back.partner_fits["3 uncorrelated partners + fraction"].value("coupling_1_hz") == pytest.approx(
        result.partner_fits["3 uncorrelated partners + fraction"].value("coupling_1_hz"))


@pytest.mark.parametrize("kwargs, words", [
    ({"n": 1}, "n=1"), ({"n": 7}, "n=7"), ({"n": 2.5}, "n=2.5"), ({"n": True}, "n=True"),
    ({"geometry": "tetrahedral"}, "geometry='tetrahedral'"), ({"fraction": 1.5}, "fraction"),
    ({"n": 6, "geometry": "general"}, "16 parameters"),
])
def test_mistaken_fit_arguments_are_refused_in_one_line(kwargs, words):
    curve = _bundled()
    with pytest.raises(UserError) as info:
        fit_partners(curve, "13C", "27Al", **{"n": 3, **kwargs}, progress=False)
    assert words in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"max_partners": 7}, "max_partners=7"), ({"max_partners": True}, "max_partners=True"),
    ({"uncorrelated": 1}, "uncorrelated=1"), ({"uncorrelated": 2.5}, "uncorrelated=2.5"),
])
def test_mistaken_comparison_arguments_are_refused_before_any_fit(kwargs, words):
    with pytest.raises(UserError) as info:
        compare_models(_bundled(), "13C", "27Al", **kwargs, progress=False)
    assert words in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("argv, words", [
    (["--partners", "7"], "--partners 7"), (["--partners", "1"], "--partners 1"),
    (["--partners", "x"], "--partners"), (["--uncorrelated", "1"], "--uncorrelated 1"),
    (["--uncorrelated", "-2"], "--uncorrelated -2"), (["--partners", "3", "--json", "{curve}"], "--json"),
])
def test_partners_command_mistakes_exit_2_with_one_line(argv, words, tmp_path, capsys):
    from respdor.cli import main

    curve = tmp_path / "c.csv"
    curve.write_text("t_ms,dSS0,sigma\n" + "".join(f"{t},{0.1 * t},0.01\n" for t in range(1, 9)))
    before = curve.read_bytes()
    try:
        status = main(["partners", str(curve), *[a.replace("{curve}", str(curve)) for a in argv]])
    except SystemExit as exc:  # argparse's own one-line refusal
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2
    assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert curve.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["c.csv"]
