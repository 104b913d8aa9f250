"""2D PASS processing: order separation, sign detection and the full round trip to CSA parameters."""

import numpy as np
import pytest

from respdor.spectra.pass_processing import PassSite, analyse_pass, process_pass, simulate_pass
from spinsim.isotopes import get_isotope
from spinsim.pass_timing import pass_timings

NU0 = 400.13e6 * get_isotope("113Cd").frequency_ratio  # 113Cd at 9.4 T (1H 400.13 MHz), Hz
SITES = [
    PassSite(-50.0, 150.0, 0.5, 1.0, 12.0),
    PassSite(-320.0, 450.0, 0.3, 0.6, 35.0),
    PassSite(-440.0, 520.0, -0.4, 0.8, 40.0),
    PassSite(-630.0, 250.0, 0.8, 0.2, 10.0),
]


@pytest.fixture(scope="module")
def timings():
    return pass_timings(16)


@pytest.mark.parametrize("pitch_sign", [1, -1])
def test_orders_separate_and_sign_is_detected(timings, pitch_sign):
    site = [PassSite(-300.0, 450.0, 0.3, 1.0, 20.0)]
    d = simulate_pass(site, NU0, 8000.0, 16, 512, 100000.0, -350.0, pitch_sign=pitch_sign, timings=timings,
                      n_orientations=610)
    sp = process_pass(d, 100000.0, 8000.0, NU0, -350.0)
    assert sp.sign == pitch_sign
    assert sp.sign_contrast > 2.0
    # Every order sits at delta_iso after the shear.
    for k in (-2, -1, 1, 2):
        row = sp.row(k)
        assert sp.ppm[np.argmax(np.abs(row))] == pytest.approx(-300.0, abs=1.5)
    # Forcing the wrong sign misplaces the sidebands.
    bad = process_pass(d, 100000.0, 8000.0, NU0, -350.0, sign=-pitch_sign)
    assert abs(bad.ppm[np.argmax(np.abs(bad.row(1)))] + 300.0) > 100


def test_four_site_round_trip(timings):
    # Noise 0.005 (per point and channel, in units of a unit-population site's first FID point).
    data = simulate_pass(SITES, NU0, 8000.0, 16, 1024, 100000.0, -350.0, noise_rms=0.005, pitch_sign=-1,
                         seed=11, timings=timings)
    a = analyse_pass(data, 100000.0, 8000.0, NU0, -350.0, [-60, -300, -450, -620], noise_region=(100, 200),
                     fwhm=20.0, fit_region=(-800, 100))
    total = sum(s.population for s in SITES)
    for row, s in zip(a.table(), SITES):
        assert row["delta_iso"] == pytest.approx(s.delta_iso, abs=0.5)
        assert row["span"] == pytest.approx(s.span, rel=0.05)
        assert row["skew"] == pytest.approx(s.skew, abs=0.1)
        assert row["population"] == pytest.approx(s.population / total, rel=0.02)
        assert not row["degenerate"]
        # The reported errors are honest: the truth is within 4 sigma.
        assert abs(row["span"] - s.span) < 4 * row["span_err"] + 1e-9 or abs(row["span"] / s.span - 1) < 0.01


def test_bad_input():
    from respdor.errors import UserError

    with pytest.raises(UserError, match="2-D"):
        process_pass(np.zeros(16), 1e5, 8000.0, NU0, 0.0)
    with pytest.raises(UserError, match="at least 3"):
        process_pass(np.zeros((2, 16)), 1e5, 8000.0, NU0, 0.0)
