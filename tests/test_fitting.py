"""The fitter recovers known parameters, reports honest uncertainties and refuses what data cannot tell."""

import numpy as np
import pytest

from respdor import CurveModel, DephasingCurve, fit_curve, fit_curves
from respdor.errors import UserError
from respdor.models import respdor_dephasing

T = np.linspace(0.1e-3, 3e-3, 30)


def synthetic(d=503.0, f=0.24, sigma=0.01, seed=0, t=T, spin=2.5, label="syn"):
    rng = np.random.default_rng(seed)
    y = f * respdor_dephasing(d * t, spin)
    noise = rng.normal(0.0, sigma, t.size) if sigma else 0.0
    return DephasingCurve(t, y + noise, np.full(t.size, sigma if sigma else 1e-3), label=label)


def test_noise_free_curve_is_recovered_exactly():
    r = fit_curve(synthetic(sigma=0), CurveModel("13C", "27Al"), intervals=False)
    assert r["coupling_hz"].value == pytest.approx(503.0, rel=1e-5)
    assert r["fraction"].value == pytest.approx(0.24, rel=1e-5)
    assert r["distance_angstrom"].value == pytest.approx(2.502, abs=1e-3)
    assert r.redchi < 1e-8


def test_noisy_fit_within_errors_and_intervals_are_consistent():
    r = fit_curve(synthetic(seed=3), CurveModel("13C", "27Al"))
    d, f = r["coupling_hz"], r["fraction"]
    assert abs(d.value - 503.0) < 3 * d.stderr
    assert abs(f.value - 0.24) < 3 * f.stderr
    for est in (d, f, r["distance_angstrom"]):
        lo68, hi68 = est.ci68
        lo95, hi95 = est.ci95
        assert lo95 < lo68 < est.value < hi68 < hi95
    # Nearly linear problem: the profile 68 % half-width is close to the standard error.
    assert (f.ci68[1] - f.ci68[0]) / 2 == pytest.approx(f.stderr, rel=0.15)
    # Derived distance interval is the image of the coupling interval.
    assert r["distance_angstrom"].ci68[0] == pytest.approx((7878.1 / d.ci68[1]) ** (1 / 3), rel=1e-3)
    assert -1 < r.correlations["coupling_hz/fraction"] < -0.5
    assert r.weighted and 0.3 < r.redchi < 2.0


def test_distance_parameterization_agrees():
    curve = synthetic(seed=4)
    a = fit_curve(curve, CurveModel("13C", "27Al"), intervals=False)
    b = fit_curve(curve, CurveModel("13C", "27Al"), parameterization="distance", intervals=False)
    assert b["distance_angstrom"].value == pytest.approx(a["distance_angstrom"].value, rel=1e-4)
    assert b["coupling_hz"].value == pytest.approx(a["coupling_hz"].value, rel=1e-3)
    assert not b["distance_angstrom"].derived and b["coupling_hz"].derived


def test_fix_fraction_and_free_efficiency():
    curve = synthetic(seed=5)
    r = fit_curve(curve, CurveModel("13C", "27Al"), fix={"fraction": 0.3}, free=["efficiency"], intervals=False)
    assert not r["fraction"].vary and r["efficiency"].vary
    assert r["amplitude"].value == pytest.approx(0.3 * r["efficiency"].value)
    assert r["amplitude"].value == pytest.approx(0.24, abs=0.03)
    with pytest.raises(UserError, match="multiply the curve alike"):
        fit_curve(curve, CurveModel("13C", "27Al"), free=["efficiency"])
    with pytest.raises(UserError, match="unknown parameter"):
        fit_curve(curve, CurveModel("13C", "27Al"), fix={"banana": 1.0})


def test_unweighted_fit_scales_covariance():
    c = synthetic(seed=6, sigma=0.02)
    unweighted = DephasingCurve(c.time_s, c.dss0, None)
    r = fit_curve(unweighted, CurveModel("13C", "27Al"), intervals=False)
    assert not r.weighted
    # The scatter (0.02) is recovered from the residuals, so the errors match the weighted fit's.
    w = fit_curve(c, CurveModel("13C", "27Al"), intervals=False)
    assert r["fraction"].stderr == pytest.approx(w["fraction"].stderr, rel=0.35)


