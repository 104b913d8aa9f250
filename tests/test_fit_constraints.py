"""Constraints on D or r are honoured by the Python API in either parameterization (issue 8)."""

import numpy as np
import pytest

from respdor import CurveModel, DephasingCurve, fit_curve
from respdor.errors import UserError
from respdor.models import respdor_dephasing

MODEL = CurveModel("13C", "27Al")


def _curve():
    t = np.linspace(0.1e-3, 3e-3, 20)
    rng = np.random.default_rng(5)
    return DephasingCurve(t, 0.3 * respdor_dephasing(503.0 * t, 2.5) + rng.normal(0, 0.01, t.size),
                          np.full(t.size, 0.01))


@pytest.mark.parametrize("param", ["coupling", "distance"])
def test_fix_r_and_fix_d_in_either_parameterization(param):
    r = fit_curve(_curve(), MODEL, parameterization=param, fix={"distance_angstrom": 2.7}, intervals=False)
    assert r.value("distance_angstrom") == pytest.approx(2.7, rel=1e-12)
    assert r.value("coupling_hz") == pytest.approx(MODEL.dr3 / 2.7**3, rel=1e-12)
    d = fit_curve(_curve(), MODEL, parameterization=param, fix={"coupling_hz": 400.0}, intervals=False)
    assert d.value("coupling_hz") == pytest.approx(400.0, rel=1e-12)


@pytest.mark.parametrize("param", ["coupling", "distance"])
def test_bound_on_the_other_quantity_is_mapped(param):
    r = fit_curve(_curve(), MODEL, parameterization=param, bounds={"distance_angstrom": (2.7, 3.0)},
                  intervals=False)
    assert 2.7 * (1 - 1e-9) <= r.value("distance_angstrom") <= 3.0 * (1 + 1e-9)
    assert r.value("distance_angstrom") == pytest.approx(2.7, rel=1e-6)  # the free optimum (2.5 A) is below
    assert any("bound" in w for w in r.warnings)


def test_contradictions_raise_with_the_api_names():
    with pytest.raises(UserError, match="fix D=400 and fix r=2.5 fix the same distance"):
        fit_curve(_curve(), MODEL, fix={"coupling_hz": 400.0, "distance_angstrom": 2.5})
    with pytest.raises(UserError, match="initial r=4 lies outside bounds r=2:3"):
        fit_curve(_curve(), MODEL, initial={"distance_angstrom": 4.0}, bounds={"distance_angstrom": (2.0, 3.0)})
    with pytest.raises(UserError, match="bounds D=300:200: the low end"):
        fit_curve(_curve(), MODEL, bounds={"coupling_hz": (300.0, 200.0)})
