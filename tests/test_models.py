"""Analytical dephasing curves against independent numerical truths (physics.md sections 2-4)."""

import numpy as np
import pytest
from scipy import special

from respdor.models import (
    SR4_SCALING,
    finite_pulse_scaling,
    gaussian_distance_average,
    recoupling_scaling,
    redor_dephasing,
    redor_signal,
    respdor_dephasing,
    respdor_plateau,
    transfer_dephasing,
    transfer_matrix,
    transfer_weights,
)

LAMBDAS = np.array([0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0])


def _powder_grid(n_beta=400, n_alpha=256):
    """Gauss-Legendre in beta (weight sin beta) x uniform alpha: an independent powder average."""
    xb, wb = np.polynomial.legendre.leggauss(n_beta)
    beta = (xb + 1.0) * np.pi / 4.0
    w_beta = wb * np.pi / 4.0 * np.sin(beta)
    alpha = np.arange(n_alpha) * 2.0 * np.pi / n_alpha
    phase_factor = np.sin(2.0 * beta)[:, None] * np.sin(alpha)[None, :]
    return phase_factor, w_beta


def test_redor_equals_numerical_powder_average_to_1e6():
    s, w = _powder_grid()
    lam = np.linspace(0.0, 5.0, 101)
    numeric = np.array([(np.cos(2.0 * np.sqrt(2.0) * x * s).mean(axis=1) * w).sum() for x in lam])
    assert np.max(np.abs(numeric - redor_signal(lam))) < 1e-6


def test_redor_test_vectors():
    expected = [0.010626, 0.065098, 0.242422, 0.484115, 0.728344, 1.023724, 0.991204, 0.872365]
    np.testing.assert_allclose(redor_dephasing(LAMBDAS), expected, atol=1e-6)


def test_redor_series_form():
    # Mueller, JMR A 113, 81 (1995): dS/S0 = 1 - J0^2 + 2 sum J_k^2/(16k^2 - 1).
    lam = np.linspace(0.0, 3.0, 61)
    x = np.sqrt(2.0) * lam
    k = np.arange(1, 41)[:, None]
    series = 1.0 - special.jv(0, x) ** 2 + 2.0 * np.sum(special.jv(k, x) ** 2 / (16.0 * k**2 - 1.0), axis=0)
    np.testing.assert_allclose(redor_dephasing(lam), series, atol=1e-6)


def test_redor_small_lambda_branch_is_continuous():
    lam = np.array([0.0, 1e-6, 7.07e-5, 7.08e-5, 1e-3])
    np.testing.assert_allclose(redor_dephasing(lam), 16.0 / 15.0 * lam**2, rtol=1e-5, atol=1e-18)
    assert redor_dephasing(0.0) == 0.0


@pytest.mark.parametrize("spin", [0.5, 1.0, 1.5, 2.0, 2.5, 3.5, 4.5])
def test_respdor_matches_chen_2010_literal_form(spin):
    # Chen et al., J. Magn. Reson. 206, 269 (2010), as written in physics.md 3.1.
    lam = np.linspace(0.01, 4.0, 80)
    n = 2 * spin + 1
    total = np.zeros_like(lam)
    for k in range(1, int(round(2 * spin)) + 1):
        x = k * np.sqrt(2.0) * lam
        total += (4 * spin + 2 - 2 * k) * special.jv(0.25, x) * special.jv(-0.25, x)
    chen = (1.0 / n) * (2 * spin - np.sqrt(2.0) * np.pi / (4.0 * n) * total)
    np.testing.assert_allclose(respdor_dephasing(lam, spin), chen, atol=1e-12)


def test_respdor_test_vectors():
    table = {
        1.5: [0.026086, 0.145532, 0.400960, 0.552399, 0.629976, 0.721173, 0.751877, 0.701115],
        2.5: [0.059059, 0.284636, 0.557895, 0.668444, 0.731662, 0.802282, 0.834619, 0.792688],
        4.5: [0.152002, 0.499903, 0.697019, 0.777463, 0.822040, 0.870442, 0.894747, 0.869594],
    }
    for spin, values in table.items():
        np.testing.assert_allclose(respdor_dephasing(LAMBDAS, spin), values, atol=1e-6)


@pytest.mark.parametrize("spin", [1.0, 1.5, 2.5, 3.5, 4.5])
def test_respdor_plateau(spin):
    # Average over a long window: the REDOR terms tend to 1 with a 1/lambda tail.
    lam = np.linspace(2000.0, 4000.0, 20001)
    assert np.mean(respdor_dephasing(lam, spin)) == pytest.approx(2 * spin / (2 * spin + 1), abs=2e-4)
    assert respdor_plateau(spin) == pytest.approx(2 * spin / (2 * spin + 1))
    w = transfer_weights(transfer_matrix(spin, "saturation"))
    assert w[1:].sum() == pytest.approx(2 * spin / (2 * spin + 1), abs=1e-14)


@pytest.mark.parametrize("spin", [1.5, 2.5])
def test_respdor_monte_carlo_over_states_and_powder(spin):
    """Independent route: random m, m' (full saturation) and the crystallite phase (m - m') Phi."""
    s, w = _powder_grid(200, 128)
    m = np.arange(int(2 * spin + 1)) - spin
    lam = np.array([0.2, 0.6, 1.3])
    for x in lam:
        total = 0.0
        for mi in m:
            for mj in m:
                total += (np.cos(abs(mi - mj) * 2.0 * np.sqrt(2.0) * x * s).mean(axis=1) * w).sum()
        numeric = 1.0 - total / m.size**2
        assert numeric == pytest.approx(float(respdor_dephasing(x, spin)), abs=1e-7)


