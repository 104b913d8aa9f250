"""Experiment planner: sensitivity arithmetic, Fisher-information numbers of physics.md section 7,
design optimisation, and a small Monte Carlo check of the predicted errors against the fitter."""

import math

import numpy as np
import pytest
from scipy import optimize

from respdor.cli import main
from respdor.curve import ratio_uncertainty
from respdor.errors import UserError
from respdor.fitting import CurveModel
from respdor.models import redor_dephasing
from respdor.planner import (
    Design,
    Sensitivity,
    even_design,
    first_maximum_time,
    fit_t2prime,
    monte_carlo,
    optimise_design,
    optimum_recycle_delay,
    predict,
    recovery_factor,
    rotor_grid,
)
from respdor.planner import _continuous_optimum, _truth

C_AL = CurveModel("13C", "27Al")  # RESPDOR, full saturation, I = 5/2
D_SEED = C_AL.dr3 / 2.5**3  # 504.2 Hz


def seed_sensitivity(**kw):
    base = dict(snr=40.0, scans=64, recycle_s=5.0, t2prime_s=8e-3)
    base.update(kw)
    return Sensitivity(**base)


# --- sensitivity ------------------------------------------------------------------------------

def test_optimum_recycle_delay_solves_exp_x_equals_1_plus_2x():
    # Independent truth: the stationary point of (1 - e^-x)/sqrt(x) solves e^x = 1 + 2x.
    x_true = optimize.brentq(lambda x: math.exp(x) - 1 - 2 * x, 0.5, 3.0)
    assert x_true == pytest.approx(1.2564, abs=1e-4)
    assert optimum_recycle_delay(3.0) / 3.0 == pytest.approx(x_true, rel=1e-6)
    # Efficiency 0.638 at the optimum against 0.444 at 5 T_B (physics.md section 7).
    eff = lambda x: recovery_factor(x, 1.0) / math.sqrt(x)  # noqa: E731
    assert eff(x_true) == pytest.approx(0.638, abs=1e-3)
    assert eff(5.0) == pytest.approx(0.444, abs=1e-3)


@pytest.mark.parametrize("beta, x_opt", [(0.8, 0.85), (0.6, 0.18)])
def test_optimum_recycle_delay_stretched(beta, x_opt):
    assert optimum_recycle_delay(1.0, beta) == pytest.approx(x_opt, abs=0.005)


def test_optimum_recycle_delay_with_overhead_matches_brute_force():
    tb, over = 2.0, 0.5
    tau = np.linspace(0.01, 20, 200001)
    brute = tau[np.argmax(recovery_factor(tau, tb) / np.sqrt(tau + over))]
    assert optimum_recycle_delay(tb, 1.0, over) == pytest.approx(brute, abs=2e-4)
    assert brute > 1.2564 * tb  # the overhead pushes the optimum to longer delays


def test_sensitivity_rescaling():
    # Reference: S/N 40 in 64 scans, 5 s recycle, recorded without microwaves, at t_rec = 1 ms.
    s = Sensitivity(snr=40, scans=64, recycle_s=5.0, buildup_s=4.0, enhancement=20.0, t2prime_s=8e-3,
                    reference_time_s=1e-3)
    tau = 1.2564312 * 4.0
    expected = 40 / 8 * 20 * (1 - math.exp(-tau / 4)) / (1 - math.exp(-5 / 4)) * math.exp(1e-3 / 8e-3)
    assert s.plan_recycle_s == pytest.approx(tau, rel=1e-5)
    assert s.snr_per_scan == pytest.approx(expected, rel=1e-5)
    assert s.s0(3e-3) == pytest.approx(s.snr_per_scan * math.exp(-3e-3 / 8e-3), rel=1e-12)


def test_changing_recycle_without_buildup_is_refused():
    with pytest.raises(UserError, match="build-up"):
        Sensitivity(snr=40, scans=64, recycle_s=5.0, plan_recycle_s=2.0)


