"""Profile-likelihood uncertainties of CSA fits (issue 10, second pass).

Where the covariance cannot give an error (a skew at its +-1 bound, a singular or
ill-conditioned covariance, an error larger than the parameter's range) the fits report a
68 % profile-likelihood interval, one-sided when it runs into a physical bound, and never an
error larger than the physical range.
"""

import numpy as np
import pytest

from respdor.spectra.csa_fit import (_profile, fit_manifold, fit_mas_spectrum, format_estimate,
                                     site_text)
from spinsim.sidebands import mas_spectrum, sideband_intensities

NU0_13C = 100.6e6  # 13C at 9.4 T
NU0_CD = 88.8e6


def _line(span, skew, mas, rel_noise, seed, x=None):
    x = np.linspace(-250, 250, 1501) if x is None else x
    y0 = mas_spectrum(x, 0.0, span, skew, NU0_13C, mas, 2.0, amplitude=1.0)
    return x, y0 + np.random.default_rng(seed).normal(0.0, rel_noise * y0.max(), x.size)


def test_profile_of_a_parabola_is_exact():
    # chi2 = ((a - 2) / 0.5)^2 + ((b - a) / 0.1)^2 profiled in a (b re-fitted): Delta chi2 = 1 at
    # a = 2 +- 0.5 exactly; with the bound a <= 2.2 the upper side is open (one-sided).
    import lmfit

    def refit(p):
        a = p["a"].value
        return ((a - 2.0) / 0.5) ** 2, p  # b = a is the exact optimum: its term vanishes

    p = lmfit.Parameters()
    p.add("a", value=2.0, min=0.0, max=10.0)
    p.add("b", value=2.0)
    pr = _profile("a", p, 0.0, refit, 1.0, 0.0, 10.0, step0=0.1)
    assert (pr["lo"], pr["hi"]) == pytest.approx((1.5, 2.5), abs=2e-3)
    assert not pr["lo_open"] and not pr["hi_open"]
    pr = _profile("a", p, 0.0, refit, 1.0, 0.0, 2.2, step0=0.1)
    assert pr["hi"] == 2.2 and pr["hi_open"] and pr["lo"] == pytest.approx(1.5, abs=2e-3)
    # sigma from the residual: the threshold scales with the reduced chi2 (here 4 -> +-1.0).
    pr = _profile("a", p, 0.0, refit, 4.0, 0.0, 10.0, step0=0.1)
    assert (pr["lo"], pr["hi"]) == pytest.approx((1.0, 3.0), abs=5e-3)


def test_skew_truly_at_minus_one_gives_a_one_sided_interval():
    # Span 150 ppm, skew -1 at 5 kHz, S/N 50: this noise draw puts the best fit on the bound.
    x, y = _line(150.0, -1.0, 5000.0, 0.02, seed=1)
    r = fit_mas_spectrum(x, y, [dict(delta_iso=0.5, fwhm=2.0)], NU0_13C, 5000.0, noise_region=(200, 250))
    s = r.sites[0]
    assert s["skew"] == pytest.approx(-1.0, abs=1e-3)
    assert s["skew_err_method"] == "profile" and s["skew_limit"] == "lower"
    lo, hi = s["skew_interval"]
    assert lo == -1.0 and -0.95 < hi < -0.6  # the sign is determined, the magnitude bounded by the data
    assert s["skew_err"] == pytest.approx(hi - lo) and s["skew_err"] <= 2.0
    assert s["span_interval"][0] < 150.0 < s["span_interval"][1]  # the truth inside the span interval
    assert site_text(s, "skew").startswith("-1.000 (> -1.000, upper -0.")
    assert "profile-likelihood" in " ".join(r.notes)


def test_only_first_order_sidebands_profile_intervals_are_bounded():
    # 150 ppm at 12 kHz: only the +-1 sidebands (3-4 %) stand above the noise.
    x, y = _line(150.0, 0.5, 12000.0, 0.004, seed=0, x=np.linspace(-250, 250, 2001))
    r = fit_mas_spectrum(x, y, [dict(delta_iso=0.5, fwhm=2.0)], NU0_13C, 12000.0, noise_region=(-250, -200),
                         profile="always")
    s = r.sites[0]
    assert s["n_sidebands"] == 2
    for name, (lo_b, hi_b), truth in (("span", (0.0, 500.0), 150.0), ("skew", (-1.0, 1.0), 0.5)):
        lo, hi = s[name + "_interval"]
        assert lo_b <= lo < hi <= hi_b and s[name + "_err"] <= hi_b - lo_b
        assert lo < truth < hi
    # The covariance error (the default where it is regular) is of the same size; the profile
    # is asymmetric here (150 - 8, + 12 ppm).
    c = fit_mas_spectrum(x, y, [dict(delta_iso=0.5, fwhm=2.0)], NU0_13C, 12000.0, noise_region=(-250, -200)).sites[0]
    assert c["span_err_method"] == "covariance"
    assert 0.5 < s["span_err"] / c["span_err"] < 2.0