def test_short_time_limit():
    lam = 1e-3
    for spin in (1.5, 2.5, 4.5):
        expected = 16.0 / 15.0 * lam**2 * (2.0 / 3.0) * spin * (spin + 1)
        assert float(respdor_dephasing(lam, spin)) == pytest.approx(expected, rel=1e-4)


def test_spin_half_respdor_is_half_redor_and_inversion_is_redor():
    lam = np.linspace(0, 3, 31)
    np.testing.assert_allclose(respdor_dephasing(lam, 0.5), 0.5 * redor_dephasing(lam), atol=1e-15)
    np.testing.assert_allclose(transfer_dephasing(lam, transfer_matrix(0.5, "inversion")), redor_dephasing(lam),
                               atol=1e-15)


def test_ideal_inversion_of_spin_three_half_is_gullion_vega():
    lam = np.linspace(0, 3, 31)
    expected = 1.0 - 0.5 * (redor_signal(lam) + redor_signal(3 * lam))
    np.testing.assert_allclose(transfer_dephasing(lam, transfer_matrix(1.5, "inversion")), expected, atol=1e-14)


def test_ct_selective_inversion_plateau_one_third():
    lam = np.linspace(0, 3, 31)
    curve = transfer_dephasing(lam, transfer_matrix(2.5, "ct-inversion"))
    np.testing.assert_allclose(curve, (2.0 / 6.0) * redor_dephasing(lam), atol=1e-15)
    half = transfer_dephasing(lam, transfer_matrix(2.5, "ct-saturation"))
    np.testing.assert_allclose(half, 0.5 * curve, atol=1e-15)


def test_efficiency_multiplies_the_curve():
    lam = np.linspace(0, 3, 31)
    for kind in ("saturation", "inversion", "ct-inversion"):
        full = transfer_dephasing(lam, transfer_matrix(2.5, kind))
        part = transfer_dephasing(lam, transfer_matrix(2.5, kind, efficiency=0.7))
        np.testing.assert_allclose(part, 0.7 * full, atol=1e-14)


def test_transfer_matrix_is_column_stochastic_and_errors():
    for spin in (0.5, 1, 1.5, 2.5, 4.5):
        for kind in ("saturation", "inversion"):
            p = transfer_matrix(spin, kind, 0.6)
            np.testing.assert_allclose(p.sum(axis=0), 1.0)
    with pytest.raises(ValueError, match="half-integer"):
        transfer_matrix(1.0, "ct-inversion")
    with pytest.raises(ValueError, match="efficiency"):
        transfer_matrix(2.5, "saturation", 1.2)
    with pytest.raises(ValueError, match="spin"):
        transfer_matrix(5.5)
    with pytest.raises(ValueError, match="unknown population transfer"):
        transfer_matrix(2.5, "magic")


def test_finite_pulse_scaling():
    assert finite_pulse_scaling(0.0, 100e-6) == 1.0
    assert finite_pulse_scaling(50e-6, 100e-6) == pytest.approx(np.pi / 4)
    # phi = 0.2: cos(0.1 pi)/(1 - 0.04)
    assert finite_pulse_scaling(10e-6, 100e-6) == pytest.approx(np.cos(0.1 * np.pi) / 0.96)
    phis = np.linspace(0.0, 0.99, 50)
    values = [finite_pulse_scaling(p * 50e-6, 100e-6) for p in phis]
    assert np.all(np.diff(values) < 0)
    with pytest.raises(ValueError, match="does not fit"):
        finite_pulse_scaling(60e-6, 100e-6)


def test_recoupling_scaling_registry():
    assert recoupling_scaling("redor") == 1.0
    assert recoupling_scaling("sr4") == pytest.approx(0.5554, abs=1e-4)
    assert SR4_SCALING == pytest.approx(np.pi / (4 * np.sqrt(2)))
    with pytest.raises(ValueError):
        recoupling_scaling("redor-finite")
    with pytest.raises(ValueError, match="unknown recoupling"):
        recoupling_scaling("tedor")
    # SR4 at D = 503 Hz, 3 ms: lambda = 0.838 and dS/S0 = 0.167 at f = 0.24 (physics.md 4).
    lam = SR4_SCALING * 503.0 * 3e-3
    assert lam == pytest.approx(0.838, abs=1e-3)
    assert 0.24 * float(respdor_dephasing(lam, 2.5)) == pytest.approx(0.167, abs=1e-3)


def test_gaussian_distance_average_against_quadrature():
    from scipy import integrate

    k = 7878.3  # D r^3 for 13C-27Al, Hz A^3
    t = np.array([0.5e-3, 1.5e-3, 3e-3])

    def curve(r):
        return respdor_dephasing(k / r**3 * t, 2.5)

    r0, width = 2.6, 0.25
    averaged = gaussian_distance_average(curve, r0, width)
    for j in range(t.size):
        num, _ = integrate.quad(lambda r: np.exp(-0.5 * ((r - r0) / width) ** 2) * curve(r)[j], r0 - 8 * width,
                                r0 + 8 * width, limit=400, epsabs=1e-12)
        norm = width * np.sqrt(2 * np.pi)
        assert averaged[j] == pytest.approx(num / norm, abs=2e-6)
    np.testing.assert_array_equal(gaussian_distance_average(curve, r0, 0.0), curve(r0))