def test_noise_of_dss0_matches_ratio_propagation():
    s = seed_sensitivity()
    t = np.array([0.0, 1e-3, 3e-3])
    y = np.array([0.0, 0.5, 1.0])
    s0, s1, sig, sig_y = s.noise(t, np.array([64, 64, 64]), y)
    assert np.allclose(sig_y, ratio_uncertainty(s0, s1, sig, sig))
    # Limits of physics.md: sqrt(2) sigma/S0 without dephasing, sigma/S0 at full dephasing.
    assert sig_y[0] == pytest.approx(math.sqrt(2) / 40)
    assert sig_y[2] == pytest.approx(1 / 40 / math.exp(-3 / 8))


def test_experiment_time_counts_s0_s1_recycle_and_recoupling():
    s = seed_sensitivity(overhead_s=0.02)
    d = Design([1e-3, 2e-3], [16, 32])
    assert d.total_time_s(s) == pytest.approx(2 * 16 * 5.021 + 2 * 32 * 5.022)


def test_fit_t2prime_recovers_decay():
    t = np.linspace(0.2e-3, 6e-3, 12)
    rng = np.random.default_rng(4)
    s0 = 100 * np.exp(-t / 7e-3) + rng.normal(0, 0.2, t.size)
    t2, a = fit_t2prime(t, s0, 0.2)
    assert t2 == pytest.approx(7e-3, rel=0.03)
    assert a == pytest.approx(100, rel=0.01)


# --- Fisher information: physics.md section 7 numbers -------------------------------------------

def _single_point_info(model, lam, fraction=1.0):
    """1/var(ln D) from one point at lambda, unit noise per point (S0 = 1), f fixed."""
    s = Sensitivity(snr=1.0, scans=1, recycle_s=1.0)
    d = 1000.0
    out = []
    for lv in lam:
        p = predict(Design([lv / d], [1]), s, model, d, fraction, abundance=1.0, fit_fraction=False)
        out.append((d / p.sigma["coupling_hz"]) ** 2)
    return np.array(out)


def test_most_informative_point_redor_spin_half():
    m = CurveModel("13C", "15N", experiment="redor")  # spin-1/2 partner: the Bessel REDOR curve
    lam = np.linspace(0.8, 1.3, 101)
    info = _single_point_info(m, lam)
    assert lam[np.argmax(info)] == pytest.approx(1.04, abs=0.01)
    # Independent check of the information formula (lambda F')^2 / (1 + (1 - F)^2).
    h = 1e-6
    f = redor_dephasing(lam)
    fp = (redor_dephasing(lam + h) - redor_dephasing(lam - h)) / (2 * h)
    assert np.allclose(info, (lam * fp) ** 2 / (1 + (1 - f) ** 2), rtol=1e-5)


def test_most_informative_point_respdor_five_half():
    lam = np.linspace(1.8, 2.6, 81)
    assert lam[np.argmax(_single_point_info(C_AL, lam))] == pytest.approx(2.2, abs=0.03)


@pytest.mark.parametrize("lam_max, expected", [(0.8, 11.9), (2.5, 6.3)])
def test_joint_sd_lnD_twelve_equal_points(lam_max, expected):
    # sd(ln D) in units of sigma/S0, 12 points at lambda_max * k/12, D and f = 0.24 fitted.
    s = Sensitivity(snr=1.0, scans=1, recycle_s=1.0)
    d = 1000.0
    t = lam_max * np.arange(1, 13) / 12 / d
    p = predict(Design(t, np.ones(12)), s, C_AL, d, 0.24)
    assert p.sigma["coupling_hz"] / d == pytest.approx(expected, abs=0.06)
    # r = (D r^3 / D)^(1/3): sigma(r)/r = sigma(D)/(3 D)
    r = (C_AL.dr3 / d) ** (1 / 3)
    assert p.sigma["distance_angstrom"] / r == pytest.approx(p.sigma["coupling_hz"] / d / 3, rel=1e-12)


