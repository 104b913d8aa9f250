"""Reading curve files: layouts, units, and one-line errors that name file, line and value."""

from pathlib import Path

import numpy as np
import pytest

from respdor.curve import DephasingCurve, ratio_uncertainty
from respdor.errors import DataFileError, UserError
from respdor.io import read_curve

DATA = Path(__file__).parent / "data"


def write(tmp_path, text, name="c.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_with_units_in_header(tmp_path):
    c = read_curve(write(tmp_path, "t_ms,dSS0,sigma\n0.5,0.1,0.01\n1.0,0.2,0.01\n"))
    np.testing.assert_allclose(c.time_s, [0.5e-3, 1e-3])
    np.testing.assert_allclose(c.dss0, [0.1, 0.2])
    np.testing.assert_allclose(c.sigma, [0.01, 0.01])
    assert any("ms" in n and "header" in n for n in c.notes)


@pytest.mark.parametrize(
    "header, scale",
    [("t_us\tdS/S0", 1e-6), ("time_ms  deltaS/S0", 1e-3), ("t (ms),dS/S0 ", 1e-3), ("t_s;dSS0", 1.0), ("# t_ms dSS0", 1e-3)],
)
def test_header_variants_and_delimiters(tmp_path, header, scale):
    sep = "\t" if "\t" in header else (";" if ";" in header else ("," if "," in header else " "))
    body = f"{header}\n{2e-3 / scale:g}{sep}0.25\n{4e-3 / scale:g}{sep}0.5\n"  # 2 and 4 ms in the header's unit
    c = read_curve(write(tmp_path, body))
    np.testing.assert_allclose(c.time_s, [2e-3, 4e-3])
    assert c.sigma is None


def test_semicolon_with_decimal_comma(tmp_path):
    c = read_curve(write(tmp_path, "t_ms;dSS0;sigma\n0,5;0,125;0,01\n"))
    assert c.time_s[0] == pytest.approx(0.5e-3) and c.dss0[0] == pytest.approx(0.125)


def test_signals_with_noise_propagate(tmp_path):
    c = read_curve(write(tmp_path, "t_ms,S0,S1,sigma_S0,sigma_S1\n1,1.0,0.8,0.02,0.02\n2,0.9,0.6,0.02,0.02\n"))
    np.testing.assert_allclose(c.dss0, [0.2, 1 - 0.6 / 0.9])
    expected = np.sqrt(0.02**2 + (0.8 / 1.0) ** 2 * 0.02**2) / 1.0
    assert c.sigma[0] == pytest.approx(expected)
    assert c.has_signals


def test_ratio_uncertainty_limits():
    # Equal noise: sqrt(1 + (S/S0)^2) sigma/S0, from sqrt(2) sigma/S0 at S = S0 to sigma/S0 at S = 0.
    assert ratio_uncertainty(1.0, 1.0, 0.1, 0.1) == pytest.approx(np.sqrt(2) * 0.1)
    assert ratio_uncertainty(1.0, 0.0, 0.1, 0.1) == pytest.approx(0.1)


def test_rotor_periods_need_mas(tmp_path):
    p = write(tmp_path, "n_rotor,dSS0\n10,0.1\n20,0.3\n")
    with pytest.raises(DataFileError, match="MAS rate"):
        read_curve(p)
    c = read_curve(p, mas_rate_hz=10000.0)
    np.testing.assert_allclose(c.time_s, [1e-3, 2e-3])


def test_headerless_requires_time_unit_and_reads_real_files():
    with pytest.raises(DataFileError, match="time_unit"):
        read_curve(DATA / "INTERFACES_Zn-curve1.txt")
    c = read_curve(DATA / "INTERFACES_Zn-curve1.txt", time_unit="s")
    assert c.n_points == 11 and c.time_s[0] == pytest.approx(1e-3) and c.dss0[0] == pytest.approx(0.084092484)
    crlf = read_curve(DATA / "INTERFACES_Pd-Al_SREDOR.txt", time_unit="s")
    assert crlf.n_points == 19 and crlf.time_s[-1] == pytest.approx(2.0e-3)
    assert any("no header" in n for n in c.notes)


def test_unsorted_points_are_sorted_and_said(tmp_path):
    c = read_curve(write(tmp_path, "t_ms,dSS0\n2,0.3\n1,0.1\n"))
    np.testing.assert_allclose(c.time_s, [1e-3, 2e-3])
    assert "points sorted by time" in c.notes


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("t_ms,dSS0\n1,0.1\n2,abc\n", r"c\.csv:3: cannot read 'abc'"),
        ("t_ms,dSS0\n1,0.1\n2\n", r"c\.csv:3: expected 2 values"),
        ("t_ms,foo\n1,0.1\n", r"unknown column name.*'foo'"),
        ("time,dSS0\n1,0.1\n", "does not state its unit"),
        ("t_ms,dSS0,sigma\n1,0.1,0\n", r"c\.csv:2: uncertainty must be > 0"),
        ("t_ms,S0,S1\n1,0,0.1\n", r"c\.csv:2: S0 must be > 0"),
        ("t_ms,dSS0\n-1,0.1\n", "negative recoupling time"),
        ("t_ms,dSS0\n", "no data lines"),
        ("t_ms,dSS0,S0,S1\n1,0.1,1,0.8\n", r"c\.csv:2: dSS0 = 0\.1 disagrees with 1 - S1/S0 = 0\.2"),
        ("t_ms,dSS0,S1\n1,0.1,0.9\n", "only one of S0, S1"),
        ("t_ms,dSS0\n1,1e300\n", r"c\.csv:2: value '1e300' in column 'dSS0' is too large"),
        ("t_ms,dSS0\n1,2500\n", r"c\.csv:2: dS/S0 = 2500 is not a normalised dephasing"),
        ("t_s,dSS0\n100,0.1\n", r"c\.csv:2: recoupling times reach 100 s, longer than any echo lasts"),
        ("1,2,3,4\n", "no header line and 4 columns"),
        ("t_ms,dSS0\n1,nan\n", "not finite"),
    ],
)
def test_malformed_files_give_one_line_errors(tmp_path, text, pattern):
    with pytest.raises(DataFileError, match=pattern) as info:
        read_curve(write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_unit_conflict_and_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="header gives time in ms but s"):
        read_curve(write(tmp_path, "t_ms,dSS0\n1,0.1\n"), time_unit="s")
    with pytest.raises(DataFileError, match="no such file"):
        read_curve(tmp_path / "missing.csv")
    with pytest.raises(UserError, match="unknown time unit"):
        read_curve(write(tmp_path, "t_ms,dSS0\n1,0.1\n"), time_unit="min")


