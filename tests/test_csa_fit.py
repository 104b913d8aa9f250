"""CSA fits from sideband manifolds and from 1D MAS spectra (respdor.spectra.csa_fit)."""

import numpy as np
import pytest

from respdor.errors import UserError
from respdor.spectra.csa_fit import fit_manifold, fit_mas_spectrum, moment_estimates
from spinsim import csa
from spinsim.sidebands import mas_spectrum, sideband_intensities

NU0 = 88.8e6


@pytest.mark.parametrize("span, skew", [(450.0, 0.3), (300.0, -0.6), (520.0, -0.4)])
def test_manifold_recovery_with_noise(span, skew):
    rng = np.random.default_rng(1)
    man = sideband_intensities(span, skew, NU0, 8000.0, n_sidebands=6)
    sigma = 0.02
    y = 10 * man.intensities + rng.normal(0, sigma, man.orders.size)
    f = fit_manifold(man.orders, y, NU0, 8000.0, sigma=sigma)
    assert abs(f.span - span) < 4 * f.span_err
    assert abs(f.skew - skew) < 4 * f.skew_err
    assert f.span == pytest.approx(span, rel=0.03)
    assert not f.degenerate
    _, zeta, eta = csa.maryland_to_haeberlen(0, f.span, f.skew)
    assert (f.zeta, f.eta) == pytest.approx((zeta, eta))


def test_exact_manifold_is_exact():
    man = sideband_intensities(400.0, -0.2, NU0, 6000.0, n_sidebands=7)
    f = fit_manifold(man.orders, 3 * man.intensities, NU0, 6000.0, sigma=1e-4)
    assert f.span == pytest.approx(400.0, abs=0.05) and f.skew == pytest.approx(-0.2, abs=1e-3)
    assert f.amplitude == pytest.approx(3.0 * man.intensities.sum(), rel=1e-4)


def test_moment_estimate():
    man = sideband_intensities(300.0, 0.0, NU0, 3000.0, n_sidebands=30)
    span, _ = moment_estimates(man.orders, man.intensities, NU0, 3000.0)
    assert span == pytest.approx(300.0, rel=0.01)


def test_two_site_spectrum_fit():
    x = np.linspace(-900, 200, 2201)
    y = (mas_spectrum(x, -320.0, 450.0, 0.3, NU0, 8000.0, 30.0, amplitude=0.6)
         + mas_spectrum(x, -440.0, 520.0, -0.4, NU0, 8000.0, 35.0, amplitude=0.8))
    y += np.random.default_rng(3).normal(0, 2e-5, x.size)
    r = fit_mas_spectrum(x, y, [dict(delta_iso=-315, span=350, fwhm=25), dict(delta_iso=-445, span=350, fwhm=25)],
                         NU0, 8000.0, noise_region=(150, 200))
    (a, b) = r.sites
    assert a["delta_iso"] == pytest.approx(-320.0, abs=0.5) and b["delta_iso"] == pytest.approx(-440.0, abs=0.5)
    assert a["span"] == pytest.approx(450.0, rel=0.03) and b["span"] == pytest.approx(520.0, rel=0.03)
    assert a["skew"] == pytest.approx(0.3, abs=0.05) and b["skew"] == pytest.approx(-0.4, abs=0.05)
    assert a["fraction"] == pytest.approx(0.6 / 1.4, abs=0.01)


def test_bad_input():
    with pytest.raises(UserError, match="at least 3"):
        fit_manifold([0, 1], [1.0, 0.1], NU0, 8000.0)
    with pytest.raises(UserError, match="> 0"):
        fit_manifold([-1, 0, 1], [0.1, 1.0, 0.1], NU0, 8000.0, sigma=[0.1, 0.0, 0.1])