def test_ratio_fisher_equals_joint_signal_fisher_with_nuisance_s0():
    # The planner uses the ratio noise formula; the joint S0/S1 fit has one nuisance S0 per point.
    # Build the full (D, f, S0_1..S0_n) Fisher matrix and compare the (D, f) block of its inverse.
    s = seed_sensitivity()
    d = Design(np.array([0.4, 1.0, 1.8, 2.6]) * 1e-3, [64, 128, 64, 256])
    tr = _truth(C_AL, D_SEED, 0.24, 1.0, None, True)
    y = tr.curve(d.time_s)
    s0, _, sig, _ = s.noise(d.time_s, d.scans, y)
    jy = tr.jacobian(d.time_s)  # dy/d(D, f)
    n = d.time_s.size
    rows = []
    for i in range(n):  # observation S0_i
        r = np.zeros(2 + n)
        r[2 + i] = 1.0
        rows.append(r / sig[i])
    for i in range(n):  # observation S1_i = S0_i (1 - y_i)
        r = np.zeros(2 + n)
        r[:2] = -s0[i] * jy[i]
        r[2 + i] = 1 - y[i]
        rows.append(r / sig[i])
    j = np.array(rows)
    cov_full = np.linalg.inv(j.T @ j)[:2, :2]
    cov_ratio = predict(d, s, C_AL, D_SEED, 0.24).covariance
    assert np.allclose(cov_full, cov_ratio, rtol=1e-8)


# --- designs ------------------------------------------------------------------------------------

def test_pair_search_matches_multiplicative_c_optimal_algorithm():
    # Independent algorithm: the multiplicative (Fellman / Torsney) iteration for c-optimality
    # over all candidate times converges to the same design as the exhaustive pair search.
    s = seed_sensitivity()
    tr = _truth(C_AL, D_SEED, 0.24, 1.0, None, True)
    cand = rotor_grid(1e-4, 6e-3)
    times, weights, need = _continuous_optimum(tr, s, {"distance_angstrom": 0.1}, cand)
    y = tr.curve(cand)
    _, _, _, sig1 = s.noise(cand, np.ones(cand.size), y)
    x = tr.jacobian(cand) / (sig1 * np.sqrt(2 * s.scan_time(cand)))[:, None]
    c = tr.gradients()["distance_angstrom"]
    w = np.full(cand.size, 1 / cand.size)
    for _ in range(4000):
        a = np.linalg.solve((x * w[:, None]).T @ x, c)
        w = w * np.abs(x @ a)
        w /= w.sum()
    assert c @ np.linalg.solve((x * w[:, None]).T @ x, c) / 0.1**2 == pytest.approx(need, rel=1e-3)
    assert set(np.round(cand[w > 0.05] * 1e4).astype(int)) == set(np.round(times * 1e4).astype(int))


def test_first_maximum_of_respdor_curve():
    # RESPDOR I = 5/2 peaks at lambda = 1.98 (dS/S0 = 0.835 for f = 1).
    t = first_maximum_time(C_AL, 1000.0, 5e-3)
    assert 1000.0 * t == pytest.approx(1.977, abs=0.005)
    assert C_AL.normalised(t, 1000.0) == pytest.approx(0.8349, abs=5e-4)


def test_seed_case_optimised_design_beats_sixteen_even_points():
    s = seed_sensitivity()
    targets = {"distance_angstrom": 0.1}
    opt = optimise_design(s, C_AL, D_SEED, 0.24, targets, rotor_period_s=1e-4)
    even = even_design(s, C_AL, D_SEED, 0.24, targets, n_points=16, max_time_s=3e-3, rotor_period_s=1e-4)
    p_opt = predict(opt.design, s, C_AL, D_SEED, 0.24)
    p_even = predict(even, s, C_AL, D_SEED, 0.24)
    assert p_opt.sigma["distance_angstrom"] <= 0.1
    assert p_even.sigma["distance_angstrom"] <= 0.1
    # Fewest scans: one phase cycle fewer everywhere would miss the target.
    fewer = Design(even.time_s, even.scans - 8)
    assert predict(fewer, s, C_AL, D_SEED, 0.24).sigma["distance_angstrom"] > 0.1
    assert p_opt.total_time_s < 0.5 * p_even.total_time_s
    # Points are whole rotor periods, before the first maximum at r = 0.9 x 2.5 angstrom.
    n_rot = opt.design.time_s / 1e-4
    assert np.allclose(n_rot, np.round(n_rot))
    assert opt.design.time_s.max() <= opt.max_time_s <= 2.0 / (C_AL.dr3 / 2.25**3)
    assert opt.design.time_s.size == 4  # two optimal times + two check points


