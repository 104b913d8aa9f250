"""Site deconvolution: recovery, honest uncertainties, sample comparison."""

import numpy as np
import pytest

from respdor.errors import UserError
from respdor.spectra.deconvolution import compare_samples, deconvolve, pseudo_voigt

X = np.linspace(-900, 200, 1101)
TRUE = [(-50.0, 12.0, 1.0), (-320.0, 35.0, 0.6), (-440.0, 40.0, 0.8), (-630.0, 10.0, 0.2)]


def make(pops, seed, sd=2e-4, eta=0.0):
    y = sum(p * pseudo_voigt(X, c, w, eta) for (c, w, _), p in zip(TRUE, pops))
    return y + np.random.default_rng(seed).normal(0, sd, X.size)


def test_recovery_and_error_calibration():
    pops = [a for *_, a in TRUE]
    fr_true = np.array(pops) / sum(pops)
    z = []
    for seed in range(15):
        r = deconvolve(X, make(pops, seed), [-60, -300, -450, -620], fwhm=20, noise_region=(100, 200))
        for s, (c, w, _), f in zip(r.sites, TRUE, fr_true):
            assert s["center"] == pytest.approx(c, abs=0.5)
            assert s["fraction"] == pytest.approx(f, rel=0.02)
        z.append([(s["fraction"] - f) / s["fraction_err"] for s, f in zip(r.sites, fr_true)])
    z = np.array(z)
    # Standardised errors must have unit spread if the reported uncertainties are right.
    assert 0.65 < z.std() < 1.4  # 60 values: the spread of a unit-sd sample is ~ 1 +- 0.1


def test_lorentzian_and_voigt_shapes():
    y = make([1, 0.6, 0.8, 0.2], 1, eta=0.5)
    r = deconvolve(X, y, [-50, -320, -440, -630], fwhm=20, shape="voigt", noise_region=(100, 200))
    assert r.sites[0]["eta"] == pytest.approx(0.5, abs=0.05)
    assert r.sites[1]["area"] == pytest.approx(0.6, rel=0.03)


def test_compare_samples():
    r1 = deconvolve(X, make([1, 0.6, 0.8, 0.2], 3), [-50, -320, -440, -630], fwhm=20, noise_region=(100, 200))
    r3 = deconvolve(X, make([2, 0.7, 2.2, 0.4], 4), [-50, -320, -440, -630], fwhm=20, noise_region=(100, 200))
    rows = compare_samples(r1, r3, reference_ppm=-50)
    expected = [1.0, (0.35 / 0.6), (1.1 / 0.8), 1.0]
    for row, e in zip(rows, expected):
        assert row["change"] == pytest.approx(e, abs=4 * row["change_err"] + 1e-12)
    with pytest.raises(UserError, match="reference"):
        compare_samples(r1, r3, reference_ppm=100)


def test_bad_input():
    with pytest.raises(UserError, match="outside"):
        deconvolve(X, make([1, 1, 1, 1], 0), [500])
    with pytest.raises(UserError, match="shape"):
        deconvolve(X, make([1, 1, 1, 1], 0), [-50], shape="cauchy")


def test_site_fitting_a_rolling_baseline_is_flagged_and_a_broad_line_is_not():
    # Two narrow lines on a rolling baseline (8 sigma, period 500 ppm): a third site put between
    # them grows over the roll (measured 131 ppm, 36 x the others, 61 % of its span flat baseline).
    rng = np.random.default_rng(5)
    x = np.linspace(-300, 300, 3000)
    lines = 300 * pseudo_voigt(x, -50, 3, 0) + 150 * pseudo_voigt(x, 40, 4, 0)
    roll = 8 * np.cos(2 * np.pi * (x + 40) / 500)
    r = deconvolve(x, lines + roll + rng.standard_normal(x.size), [-50, 40, 0], fwhm=3)
    assert [s["status"] for s in r.sites] == ["ok", "ok", "baseline?"]
    assert r.sites[2]["fwhm"] > 60 and r.sites[2]["baseline_fraction"] > 0.5
    assert any("site 3" in w and "rolling baseline" in w and "baseline_order=3" in w for w in r.warnings)  # CLI: --baseline-poly
    # A real broad line (40 ppm, S/N 38) under the same narrow lines stays 'ok'.
    y = lines + 1600 * pseudo_voigt(x, 0, 40, 0) + rng.standard_normal(x.size)
    r = deconvolve(x, y, [-50, 40, 0], fwhm=3)
    assert [s["status"] for s in r.sites] == ["ok", "ok", "ok"] and not r.warnings
    assert r.sites[2]["fwhm"] == pytest.approx(40, rel=0.05) and r.sites[2]["baseline_fraction"] < 0.5
