"""Pseudo-2D interleaved S0/S1 series -> dephasing curve (respdor.spectra.series)."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from respdor.curve import DephasingCurve
from respdor.errors import DataFileError, UserError
from respdor.spectra.series import integrate_series, write_curve_csv

DATA = Path(__file__).resolve().parent / "data" / "bruker_respdor_pseudo2d"
VC = np.array([2, 4, 8, 16, 24, 32])


def test_curve_from_fixture(tmp_path):
    curve, notes = integrate_series(DATA, (0.0, 30.0), (-80.0, -40.0), 10000.0, periods_per_count=2)
    assert isinstance(curve, DephasingCurve)
    np.testing.assert_allclose(curve.time_s, VC * 2 / 10000.0)
    truth = 0.4 * (1 - np.exp(-VC / 8.0))
    z = (curve.dss0 - truth) / curve.sigma
    assert np.all(np.abs(z) < 4.0)
    assert 0.001 < curve.sigma.mean() < 0.05
    out = tmp_path / "curve.csv"
    write_curve_csv(out, curve)
    lines = out.read_text().splitlines()
    assert lines[0] == "t_s,S0,S1,sigma_S0,sigma_S1"
    assert len(lines) == 7


def test_swapped_order_is_refused_naming_order():
    # Read the wrong way round, S1 exceeds S0 beyond the noise: negative dephasing, refused.
    with pytest.raises(UserError, match="row_order=s1s0.*use row_order=s0s1"):  # the CLI says --order
        integrate_series(DATA, (0.0, 30.0), (-80.0, -40.0), 10000.0, order="s1s0")


def test_inconsistent_vclist_raises(tmp_path):
    bad = tmp_path / "exp"
    shutil.copytree(DATA, bad)
    (bad / "vclist").write_text("2\n4\n8\n")
    with pytest.raises(DataFileError, match="3 loop counters need 6 interleaved S0/S1 rows, but the ser has 12"):
        integrate_series(bad, (0.0, 30.0), (-80.0, -40.0), 10000.0)


def test_bad_regions():
    with pytest.raises(UserError, match="overlaps"):
        integrate_series(DATA, (0.0, 30.0), (10.0, 60.0), 10000.0)
    with pytest.raises(UserError, match="holds"):
        integrate_series(DATA, (500.0, 501.0), (-80.0, -40.0), 10000.0)