def test_joint_signal_fit_matches_ratio_fit():
    rng = np.random.default_rng(7)
    s0 = np.exp(-T / 8e-3)
    s1 = s0 * (1 - 0.24 * respdor_dephasing(503.0 * T, 2.5))
    sigma = np.full(T.size, 0.01)
    c = DephasingCurve.from_signals(T, s0 + rng.normal(0, 0.01, T.size), s1 + rng.normal(0, 0.01, T.size),
                                    sigma, sigma)
    a = fit_curve(c, CurveModel(), method="ratio", intervals=False)
    b = fit_curve(c, CurveModel(), method="signals", intervals=False)
    assert b["coupling_hz"].value == pytest.approx(a["coupling_hz"].value, abs=0.3 * a["coupling_hz"].stderr)
    assert b["fraction"].stderr == pytest.approx(a["fraction"].stderr, rel=0.2)
    assert b.n_points == T.size and b.n_free == 2
    with pytest.raises(UserError, match="needs S0, S1"):
        fit_curve(synthetic(), CurveModel(), method="signals")


def test_initial_rise_only_warns_about_separability():
    short = synthetic(t=np.linspace(0.05e-3, 0.6e-3, 12), seed=8, sigma=0.003)
    r = fit_curve(short, CurveModel("13C", "27Al"), intervals=False)
    assert any("never leaves the initial rise" in w for w in r.warnings)
    full = fit_curve(synthetic(seed=8), CurveModel("13C", "27Al"), intervals=False)
    assert not any("initial rise" in w for w in full.warnings)


def test_global_fit_shares_coupling_with_two_fractions():
    a = synthetic(f=0.24, seed=9, label="a")
    b = synthetic(f=0.40, seed=10, label="b")
    r = fit_curves([a, b], CurveModel("13C", "27Al"), intervals=False)
    assert "coupling_hz" in r.parameters and "c0_fraction" in r.parameters and "c1_fraction" in r.parameters
    assert r["coupling_hz"].value == pytest.approx(503, abs=3 * r["coupling_hz"].stderr)
    assert r["c0_fraction"].value == pytest.approx(0.24, abs=3 * r["c0_fraction"].stderr)
    assert r["c1_fraction"].value == pytest.approx(0.40, abs=3 * r["c1_fraction"].stderr)
    single = fit_curve(a, CurveModel("13C", "27Al"), intervals=False)
    assert r["coupling_hz"].stderr < single["coupling_hz"].stderr  # sharing tightens D
    assert r.n_points == 60


def test_global_fit_of_two_pairs_shares_the_distance():
    r_true = 2.9
    t = np.linspace(0.2e-3, 6e-3, 30)
    rng = np.random.default_rng(11)
    curves, models = [], []
    for obs, f in (("13C", 0.3), ("111Cd", 0.5)):
        m = CurveModel(obs, "27Al")
        y = f * m.normalised(t, m.dr3 / r_true**3) + rng.normal(0, 0.01, t.size)
        curves.append(DephasingCurve(t, y, np.full(t.size, 0.01), label=obs))
        models.append(m)
    with pytest.raises(UserError, match="share the distance, not the coupling"):
        fit_curves(curves, models)
    r = fit_curves(curves, models, parameterization="distance", intervals=False)
    assert r["distance_angstrom"].value == pytest.approx(r_true, abs=3 * r["distance_angstrom"].stderr)
    assert r["c0_coupling_hz"].value != pytest.approx(r["c1_coupling_hz"].value, rel=0.05)


def test_custom_shape_callable_is_used():
    curve = synthetic(seed=12)
    model = CurveModel("13C", "27Al", shape=lambda t, d: respdor_dephasing(d * t, 2.5))
    a = fit_curve(curve, model, intervals=False)
    b = fit_curve(curve, CurveModel("13C", "27Al"), intervals=False)
    assert a["coupling_hz"].value == pytest.approx(b["coupling_hz"].value, rel=1e-6)