def test_fraction_target_and_fixed_fraction():
    s = seed_sensitivity()
    opt = optimise_design(s, C_AL, D_SEED, 0.2, {"fraction": 0.05}, rotor_period_s=1e-4)
    assert predict(opt.design, s, C_AL, D_SEED, 0.2).sigma["fraction"] <= 0.05
    with pytest.raises(UserError, match="fraction"):
        optimise_design(s, C_AL, D_SEED, 0.2, {"fraction": 0.05}, fit_fraction=False)
    one = optimise_design(s, C_AL, D_SEED, 0.24, {"distance_angstrom": 0.1}, fit_fraction=False)
    assert one.support_time_s.size == 1
    p = predict(one.design, s, C_AL, D_SEED, 0.24, fit_fraction=False)
    assert p.sigma["distance_angstrom"] <= 0.1 and "fraction" not in p.sigma


# --- Monte Carlo: predicted errors against the real fitter -------------------------------------

def test_monte_carlo_spread_matches_prediction_small():
    s = seed_sensitivity()
    opt = optimise_design(s, C_AL, D_SEED, 0.24, {"distance_angstrom": 0.1}, rotor_period_s=1e-4)
    mc = monte_carlo(opt.design, s, C_AL, D_SEED, 0.24, n_experiments=200, seed=11)
    assert mc["n_failed"] == 0
    # 200 samples: the sd itself scatters by 1/sqrt(2 x 199) = 5 %; 15 % is the stated agreement.
    for k in ("distance_angstrom", "fraction"):
        assert mc["observed"][k] == pytest.approx(mc["predicted"][k], rel=0.15)
    assert mc["mean"]["distance_angstrom"] == pytest.approx(2.5, abs=3 * 0.1 / math.sqrt(200) + 0.01)


# --- command line -------------------------------------------------------------------------------

ISSUE_ARGS = ["plan", "--observe", "13C", "--partner", "27Al", "--distance", "2.5", "--fraction", "0.24",
              "--snr", "40", "--scans", "64", "--recycle", "5", "--t2prime", "8ms",
              "--target-distance-error", "0.1", "--mas", "10k"]


def test_cli_plan_prints_and_writes(tmp_path, capsys):
    csv_path = tmp_path / "plan.csv"
    fig = tmp_path / "plan.png"
    assert main(ISSUE_ARGS + ["--csv", str(csv_path), "--figure", str(fig)]) == 0
    out = capsys.readouterr().out
    assert "optimised design" in out and "evenly spaced design" in out
    assert "--recycle 5: no unit given, read as 5 s" in out
    rows = csv_path.read_text().splitlines()
    assert rows[0].startswith("design,t_rec_ms")
    assert sum(r.startswith("even,") for r in rows) == 16
    assert fig.stat().st_size > 1000


@pytest.mark.parametrize("option, value, fragment", [
    ("--t2prime", "8 parsecs", "--t2prime"),
    ("--mas", "10", "--mas"),
    ("--target-distance-error", "-0.1", "--target-distance-error"),
])
def test_cli_plan_bad_input(option, value, fragment, capsys):
    args = list(ISSUE_ARGS)
    args[args.index(option) + 1] = value
    assert main(args) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_linearity_guard_and_first_maximum_limit():
    s = Sensitivity(snr=4.0, scans=64, recycle_s=10.0, buildup_s=4.0, enhancement=12.0, t2prime_s=10e-3)
    d = C_AL.dr3 / 2.8**3
    kw = dict(rotor_period_s=1 / 12.5e3)
    loose = optimise_design(s, C_AL, d, 0.2, {"fraction": 0.033}, linearity_limit=None, **kw)
    guarded = optimise_design(s, C_AL, d, 0.2, {"fraction": 0.033}, **kw)
    p_loose = predict(loose.design, s, C_AL, d, 0.2)
    p_guard = predict(guarded.design, s, C_AL, d, 0.2)
    assert p_loose.sigma["coupling_hz"] / d > 0.3  # the fraction alone would leave D 30 % loose
    assert p_guard.sigma["coupling_hz"] / d <= 0.15
    assert p_guard.sigma["fraction"] <= 0.033
    assert p_guard.total_time_s > p_loose.total_time_s
    # Without the first-maximum limit only 3 T2' bounds the times; with it, the curve's peak.
    sd = seed_sensitivity()
    free = optimise_design(sd, C_AL, D_SEED, 0.24, {"distance_angstrom": 0.1}, first_maximum_limit=False)
    assert free.max_time_s == pytest.approx(24e-3)
    assert free.design.time_s.max() * D_SEED > 1.98  # the long optimal point sits past the peak


