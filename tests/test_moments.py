"""Second moments: van Vleck sums, the initial-rise prefactors against spinsim, and respdor.fit_m2.

Truths used: hand values of van Vleck's formula (the 13C-27Al coupling at 2.5 A is 504.2 Hz, the
physics reference's test vector); direct enumeration of <(m - m')^2>; spinsim's exact powder
simulations (two-spin and several partners) at short times, which know nothing of the expansion;
the RESPDOR test values of the physics reference (lambda = 0.2, I = 5/2: exact 0.203, t^2 law 0.249).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from respdor import moments
from respdor.curve import DephasingCurve
from respdor.errors import FitWarning, UserError
from respdor.jobs.moments import M2Result, fit_m2
from respdor.models import redor_dephasing, respdor_dephasing


# --- van Vleck sums against hand values


def test_van_vleck_one_partner_hand_value():
    # M2 = (4/15) I(I+1) (2 pi D)^2, D(13C-27Al, 2.5 A) = 504.2 Hz, I = 5/2: (7/3) (2 pi 504.2)^2
    hand = 7.0 / 3.0 * (2 * math.pi * 504.2) ** 2
    assert moments.van_vleck_m2([2.5], "13C", "27Al") == pytest.approx(hand, rel=2e-4)
    # spin-1/2 partner: (4/15)(3/4) = 1/5
    assert moments.van_vleck_m2_from_couplings([1000.0], 0.5) == pytest.approx((2 * math.pi * 1000) ** 2 / 5, rel=1e-12)


def test_van_vleck_sum_and_effective_distance():
    r = np.array([2.5, 2.9, 3.1, 4.0])
    m2 = moments.van_vleck_m2(r, "13C", "27Al")
    parts = sum(moments.van_vleck_m2([x], "13C", "27Al") for x in r)
    assert m2 == pytest.approx(parts, rel=1e-12)
    r_eff = np.sum(r**-6.0) ** (-1 / 6)
    assert moments.effective_distance_angstrom(m2, "13C", "27Al") == pytest.approx(r_eff, rel=1e-9)
    d = moments.effective_coupling_hz(m2, "27Al")
    import spinsim

    assert d == pytest.approx(spinsim.effective_coupling_hz(spinsim.coupling_from_distance(r, "13C", "27Al")), rel=1e-9)
    # a 4.7 % abundant partner (29Si) weighs each site by its occupancy
    assert moments.van_vleck_m2([3.1], "13C", "29Si", abundance=0.0468) == pytest.approx(
        0.0468 * moments.van_vleck_m2([3.1], "13C", "29Si"), rel=1e-12)
    assert moments.effective_distance_angstrom(0.0, "13C", "27Al") == math.inf


@pytest.mark.parametrize("spin", [0.5, 1.0, 1.5, 2.5, 4.5])
def test_mean_square_jump_by_enumeration(spin):
    ms = np.arange(spin, -spin - 1, -1)
    n = ms.size
    inv = np.mean([(m - (-m)) ** 2 for m in ms])
    sat = np.mean([(m - mp) ** 2 for m in ms for mp in ms])
    assert moments.mean_square_jump(spin, "inversion") == pytest.approx(inv, rel=1e-12)
    assert moments.mean_square_jump(spin, "saturation") == pytest.approx(sat, rel=1e-12)
    assert inv == pytest.approx(4 / 3 * spin * (spin + 1))
    assert sat == pytest.approx(2 / 3 * spin * (spin + 1))
    if n % 2 == 0:
        assert moments.mean_square_jump(spin, "ct-inversion") == pytest.approx(2.0 / n, rel=1e-12)


def test_published_prefactors():
    for partner in ("19F", "27Al", "11B"):
        assert moments.initial_rise_prefactor(partner, "inversion") == pytest.approx(4 / (3 * math.pi**2), rel=1e-12)
        assert moments.initial_rise_prefactor(partner, "saturation", amplitude=0.3) == pytest.approx(
            0.3 * 2 / (3 * math.pi**2), rel=1e-12)
    # SR4: kappa^2 = pi^2/32
    from respdor.models import SR4_SCALING

    assert moments.initial_rise_prefactor("27Al", "inversion", SR4_SCALING) == pytest.approx(
        math.pi**2 / 32 * 4 / (3 * math.pi**2), rel=1e-12)


def test_two_spin_closed_forms_start_with_the_prefactor():
    """The analytical two-spin curves (Bessel forms) against C M2 t^2 at lambda -> 0."""
    t = np.array([1e-5, 2e-5])
    d = 500.0
    for spin, curve, tr, partner in ((0.5, redor_dephasing(d * t), "inversion", "19F"),
                                     (2.5, respdor_dephasing(d * t, 2.5), "saturation", "27Al")):
        m2 = moments.van_vleck_m2_from_couplings([d], spin)
        ratio = curve / moments.short_time_dephasing(m2, t, partner, tr)
        assert (4 * ratio[0] - ratio[1]) / 3 == pytest.approx(1.0, abs=1e-6)  # the t^2 term of the ratio removed


def test_respdor_quadrupolar_validity_vector():
    # physics reference: lambda = 0.2, I = 5/2: exact 0.203 against 0.249 from the t^2 law
    assert float(respdor_dephasing(0.2, 2.5)) == pytest.approx(0.203, abs=1e-3)
    assert 16 / 15 * moments.mean_square_jump(2.5, "saturation") * 0.04 == pytest.approx(0.249, abs=1e-3)


# --- the prefactor against spinsim's exact simulations


def _system(partner, distances, seed):
    from spinsim import Spin, SpinSystem, get_isotope

    rng = np.random.default_rng(seed)
    u = rng.normal(size=(len(distances), 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    xyz = np.vstack([np.zeros(3), u * np.asarray(distances)[:, None]])
    spins = [Spin(get_isotope("13C"))] + [Spin(get_isotope(partner)) for _ in distances]
    return SpinSystem.from_coordinates(spins, xyz, 14.1)


def _simulated_ratio(partner, distances, kind, seed=0):
    """dS/S0 / (C M2 t^2) extrapolated to t = 0 (Richardson on two short times) from spinsim."""
    import spinsim
    from spinsim import IdealSaturation, zcw

    mas = 50_000.0
    t = np.array([2, 4]) / mas
    sim = spinsim.simulate_respdor(_system(partner, distances, seed), mas, t, saturation=IdealSaturation(kind),
                                   powder=zcw(987, 16))
    m2 = moments.van_vleck_m2(distances, "13C", partner)
    ratio = sim.dSS0 / moments.short_time_dephasing(m2, t, partner, {"full": "saturation"}.get(kind, kind))
    return (4 * ratio[0] - ratio[1]) / 3


CASES = [("19F", [3.0], "inversion"), ("19F", [3.0], "full"), ("27Al", [3.0], "inversion"), ("27Al", [3.0], "full"),
         ("19F", [2.9, 3.2, 3.6], "inversion"), ("27Al", [2.9, 3.1, 3.3, 3.6], "full"),
         ("27Al", [2.9, 3.1, 3.3, 3.6], "inversion")]


@pytest.mark.parametrize("partner,distances,kind", CASES, ids=[f"{c[0]}x{len(c[1])}-{c[2]}" for c in CASES])
def test_prefactor_against_spinsim(partner, distances, kind):
    # 987 x 16 ZCW leaves about 1e-4 of powder error (233 x 8: about 1e-3, see benchmarks/bench_moments.py)
    assert _simulated_ratio(partner, distances, kind) == pytest.approx(1.0, abs=2e-3)


def test_i_i_plus_one_form_is_wrong_for_quadrupolar_redor():
    """dS/S0 = M2 t^2 / (I(I+1) pi^2) (the <dm^2> = 1 form) misreads an ideally inverted 27Al by 35/3."""
    r = _simulated_ratio("27Al", [3.0], "inversion", seed=3)
    other = 1.0 / (2.5 * 3.5 * math.pi**2)
    ours = moments.initial_rise_prefactor("27Al", "inversion")
    assert r * ours / other == pytest.approx(35 / 3, rel=3e-3)


def test_sr4_prefactor_against_spinsim():
    """SR4 recoupling (finite pi pulses at nu1 = 2 nu_R) scales C by kappa^2 = pi^2/32."""
    import spinsim
    from spinsim import IdealSaturation, zcw

    from respdor.models import SR4_SCALING

    mas = 50e3
    t = np.array([4, 8]) / mas
    sim = spinsim.simulate_respdor(_system("27Al", [3.05], 1), mas, t, saturation=IdealSaturation("full"),
                                   recoupling=spinsim.sr4_cycle("13C", mas, "R4R4bar"), powder=zcw(55, 4),
                                   max_dt=0.1e-6)
    m2 = moments.van_vleck_m2([3.05], "13C", "27Al")
    ratio = sim.dSS0 / moments.short_time_dephasing(m2, t, "27Al", "saturation", SR4_SCALING)
    # 55 x 4 orientations and the 0.1 us step leave about 0.5 % (benchmarks/bench_moments.py); kappa^2 is 0.31
    assert (4 * ratio[0] - ratio[1]) / 3 == pytest.approx(1.0, abs=0.01)


# --- the parabolic regime


@pytest.mark.parametrize("partner,transfer", [("19F", "inversion"), ("19F", "saturation"), ("27Al", "saturation"),
                                              ("27Al", "inversion"), ("27Al", "ct-inversion")])
def test_parabolic_limit_is_where_the_curves_fall_tolerance_below(partner, transfer):
    from respdor.models import transfer_dephasing, transfer_matrix

    spin = 0.5 if partner == "19F" else 2.5
    lim = moments.parabolic_limit(partner, transfer, 0.1)
    lam = lim["lambda_two_spin"]
    law = 16 / 15 * moments.mean_square_jump(spin, transfer) * lam**2
    exact = float(transfer_dephasing(lam, transfer_matrix(spin, transfer)))
    assert exact == pytest.approx(lim["two_spin"], rel=1e-9)
    assert exact / law == pytest.approx(0.9, abs=1e-6)
    assert lim["dephasing"] == min(lim["two_spin"], lim["gaussian"])
    assert lim["gaussian"] == pytest.approx(0.1931, abs=1e-4)


def test_respdor_27al_bound_is_the_lambda_bound():
    lim = moments.parabolic_limit("27Al", "saturation", 0.1)
    assert 2 * 2.5 * lim["lambda_two_spin"] == pytest.approx(0.713, abs=2e-3)  # lambda <= 0.71/(2I)
    assert lim["dephasing"] == pytest.approx(0.114, abs=1e-3)
    with pytest.raises(ValueError, match="tolerance"):
        moments.parabolic_limit("27Al", "saturation", 0.0)


# --- fit_m2


def _curve(y, t, sigma=None, source="synthetic"):
    return DephasingCurve(t, y, sigma=None if sigma is None else np.full(t.size, sigma), source=source)


def test_fit_m2_exact_two_spin_within_its_bias_bound():
    d = 250.0
    t = np.arange(0, 31) * 1e-4
    for partner, spin, experiment, y in (("19F", 0.5, "redor", redor_dephasing(d * t)),
                                         ("27Al", 2.5, "respdor", respdor_dephasing(d * t, 2.5))):
        truth = moments.van_vleck_m2_from_couplings([d], spin)
        r = fit_m2(_curve(y, t), "13C", partner, experiment=experiment, fraction=1.0)
        assert r.n_used >= 3 and not r.sigma_known
        low = 1 - r.m2 / truth
        assert r.bias_low - 0.005 <= low <= r.bias_bound + 0.005, (partner, low, r.bias_low, r.bias_bound)
        assert low < 0.08
        # one partner's curve is one end of the bias range: the corrected M2 is off by about half of it
        assert abs(r.m2_corrected / truth - 1) <= (r.bias_bound - r.bias_low) / 2 + 0.005
        assert r.m2_corrected_stderr >= (r.m2_corrected - r.m2 / (1 - r.bias_low)) * 0.999
        assert np.all(r.dss0[r.used] <= r.regime["cap"] * (1 + 1e-3)) and r.regime["cap"] == pytest.approx(
            moments.parabolic_limit(partner, r.transfer)["dephasing"])
        after = [e for e in r.excluded if e["t_s"] > 0]
        assert after[0]["dss0"] > r.regime["cap"] * (1 - 1e-3)  # the regime ends where the curve reaches the cap
        assert all(e["t_s"] > r.regime["t_max_s"] for e in after)


def test_fit_m2_fraction_scales_m2_and_regime():
    d = 200.0
    t = np.arange(1, 41) * 1e-4
    y = 0.4 * respdor_dephasing(d * t, 2.5)
    r = fit_m2(_curve(y, t), "13C", "27Al", fraction=0.4)
    truth = moments.van_vleck_m2_from_couplings([d], 2.5)
    assert r.bias_low - 0.005 <= 1 - r.m2 / truth <= r.bias_bound + 0.005
    assert r.regime["cap"] == pytest.approx(0.4 * 0.114, abs=1e-3)
    with pytest.warns(FitWarning, match="bend away.*fraction below the one assumed"):
        r1 = fit_m2(_curve(y, t), "13C", "27Al")  # default fraction 1: said; the regime is overrun, M2 reads low
    assert any("fraction 1 assumed" in n for n in r1.notes)
    assert r1.m2 < 0.5 * r.m2


def test_fit_m2_stderr_matches_replicate_scatter():
    """With measured errors the standard error is the spread of M2 over noisy replicates."""
    d, sigma = 150.0, 0.004
    t = np.arange(1, 21) * 1e-4
    y0 = redor_dephasing(d * t)
    rng = np.random.default_rng(5)
    values, errors = [], []
    for _ in range(150):
        r = fit_m2(_curve(y0 + rng.normal(0, sigma, t.size), t, sigma), "13C", "19F", experiment="redor",
                   fraction=1.0)
        values.append(r.m2)
        errors.append(r.m2_stderr)
    assert np.std(values, ddof=1) == pytest.approx(np.mean(errors), rel=0.2)
    assert r.sigma_known and r.p_value is not None


def test_fit_m2_refuses_fewer_than_three_points():
    t = np.array([0.2, 0.4, 0.6, 0.8, 1.0]) * 1e-3
    y = respdor_dephasing(503 * t, 2.5)
    with pytest.raises(UserError, match=r"only 1 point\(s\).*at least 3"):
        fit_m2(_curve(y, t, 0.01), "13C", "27Al", fraction=1.0)
    with pytest.raises(UserError, match="does not rise"):
        fit_m2(_curve(-0.01 * np.ones(5), t, 0.01), "13C", "27Al", fraction=1.0)


def test_fit_m2_max_dephasing_caps_and_warns_beyond_the_regime():
    t = np.arange(1, 31) * 1e-4
    y = redor_dephasing(200 * t)
    r = fit_m2(_curve(y, t), "13C", "19F", experiment="redor", fraction=1.0, max_dephasing=0.08)
    assert r.regime["cap"] == 0.08 and "max_dephasing" in r.regime["set_by"]
    assert np.all(r.dss0[r.used] <= 0.08 * (1 + 1e-3))
    with pytest.warns(UserWarning, match="beyond the parabolic regime"):
        r = fit_m2(_curve(y, t), "13C", "19F", experiment="redor", fraction=1.0, max_dephasing=0.5)
    assert r.regime["cap"] == pytest.approx(0.1931, abs=1e-3)
    assert any("max_dephasing=0.5" in w for w in r.warnings)


def test_fit_m2_curvature_warnings():
    t = np.arange(1, 41) * 2.5e-5
    a = 0.05 / (1e-3) ** 2  # t^2 law reaching 0.05 at 1 ms
    bent = a * t**2 * (1 - 0.35 * (t / 1e-3) ** 2)
    with pytest.warns(FitWarning, match="bend away from t\\^2"):
        r = fit_m2(_curve(bent, t, 2e-4), "13C", "19F", experiment="redor", fraction=1.0, max_dephasing=0.05)
    assert r.curvature["shortfall"] > 0.2
    rising = a * t**2 * (1 + 0.35 * (t / 1e-3) ** 2)
    with pytest.warns(FitWarning, match="rise faster than t\\^2"):
        fit_m2(_curve(rising, t, 2e-4), "13C", "19F", experiment="redor", fraction=1.0, max_dephasing=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)
        r = fit_m2(_curve(a * t**2, t, 2e-4), "13C", "19F", experiment="redor", fraction=1.0, max_dephasing=0.05)
    assert abs(r.curvature["shortfall"]) < 1e-6


def test_fit_m2_input_mistakes():
    t = np.arange(1, 11) * 1e-4
    c = _curve(redor_dephasing(300 * t), t)
    for kwargs, text in (({"fraction": 1.5}, "fraction=1.5"), ({"fraction": 0}, "fraction=0"),
                         ({"max_dephasing": -0.1}, "max_dephasing=-0.1"), ({"tolerance": 0.9}, "tolerance=0.9"),
                         ({"experiment": "reapdor"}, "experiment=reapdor"), ({"transfer": "flip"}, "transfer=flip")):
        with pytest.raises(UserError, match=text):
            fit_m2(c, "13C", "27Al", **kwargs)
    with pytest.raises(UserError, match="observe=27Al"):
        fit_m2(c, "27Al", "13C")
    with pytest.raises(UserError, match="observe: not given"):
        fit_m2(c, None, "27Al")
    with pytest.raises(UserError, match="half-integer"):
        fit_m2(c, "13C", "2H", transfer="ct-inversion")


def test_m2result_json_round_trip_repr_and_plot():
    import matplotlib

    t = np.arange(0, 21) * 1e-4
    r = fit_m2(_curve(respdor_dephasing(300 * t, 2.5), t), "13C", "27Al", fraction=1.0)
    back = M2Result.from_json(r.to_json())
    assert back.m2 == r.m2 and back.effective_distance_angstrom == r.effective_distance_angstrom
    assert np.array_equal(back.used, r.used) and back.excluded == r.excluded and back.regime == r.regime
    assert len(repr(r)) <= 200 and "M2 =" in repr(r)
    assert {row["name"] for row in r._rows()} == {"m2", "m2_corrected", "effective_coupling_hz",
                                                  "effective_distance_angstrom"}
    assert back.m2_corrected == r.m2_corrected and back.bias_low == r.bias_low
    backend = matplotlib.get_backend()
    from matplotlib.figure import Figure

    r.plot(Figure().add_subplot())
    assert matplotlib.get_backend() == backend


def test_call_and_command_give_the_same_numbers(tmp_path, capsys):
    import json

    from respdor.cli import main

    t = np.arange(1, 21) * 1e-4
    y = redor_dephasing(180 * t) + np.random.default_rng(2).normal(0, 0.003, t.size)
    path = tmp_path / "c.csv"
    path.write_text("t_ms,dSS0,sigma\n" + "".join(f"{a * 1e3:.6g},{b:.8g},0.003\n" for a, b in zip(t, y)))
    rc = main(["m2", str(path), "--observe", "31P", "--partner", "19F", "--experiment", "redor", "--fraction", "1",
               "--json", str(tmp_path / "r.json")])
    assert rc == 0
    data = json.loads((tmp_path / "r.json").read_text())
    r = fit_m2(path, "31P", "19F", experiment="redor", fraction=1.0)
    assert data["m2"] == pytest.approx(r.m2, rel=1e-12) and data["m2_stderr"] == pytest.approx(r.m2_stderr, rel=1e-12)
    assert f"{r.m2:.5g}" in capsys.readouterr().out


def test_predict_structure_states_the_van_vleck_m2(tmp_path):
    """respdor.predict_structure: the M2 of the observed atom's partners (hand sum) and its effective distance."""
    pytest.importorskip("ase")
    import respdor

    xyz = tmp_path / "m.xyz"
    xyz.write_text("3\nC with two Al\nC 0 0 0\nAl 2.9 0 0\nAl 0 3.2 0.5\n")
    res = respdor.predict_structure(xyz, "0", "27Al", cutoff_angstrom=4.0, n_powder=55, n_gamma=4, t_max_s=8e-4,
                                    partner_couplings=False)
    r = np.array([2.9, math.hypot(3.2, 0.5)])
    hand = 7.0 / 3.0 * np.sum((2 * math.pi * 7878.3 / r**3) ** 2)  # D r^3 = 7878.3 Hz A^3 for 13C-27Al
    vv = res.van_vleck_m2
    assert vv["m2"] == pytest.approx(hand, rel=1e-3)
    assert vv["effective_distance_angstrom"] == pytest.approx(np.sum(r**-6.0) ** (-1 / 6), rel=1e-9)
    assert res.to_dict()["van_vleck"]["m2"] == vv["m2"] and res.sites[0]["van_vleck"]["m2"] == vv["m2"]
    assert any("van Vleck M2" in line for line in res.report_lines())
    assert f"M2 = {vv['m2']:.3g}" in repr(res) and len(repr(res)) <= 200
    again = type(res).from_json(res.to_json())
    assert again.van_vleck_m2["m2"] == vv["m2"]


def test_fit_m2_says_an_unresolved_rise_and_a_poor_chi2():
    t = np.arange(1, 11) * 1e-4
    y = 8e3 * t**2 + np.random.default_rng(0).normal(0, 0.01, t.size)  # a rise (0.008 at 1 ms) below the noise
    with pytest.warns(FitWarning, match="within 2 standard errors of 0"):
        r = fit_m2(_curve(y, t, 0.01), "13C", "19F", experiment="redor", fraction=1.0)
    assert 0 < r.m2 < 2 * r.m2_stderr
    a = 0.05 / 1e-6
    with pytest.warns(FitWarning, match="does not describe the points used within their errors"):
        r = fit_m2(_curve(a * t**2 * (1 + 0.1 * np.sin(40 * t / t[-1])), t, 1e-4), "13C", "19F", experiment="redor",
                   fraction=1.0, max_dephasing=0.06)
    assert r.p_value < 0.01