def test_distance_distribution_width_is_fitted():
    m = CurveModel("13C", "27Al")
    t = np.linspace(0.1e-3, 6e-3, 40)
    y = 0.3 * m.normalised(t, m.dr3 / 2.6**3, width_angstrom=0.3)
    c = DephasingCurve(t, y, np.full(t.size, 0.002))
    r = fit_curve(c, m, free=["width_angstrom"], intervals=False,
                  initial={"width_angstrom": 0.1})
    assert r["width_angstrom"].value == pytest.approx(0.3, abs=0.02)
    assert r["distance_angstrom"].value == pytest.approx(2.6, abs=0.02)


def test_sr4_scaling_changes_the_coupling():
    curve = synthetic(seed=13)
    redor = fit_curve(curve, CurveModel(sequence="redor"), intervals=False)
    sr4 = fit_curve(curve, CurveModel(sequence="sr4"), intervals=False)
    assert sr4["coupling_hz"].value == pytest.approx(redor["coupling_hz"].value / 0.5554, rel=1e-3)


def test_json_dict_has_the_documented_keys():
    r = fit_curve(synthetic(seed=14), CurveModel("13C", "27Al"))
    d = r.to_dict()
    for key in ("coupling_hz", "distance_angstrom", "fraction"):
        assert set(d[key]) >= {"value", "stderr", "ci68", "ci95"}
        assert d[key]["ci68"][0] < d[key]["value"] < d[key]["ci68"][1]
    assert d["n_points"] == 30 and d["redchi"] > 0


def test_bad_model_inputs():
    with pytest.raises(UserError, match="unknown isotope"):
        CurveModel("13C", "Al")
    with pytest.raises(UserError, match="experiment"):
        CurveModel(experiment="tedor")
    with pytest.raises(UserError, match="cannot determine"):
        fit_curve(DephasingCurve([1e-3, 2e-3], [0.1, 0.2], [0.01, 0.01]), CurveModel())


class _TableShape:
    """A stand-in for a simulated table: valid only inside its coupling range."""

    coupling_range_hz = (200.0, 1500.0)

    def __call__(self, t, d):
        lo, hi = self.coupling_range_hz
        if not lo <= d <= hi:
            raise ValueError(f"coupling {d} outside the table")
        return respdor_dephasing(d * np.asarray(t), 2.5)


def test_shape_with_limited_coupling_range_bounds_the_fit():
    curve = synthetic(seed=15)
    r = fit_curve(curve, CurveModel("13C", "27Al", shape=_TableShape()))
    assert r["coupling_hz"].value == pytest.approx(503, abs=3 * r["coupling_hz"].stderr)
    rd = fit_curve(curve, CurveModel("13C", "27Al", shape=_TableShape()), parameterization="distance",
                   intervals=False)
    assert rd["distance_angstrom"].value == pytest.approx(r["distance_angstrom"].value, rel=1e-3)


def test_global_fit_of_redor_and_sr4_curves_keeps_each_scaling():
    # A RESPDOR curve (kappa 1) and an S-RESPDOR curve (SR4, kappa 0.555) of the same pair share D;
    # the default sharing must not give the SR4 curve the REDOR kappa (found by the docs gallery:
    # r = 3.06 A instead of 2.48 A).
    t = np.linspace(0.2e-3, 6e-3, 30)
    redor, sr4 = CurveModel(sequence="redor"), CurveModel(sequence="sr4")
    d = redor.dr3 / 2.5**3
    curves = [DephasingCurve(t, 0.3 * m.normalised(t, d), np.full(t.size, 0.003)) for m in (redor, sr4)]
    result = fit_curves(curves, [redor, sr4], intervals=False)
    assert result["distance_angstrom"].value == pytest.approx(2.5, abs=1e-3)
    assert result["c1_scaling"].value == pytest.approx(sr4.default_scaling, rel=1e-12)
