"""Distance distributions: the kernel against independent physics, recovery of known P(r), the result object.

The kernel is checked against a direct numerical powder average (REDOR, spin-1/2 partner) and
the RESPDOR plateau 2I/(2I+1); the inversion and the parametric alternatives against synthetic
curves of a known P(r) with seeded noise. Small grids and bootstraps keep the file cheap.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("deerlab", reason="distance distributions need DeerLab (pip install 'respdor[distributions]')")

import respdor  # noqa: E402
from respdor import distribution as dist  # noqa: E402
from respdor.curve import DephasingCurve  # noqa: E402
from respdor.errors import FitWarning, UserError  # noqa: E402
from respdor.examples import example_path  # noqa: E402
from respdor.fitting import CurveModel  # noqa: E402

A = dist.ANGSTROM
ALC = CurveModel("13C", "27Al")
TIMES = np.linspace(0.2e-3, 8e-3, 40)


def _curve(sites, sigma, seed, times=TIMES, model=ALC):
    clean = sum(f * model.normalised(times, model.dr3 / r**3) for r, f in sites)
    noisy = clean + np.random.default_rng(seed).normal(0, sigma, times.size)
    return DephasingCurve(times, noisy, sigma=np.full(times.size, sigma), source="synthetic")


# --- the kernel -------------------------------------------------------------------------------

def test_redor_kernel_is_the_powder_average_of_the_pair_phase():
    """REDOR of 13C{15N}: K(t, r) = <1 - cos(2 sqrt2 D t sin 2b sin a)> over the sphere, by quadrature."""
    model = CurveModel("13C", "15N", experiment="redor")
    r = np.array([1.5, 2.5, 4.0]) * A
    t = np.array([0.5e-3, 2e-3, 6e-3])
    kern = dist.distance_kernel(t, r, model)
    from scipy.integrate import trapezoid

    from spinsim.dipolar import dipolar_coupling_hz

    b = np.linspace(0, np.pi, 801)
    a = np.linspace(0, 2 * np.pi, 801)[:-1]
    bb, aa = np.meshgrid(b, a, indexing="ij")
    for j, rj in enumerate(r):
        d = dipolar_coupling_hz(rj, "13C", "15N")
        for i, ti in enumerate(t):
            phase = 2 * np.sqrt(2) * d * ti * np.sin(2 * bb) * np.sin(aa)
            avg = trapezoid(np.mean(1 - np.cos(phase), axis=1) * np.sin(b), b) / 2.0
            assert kern[i, j] == pytest.approx(avg, abs=2e-4)


def test_respdor_kernel_reaches_the_plateau_and_scales_with_efficiency_and_abundance():
    kern = dist.distance_kernel(np.array([0.05]), np.array([1.2]) * A, ALC)  # D t ~ 230: plateau
    assert kern[0, 0] == pytest.approx(5.0 / 6.0, abs=0.01)
    si = CurveModel("13C", "29Si", experiment="redor")
    x = si.partner_isotope.abundance
    half = dist.distance_kernel(TIMES, [2.0 * A], si, factor=0.5 * x)
    full = dist.distance_kernel(TIMES, [2.0 * A], si)
    assert np.allclose(half, 0.5 * x * full)


def test_distance_and_coupling_kernels_agree():
    from spinsim.dipolar import dipolar_coupling_hz

    r = np.linspace(2, 5, 7) * A
    d = dipolar_coupling_hz(r, "13C", "27Al")
    assert np.allclose(dist.distance_kernel(TIMES, r, ALC), dist.coupling_kernel(TIMES, d, ALC), atol=1e-14)


def test_visible_range_grows_with_longer_times_and_lower_noise():
    sig = np.full(TIMES.size, 0.02)
    short3, long3 = dist.visible_range(TIMES[TIMES <= 3e-3], sig[TIMES <= 3e-3], ALC, 1.0, 0.3)
    short8, long8 = dist.visible_range(TIMES, sig, ALC, 1.0, 0.3)
    _, long8_quiet = dist.visible_range(TIMES, sig / 4, ALC, 1.0, 0.3)
    assert long3 < long8 < long8_quiet
    # below the shortest resolved distance the first point already sits at the plateau (within 2 sigma / f)
    k = dist.distance_kernel(TIMES[:1], [0.9 * short8], ALC)[0, 0]
    assert abs(k - 5.0 / 6.0) * 0.3 < 2 * 0.02
    # a site at the longest visible distance changes the curve by 2 sigma at the last time
    assert 0.3 * dist.distance_kernel(TIMES[-1:], [long8], ALC)[0, 0] == pytest.approx(2 * 0.02, rel=0.05)


# --- recovery of a known P(r) ---------------------------------------------------------------

def test_noise_free_single_distance_is_recovered_by_the_inversion():
    curve = _curve([(2.5 * A / A, 0.3)], 1e-4, 0)
    curve = DephasingCurve(TIMES, curve.dss0, sigma=np.full(TIMES.size, 1e-3))
    res = respdor.distance_distribution(curve, "13C", "27Al", r_min_angstrom=1.5, r_max_angstrom=4.5, n_r=61,
                                        bootstrap=0, progress=False)
    assert res.fraction == pytest.approx(0.3, abs=0.01)
    assert res.mean_r_angstrom == pytest.approx(2.5, abs=0.05)
    assert res.r_angstrom[np.argmax(res.p_per_angstrom)] == pytest.approx(2.5, abs=0.1)
    one = next(m for m in res.models if m["name"] == "one distance")
    assert one["values"]["r"] == pytest.approx(2.5, abs=0.005)
    assert one["values"]["f"] == pytest.approx(0.3, abs=0.002)


def test_noisy_single_distance_truth_lies_in_the_bootstrap_band():
    res = respdor.distance_distribution(_curve([(2.5, 0.3)], 0.01, 7), "13C", "27Al", r_min_angstrom=1.5,
                                        r_max_angstrom=6.0, n_r=40, bootstrap=100, seed=3, progress=False)
    assert res.fraction_ci95[0] <= 0.3 <= res.fraction_ci95[1]
    assert res.mean_r_ci95[0] <= 2.5 <= res.mean_r_ci95[1]
    assert res.best_model()["name"] == "one distance"
    # P(r) integrates to the fraction, not to 1
    step = res.r_angstrom[1] - res.r_angstrom[0]
    assert res.p_per_angstrom.sum() * step == pytest.approx(res.fraction, rel=1e-12)
    assert np.all(res.p_low <= res.p_high)


def test_one_distance_alternative_is_the_two_spin_fit_of_respdor_fit():
    import warnings

    curve = _curve([(2.5, 0.3)], 0.01, 7)
    r_m, _ = dist.distance_grid(1.5 * A, 6.0 * A, 40)
    one = dist.fit_one_site(curve.dss0, curve.sigma, TIMES, ALC, 1.0, r_m, dist.distance_kernel(TIMES, r_m, ALC))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = respdor.fit(curve, "13C", "27Al", parameterization="distance", progress=False)
    assert one.values["r"] / A == pytest.approx(ref["distance_angstrom"].value, abs=1e-3)
    assert one.values["f"] == pytest.approx(ref["fraction"].value, abs=1e-4)
    # linearised 95 % against respdor fit's profile likelihood
    assert np.array(one.ci95["r"]) / A == pytest.approx(ref["distance_angstrom"].ci95, abs=0.01)
    assert one.ci95["f"] == pytest.approx(ref["fraction"].ci95, abs=0.002)


def test_one_distance_intervals_cover_the_truth_over_seeds():
    r_m, _ = dist.distance_grid(1.5 * A, 6.0 * A, 40)
    kern = dist.distance_kernel(TIMES, r_m, ALC)
    covered = 0
    for seed in range(20):
        curve = _curve([(2.5, 0.3)], 0.01, 100 + seed)
        one = dist.fit_one_site(curve.dss0, curve.sigma, TIMES, ALC, 1.0, r_m, kern)
        covered += (one.ci95["r"][0] <= 2.5 * A <= one.ci95["r"][1]) and (one.ci95["f"][0] <= 0.3 <= one.ci95["f"][1])
    assert covered >= 16  # two 95 % intervals, 20 replicates: P(covered < 16) < 2 % if they hold


def test_two_distances_are_told_from_one():
    curve = _curve([(2.3, 0.15), (3.6, 0.15)], 0.005, 11)
    res = respdor.distance_distribution(curve, "13C", "27Al", r_min_angstrom=1.5, r_max_angstrom=6.0, n_r=40,
                                        bootstrap=0, progress=False)
    two = next(m for m in res.models if m["name"] == "two distances")
    one = next(m for m in res.models if m["name"] == "one distance")
    assert two["aic"] < one["aic"] - 10
    for key, truth in (("r1", 2.3), ("r2", 3.6), ("f1", 0.15), ("f2", 0.15)):
        lo, hi = two["ci95"][key]
        assert lo <= truth <= hi, (key, two["values"][key], lo, hi)


def test_gaussian_alternative_recovers_a_broad_distribution():
    r = np.linspace(1.6, 4.4, 600)
    w = np.exp(-0.5 * ((r - 3.0) / 0.4) ** 2)
    w *= 0.3 / w.sum()
    clean = sum(wi * ALC.normalised(TIMES, ALC.dr3 / ri**3) for ri, wi in zip(r, w))
    curve = DephasingCurve(TIMES, clean, sigma=np.full(TIMES.size, 0.002))
    res = respdor.distance_distribution(curve, "13C", "27Al", r_min_angstrom=1.5, r_max_angstrom=6.0, n_r=40,
                                        bootstrap=0, progress=False)
    gauss = next(m for m in res.models if m["name"] == "Gaussian")
    assert gauss["values"]["r"] == pytest.approx(3.0, abs=0.03)
    assert gauss["values"]["width"] == pytest.approx(0.4, abs=0.03)
    assert gauss["values"]["f"] == pytest.approx(0.3, abs=0.01)
    assert gauss["chi2"] < 5.0  # 40 points at sigma 0.002, no noise added: the model is the truth


# --- what is said -----------------------------------------------------------------------------

def test_mass_at_the_grid_edge_is_said_naming_the_range():
    with pytest.warns(FitWarning, match="grid edge r = 3.50 A"):
        res = respdor.distance_distribution(_curve([(5.0, 0.6)], 0.005, 2), "13C", "27Al", r_min_angstrom=1.5,
                                            r_max_angstrom=3.5, n_r=30, bootstrap=0, progress=False)
    assert any("r_max_angstrom" in w for w in res.warnings)


def test_a_fraction_above_one_is_said():
    times = np.linspace(0.5e-3, 8e-3, 20)
    curve = DephasingCurve(times, np.full(times.size, 0.97), sigma=np.full(times.size, 0.01))
    with pytest.warns(FitWarning, match="exceeds 1"):
        respdor.distance_distribution(curve, "13C", "27Al", r_min_angstrom=1.0, r_max_angstrom=5.0, n_r=20,
                                      bootstrap=0, progress=False)


def test_a_curve_without_sigma_gets_an_estimate_and_says_so():
    noisy = _curve([(2.5, 0.3)], 0.01, 5)
    curve = DephasingCurve(noisy.time_s, noisy.dss0, source="nosigma.csv")
    with pytest.warns(respdor.errors.DataWarning, match="no uncertainties"):
        res = respdor.distance_distribution(curve, "13C", "27Al", r_min_angstrom=1.5, r_max_angstrom=5.0, n_r=20,
                                            bootstrap=0, progress=False)
    assert res.sigma_estimated
    assert res.sigma[0] == pytest.approx(0.01, rel=0.35)


@pytest.mark.parametrize("kwargs, word", [
    ({"n_r": 5}, "n_r=5"), ({"bootstrap": 3}, "bootstrap=3"), ({"seed": -1}, "seed=-1"),
    ({"efficiency": 0.0}, "efficiency=0.0"), ({"r_min_angstrom": 4.0, "r_max_angstrom": 2.0}, "is not below"),
    ({"r_min_angstrom": 0.0}, "r_min_angstrom=0"), ({"r_max_angstrom": math.nan}, "r_max_angstrom=nan"),
    ({"n_r": 2.5}, "whole number"), ({"bootstrap": True}, "whole number"),
])
def test_impossible_settings_are_refused_naming_the_argument(kwargs, word):
    with pytest.raises(UserError, match=word.replace("(", r"\(")):
        respdor.distance_distribution(example_path("respdor_13C27Al_synthetic.csv"), "13C", "27Al", **kwargs)


# --- the result object --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bundled():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return respdor.distance_distribution(example_path("respdor_13C27Al_synthetic.csv"), "13C", "27Al",
                                             r_min_angstrom=1.5, r_max_angstrom=6.0, n_r=30, bootstrap=20, seed=4,
                                             progress=False)


def test_bundled_curve_end_to_end(bundled):
    one = next(m for m in bundled.models if m["name"] == "one distance")
    # the file's truth: 2.50 A, f = 0.24 (respdor fit gives 2.54 +- 0.16 A)
    assert one["ci95"]["r"][0] <= 2.5 <= one["ci95"]["r"][1]
    assert one["ci95"]["f"][0] <= 0.24 <= one["ci95"]["f"][1]
    assert len(repr(bundled)) <= 200
    assert [m["name"] for m in bundled.models] == ["P(r), Tikhonov", "one distance", "Gaussian", "two distances"]
    assert 1.0 < bundled.r_short_angstrom < 2.0 < 4.0 < bundled.r_long_angstrom < 6.0


def test_bootstrap_is_deterministic_for_a_seed(bundled):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = respdor.distance_distribution(example_path("respdor_13C27Al_synthetic.csv"), "13C", "27Al",
                                              r_min_angstrom=1.5, r_max_angstrom=6.0, n_r=30, bootstrap=20, seed=4,
                                              progress=False)
        other = respdor.distance_distribution(example_path("respdor_13C27Al_synthetic.csv"), "13C", "27Al",
                                              r_min_angstrom=1.5, r_max_angstrom=6.0, n_r=30, bootstrap=20, seed=5,
                                              progress=False)
    assert np.array_equal(again.p_low, bundled.p_low) and np.array_equal(again.p_high, bundled.p_high)
    assert not np.array_equal(other.p_high, bundled.p_high)
    state = np.random.get_state()[1].copy()
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        respdor.distance_distribution(example_path("respdor_13C27Al_synthetic.csv"), "13C", "27Al", n_r=20,
                                      bootstrap=20, progress=False)
    assert np.array_equal(np.random.get_state()[1], before)  # numpy's global generator is left as it was
    assert state.shape == before.shape


def test_json_round_trip(bundled):
    back = respdor.DistributionResult.from_json(bundled.to_json())
    assert np.allclose(back.p_per_angstrom, bundled.p_per_angstrom)
    assert np.allclose(back.p_high, bundled.p_high)
    assert back.models_table() == bundled.models_table()
    assert back.warnings == bundled.warnings and back.notes == bundled.notes
    assert repr(back) == repr(bundled)
    with pytest.raises(UserError, match="no 'models'"):
        respdor.DistributionResult.from_dict({k: v for k, v in bundled.to_dict().items() if k != "models"})


def test_plot_keeps_the_backend(bundled):
    import matplotlib

    backend = matplotlib.get_backend()
    from matplotlib.figure import Figure

    fig = Figure()
    axes = fig.subplots(1, 2)
    bundled.plot(axes)
    assert len(axes[1].lines) >= 1 and len(axes[0].lines) >= 4
    from respdor.jobs.distribution import distribution_figure

    distribution_figure(bundled)
    assert matplotlib.get_backend() == backend


def test_call_and_command_give_the_same_numbers(tmp_path, capsys):
    from respdor.cli import main

    out = tmp_path / "d.json"
    rc = main(["distribution", str(example_path("respdor_13C27Al_synthetic.csv")), "--observe", "13C", "--partner",
               "27Al", "--r-range", "1.5:6A", "--points", "30", "--bootstrap", "20", "--seed", "4", "--no-plot",
               "--output-dir", str(tmp_path), "--json", str(out)])
    assert rc == 0
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        call = respdor.distance_distribution(example_path("respdor_13C27Al_synthetic.csv"), "13C", "27Al",
                                             r_min_angstrom=1.5, r_max_angstrom=6.0, n_r=30, bootstrap=20, seed=4,
                                             progress=False)
    cli = respdor.DistributionResult.from_json(out)
    assert np.allclose(cli.p_per_angstrom, call.p_per_angstrom)
    assert np.allclose(cli.p_low, call.p_low) and np.allclose(cli.p_high, call.p_high)
    assert [m["aic"] for m in cli.models] == pytest.approx([m["aic"] for m in call.models])
    assert "model comparison" in capsys.readouterr().out


def test_a_curve_no_pair_sum_can_describe_is_said():
    times = np.linspace(0.5e-3, 8e-3, 16)
    dss0 = np.where(times < 4e-3, 0.4, 0.02)  # dephasing that comes back: no sum of pair curves does that
    curve = DephasingCurve(times, dss0, sigma=np.full(times.size, 0.01))
    with pytest.warns(FitWarning, match="even P\\(r\\) does not describe the curve"):
        respdor.distance_distribution(curve, "13C", "27Al", r_min_angstrom=1.5, r_max_angstrom=6.0, n_r=20,
                                      bootstrap=0, progress=False)


def test_ctrl_c_during_the_bootstrap_propagates_and_restores_numpy_state():
    np.random.seed(99)
    before = np.random.get_state()[1].copy()

    def interrupt(done, total, label):
        if done >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        respdor.distance_distribution(example_path("respdor_13C27Al_synthetic.csv"), "13C", "27Al",
                                      r_min_angstrom=1.5, r_max_angstrom=6.0, n_r=20, bootstrap=50,
                                      progress=interrupt)
    assert np.array_equal(np.random.get_state()[1], before)


def test_json_to_standard_output_is_the_result(capsys):
    from respdor.cli import main

    rc = main(["distribution", str(example_path("respdor_13C27Al_synthetic.csv")), "--r-range", "1.5:6",
               "--points", "20", "--bootstrap", "0", "--no-files", "--json", "-"])
    cap = capsys.readouterr()
    assert rc == 0
    back = respdor.DistributionResult.from_json(cap.out)  # stdout holds the JSON only; the tables go to stderr
    assert back.r_angstrom[0] == pytest.approx(1.5) and back.r_angstrom[-1] == pytest.approx(6.0)
    assert "model comparison" in cap.err


def test_a_curve_without_dephasing_says_so():
    times = np.linspace(0.2e-3, 3e-3, 12)
    noise = np.random.default_rng(1).normal(0, 0.01, times.size)
    with pytest.warns(FitWarning, match="no dephasing is detected"):
        res = respdor.distance_distribution(DephasingCurve(times, noise, sigma=np.full(times.size, 0.01)), "13C",
                                            "27Al", r_min_angstrom=1.5, r_max_angstrom=6.0, n_r=20, bootstrap=0,
                                            progress=False)
    assert not any("widen" in w for w in res.warnings)


def test_a_grid_uniform_in_the_coupling_gives_the_same_answer():
    curve = _curve([(2.5, 0.3)], 0.005, 21)
    kw = dict(r_min_angstrom=1.5, r_max_angstrom=6.0, n_r=40, bootstrap=0, progress=False)
    by_r = respdor.distance_distribution(curve, "13C", "27Al", **kw)
    by_d = respdor.distance_distribution(curve, "13C", "27Al", grid="coupling", **kw)
    d = np.diff(respdor.coupling_from_distance(by_d.r_angstrom, "13C", "27Al"))
    assert np.allclose(d, d[0]) and np.all(np.diff(by_d.r_angstrom) > 0)  # uniform in D, r increasing
    assert by_d.r_angstrom[0] == pytest.approx(1.5) and by_d.r_angstrom[-1] == pytest.approx(6.0)
    widths = dist.grid_widths(by_d.r_angstrom)
    assert np.sum(by_d.p_per_angstrom * widths) == pytest.approx(by_d.fraction, rel=1e-12)
    assert by_d.fraction == pytest.approx(by_r.fraction, abs=0.02)
    assert by_d.mean_r_angstrom == pytest.approx(2.5, abs=0.15)
    assert by_d.grid == "coupling" and respdor.DistributionResult.from_json(by_d.to_json()).grid == "coupling"