def test_thinned_pair_search_finds_the_full_search_optimum():
    from respdor.planner import _search_pairs

    s = Sensitivity(snr=40, scans=64, recycle_s=5.0, t2prime_s=30e-3)
    d = C_AL.dr3 / 3.5**3
    tr = _truth(C_AL, d, 0.24, 1.0, None, True)
    cand = rotor_grid(1 / 40e3, 12e-3)  # 480 candidates
    targets = {"distance_angstrom": 0.1, "coupling_hz": 0.15 * d}
    full = _continuous_optimum(tr, s, targets, cand)
    thin = _search_pairs(tr, s, targets, cand, max_candidates=60)
    assert np.allclose(thin[0], full[0]) and thin[2] == pytest.approx(full[2], rel=1e-9)


def test_cli_t2prime_from_measured_s0(tmp_path, capsys):
    t = np.array([0.2, 0.6, 1.0, 1.6, 2.2, 3.0])
    s0 = 1000 * np.exp(-t / 6.5)
    s1 = s0 * (1 - 0.2 * (1 - np.exp(-t)))
    f = tmp_path / "curve.csv"
    f.write_text("t_ms,S0,S1,sigma_S0,sigma_S1\n" + "".join(f"{a},{b},{c},5,5\n" for a, b, c in zip(t, s0, s1)))
    args = [a for a in ISSUE_ARGS if a not in ("--t2prime", "8ms")] + ["--t2prime-from", str(f)]
    assert main(args) == 0
    assert "T2' = 6.5 ms fitted to the 6 S0 values" in capsys.readouterr().out


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=25)
@given(k=st.integers(1, 50), n0=st.integers(1, 64), t_ms=st.floats(0.1, 2.5))
def test_errors_scale_as_inverse_sqrt_scans_and_time_linearly(k, n0, t_ms):
    s = seed_sensitivity(overhead_s=0.01)
    times = np.array([t_ms, t_ms + 0.4, t_ms + 1.0]) * 1e-3
    base = Design(times, [n0, 2 * n0, n0])
    more = Design(times, [k * n0, 2 * k * n0, k * n0])
    p1 = predict(base, s, C_AL, D_SEED, 0.24)
    pk = predict(more, s, C_AL, D_SEED, 0.24)
    for name in ("coupling_hz", "distance_angstrom", "fraction"):
        assert pk.sigma[name] == pytest.approx(p1.sigma[name] / math.sqrt(k), rel=1e-9)
    assert pk.total_time_s == pytest.approx(k * p1.total_time_s, rel=1e-12)


@pytest.mark.parametrize("t2, lam_best", [(5e-3, 0.975), (20e-3, 1.023)])
def test_t2prime_moves_the_best_redor_point_only_slightly(t2, lam_best):
    # physics.md section 7: with T2' = 5-20 ms and D = 500 Hz the best point moves to lambda 0.98-1.03.
    m = CurveModel("13C", "15N", experiment="redor")
    s = Sensitivity(snr=1.0, scans=1, recycle_s=1.0, t2prime_s=t2)
    lam = np.linspace(0.9, 1.1, 201)
    info = [1 / predict(Design([lv / 500.0], [1]), s, m, 500.0, 1.0, abundance=1.0,
                        fit_fraction=False).sigma["coupling_hz"] ** 2 for lv in lam]
    assert lam[int(np.argmax(info))] == pytest.approx(lam_best, abs=0.002)
