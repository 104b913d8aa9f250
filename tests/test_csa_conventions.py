"""CSA convention conversions (spinsim.csa) on known tensors and exact round trips."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spinsim import csa

# (principal components in any order, iso, span, skew, zeta, eta), worked by hand:
# deviations from iso, Haeberlen zz = largest |deviation|, xx the next, eta = (yy - xx)/zeta.
KNOWN = [
    ((100.0, 50.0, -150.0), 0.0, 250.0, 0.6, -150.0, 1.0 / 3.0),
    ((-150.0, 100.0, 50.0), 0.0, 250.0, 0.6, -150.0, 1.0 / 3.0),
    # deviations 150, -70, -80: zz = 150, xx = -80, yy = -70; skew = 3 (10 - 80) / 230.
    ((230.0, 10.0, 0.0), 80.0, 230.0, -210.0 / 230.0, 150.0, 10.0 / 150.0),
    ((-300.0, -300.0, -600.0), -400.0, 300.0, 1.0, -200.0, 0.0),  # axial, kappa = +1
    ((-200.0, -500.0, -500.0), -400.0, 300.0, -1.0, 200.0, 0.0),  # axial, kappa = -1
]


@pytest.mark.parametrize("principal, iso, span, skew, zeta, eta", KNOWN)
def test_known_tensors(principal, iso, span, skew, zeta, eta):
    assert csa.maryland_from_principal(*principal) == pytest.approx((iso, span, skew), abs=1e-12)
    assert csa.haeberlen_from_principal(*principal) == pytest.approx((iso, zeta, eta), abs=1e-12)
    assert csa.maryland_to_haeberlen(iso, span, skew) == pytest.approx((iso, zeta, eta), abs=1e-12)
    assert csa.haeberlen_to_maryland(iso, zeta, eta) == pytest.approx((iso, span, skew), abs=1e-12)


def test_direct_formula_physics_md():
    # physics.md 6: eta = 3(1-|k|)/(3+|k|), zeta = -sign(k) Omega (3+|k|)/6.
    for span, skew in [(250.0, 0.6), (500.0, -0.3), (80.0, 0.95), (10.0, -1.0)]:
        _, zeta, eta = csa.maryland_to_haeberlen(0.0, span, skew)
        assert eta == pytest.approx(3 * (1 - abs(skew)) / (3 + abs(skew)), abs=1e-12)
        assert zeta == pytest.approx(-math.copysign(1, skew) * span * (3 + abs(skew)) / 6, abs=1e-12)


def test_skew_zero_convention():
    # kappa = 0: eta = 1 and zeta = +Omega/2 by this module's documented choice.
    iso, zeta, eta = csa.maryland_to_haeberlen(5.0, 200.0, 0.0)
    assert (iso, zeta, eta) == pytest.approx((5.0, 100.0, 1.0), abs=1e-12)


def test_anisotropy_factor_and_shielding():
    assert csa.anisotropy_from_reduced(-200.0) == -300.0
    assert csa.reduced_from_anisotropy(-300.0) == pytest.approx(-200.0)
    # mrsimulator zeta = -100 (shielding) is our zeta_shift = +100 (physics.md 5.1 pitfalls).
    assert csa.shielding_to_shift(10.0, -100.0, 0.4, sigma_ref=0.0) == (-10.0, 100.0, 0.4)


def test_validation_errors():
    with pytest.raises(ValueError, match="eta"):
        csa.principal_from_haeberlen(0.0, 10.0, 1.2)
    with pytest.raises(ValueError, match="skew"):
        csa.principal_from_maryland(0.0, 10.0, -1.5)
    with pytest.raises(ValueError, match="span"):
        csa.principal_from_maryland(0.0, -10.0, 0.0)


finite = st.floats(-2000, 2000, allow_nan=False)


def _roundoff(iso, size):
    """Absolute round-off bound of a value computed from principal components of this size.

    The principal components are formed as iso + O(size), so each carries an absolute error of a
    few ulp of (|iso| + size); differences and means inherit it. 16 ulp leaves room for the few
    operations of each formula without hiding a wrong formula (which errs by O(size)).
    """
    return 16.0 * np.finfo(float).eps * (abs(iso) + abs(size))


@settings(max_examples=300)
@given(finite, st.floats(0.001, 3000), st.floats(-1, 1))
def test_round_trip_maryland(iso, span, skew):
    tol = _roundoff(iso, span)
    back = csa.maryland_from_principal(*csa.principal_from_maryland(iso, span, skew))
    assert back[0] == pytest.approx(iso, rel=0, abs=tol)
    assert back[1] == pytest.approx(span, rel=0, abs=2 * tol)
    # skew = 3 (d22 - iso) / span: the absolute round-off of d22 - iso is divided by the span.
    assert back[2] == pytest.approx(skew, rel=0, abs=3 * tol / span)
    # through Haeberlen and back: the principal components are the same set.
    h = csa.maryland_to_haeberlen(iso, span, skew)
    p1 = sorted(csa.principal_from_haeberlen(*h))
    p2 = sorted(csa.principal_from_maryland(iso, span, skew))
    # near skew = 0 the Haeberlen ordering resolves ties only to csa.TIE_PPM (eta clipped to 1).
    np.testing.assert_allclose(p1, p2, rtol=0, atol=tol + 2 * csa.TIE_PPM)


def test_round_trip_maryland_narrow_span_far_from_zero():
    # The case that failed with a fixed 1e-9 tolerance: span 0.001 ppm at iso 1366 ppm. The skew
    # comes back within round-off (~1e-9 here), and a wrong skew formula would be off by O(1).
    iso, span, skew = 1366.0, 0.001, 0.3
    back = csa.maryland_from_principal(*csa.principal_from_maryland(iso, span, skew))
    assert abs(back[2] - skew) <= 3 * _roundoff(iso, span) / span
    assert abs(back[2] - skew) < 1e-8


@settings(max_examples=300)
@given(finite, st.floats(-2000, 2000).filter(lambda z: abs(z) > 1e-3), st.floats(0, 1))
def test_round_trip_haeberlen(iso, zeta, eta):
    tol = _roundoff(iso, 2 * zeta)
    p = csa.principal_from_haeberlen(iso, zeta, eta)
    back = csa.haeberlen_from_principal(*p)
    assert back[0] == pytest.approx(iso, rel=0, abs=tol)
    if eta < 1 - 1e-9:  # at eta = 1 zeta's sign is ambiguous by construction
        assert back[1] == pytest.approx(zeta, rel=0, abs=2 * tol)
    else:
        assert abs(back[1]) == pytest.approx(abs(zeta), rel=0, abs=2 * tol)
    # eta = (yy - xx) / zeta: the absolute round-off of the difference is divided by |zeta|.
    assert back[2] == pytest.approx(eta, rel=0, abs=3 * tol / abs(zeta))