def test_curve_validation():
    with pytest.raises(UserError, match="equal length"):
        DephasingCurve([1e-3, 2e-3], [0.1])
    with pytest.raises(UserError, match="S0 must be positive"):
        DephasingCurve.from_signals([1e-3], [0.0], [0.1])


def test_simulator_csv_is_read_and_says_which_columns(tmp_path):
    """`respdor simulate -o curve.csv` writes t_s,S0,S1,dSS0: read it, check agreement, say what is fitted."""
    text = "t_s,S0,S1,dSS0\n0,1,0.9747836158,0.02521638421\n0.0002,1,0.9153583531,0.08464164693\n"
    curve = read_curve(write(tmp_path, text))
    assert curve.dss0 == pytest.approx([0.02521638421, 0.08464164693], abs=1e-10)
    assert curve.sigma is None
    assert sum("fitted: dSS0" in n for n in curve.notes) == 1
    noisy = read_curve(write(tmp_path, "t_s,S0,S1,dSS0,noise\n0.001,2,1,0.5,0.02\n0.002,2,0.5,0.75,0.02\n"))
    assert noisy.sigma == pytest.approx(ratio_uncertainty(np.array([2, 2]), np.array([1, 0.5]), 0.02, 0.02))
    assert any("S0 and S1 with their noise" in n for n in noisy.notes)
    with_sigma = read_curve(write(tmp_path, "t_s,S0,S1,dSS0,sigma\n0.001,2,1,0.5,0.03\n0.002,2,0.5,0.75,0.03\n"))
    assert with_sigma.sigma == pytest.approx([0.03, 0.03])


def test_ratio_uncertainty_does_not_overflow():
    assert np.isfinite(ratio_uncertainty(np.array([1e300]), np.array([5e299]), 1e300, 1e300)).all()