def test_manifold_with_first_order_sidebands_only():
    # Orders -1, 0, 1 only: three numbers for span, skew and amplitude. The skew sign is not
    # resolved (flagged) and the errors are profile intervals inside the physical range, never
    # the +-10^4 ppm of a singular covariance.
    man = sideband_intensities(150.0, 0.5, NU0_CD, 12000.0, n_sidebands=1)
    y = man.intensities + np.random.default_rng(1).normal(0, 0.003, 3)
    f = fit_manifold(man.orders, y, NU0_CD, 12000.0, sigma=0.003)
    assert f.degenerate
    assert f.skew_err_method == "profile" and f.skew_err <= 2.0
    lo, hi = f.skew_interval
    assert f.skew_limit == "upper" and hi == 1.0 and lo < 0.5  # skew (< 1, lower ~0): the truth 0.5 inside
    assert abs(f.span - 150.0) < 2 * f.span_err < 0.5 * f.span


def test_fast_spinning_skew_at_the_bound_is_one_sided():
    # 150 ppm at 12 kHz, orders up to 4 (the first pass called this "degenerate" from a
    # covariance error of +-10^3 at the skew bound; the profile bounds the skew to (0.58, 1]).
    man = sideband_intensities(150.0, 0.5, NU0_CD, 12000.0, n_sidebands=4)
    y = man.intensities + np.random.default_rng(2).normal(0, 0.003, man.orders.size)
    f = fit_manifold(man.orders, y, NU0_CD, 12000.0, sigma=0.003)
    assert f.skew == pytest.approx(1.0, abs=1e-3)
    assert f.skew_limit == "upper" and f.skew_interval[1] == 1.0 and 0.4 < f.skew_interval[0] < 0.8
    assert f.span_err_method == "profile" and f.span_interval[1] - f.span_interval[0] < 40.0
    assert f.alternative["delta_chisqr"] > 4  # the negative skew is excluded at 2.6 sigma
    assert "(< +1.000, lower +0." in f.text("skew")


def test_format_estimate():
    assert format_estimate(-1.0, 0.3, [-1.0, -0.7], "lower", "+.2f") == "-1.00 (> -1.00, upper -0.70)"
    assert format_estimate(1.0, 0.3, [0.7, 1.0], "upper", "+.2f") == "+1.00 (< +1.00, lower +0.70)"
    assert format_estimate(150.0, 5.0, [146.0, 156.0], None, ".0f") == "150 [146, 156]"
    assert format_estimate(150.0, 5.0, None, None, ".1f") == "150.0 +- 5.0"
    assert format_estimate(0.2, float("nan"), [-1.0, 1.0], "both", "+.2f") == "+0.20 (undetermined: -1.00..+1.00)"


@pytest.mark.parametrize("n_runs", [12])
def test_profile_coverage_crude(n_runs):
    # Crude coverage check (benchmarks/bench_profile_coverage.py runs it on 80 draws): the 68 %
    # intervals of span and skew must cover the truth in 4..12 of 12 draws (binomial 99 %: 4..11
    # for p = 0.683), not in 0 (intervals too narrow) nor always by being absurdly wide.
    # 144 orientations (data and model alike) keep it fast.
    man = sideband_intensities(300.0, 0.3, NU0_CD, 8000.0, n_sidebands=5, n_orientations=144)
    sigma = 0.01 * man.intensities.max()
    rng = np.random.default_rng(7)
    hits = dict(span=0, skew=0)
    for _ in range(n_runs):
        y = man.intensities + rng.normal(0, sigma, man.orders.size)
        f = fit_manifold(man.orders, y, NU0_CD, 8000.0, sigma=sigma, profile="always", n_orientations=144)
        hits["span"] += f.span_interval[0] <= 300.0 <= f.span_interval[1]
        hits["skew"] += f.skew_interval[0] <= 0.3 <= f.skew_interval[1]
        assert f.span_interval[1] - f.span_interval[0] < 60.0
    assert 4 <= hits["span"] <= 12 and 4 <= hits["skew"] <= 12
