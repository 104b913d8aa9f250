"""One transfer matrix: respdor.models.transfer_matrix is spinsim's, in respdor's words, with
spinsim's basis order (m = I .. -I); the curves it gives are the closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

import spinsim
from respdor.models import (TRANSFER_KINDS, redor_dephasing, respdor_dephasing, transfer_dephasing,
                            transfer_matrix, transfer_weights)

HALF_INTEGER = (0.5, 1.5, 2.5, 3.5, 4.5)
LAM = np.linspace(0.0, 3.0, 31)


def _redor(lam):  # Mueller et al. 1995, written out here independently of respdor.models
    x = np.sqrt(2) * np.asarray(lam, float)
    with np.errstate(invalid="ignore"):
        s = np.sqrt(2) * np.pi / 4 * special.jv(0.25, x) * special.jv(-0.25, x)
    return 1 - np.where(x == 0, 1.0, s)


@pytest.mark.parametrize("spin", HALF_INTEGER + (1.0, 3.0))
def test_saturation_gives_the_chen_closed_form(spin):
    n = int(2 * spin + 1)
    chen = 2 / n**2 * sum((n - k) * _redor(k * LAM) for k in range(1, n))
    np.testing.assert_allclose(transfer_dephasing(LAM, transfer_matrix(spin, "saturation")), chen, atol=1e-12)
    np.testing.assert_allclose(respdor_dephasing(LAM, spin), chen, atol=1e-12)


@pytest.mark.parametrize("spin", HALF_INTEGER)
def test_inversion_and_central_transition_closed_forms(spin):
    n = int(2 * spin + 1)
    m = spin - np.arange(n)  # the basis order: m = I, I-1, ..., -I
    inversion = sum(_redor(abs(2 * mm) * LAM) for mm in m) / n
    np.testing.assert_allclose(transfer_dephasing(LAM, transfer_matrix(spin, "inversion")), inversion, atol=1e-12)
    # only m = +1/2 <-> -1/2 change (by 1): 2 of the 2I+1 states dephase, fully or half
    np.testing.assert_allclose(transfer_dephasing(LAM, transfer_matrix(spin, "ct-inversion")),
                               2 / n * _redor(LAM), atol=1e-12)
    np.testing.assert_allclose(transfer_dephasing(LAM, transfer_matrix(spin, "ct-saturation")),
                               1 / n * _redor(LAM), atol=1e-12)
    if spin == 0.5:
        np.testing.assert_allclose(inversion, redor_dephasing(LAM), atol=1e-12)


@pytest.mark.parametrize("kind", list(TRANSFER_KINDS))
@pytest.mark.parametrize("eps", [1.0, 0.6, 0.0])
def test_efficiency_scales_the_curve(kind, eps):
    full = transfer_dephasing(LAM, transfer_matrix(2.5, kind))
    np.testing.assert_allclose(transfer_dephasing(LAM, transfer_matrix(2.5, kind, eps)), eps * full, atol=1e-12)


def test_it_is_spinsims_matrix_in_spinsims_basis_order():
    for spin in HALF_INTEGER:
        for ours, theirs in (("saturation", "full"), ("inversion", "inversion"), ("ct-inversion", "ct")):
            np.testing.assert_array_equal(transfer_matrix(spin, ours, 0.7), spinsim.transfer_matrix(spin, theirs, 0.7))
            np.testing.assert_array_equal(transfer_matrix(spin, ours, 0.7),
                                          spinsim.IdealSaturation(theirs, 0.7).matrix(spin))
    # 0.5 (P_ct + 1): half a central-transition inversion, in the same order
    np.testing.assert_array_equal(transfer_matrix(2.5, "ct-saturation", 0.8), spinsim.transfer_matrix(2.5, "ct", 0.4))
    p = transfer_matrix(1.5, "ct-inversion")
    # rows m' and columns m ordered 3/2, 1/2, -1/2, -3/2: +1/2 (index 1) <-> -1/2 (index 2)
    np.testing.assert_array_equal(p, [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])


def test_a_matrix_built_in_the_opposite_order_gives_the_same_curve():
    rng = np.random.default_rng(7)
    p = rng.random((6, 6))
    p /= p.sum(axis=0)
    np.testing.assert_allclose(transfer_weights(p[::-1, ::-1]), transfer_weights(p), atol=1e-15)


def test_mistakes_are_refused():
    for args, match in [((1.0, "ct-inversion"), "half-integer"), ((2.5, "saturation", 1.2), "efficiency"),
                        ((2.5, "saturation", float("nan")), "efficiency"), ((5.5,), "9/2"),
                        ((2.5, "magic"), "saturation, inversion"), ((2.5, "full"), "unknown")]:
        with pytest.raises(ValueError, match=match):
            transfer_matrix(*args)
