"""Sideband intensities of a CSA powder under MAS (spinsim.sidebands) against independent truths."""

import sys
from pathlib import Path

import numpy as np
import pytest

from spinsim import csa
from spinsim.sidebands import (
    mas_spectrum,
    second_moment_ppm2,
    sideband_intensities,
    sideband_intensities_haeberlen,
    static_powder_pattern,
)

sys.path.insert(0, str(Path(__file__).parent))
from sideband_reference import brute_force_sidebands  # noqa: E402

NU0 = 88.75e6  # |nu0(113Cd)| at 9.4 T, Hz


@pytest.mark.parametrize(
    "span, skew, mas",
    [(400.0, 0.3, 8000.0), (250.0, -0.7, 5000.0), (150.0, 1.0, 8000.0), (600.0, -0.2, 8000.0)],
)
def test_against_brute_force_time_domain(span, skew, mas):
    principal = csa.principal_from_maryland(0.0, span, skew)
    k, ref = brute_force_sidebands(principal, NU0, mas, 10, n_beta=32, n_alpha=36, n_gamma=32, n_t=512)
    man = sideband_intensities(span, skew, NU0, mas, n_sidebands=10)
    np.testing.assert_array_equal(man.orders, k)
    # 1e-3 relative to the total intensity (which is 1 in both).
    assert np.max(np.abs(man.intensities - ref)) < 1e-3


@pytest.mark.parametrize("span, skew", [(400.0, 0.3), (800.0, -0.9), (120.0, 0.0), (300.0, 1.0)])
@pytest.mark.parametrize("mas", [2000.0, 8000.0, 20000.0])
def test_exact_moments(span, skew, mas):
    man = sideband_intensities(span, skew, NU0, mas, n_sidebands=60, n_orientations=2584)
    step = mas / NU0 * 1e6
    assert man.intensities.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.sum(man.orders * man.intensities) == pytest.approx(0.0, abs=1e-6)
    # sum_k I_k (k step)^2 = zeta^2 (1 + eta^2/3)/5 at any spinning rate (Maricq-Waugh).
    _, zeta, eta = csa.maryland_to_haeberlen(0.0, span, skew)
    m2 = zeta**2 * (1 + eta**2 / 3) / 5
    assert second_moment_ppm2(span, skew) == pytest.approx(m2, rel=1e-12)
    assert np.sum((man.orders * step) ** 2 * man.intensities) == pytest.approx(m2, rel=2e-3)


def test_fast_spinning_limit():
    man = sideband_intensities(100.0, 0.5, NU0, 200000.0, n_sidebands=3)
    # Leading order: I_{+-1} ~ (second moment share) / nu_r^2, here < 1e-3.
    assert man.intensities[3] > 0.999
    assert man.intensities[3] < 1.0


def _binned_static(span, skew, x, step):
    """Static-pattern probability in bins of width step centred on x (ppm offsets)."""
    fine = np.linspace(x[0] - step / 2, x[-1] + step / 2, 400001)
    dens = static_powder_pattern(span, skew, fine)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(fine))])
    return np.diff(np.interp(np.concatenate([x - step / 2, [x[-1] + step / 2]]), fine, cdf)), cdf[-1]


def test_slow_spinning_approaches_static_pattern():
    # 44 kHz wide pattern; the sideband envelope must converge to the Bloembergen-Rowland
    # static lineshape as nu_r -> 0 (measured: L1 distance 0.16 at 2 kHz, 0.076 at 500 Hz).
    span, skew = 500.0, 0.4
    l1, cdf_err = [], []
    for mas in (2000.0, 500.0):
        man = sideband_intensities(span, skew, NU0, mas, n_sidebands=int(300 * 500 / mas), n_orientations=6765)
        step = mas / NU0 * 1e6
        binned, total = _binned_static(span, skew, man.orders * step, step)
        assert total == pytest.approx(1.0, abs=2e-3)
        l1.append(np.abs(man.intensities - binned).sum())
        cdf_err.append(np.max(np.abs(np.cumsum(man.intensities) - np.cumsum(binned))))
    assert l1[1] < 0.1 and cdf_err[1] < 0.008
    assert l1[1] < 0.6 * l1[0] and cdf_err[1] < 0.6 * cdf_err[0]


def test_haeberlen_entry_matches_maryland_and_mrsimulator_sign():
    span, skew = 300.0, -0.5
    _, zeta, eta = csa.maryland_to_haeberlen(0.0, span, skew)
    a = sideband_intensities(span, skew, NU0, 8000.0)
    b = sideband_intensities_haeberlen(zeta, eta, NU0, 8000.0)
    # Same tensor, axes labelled differently: equal up to the powder-sampling error (~1e-4).
    np.testing.assert_allclose(a.intensities, b.intensities, atol=5e-4)
    # Negative skew puts the bulk of the pattern at low shift: more intensity at k < 0.
    assert a.intensities[a.orders < 0].sum() > a.intensities[a.orders > 0].sum()


def test_mas_spectrum_area_and_positions():
    ppm = np.linspace(-1500, 800, 23001)
    spec = mas_spectrum(ppm, -320.0, 450.0, 0.2, NU0, 8000.0, fwhm_ppm=8.0, amplitude=2.5)
    assert np.trapezoid(spec, ppm) == pytest.approx(2.5, rel=2e-3)
    i_peak = np.argmax(spec)
    step = 8000.0 / NU0 * 1e6
    assert abs(((ppm[i_peak] + 320.0) / step) - round((ppm[i_peak] + 320.0) / step)) < 0.01


def test_bad_input():
    with pytest.raises(ValueError, match="MAS rate"):
        sideband_intensities(100.0, 0.0, NU0, 0.0)
    with pytest.raises(ValueError, match="skew"):
        sideband_intensities(100.0, 1.5, NU0, 8000.0)
